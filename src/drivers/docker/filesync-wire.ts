/**
 * The messages of BuildKit's file sync (tonistiigi/fsutil's wire.proto and stat.proto), encoded
 * and decoded by hand: the few fields this protocol has are all varints, strings and bytes, and a
 * pure codec is unit-tested without an engine.
 */

export const PacketType = { STAT: 0, REQ: 1, DATA: 2, FIN: 3, ERR: 4 } as const;

/** One entry of the synced folder, as fsutil describes it. `mode` holds Go's os.FileMode bits. */
export interface Stat {
  path: string;
  mode: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** Nanoseconds since the epoch. */
  modTime?: bigint;
  linkname?: string;
}

export interface Packet {
  type: number;
  stat?: Stat;
  id?: number;
  data?: Buffer;
}

/** Go's os.FileMode type bits (not the unix st_mode ones): fsutil sends these. */
export const GoMode = { dir: 0x80000000, symlink: 0x08000000, setuid: 0x00800000, setgid: 0x00400000, sticky: 0x00100000 } as const;

/** A tar entry's type and unix mode as Go's os.FileMode. */
export function goFileMode(type: 'file' | 'directory' | 'symlink', unixMode: number): number {
  let m = unixMode & 0o777;
  if (unixMode & 0o4000) m |= GoMode.setuid;
  if (unixMode & 0o2000) m |= GoMode.setgid;
  if (unixMode & 0o1000) m |= GoMode.sticky;
  if (type === 'directory') m |= GoMode.dir;
  if (type === 'symlink') m |= GoMode.symlink;
  return m >>> 0;
}

export function encodePacket(p: Packet): Buffer {
  const w = new Writer();
  if (p.type) w.varint(1, p.type);
  if (p.stat) w.bytes(2, encodeStat(p.stat));
  if (p.id) w.varint(3, p.id);
  if (p.data?.length) w.bytes(4, p.data);
  return w.done();
}

export function decodePacket(buf: Buffer): Packet {
  const p: Packet = { type: 0, id: 0 };
  for (const f of fields(buf)) {
    if (f.no === 1 && typeof f.value === 'bigint') p.type = Number(f.value);
    else if (f.no === 2 && Buffer.isBuffer(f.value)) p.stat = decodeStat(f.value);
    else if (f.no === 3 && typeof f.value === 'bigint') p.id = Number(f.value);
    else if (f.no === 4 && Buffer.isBuffer(f.value)) p.data = f.value;
  }
  return p;
}

export function encodeStat(s: Stat): Buffer {
  const w = new Writer();
  w.bytes(1, Buffer.from(s.path, 'utf8'));
  if (s.mode) w.varint(2, s.mode);
  if (s.uid) w.varint(3, s.uid);
  if (s.gid) w.varint(4, s.gid);
  if (s.size) w.varint(5, s.size);
  if (s.modTime) w.varint(6, s.modTime);
  if (s.linkname) w.bytes(7, Buffer.from(s.linkname, 'utf8'));
  return w.done();
}

export function decodeStat(buf: Buffer): Stat {
  const s: Stat = { path: '', mode: 0 };
  for (const f of fields(buf)) {
    if (f.no === 1 && Buffer.isBuffer(f.value)) s.path = f.value.toString('utf8');
    else if (f.no === 2 && typeof f.value === 'bigint') s.mode = Number(f.value);
    else if (f.no === 3 && typeof f.value === 'bigint') s.uid = Number(f.value);
    else if (f.no === 4 && typeof f.value === 'bigint') s.gid = Number(f.value);
    else if (f.no === 5 && typeof f.value === 'bigint') s.size = Number(f.value);
    else if (f.no === 6 && typeof f.value === 'bigint') s.modTime = BigInt.asIntN(64, f.value);
    else if (f.no === 7 && Buffer.isBuffer(f.value)) s.linkname = f.value.toString('utf8');
  }
  return s;
}

/** A message with one string field (secrets' GetSecretRequest.ID, health's service name). */
export function stringField(buf: Buffer, no: number): string | undefined {
  for (const f of fields(buf)) if (f.no === no && Buffer.isBuffer(f.value)) return f.value.toString('utf8');
  return undefined;
}

/** A message with one bytes field (GetSecretResponse.data). */
export function bytesMessage(no: number, value: Buffer): Buffer {
  const w = new Writer();
  w.bytes(no, value);
  return w.done();
}

/** A message with one varint field (HealthCheckResponse.status). */
export function varintMessage(no: number, value: number): Buffer {
  const w = new Writer();
  w.varint(no, value);
  return w.done();
}

class Writer {
  private readonly parts: Buffer[] = [];
  varint(no: number, value: number | bigint): void {
    this.parts.push(varint(BigInt(no << 3)), varint(BigInt.asUintN(64, BigInt(value))));
  }
  bytes(no: number, value: Buffer): void {
    this.parts.push(varint(BigInt((no << 3) | 2)), varint(BigInt(value.length)), value);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function varint(v: bigint): Buffer {
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}

function* fields(buf: Buffer): Generator<{ no: number; value: bigint | Buffer }> {
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated protobuf message');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, value: readVarint() };
    else if (wire === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error('truncated protobuf message');
      yield { no, value: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}
