import * as vscode from 'vscode';

/** One output channel per app@server for streamed logs, and the stream feeding each. */
export class LogChannels implements vscode.Disposable {
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly streams = new Map<string, AbortController>();

  /** A channel for `name`, after stopping whatever stream fed it before. */
  open(name: string): { channel: vscode.OutputChannel; signal: AbortSignal } {
    this.streams.get(name)?.abort();
    const abort = new AbortController();
    this.streams.set(name, abort);
    let channel = this.channels.get(name);
    if (!channel) {
      channel = vscode.window.createOutputChannel(`Bare Metal: ${name} logs`);
      this.channels.set(name, channel);
    }
    return { channel, signal: abort.signal };
  }

  dispose(): void {
    for (const a of this.streams.values()) a.abort();
    for (const c of this.channels.values()) c.dispose();
  }
}
