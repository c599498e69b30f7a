/**
 * OpenSSH known_hosts parsing and host key checking.
 *
 * ssh2 accepts any host key unless given a `hostVerifier`, and no maintained npm package reads
 * known_hosts, so this module implements the subset of OpenSSH's rules (hostfile.c, match.c) that
 * a client needs: plain, wildcard, negated, `[host]:port` and hashed (`|1|salt|hash`) patterns,
 * and the `@revoked` marker. `@cert-authority` lines never trust a plain key: ssh2 (1.17) cannot
 * negotiate host certificates (`*-cert-v01@openssh.com` is "Unsupported algorithm"), so a
 * server's certificate never reaches us; such a line is only named in the "unknown key" message.
 * Kept free of other project modules so it can be tested on its own.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: '@revoked' | '@cert-authority';
  /** The comma list as written, or one hashed `|1|salt|hash` token. */
  patterns: string[];
  /** The key's type as named inside its blob (e.g. `ssh-rsa`, never `rsa-sha2-256`). */
  keyType: string;
  keyBase64: string;
}

export type HostKeyVerdict =
  | { kind: 'trusted'; entry: KnownHostEntry }
  /** certAuthority: a `@cert-authority` line for this host, which cannot vouch here (see above). */
  | { kind: 'unknown'; certAuthority?: KnownHostEntry }
  /** entry: a line holding another key for this host (of the offered type when there is one). */
  | { kind: 'changed'; entry: KnownHostEntry }
  | { kind: 'revoked'; entry: KnownHostEntry };

/**
 * Signature algorithms that use a key of another type name. An RSA key's blob always says
 * `ssh-rsa`, whichever of these algorithms the connection negotiates.
 */
const KEY_TYPE_ALIASES: Record<string, string> = {
  'rsa-sha2-256': 'ssh-rsa',
  'rsa-sha2-512': 'ssh-rsa',
};

function canonicalKeyType(name: string): string {
  return KEY_TYPE_ALIASES[name] ?? name;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const entry = parseLine(lines[i]!.replace(/\r$/, ''), file, i + 1);
    if (entry) entries.push(entry);
  }
  return entries;
}

function parseLine(raw: string, file: string, line: number): KnownHostEntry | undefined {
  const fields = raw.trim().split(/[ \t]+/);
  if (fields[0] === '' || fields[0]!.startsWith('#')) return undefined;
  let marker: KnownHostEntry['marker'];
  if (fields[0]!.startsWith('@')) {
    // An unknown marker makes OpenSSH skip the line; do the same rather than guess its meaning.
    if (fields[0] !== '@revoked' && fields[0] !== '@cert-authority') return undefined;
    marker = fields.shift() as KnownHostEntry['marker'];
  }
  const [hosts, keyType, keyBase64] = fields;
  if (!hosts || !keyType || !keyBase64 || !BASE64.test(keyBase64)) return undefined;
  // A hashed field is a single token; commas never separate hashed names.
  const patterns = hosts.startsWith('|') ? [hosts] : hosts.split(',').filter((p) => p !== '');
  if (patterns.length === 0) return undefined;
  const blob = Buffer.from(keyBase64, 'base64');
  let blobType: string;
  try {
    blobType = keyTypeOfBlob(blob);
  } catch {
    return undefined;
  }
  // Like sshkey_read: the written type must name the key inside the blob.
  if (canonicalKeyType(keyType) !== blobType) return undefined;
  // Re-encoded so keys compare as plain strings, whatever padding the file used.
  return { file, line, ...(marker ? { marker } : {}), patterns, keyType: blobType, keyBase64: blob.toString('base64') };
}

export async function readKnownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw e;
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

/** The name OpenSSH looks up and writes: lower-cased, bracketed with the port unless it is 22. */
export function hostToken(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** OpenSSH's match_pattern: `*` is any run of characters, `?` exactly one. */
function wildcardMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

function hashedMatch(hashed: string, token: string): boolean {
  const parts = hashed.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const expected = Buffer.from(parts[3]!, 'base64');
  const actual = createHmac('sha1', salt).update(token).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const token = hostToken(host, port);
  const first = entry.patterns[0];
  if (entry.patterns.length === 1 && first !== undefined && first.startsWith('|')) {
    return hashedMatch(first, token);
  }
  let positive = false;
  for (const raw of entry.patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (!wildcardMatch(token, pattern)) continue;
    // One matching negation vetoes the whole line, whatever else matched.
    if (negated) return false;
    positive = true;
  }
  return positive;
}

export function checkHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyVerdict {
  const keyType = keyTypeOfBlob(keyBlob);
  const keyBase64 = keyBlob.toString('base64');
  const forHost = entries.filter((e) => entryMatches(e, host, port));
  // A revoked key is refused even if another line also trusts it.
  const revoked = forHost.find((e) => e.marker === '@revoked' && e.keyBase64 === keyBase64);
  if (revoked) return { kind: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.keyBase64 === keyBase64);
  if (same) return { kind: 'trusted', entry: same };
  // A known host offering a key none of its lines hold is "changed", whatever the type: the
  // connection offers the known types first, so a real server with its recorded key answers with
  // it; one offering only another type is what a man in the middle without the key looks like
  // (OpenSSH warns there too). Never a routine "trust this new key?".
  const other = plain.find((e) => e.keyType === keyType) ?? plain[0];
  if (other) return { kind: 'changed', entry: other };
  const certAuthority = forHost.find((e) => e.marker === '@cert-authority');
  return certAuthority ? { kind: 'unknown', certAuthority } : { kind: 'unknown' };
}

export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === undefined && !types.includes(e.keyType) && entryMatches(e, host, port)) {
      types.push(e.keyType);
    }
  }
  return types;
}

/**
 * Host key algorithm names to offer for known key types, in order: an `ssh-rsa` key can be used
 * with rsa-sha2-512, rsa-sha2-256 or the legacy SHA-1 `ssh-rsa`.
 */
export function hostKeyAlgorithms(keyTypes: string[]): string[] {
  const out: string[] = [];
  for (const type of keyTypes) {
    const names = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
    for (const n of names) if (!out.includes(n)) out.push(n);
  }
  return out;
}

export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) throw new Error('SSH key blob is too short');
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) throw new Error('SSH key blob has a bad type length');
  const type = blob.toString('latin1', 4, 4 + len);
  if (!/^[\x21-\x7e]+$/.test(type)) throw new Error('SSH key blob has a bad type name');
  return type;
}

/** Same text as `ssh-keygen -l`: SHA-256 of the wire blob, base64 without padding. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

export function knownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  return `${hostToken(host, port)} ${keyTypeOfBlob(keyBlob)} ${keyBlob.toString('base64')}`;
}

function parentDir(file: string): string {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return i > 0 ? file.slice(0, i) : i === 0 ? file.slice(0, 1) : '.';
}

export async function appendKnownHost(file: string, line: string): Promise<void> {
  const text = line.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text)) throw new Error('A known_hosts line cannot contain a line break');
  // Modes only apply to what we create; an existing ~/.ssh keeps the user's permissions.
  await mkdir(parentDir(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a+', 0o600);
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      // Without this, our line would be glued to a last line the user left unterminated.
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await fh.appendFile(`${prefix}${text}\n`);
  } finally {
    await fh.close();
  }
}
