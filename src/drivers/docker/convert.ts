import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
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
 * big-endian size) into lines. A TTY container sends raw bytes instead; both are handled.
 */
export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  // One decoder per stream: a UTF-8 character may be split across chunks or frames.
  private decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };

  constructor(private readonly timestamps: boolean) {}

  push(chunk: Buffer): LogLine[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: LogLine[] = [];
    while (this.pending.length > 0) {
      const kind = this.pending[0];
      const framed = (kind === 1 || kind === 2) && this.pending.length >= 8 && this.pending.readUIntBE(1, 3) === 0;
      if (!framed) {
        if (this.pending.length < 8 && (kind === 1 || kind === 2)) break; // wait for a whole header
        out.push(...this.text('stdout', this.decoders.stdout.write(this.pending)));
        this.pending = Buffer.alloc(0);
        break;
      }
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = kind === 2 ? 'stderr' : 'stdout';
      const payload = this.decoders[stream].write(this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
      out.push(...this.text(stream, payload));
    }
    return out;
  }

  /** Whatever is left when the stream ends (a last line without a newline). */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      this.partial[stream] += this.decoders[stream].end();
      if (this.partial[stream]) out.push(this.line(stream, this.partial[stream]));
      this.partial[stream] = '';
    }
    return out;
  }

  private text(stream: 'stdout' | 'stderr', text: string): LogLine[] {
    const parts = (this.partial[stream] + text).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    return parts.map((p) => this.line(stream, p.replace(/\r$/, '')));
  }

  private line(stream: 'stdout' | 'stderr', raw: string): LogLine {
    if (!this.timestamps) return { stream, text: raw };
    const space = raw.indexOf(' ');
    return space > 0 ? { stream, time: raw.slice(0, space), text: raw.slice(space + 1) } : { stream, text: raw };
  }
}
