/**
 * The Swarm part of the Engine API (dockerode over the server's SSH connection): the engine's
 * membership, the nodes, services and their tasks. Services are created and updated without
 * X-Registry-Auth and with the exact local reference: no node is asked to pull from anywhere
 * (the image was sent to each node before).
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { LogLine, LogOptions, ServiceInfo, ServiceSpec, SwarmEngine, SwarmMembership, SwarmNode, TaskInfo } from '../../core/ports';
import { LogDemuxer } from './convert';

interface RawService {
  ID: string;
  Version?: { Index?: number };
  Spec?: { Name?: string; Labels?: Record<string, string>; Mode?: { Replicated?: { Replicas?: number } }; TaskTemplate?: { ContainerSpec?: { Image?: string } } };
  UpdateStatus?: { State?: string; Message?: string };
}
interface RawTask {
  ID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState?: string;
  Spec?: { ContainerSpec?: { Image?: string; Labels?: Record<string, string> } };
  Status?: { State?: string; Message?: string; Err?: string; Timestamp?: string };
}
interface RawNode {
  ID: string;
  Spec?: { Role?: string; Availability?: string };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Addr?: string };
  Description?: { Engine?: { EngineVersion?: string } };
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;
const NS = 1e9;

/** The API's ServiceSpec for ours (exported for the unit tests). */
export function toServiceBody(spec: ServiceSpec): Record<string, unknown> {
  const hc = spec.healthcheck;
  return {
    Name: spec.name,
    Labels: spec.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Labels: spec.labels,
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        ...(spec.command && { Args: spec.command }),
        ...(hc && { Healthcheck: { Test: hc.test, Interval: Math.round(hc.intervalSeconds * NS), Timeout: Math.round(hc.timeoutSeconds * NS), Retries: hc.retries, StartPeriod: Math.round(hc.startPeriodSeconds * NS) } }),
        Mounts: spec.volumes.map((v) => ({ Type: v.kind, Source: v.source, Target: v.target, ReadOnly: v.readOnly })),
        // Old tasks get SIGTERM and this long to finish what they serve.
        StopGracePeriod: 10 * NS,
      },
      Resources: { Limits: { ...(spec.memoryBytes && { MemoryBytes: spec.memoryBytes }), ...(spec.cpus && { NanoCPUs: Math.round(spec.cpus * NS) }) } },
      RestartPolicy: { Condition: 'any', Delay: 2 * NS },
      // Replicas on different nodes first: a node taken down then leaves the others serving.
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }] },
    },
    Mode: { Replicated: { Replicas: spec.replicas } },
    // Swarm rolls out itself: one task at a time, the new one started (and healthy) before the
    // old one stops; a task that fails within Monitor rolls the whole service back.
    UpdateConfig: { Parallelism: 1, Delay: 0, Order: 'start-first', FailureAction: 'rollback', Monitor: 5 * NS, MaxFailureRatio: 0 },
    RollbackConfig: { Parallelism: 1, Delay: 0, Order: 'start-first', FailureAction: 'pause', Monitor: 5 * NS, MaxFailureRatio: 0 },
    EndpointSpec: {
      Mode: 'vip',
      Ports: spec.ports.map((p) => ({ Protocol: p.protocol, TargetPort: p.containerPort, PublishedPort: p.hostPort, PublishMode: spec.publish })),
    },
  };
}

function toService(s: RawService): ServiceInfo {
  return {
    id: s.ID,
    version: s.Version?.Index ?? 0,
    image: s.Spec?.TaskTemplate?.ContainerSpec?.Image ?? '',
    labels: s.Spec?.Labels ?? {},
    ...(s.Spec?.Mode?.Replicated?.Replicas !== undefined && { replicas: s.Spec.Mode.Replicated.Replicas }),
    ...(s.UpdateStatus?.State && { update: { state: s.UpdateStatus.State, ...(s.UpdateStatus.Message && { message: s.UpdateStatus.Message }) } }),
  };
}

export class DockerSwarm implements SwarmEngine {
  constructor(private readonly docker: Docker) {}

  async membership(): Promise<SwarmMembership> {
    const info = (await this.docker.info()) as { Swarm?: { LocalNodeState?: string; NodeID?: string; ControlAvailable?: boolean } };
    return { state: info.Swarm?.LocalNodeState ?? 'inactive', nodeId: info.Swarm?.NodeID ?? '', isManager: info.Swarm?.ControlAvailable === true };
  }

  async nodes(): Promise<SwarmNode[]> {
    const list = (await this.docker.listNodes()) as RawNode[];
    return list.map((n) => ({
      id: n.ID,
      // A manager's Status.Addr may be 0.0.0.0 (Docker's known quirk): its ManagerStatus has the real one.
      addr: n.Status?.Addr && n.Status.Addr !== '0.0.0.0' ? n.Status.Addr : (n.ManagerStatus?.Addr ?? '').replace(/:\d+$/, ''),
      role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
      state: n.Status?.State ?? 'unknown',
      availability: (n.Spec?.Availability ?? 'active') as SwarmNode['availability'],
      ...(n.Description?.Engine?.EngineVersion && { engineVersion: n.Description.Engine.EngineVersion }),
    }));
  }

  async service(name: string): Promise<ServiceInfo | undefined> {
    try {
      return toService((await this.docker.getService(name).inspect()) as RawService);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async createService(spec: ServiceSpec): Promise<string> {
    const r = (await this.docker.createService(toServiceBody(spec) as never)) as unknown as { ID?: string; id?: string };
    return r.ID ?? r.id ?? '';
  }

  async updateService(id: string, version: number, spec: ServiceSpec): Promise<void> {
    // The version goes in the query, the spec in the body (docker-modem's _query/_body).
    await this.docker.getService(id).update({ _query: { version }, _body: toServiceBody(spec) } as never);
  }

  async removeService(id: string): Promise<void> {
    await this.docker.getService(id).remove();
  }

  async tasks(service: string): Promise<TaskInfo[]> {
    const list = (await this.docker.listTasks({ filters: JSON.stringify({ service: [service] }) } as never)) as unknown as RawTask[];
    return list.map((t) => ({
      id: t.ID,
      nodeId: t.NodeID ?? '',
      ...(t.Slot !== undefined && { slot: t.Slot }),
      image: t.Spec?.ContainerSpec?.Image ?? '',
      labels: t.Spec?.ContainerSpec?.Labels ?? {},
      desiredState: t.DesiredState ?? '',
      state: t.Status?.State ?? 'unknown',
      ...(t.Status?.Message && { message: t.Status.Message }),
      ...(t.Status?.Err && { error: t.Status.Err }),
      since: t.Status?.Timestamp ?? '',
    }));
  }

  async *serviceLogs(service: string, opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine> {
    const query = { stdout: true, stderr: true, timestamps: opts.timestamps ?? false, tail: opts.tail ?? 'all', ...(opts.since ? { since: opts.since } : {}), abortSignal: signal };
    const demux = new LogDemuxer(query.timestamps);
    const s = this.docker.getService(service);
    if (!opts.follow) {
      const buf = (await s.logs({ ...query, follow: false } as never)) as unknown as Buffer;
      yield* demux.push(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
      yield* demux.flush();
      return;
    }
    const stream = (await s.logs({ ...query, follow: true } as never)) as unknown as Readable;
    try {
      for await (const chunk of stream) yield* demux.push(chunk as Buffer);
    } catch (e) {
      if (!signal?.aborted) throw e;
    }
    yield* demux.flush();
  }
}
