import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Who holds a lock, as seen from the client's side. The server tells a holder is gone by its sshd
 * process; after a link that went silent that process lives on for a long time (nothing tells
 * it the client left), so the next run from the same machine would wait out the whole lease.
 * The client's own part settles it there: on the same machine, a holder whose process has
 * exited, or whose connection this process has closed, is gone.
 */
export interface ClientPart {
  machine: string;
  pid: number;
  connection: string;
}

/** This boot of this machine (Linux); undefined elsewhere, and then only the server can tell. */
export function thisMachine(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  try {
    const id = read('/proc/sys/kernel/random/boot_id').trim().replace(/-/g, '');
    return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export function newConnectionId(): string {
  return randomBytes(6).toString('hex');
}

export function formatClientPart(p: ClientPart): string {
  return `${p.machine}:${p.pid}:${p.connection}`;
}

export function parseClientPart(text: string | undefined): ClientPart | undefined {
  const m = /^([0-9a-f]{32}):(\d+):([0-9a-f]{12})$/.exec(text ?? '');
  return m ? { machine: m[1], pid: Number(m[2]), connection: m[3] } : undefined;
}

export interface LocalFacts {
  machine: string | undefined;
  pid: number;
  /** Connections of this process still open. */
  openHere: (connection: string) => boolean;
  processAlive: (pid: number) => boolean;
}

/** false when the holder is known gone from here; undefined when this machine cannot tell. */
export function goneFromHere(holder: ClientPart | undefined, here: LocalFacts): false | undefined {
  if (!holder || !here.machine || holder.machine !== here.machine) return undefined;
  if (holder.pid === here.pid) return here.openHere(holder.connection) ? undefined : false;
  return here.processAlive(holder.pid) ? undefined : false;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, run by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
