import type * as vscode from 'vscode';
import type { Logger } from '../core/ports';

/** The core's Logger on the editor's log output channel. */
export class OutputLogger implements Logger {
  constructor(private readonly channel: vscode.LogOutputChannel) {}
  debug(message: string): void {
    this.channel.debug(message);
  }
  info(message: string): void {
    this.channel.info(message);
  }
  warn(message: string): void {
    this.channel.warn(message);
  }
  error(message: string): void {
    this.channel.error(message);
  }
}
