import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import { LineSplitter } from '../../core/logs/line-splitter';
import type { ContainerInfo, ContainerSpec, ContainerState, ImageInfo, LogLine } from '../../core/ports';

/** dockerode's shapes → the core's, and back. Pure, so the mapping is unit-tested. */

export function toImageInfo(i: Docker.ImageInspectInfo | Docker.ImageInfo): ImageInfo {
  const inspect = i as Docker.ImageInspectInfo;
  const listed = i as Docker.ImageInfo;
  const created = typeof listed.Created === 'number' ? new Date(listed.Created * 1000).toISOString() : String(inspect.Created);
  return {
    id: i.Id,
    tags: (inspect.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
    labels: (inspect.Config?.Labels ?? listed.Labels ?? {}) as Record<string, string>,
    created,
    size: i.Size,
    layers: inspect.RootFS?.Layers,
    platform: inspect.Architecture ? [inspect.Os || 'linux', inspect.Architecture, (inspect as { Variant?: string }).Variant].filter(Boolean).join('/') : undefined,
  };
}

export function toContainerInfo(c: Docker.ContainerInspectInfo): ContainerInfo {
  const networks = Object.values(c.NetworkSettings?.Networks ?? {});
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    image: c.Config.Image,
    imageId: c.Image,
    state: c.State.Status as ContainerState,
    labels: c.Config.Labels ?? {},
    startedAt: c.State.Running ? c.State.StartedAt : undefined,
    exitCode: c.State.ExitCode,
    health: (c.State.Health?.Status as ContainerInfo['health']) || undefined,
    restartCount: c.RestartCount,
    ipAddress: (c.NetworkSettings as { IPAddress?: string } | undefined)?.IPAddress || networks.find((n) => n.IPAddress)?.IPAddress || undefined,
    ...(c.HostConfig?.NanoCpus ? { cpus: c.HostConfig.NanoCpus / 1e9 } : {}),
  };
}

export function toCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: String(p.hostPort) });
  }
  return {
    name: spec.name,
    Image: spec.image,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    Cmd: spec.command,
    ExposedPorts: exposed,
    ...(spec.user ? { User: spec.user } : {}),
    ...(spec.network ? { NetworkingConfig: { EndpointsConfig: { [spec.network.name]: { Aliases: spec.network.aliases } } } } : {}),
    HostConfig: {
      PortBindings: bindings,
      Mounts: spec.volumes.map((v) => ({ Type: v.kind, Source: v.source, Target: v.target, ReadOnly: v.readOnly })),
      RestartPolicy: { Name: spec.restart === 'no' ? '' : spec.restart },
      ...(spec.network ? { NetworkMode: spec.network.name } : {}),
      ...(spec.dnsOptions ? { DnsOptions: spec.dnsOptions } : {}),
      // Swap held to the same figure: the limit the chart draws is the one the app meets.
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
      ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers: stream id, 3 zero bytes, uint32
 * big-endian size) into lines. A TTY container sends raw bytes instead; both are handled. A
 * frame's payload is decoded as it arrives (nothing waits for a whole frame, whatever size its
 * header claims) and lines are capped (see LineSplitter): the work is linear in the bytes.
 */
export class LogDemuxer {
  /** The start of a frame header cut by the chunk's end (under 8 bytes). */
  private head: Buffer = Buffer.alloc(0);
  /** The frame being read: its stream and how many payload bytes are still to come. */
  private frame?: { stream: 'stdout' | 'stderr'; left: number };
  private splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
  // One decoder per stream: a UTF-8 character may be split across chunks or frames.
  private decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };

  constructor(private readonly timestamps: boolean) {}

  push(chunk: Buffer): LogLine[] {
    const buf = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    this.head = Buffer.alloc(0);
    const out: LogLine[] = [];
    let at = 0;
    while (at < buf.length) {
      if (this.frame) {
        const { stream } = this.frame;
        const n = Math.min(this.frame.left, buf.length - at);
        out.push(...this.text(stream, this.decoders[stream].write(buf.subarray(at, at + n))));
        at += n;
        this.frame.left -= n;
        if (this.frame.left === 0) this.frame = undefined;
        continue;
      }
      const kind = buf[at];
      if (kind === 1 || kind === 2) {
        if (buf.length - at < 8) {
          this.head = Buffer.from(buf.subarray(at)); // wait for a whole header
          break;
        }
        if (buf.readUIntBE(at + 1, 3) === 0) {
          const left = buf.readUInt32BE(at + 4);
          if (left > 0) this.frame = { stream: kind === 2 ? 'stderr' : 'stdout', left };
          at += 8;
          continue;
        }
      }
      out.push(...this.text('stdout', this.decoders.stdout.write(buf.subarray(at))));
      break;
    }
    return out;
  }

  /** Whatever is left when the stream ends (a last line without a newline). */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      out.push(...this.text(stream, this.decoders[stream].end()));
      const last = this.splitters[stream].end();
      if (last !== undefined) out.push(this.line(stream, last));
    }
    return out;
  }

  private text(stream: 'stdout' | 'stderr', text: string): LogLine[] {
    return text ? this.splitters[stream].push(text).map((l) => this.line(stream, l)) : [];
  }

  private line(stream: 'stdout' | 'stderr', raw: string): LogLine {
    if (!this.timestamps) return { stream, text: raw };
    const space = raw.indexOf(' ');
    return space > 0 ? { stream, time: raw.slice(0, space), text: raw.slice(space + 1) } : { stream, text: raw };
  }
}
