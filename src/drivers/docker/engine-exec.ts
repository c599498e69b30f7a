/**
 * Processes attached over the server's connection: an exec in the running container, or a
 * one-off container. Both are hijacked Engine API requests (see hijack.ts), so stdin, output,
 * resize and signals travel on channels of the one SSH connection; nothing runs `docker` on the
 * server and no argument passes through a shell.
 */
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { BmError } from '../../core/errors';
import type { ContainerSpec, ProcessRequest, ProcessSession, TerminalSize } from '../../core/ports';
import { sleep } from '../../core/time';
import type { SshConnection } from '../ssh/connection';
import { toCreateOptions } from './convert';
import { hijack } from './hijack';
import { HijackedSession, isMissingCommand } from './process-session';

/**
 * Docker has no way to end an exec: closing its connection leaves the process running (with a
 * TTY too). So each exec carries a marker in its environment, inherited by what it starts, and
 * a hang-up or Ctrl-C is a second exec that signals every process carrying it. Needs a `sh`
 * with `tr` and `grep` in the image (busybox has them); without one the signal is not delivered.
 */
const MARKER = 'BAREMETAL_SESSION';
const SIGNAL_SCRIPT =
  'for p in /proc/[0-9]*; do if tr "\\0" "\\n" < "$p/environ" 2>/dev/null | grep -qx "$2"; then kill -"$1" "${p#/proc/}" 2>/dev/null; fi; done; true';

/** How long a new process may take to be seen running before we stop holding its output back. */
const START_WATCH_MS = 3000;
/** A process seen running this long without a word has started (its failure would have spoken). */
const SILENT_START_MS = 1000;
/** How the runtime's own failure to start a program begins (Docker's runc, Podman's runc or crun). */
const RUNTIME_FAILURE = /^(OCI runtime|Error: (runc|crun|OCI)|runc|crun)/;

export async function execInContainer(docker: Docker, conn: SshConnection, label: string, container: string, req: ProcessRequest): Promise<ProcessSession> {
  const marker = `${MARKER}=${randomBytes(8).toString('hex')}`;
  const exec = await docker.getContainer(container).exec({
    Cmd: req.command,
    AttachStdin: req.stdin || req.tty,
    AttachStdout: true,
    AttachStderr: true,
    Tty: req.tty,
    Env: [marker, ...(req.tty ? ['TERM=xterm-256color'] : [])],
  });
  // ConsoleSize (API 1.42+) sizes the TTY before the process starts; older engines get the resize below.
  const consoleSize = req.tty && req.size ? { ConsoleSize: [req.size.rows, req.size.columns] } : {};
  const stream = await hijack(docker, `/exec/${exec.id}/start`, { Detach: false, Tty: req.tty, ...consoleSize });
  const signal = async (name: string) => {
    const killer = await docker.getContainer(container).exec({ Cmd: ['sh', '-c', SIGNAL_SCRIPT, 'sh', name, marker], AttachStdout: true, AttachStderr: true });
    const s = await hijack(docker, `/exec/${killer.id}/start`, { Detach: false, Tty: false });
    s.resume();
    await new Promise((r) => s.on('close', r).on('end', r));
  };
  const session = new HijackedSession(stream, req.tty, {
    label,
    connectionLost: () => conn.isClosed,
    resize: (size) => resize(docker, `/exec/${exec.id}/resize`, size),
    signal,
    hangUp: () => signal('HUP'),
    exitCode: async () => {
      // The stream may end a moment before the engine records the exit.
      for (let i = 0; i < 50; i++) {
        const info = await exec.inspect();
        if (!info.Running && info.ExitCode !== null) return info.ExitCode;
        await sleep(100);
      }
      throw new Error('the engine did not report an exit code');
    },
  });
  if (req.size) await session.resize(req.size).catch(() => undefined);
  // A program the image lacks "runs" for an instant (Docker 20.10 even reports it running): the
  // runtime's reason comes as its first output, then exit 126 or 127. So it has started once it
  // printed anything else (a shell's prompt), or ran a while silent, or ended with another code.
  const deadline = Date.now() + START_WATCH_MS;
  let runningSince: number | undefined;
  while (Date.now() < deadline) {
    const ended = await session.endedWithin(25);
    const first = session.heldText();
    if (ended || RUNTIME_FAILURE.test(first)) {
      const code = (await session.endedWithin(START_WATCH_MS)) ? await session.exit.catch(() => undefined) : undefined;
      if ((code === 126 || code === 127) && isMissingCommand(session.heldText())) throw commandNotFound(req.command, session.heldText());
      break;
    }
    if (first) break;
    if (runningSince === undefined && (await exec.inspect()).Running) runningSince = Date.now();
    if (runningSince !== undefined && Date.now() - runningSince > SILENT_START_MS) break;
  }
  return session;
}

/**
 * A one-off container: created with stdin open, attached before it starts (so no output is
 * missed), removed by the engine once it exits. Its exit code is the engine's wait, asked for
 * before the start for the same reason.
 */
export async function runOneOffContainer(docker: Docker, conn: SshConnection, label: string, spec: ContainerSpec, req: Omit<ProcessRequest, 'command'>): Promise<ProcessSession> {
  const options = toCreateOptions(spec);
  const stdin = req.stdin || req.tty;
  const created = await docker.createContainer({
    ...options,
    Tty: req.tty,
    OpenStdin: stdin,
    StdinOnce: stdin,
    AttachStdin: stdin,
    AttachStdout: true,
    AttachStderr: true,
    Env: [...(options.Env ?? []), ...(req.tty ? ['TERM=xterm-256color'] : [])],
    // ConsoleSize sizes the TTY at its creation where the engine knows it; the resize after the start covers the others.
    HostConfig: { ...options.HostConfig, AutoRemove: true, RestartPolicy: { Name: '' }, ...(req.tty && req.size ? { ConsoleSize: [req.size.rows, req.size.columns] } : {}) },
  } as Docker.ContainerCreateOptions);
  const c = docker.getContainer(created.id);
  const remove = () => c.remove({ force: true }).catch(() => undefined);
  try {
    const stream = await hijack(docker, `/containers/${created.id}/attach?stream=1&stdin=${stdin ? 1 : 0}&stdout=1&stderr=1`);
    const waited = (c.wait({ condition: 'next-exit' } as never) as unknown) as Promise<{ StatusCode?: number }>;
    waited.catch(() => undefined);
    const session = new HijackedSession(stream, req.tty, {
      label,
      connectionLost: () => conn.isClosed,
      resize: (size) => resize(docker, `/containers/${created.id}/resize`, size),
      signal: async (name) => void (await c.kill({ signal: `SIG${name}` })),
      hangUp: remove,
      exitCode: async () => (await waited).StatusCode ?? -1,
    });
    await c.start();
    if (req.size) await session.resize(req.size).catch(() => undefined);
    return session;
  } catch (e) {
    await remove();
    // Docker fails the start; Podman already the attach, which prepares the container.
    const message = (e as Error).message;
    if (isMissingCommand(message)) throw commandNotFound(spec.command ?? [], message);
    throw new BmError('StartFailed', `The one-off container did not start: ${message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim()}`, message);
  }
}

function commandNotFound(command: string[], detail: string): BmError {
  return new BmError('CommandNotFound', `${command[0] ?? 'The command'} is not in the image: check its name, or install it in the Dockerfile.`, detail.trim());
}

/** Podman answers a resize with 201, which dockerode takes for an error. */
function resize(docker: Docker, path: string, size: TerminalSize): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      { path: `${path}?`, method: 'POST', options: { h: size.rows, w: size.columns }, statusCodes: { 200: true, 201: true, 204: true, 404: 'gone', 409: 'not running', 500: 'server error' } } as never,
      (err: unknown) => (err ? reject(err) : resolve()),
    );
  });
}
