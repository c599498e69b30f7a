import { readFile } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Client, utils, type ClientChannel, type ConnectConfig, type SFTPWrapper, type AnyAuthMethod } from 'ssh2';
import { BmError } from '../../core/errors';
import type { Logger } from '../../core/ports';
import { checkHostKey, fingerprint, keyTypeOfBlob, knownHostsLine, knownKeyTypes, readKnownHosts, type HostKeyVerdict } from './known-hosts';
import { resolveSshTarget, type SshTarget } from './ssh-config';
import { remoteCommand } from './remote-command';
import { unlock, type SshAuthHooks } from './key-unlock';
import { PING_MS, silenceLimitMs, silentReason, watchLink } from './link-watch';

export type { SshAuthHooks } from './key-unlock';

export interface OpenOptions extends SshAuthHooks {
  logger: Logger;
  signal?: AbortSignal;
  /** The name the user knows the server by (from baremetal.json), for messages. */
  label: string;
  /** The server name `baremetal trust` takes (a jump host's key is trusted through it too). */
  trustName?: string;
  readyTimeoutMs?: number;
  /** The ssh_config file the target came from, so jump hosts resolve through it too. */
  sshConfigFile?: string;
}

/** Host key details of a server the user has not trusted yet: what `trust` shows and appends. */
export interface UnknownHostKey {
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
  line: string;
  knownHostsFile: string;
}

const DEFAULT_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * One long-lived SSH connection to one server. Everything the product does on the server (the
 * Docker API, files, health checks, logs) rides on channels of this connection, so a command
 * costs one handshake however many requests it makes.
 */
export class SshConnection extends EventEmitter {
  private sftpSession?: Promise<SFTPWrapper>;
  private closed = false;

  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    private readonly jumps: SshConnection[],
  ) {
    super();
    client.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
    // After the handshake ssh2 still emits errors (a keep-alive timeout, a reset): they end the
    // connection, which 'close' reports; keep the reason for the sentence.
    client.on('error', (e: Error) => (this.lostReason ??= e.message));
    const socket = (client as unknown as { _sock?: Duplex })._sock;
    if (socket) {
      watchLink(socket, {
        limitMs: silenceLimitMs(),
        onSilent: (ms) => {
          this.lostReason ??= silentReason(ms);
          socket.destroy(); // ssh2 then fails every open channel and pending request
        },
      });
    }
  }

  /** Why the connection ended, when it did not end by our own close(). */
  lostReason?: string;

  get isClosed(): boolean {
    return this.closed;
  }

  static async open(target: SshTarget, opts: OpenOptions): Promise<SshConnection> {
    const jumps: SshConnection[] = [];
    let sock: Duplex | undefined;
    try {
      // ProxyJump: each hop is a full connection (own host key check) carrying the next one.
      for (const hop of parseProxyJump(target.proxyJump)) {
        const hopTarget = await resolveSshTarget(hop.host, { user: hop.user, port: hop.port }, { configFile: opts.sshConfigFile });
        const hop1 = await connectOnce(hopTarget, { ...opts, label: `${opts.label}'s jump host ${hop.host}`, trustName: opts.trustName ?? opts.label }, sock);
        const hopConn = new SshConnection(hop1.client, hopTarget, []);
        jumps.push(hopConn);
        sock = await hopConn.forwardTcp(target.host, target.port);
      }
      const client = await connectOnce(target, opts, sock);
      return new SshConnection(client.client, target, jumps);
    } catch (e) {
      for (const j of jumps) j.close();
      throw e;
    }
  }

  /** A channel to a Unix socket on the server (the Docker Engine's, typically). */
  forwardStreamLocal(socketPath: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  }

  /** A channel to host:port as seen from the server (127.0.0.1 is the server itself). */
  forwardTcp(host: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  }

  /**
   * Opens 127.0.0.1:<port chosen by the server> on the server and hands every connection made
   * to it to `onConnection`. Nothing listens on this machine.
   */
  async reverseForward(onConnection: (channel: Duplex) => void): Promise<{ port: number; close(): Promise<void> }> {
    const port = await new Promise<number>((resolve, reject) => {
      this.client.forwardIn('127.0.0.1', 0, (err, p) => (err ? reject(err) : resolve(p)));
    });
    const listener = (info: { destIP: string; destPort: number }, accept: () => ClientChannel, reject: () => void) => {
      if (info.destPort === port) onConnection(accept());
      else reject();
    };
    this.client.on('tcp connection', listener);
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          this.client.off('tcp connection', listener);
          if (this.closed) return resolve();
          this.client.unforwardIn('127.0.0.1', port, () => resolve());
        }),
    };
  }

  /** Runs a program on the server; no login shell ever parses an argument (see remote-command.ts). */
  execStream(argv: string[]): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(remoteCommand(argv), (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  }

  async exec(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const channel = await this.execStream(argv);
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('close', (code: number | null) => resolve({ code, stdout, stderr }));
    });
  }

  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
    });
    return this.sftpSession;
  }

  close(): void {
    this.client.end();
    for (const j of this.jumps) j.close();
  }
}

interface Connected {
  client: Client;
}

async function connectOnce(target: SshTarget, opts: OpenOptions, sock: Duplex | undefined): Promise<Connected> {
  // The user's files first: a new key is appended to the first one, and their lines are the ones named.
  const known = await readKnownHosts([...target.knownHostsFiles, ...(target.globalKnownHostsFiles ?? [])]);
  // As OpenSSH: a HostKeyAlias names the key's known_hosts entry by itself, with no port
  // (an SSH tunnel or a jump through a local port keeps the server's own entry).
  const [checkedHost, checkedPort] = target.hostKeyAlias ? [target.hostKeyAlias, 22] : [target.host, target.port];
  const keyTypes = knownKeyTypes(known, checkedHost, checkedPort).flatMap(expandKeyType);
  const hostKeyAlgorithms = [...new Set([...keyTypes, ...DEFAULT_HOST_KEY_ALGORITHMS])];
  const keys = await loadKeys(target, opts);
  let verdict: HostKeyVerdict | undefined;
  let offeredKey: Buffer | undefined;

  const client = new Client();
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    sock,
    readyTimeout: opts.readyTimeoutMs ?? (target.connectTimeoutSeconds ?? 15) * 1000,
    // Pings keep a quiet link talking; watchLink (in the constructor) decides when it is dead,
    // from silence rather than from a count of pings that a busy upload can hold back.
    keepaliveInterval: PING_MS,
    keepaliveCountMax: 1_000_000,
    algorithms: { serverHostKey: hostKeyAlgorithms as never },
    hostVerifier: (key: Buffer) => {
      offeredKey = key;
      verdict = checkHostKey(known, checkedHost, checkedPort, key);
      return verdict.kind === 'trusted';
    },
    authHandler: makeAuthHandler(target, keys),
  };

  return new Promise<Connected>((resolve, reject) => {
    const onAbort = () => {
      client.end();
      reject(new BmError('Cancelled', `Cancelled while connecting to ${opts.label}.`));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      opts.logger.debug(`ssh: connected to ${target.user}@${target.host}:${target.port}`);
      resolve({ client });
    });
    client.once('error', (err: Error & { level?: string; code?: string }) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(describeConnectError(err, target, opts.label, opts.trustName ?? opts.label, verdict, offeredKey, keys.length));
    });
    client.connect(config);
    // Many small request/reply exchanges ride this one connection (Docker API calls, SFTP,
    // health checks): Nagle's algorithm would hold each small write back for the peer's ACK,
    // costing tens of ms per exchange (measured: a rollback took 3.0 s with it, 0.6 s without).
    (client as unknown as { _sock?: { setNoDelay?: (on: boolean) => void } })._sock?.setNoDelay?.(true);
  });
}

function describeConnectError(
  err: Error & { level?: string; code?: string },
  target: SshTarget,
  label: string,
  trustName: string,
  verdict: HostKeyVerdict | undefined,
  offeredKey: Buffer | undefined,
  keyCount: number,
): BmError {
  const where = `${target.host}:${target.port}`;
  if (verdict && verdict.kind !== 'trusted' && offeredKey) {
    const fp = fingerprint(offeredKey);
    const type = keyTypeOfBlob(offeredKey);
    if (verdict.kind === 'unknown') {
      const unknown: UnknownHostKey = {
        host: target.hostKeyAlias ?? target.host,
        port: target.hostKeyAlias ? 22 : target.port,
        keyType: type,
        fingerprint: fp,
        line: knownHostsLine(target.hostKeyAlias ?? target.host, target.hostKeyAlias ? 22 : target.port, offeredKey),
        knownHostsFile: target.knownHostsFiles[0] ?? '~/.ssh/known_hosts',
      };
      // ssh2 cannot take host certificates, so a CA line cannot vouch: say so rather than let it look ignored.
      const ca = verdict.certAuthority ? ` (the @cert-authority line ${verdict.certAuthority.file}:${verdict.certAuthority.line} cannot vouch for it: host certificates are not supported)` : '';
      const e = new BmError(
        'HostKeyUnknown',
        `The host key of ${label} (${where}) is not in known_hosts${ca}: its ${type} fingerprint is ${fp}; if that is your server's key, trust it with "baremetal trust ${trustName}".`,
      );
      return Object.assign(e, { hostKey: unknown });
    }
    if (verdict.kind === 'revoked') {
      return new BmError('HostKeyRevoked', `The host key of ${label} (${where}) is marked @revoked in ${verdict.entry.file}:${verdict.entry.line}; refusing to connect.`);
    }
    return new BmError(
      'HostKeyChanged',
      `The host key of ${label} (${where}) has CHANGED (now ${type} ${fp}, while ${verdict.entry.file}:${verdict.entry.line} holds its ${verdict.entry.keyType} key): this may be an attack, so the connection is refused; if the server was really reinstalled, remove that line and trust the new key.`,
    );
  }
  if (err.level === 'client-authentication') {
    const how = keyCount > 0 ? 'the key(s) offered' : 'no key (no IdentityFile found and no SSH agent)';
    return new BmError(
      'AuthFailed',
      `${label} (${where}) refused ${how} for user "${target.user}": add your public key to ~${target.user}/.ssh/authorized_keys on the server, or set "identityFile"/"user" for this server.`,
    );
  }
  if (err.level === 'client-timeout' || err.code === 'ETIMEDOUT') {
    return new BmError('Unreachable', `Cannot reach ${label} (${where}): the connection timed out; check the address and that the server is up.`);
  }
  if (err.code === 'ECONNREFUSED') {
    return new BmError('Unreachable', `Cannot reach ${label} (${where}): connection refused; check the port and that sshd is running.`);
  }
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return new BmError('Unreachable', `Cannot reach ${label}: the host name "${target.host}" does not resolve; check "host" in baremetal.json or ~/.ssh/config.`);
  }
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') {
    return new BmError('Unreachable', `Cannot reach ${label} (${where}): no route to the host; check the address and your network.`);
  }
  return new BmError('Unreachable', `Cannot connect to ${label} (${where}): ${err.message}.`, undefined, { cause: err });
}

/** An ssh-rsa key is negotiated under the rsa-sha2-* algorithm names. */
function expandKeyType(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

interface LoadedKey {
  file: string;
  key: Buffer;
  passphrase?: string;
}

/** Reads every identity file now, asking for passphrases of encrypted ones, like ssh does. */
async function loadKeys(target: SshTarget, hooks: SshAuthHooks & { logger: Logger }): Promise<LoadedKey[]> {
  const keys: LoadedKey[] = [];
  for (const file of target.identityFiles) {
    let key: Buffer;
    try {
      key = await readFile(file);
    } catch {
      continue;
    }
    const parsed = utils.parseKey(key);
    if (!(parsed instanceof Error)) {
      keys.push({ file, key });
      continue;
    }
    if (!/encrypted|passphrase/i.test(parsed.message)) {
      hooks.logger.warn(`ssh: skipping ${file}: ${parsed.message}`);
      continue;
    }
    const passphrase = await unlock(file, key, hooks);
    if (passphrase === undefined) {
      hooks.logger.warn(`ssh: skipping encrypted key ${file} (no passphrase given)`);
      continue;
    }
    keys.push({ file, key, passphrase });
  }
  return keys;
}

function makeAuthHandler(target: SshTarget, keys: LoadedKey[]) {
  const attempts: AnyAuthMethod[] = [];
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent && !target.identitiesOnly) attempts.push({ type: 'agent', username: target.user, agent });
  for (const k of keys) attempts.push({ type: 'publickey', username: target.user, key: k.key, passphrase: k.passphrase });
  // ssh2 takes `false` as "nothing left to try", which its typings omit.
  return (_methodsLeft: unknown, _partial: unknown, next: (a: AnyAuthMethod) => void) => {
    next(attempts.shift() ?? (false as never));
  };
}

/** "user@host:port,host2" → hops in order. */
export function parseProxyJump(value: string | undefined): { host: string; user?: string; port?: number }[] {
  if (!value || value === 'none') return [];
  return value.split(',').map((hop) => {
    const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.trim());
    if (!m) throw new BmError('ConfigInvalid', `Cannot read ProxyJump "${hop}"; expected [user@]host[:port].`);
    return { user: m[1], host: m[2].replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : undefined };
  });
}
