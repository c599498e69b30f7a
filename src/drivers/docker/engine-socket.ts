import { BmError } from '../../core/errors';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/**
 * How a socket looks to the logged-in user. An SSH forward to a socket fails with the same
 * "open failed" whether the socket is missing, unreadable or forwarding is off, and dial-stdio's
 * reason is in English prose on stderr: only looking at the socket from the server tells them apart.
 */
export type SocketState = 'ok' | 'denied' | 'missing' | 'not-a-socket';

export interface SocketDiagnosis {
  uid: string;
  user: string;
  groups: string[];
  socket: SocketState;
  /** The socket's group, where stat tells it. */
  socketGroup?: string;
  /** Rootless Docker's socket, looked at only when the default one is missing. */
  rootless?: { path: string; state: SocketState };
}

/**
 * $1 = the socket, $2 = "rootless" to look at /run/user/<uid>/docker.sock too (or, where that
 * is missing, rootless Podman's /run/user/<uid>/podman/podman.sock: its Docker-compatible API).
 * Run by sh, never by the login shell (remoteCommand encodes it). A socket in a folder the user
 * cannot enter looks missing to `[ -S ]`: the folder is looked at too.
 */
const DIAGNOSE =
  'st() { d=${1%/*}; if [ -S "$1" ]; then if [ -r "$1" ] && [ -w "$1" ]; then echo ok; else echo denied; fi; elif [ -e "$1" ]; then echo not-a-socket; ' +
  'elif [ -d "$d" ] && [ -x "$d" ]; then echo missing; elif [ -d "$d" ]; then echo denied; else echo missing; fi; }; ' +
  'u=$(id -u); echo "uid=$u"; echo "user=$(id -un)"; echo "groups=$(id -Gn)"; echo "socket=$(st "$1")"; echo "group=$(stat -c %G "$1" 2>/dev/null)"; ' +
  'if [ "$2" = rootless ]; then r=/run/user/$u/docker.sock; p=/run/user/$u/podman/podman.sock; if [ "$(st "$r")" = missing ] && [ -S "$p" ]; then r=$p; fi; echo "rootless=$(st "$r") $r"; fi';

export function diagnoseArgv(socket: string, withRootless: boolean): string[] {
  return ['sh', '-c', DIAGNOSE, 'sh', socket, withRootless ? 'rootless' : 'no'];
}

export function parseDiagnosis(stdout: string): SocketDiagnosis | undefined {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const socket = asState(kv.get('socket'));
  if (!socket || !kv.get('user')) return undefined;
  const [rootlessState, rootlessPath] = (kv.get('rootless') ?? '').split(' ');
  const rs = asState(rootlessState);
  return {
    uid: kv.get('uid') ?? '',
    user: kv.get('user') ?? '',
    groups: (kv.get('groups') ?? '').split(/\s+/).filter(Boolean),
    socket,
    socketGroup: kv.get('group') || undefined,
    rootless: rs && rootlessPath ? { path: rootlessPath, state: rs } : undefined,
  };
}

function asState(s: string | undefined): SocketState | undefined {
  return s === 'ok' || s === 'denied' || s === 'missing' || s === 'not-a-socket' ? s : undefined;
}

/** The two ways to the engine, and a look at the server, as connectEngine does them (a fake in tests). */
export interface EngineReach<T> {
  /** Both transports to one socket; undefined when neither answered. */
  dial(socket: string): Promise<T | undefined>;
  /** One command on the server; undefined when it could not be run or read. */
  diagnose(socket: string, withRootless: boolean): Promise<SocketDiagnosis | undefined>;
}

/**
 * The configured socket first, then, when it is the default and is missing, rootless Docker's.
 * The server is looked at only after both transports failed, so a working server costs nothing
 * more. "Not configured" is read as "the default": the config fills the default in, and trying
 * the rootless socket when the default is missing does no harm either way.
 */
export async function reachEngine<T>(reach: EngineReach<T>, socket: string, label: string): Promise<{ found: T; socket: string }> {
  const found = await reach.dial(socket);
  if (found) return { found, socket };
  const diag = await reach.diagnose(socket, socket === DEFAULT_SOCKET).catch(() => undefined);
  const rootless = diag?.socket === 'missing' ? diag.rootless : undefined;
  if (diag && rootless && rootless.state !== 'missing') {
    const viaRootless = rootless.state === 'ok' ? await reach.dial(rootless.path) : undefined;
    if (viaRootless) return { found: viaRootless, socket: rootless.path };
    throw noEngine(label, rootless.path, { ...diag, socket: rootless.state, socketGroup: undefined });
  }
  throw noEngine(label, socket, diag);
}

/** One sentence for each reason the engine did not answer. */
export function noEngine(label: string, socket: string, diag: SocketDiagnosis | undefined): BmError {
  const where = `${label} has no Docker Engine answering at ${socket}`;
  switch (diag?.socket) {
    case 'denied':
      return new BmError('DockerPermissionDenied', deniedSentence(label, socket, diag));
    case 'missing': {
      const rootless = diag.rootless ? `, nor a rootless one at ${diag.rootless.path}` : '';
      return new BmError('NoDocker', `${where}: install Docker Engine on the server, or set "dockerSocket" for this server (there is no such socket${rootless}).`);
    }
    case 'not-a-socket':
      return new BmError('NoDocker', `${where}: that path is not a socket; set "dockerSocket" for this server to the Docker Engine's socket.`);
    case 'ok':
      return new BmError('NoDocker', `${where}: the socket is there but nothing answered through it over SSH; check that Docker is running on the server (sudo systemctl status docker).`);
    default:
      return new BmError('NoDocker', `${where}: install Docker Engine on the server (and add your user to the docker group), or set "dockerSocket" for this server.`);
  }
}

function deniedSentence(label: string, socket: string, d: SocketDiagnosis): string {
  const head = `Permission denied on ${socket} for user ${d.user} on ${label}`;
  const group = d.socketGroup;
  if (group && d.groups.includes(group)) return `${head}, although ${d.user} is in its group ${group}: check the socket's permissions on the server (ls -l ${socket}).`;
  if (!group || group === 'root') {
    return `${head}: connect as root, or give the socket a docker group and add ${d.user} to it on the server (sudo groupadd docker; sudo usermod -aG docker ${d.user}; restart Docker), and connect again.`;
  }
  return `${head}: add ${d.user} to the ${group} group on the server (sudo usermod -aG ${group} ${d.user}) and connect again.`;
}
