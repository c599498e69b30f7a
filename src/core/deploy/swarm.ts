/**
 * The app as a Docker Swarm service. The image is built once here and sent to every node, each
 * over its own SSH connection and only the layers it lacks (as a fleet's rollout does); then the
 * manager creates or updates the service pinned to that image, and Swarm rolls it out itself
 * (start-first, health-checked, rolled back by Swarm when a new task fails). The manager keeps
 * the history and the lock; a rollback is a service update to a kept image.
 */
import { imageName, type Config, type SwarmConfig } from '../config/types';
import { BmError, failureOf, throwIfAborted } from '../errors';
import type { Builder, Logger, Phase, ProgressSink, Repo, Server, SwarmEngine, SwarmNode } from '../ports';
import { platformString } from '../build/platform';
import { trimLayerCache } from '../transfer/cache-eviction';
import type { ExportedImage, LayerCache } from '../transfer/layer-cache';
import { shipImage, type TransferPath } from '../transfer/ship';
import { newDeployId, PhaseClock, type DeployOptions } from './deploy';
import { appendJournal, readJournal, stateDir, type DeployRecord } from './journal';
import { imageTag } from './labels';
import { acquireLock } from './lock';
import { pruneImages } from './prune';
import { chooseRollbackTarget } from './rollback';
import { shareImage } from './shared-image';
import { NOWHERE_REGISTRY, pinnedReference, serviceSpec } from './swarm-spec';
import { waitForRollout } from './swarm-wait';

export type SwarmAppConfig = Config & { swarm: SwarmConfig };

/** One node's connection and where its lines go (the CLI prefixes its name). */
export interface NodeParts {
  server: Server;
  logger: Logger;
  progress: ProgressSink;
}

export interface SwarmDeps {
  config: SwarmAppConfig;
  /** Connects to one server of swarm.nodes (its own SSH connection, kept for the command). */
  node(name: string): Promise<NodeParts>;
  /** The manager's secrets: the tasks' env. */
  secrets: Record<string, string>;
  who: string;
  logger: Logger;
  progress: ProgressSink;
}

export interface SwarmBuildDeps extends SwarmDeps {
  repo: Repo;
  builder: Builder;
  cache: LayerCache;
  buildSecrets?: Record<string, string>;
  forceTransfer?: TransferPath;
}

/** What `deploy --json` and `rollback --json` print for a swarm. */
export interface SwarmResult {
  id: string;
  kind: 'deploy' | 'rollback';
  result: DeployRecord['result'];
  app: string;
  manager: string;
  commit: string;
  subject: string;
  /** The reference the service runs: an image ID, or a tag under bm.invalid where stores differ. */
  image: string;
  replicas: number;
  nodes: { server: string; nodeId: string; bytesSent: number; transport: TransferPath }[];
  durationMs: number;
  /** From the command's start until Swarm reported every replica running (healthy) on the image. */
  servingAfterMs?: number;
  phasesMs: Partial<Record<Phase, number>>;
  error?: { code: string; message: string };
}

interface Member extends NodeParts {
  name: string;
  nodeId: string;
}

interface Connected {
  manager: Member;
  members: Member[];
  swarm: SwarmEngine;
  nodes: SwarmNode[];
  /** Server name → node ID, of the nodes connected now and (status) those seen before. */
  known: Record<string, string>;
}

/**
 * Connects every node (in parallel) and checks the swarm is the one the config says: the manager
 * is a manager, every server of swarm.nodes is one of its nodes, and every node Swarm may place a
 * task on is a server of swarm.nodes (else that node would have no image).
 */
export async function connectSwarm(deps: Pick<SwarmDeps, 'config' | 'node'> & { logger?: Logger }, opts: { tolerant?: boolean } = {}): Promise<Connected> {
  const { swarm: sc } = deps.config;
  const settled = await Promise.allSettled(
    sc.nodes.map(async (name): Promise<Member> => {
      const parts = await deps.node(name);
      const api = parts.server.engine.swarm;
      if (!api) throw new BmError('NotASwarm', `${name}'s engine has no Swarm API (Podman has none): take ${name} out of swarm.nodes.`);
      const m = await api.membership();
      if (m.state !== 'active') {
        throw new BmError('NotASwarm', name === sc.manager
          ? `${name} is not part of a swarm (its state is "${m.state}"): run "docker swarm init" there and "docker swarm join" on the other nodes, then deploy again.`
          : `${name} is not part of ${sc.manager}'s swarm (its state is "${m.state}"): join it with the command "docker swarm join-token worker" prints on ${sc.manager}.`);
      }
      if (name === sc.manager && !m.isManager) throw new BmError('NotASwarm', `${name} is a worker of its swarm, not a manager: set swarm.manager to a manager ("docker node ls" on one shows which).`);
      return { name, ...parts, nodeId: m.nodeId };
    }),
  );
  // Status (tolerant) still shows a swarm with a node down; a deploy needs every node.
  const members: Member[] = [];
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') members.push(r.value);
    else if (!opts.tolerant || i === 0) throw r.reason;
    else deps.logger?.warn(`${sc.nodes[i]}: ${(r.reason as Error).message}`);
  });
  const manager = members[0];
  const swarm = manager.server.engine.swarm!;
  const nodes = await swarm.nodes();
  for (const m of members) {
    if (!nodes.some((n) => n.id === m.nodeId)) throw new BmError('NotASwarm', `${m.name} is in another swarm than ${manager.name}: join it to ${manager.name}'s swarm or take it out of swarm.nodes.`);
  }
  // Which server each node is, kept on the manager: a node that cannot be asked (its engine
  // down) is still named by its server in the status.
  const mapPath = `${stateDir(deps.config.servers[sc.manager].stateDir, deps.config.app)}/swarm-nodes.json`;
  const known: Record<string, string> = opts.tolerant ? parseNodeMap(await manager.server.files.read(mapPath).catch(() => undefined)) : {};
  for (const m of members) known[m.name] = m.nodeId;
  if (!opts.tolerant) {
    await manager.server.files.mkdirp(stateDir(deps.config.servers[sc.manager].stateDir, deps.config.app));
    await manager.server.files.writeAtomic(mapPath, `${JSON.stringify(known)}\n`);
  }
  const stranger = opts.tolerant ? undefined : nodes.find((n) => n.availability === 'active' && n.state === 'ready' && !members.some((m) => m.nodeId === n.id));
  if (stranger) {
    throw new BmError('NotASwarm', `The swarm has a node at ${stranger.addr} (ID ${stranger.id.slice(0, 12)}) that is not in swarm.nodes, so it would get no image: add its server to swarm.nodes, or drain it ("docker node update --availability drain ${stranger.id.slice(0, 12)}").`);
  }
  return { manager, members, swarm, nodes, known };
}

function parseNodeMap(text: string | undefined): Record<string, string> {
  try {
    const v: unknown = JSON.parse(text ?? '{}');
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

const short = (sha: string) => sha.slice(0, 12);

export async function swarmDeploy(deps: SwarmBuildDeps, opts: DeployOptions = {}): Promise<SwarmResult> {
  const { config, logger, progress, signal } = { ...deps, signal: opts.signal };
  const clock = new PhaseClock();
  const id = newDeployId();
  const shared = await shareImage({ config, repo: deps.repo, builder: deps.builder, logger, progress, buildSecrets: deps.buildSecrets, cache: deps.cache }, opts);
  const { commit, tag } = shared;
  const ref = imageTag(imageName(config), tag);
  progress({ phase: 'connect', message: `Connecting to the swarm's ${config.swarm.nodes.length} node(s)` });
  const sw = await clock.time('connect', () => connectSwarm(deps));
  const sent = new Map<string, { bytes: number; transport: TransferPath }>(sw.members.map((m) => [m.name, { bytes: 0, transport: 'none' }]));
  const stateBase = config.servers[config.swarm.manager].stateDir;
  const lock = await acquireLock(sw.manager.server.files, stateBase, config.app, {
    owner: deps.who, operation: 'deploy', wait: opts.wait, signal, sessions: sw.manager.server.sessions,
    onWaiting: (h) => progress({ phase: 'connect', message: `Waiting for ${h.owner}'s ${h.operation} to finish` }),
  });
  let image = '';
  let servingAfterMs: number | undefined;
  const record = (result: DeployRecord['result'], reason?: string): DeployRecord => ({
    id, kind: 'deploy', app: config.app, server: config.swarm.manager, commit: commit.sha, subject: commit.subject, author: commit.author,
    image, tag, who: deps.who, startedAt: clock.startedAt.toISOString(), finishedAt: new Date().toISOString(), result, reason,
    bytesSent: [...sent.values()].reduce((a, s) => a + s.bytes, 0), phasesMs: clock.phasesMs, dirty: shared.dirty || undefined, builtOn: 'local',
  });
  const result = (r: DeployRecord, err?: BmError): SwarmResult => ({
    id, kind: 'deploy', result: r.result, app: config.app, manager: config.swarm.manager, commit: commit.sha, subject: commit.subject, image,
    replicas: config.swarm.replicas, nodes: sw.members.map((m) => ({ server: m.name, nodeId: m.nodeId, bytesSent: sent.get(m.name)!.bytes, transport: sent.get(m.name)!.transport })),
    durationMs: clock.elapsed(), ...(servingAfterMs !== undefined && { servingAfterMs }), phasesMs: clock.phasesMs,
    ...(err && { error: { code: err.code, message: err.message } }),
  });
  let exported: ExportedImage | undefined;
  try {
    const lacking = await Promise.all(sw.members.map(async (m) => shared.dirty || !(await m.server.engine.image(ref))));
    if (lacking.some(Boolean)) {
      const p = await sw.manager.server.engine.platform?.();
      await clock.time('build', () => shared.build(p ? platformString(p) : undefined, signal));
      throwIfAborted(signal);
      await clock.time('ship', async () => {
        progress({ phase: 'ship', message: `Preparing the layers of ${ref}` });
        const image = await shared.export(signal);
        exported = image;
        // Every node at once, each over its own connection, each sent only what it lacks.
        await Promise.all(sw.members.filter((_, i) => lacking[i]).map(async (m) => {
          m.progress({ phase: 'ship', message: `Sending ${ref} to ${m.name}`, bytes: 0 });
          const onBytes = (n: number) => {
            sent.get(m.name)!.bytes = n;
            m.progress({ phase: 'ship', message: `Sending ${ref}`, bytes: n });
          };
          const r = await shipImage({ builder: deps.builder, server: m.server, cache: deps.cache, ref, logger: m.logger, onBytes, signal, force: deps.forceTransfer }, image);
          sent.set(m.name, { bytes: r.bytesSent, transport: r.path });
        }));
      });
    } else logger.info(`${ref} is already on every node: nothing to build or send`);
    throwIfAborted(signal);

    const ids = await Promise.all(sw.members.map(async (m) => (await m.server.engine.image(ref))?.id ?? ''));
    const without = sw.members.filter((_, i) => !ids[i]).map((m) => m.name);
    if (without.length) throw new BmError('TransferFailed', `${without.join(', ')} did not keep ${ref} after the transfer: deploy again (its tasks could not start without it).`);
    const pin = pinnedReference(ids, imageName(config), tag);
    if (!pin.byId) {
      logger.info(`the nodes' image stores name ${short(commit.sha)} by different IDs: the service runs it by the tag ${pin.ref}, which every node has`);
      await Promise.all(sw.members.map((m) => m.server.engine.tagImage(ref, `${NOWHERE_REGISTRY}/${imageName(config)}`, tag)));
    }
    image = pin.ref;
    await lock.describe(record('failed')).catch(() => undefined);

    await clock.time('start', () => updateOrCreate(sw.swarm, serviceSpec(config, image, commit.sha, deps.secrets), progress));
    const done = await clock.time('health', () => waitForRollout({
      swarm: sw.swarm, service: config.app, image, replicas: config.swarm.replicas, timeoutSeconds: config.swarm.timeoutSeconds, signal,
      onProgress: (n, of) => progress({ phase: 'health', message: `${n} of ${of} replicas run ${short(commit.sha)}` }),
    }));
    servingAfterMs = done.at - clock.startedAt.getTime();
    logger.info(`the swarm runs ${short(commit.sha)} (${commit.subject}) as ${config.swarm.replicas} replica(s), every one healthy after ${servingAfterMs} ms`);
    const ok = record('succeeded');
    progress({ phase: 'record', message: `Recording the deploy in ${config.swarm.manager}'s history` });
    const history = await clock.time('record', () => appendJournal(sw.manager.server.files, stateBase, ok, logger));
    // Each node keeps the images of the last `keep` deploys (the manager's history says which).
    progress({ phase: 'prune', message: `Removing images beyond the ${config.keep} kept on every node` });
    await clock.time('prune', () => Promise.all(sw.members.map((m, i) =>
      pruneImages(m.server.engine, { apps: [config.app], repo: imageName(config) }, config.keep, history, ids[i], m.logger).catch((e: unknown) => m.logger.warn(`prune: ${String(e)}`)))));
    return result(ok);
  } catch (e) {
    const err = failureOf(e, signal);
    const failed = record(err.code === 'Cancelled' ? 'cancelled' : 'failed', err.message);
    await appendJournal(sw.manager.server.files, stateBase, failed, logger).catch((je: unknown) => logger.warn(`could not record the failure: ${String(je)}`));
    throw Object.assign(err, { result: result(failed, err) });
  } finally {
    await lock.release().catch(() => undefined);
    await trimLayerCache(deps.cache, exported, logger);
  }
}

async function updateOrCreate(swarm: SwarmEngine, spec: ReturnType<typeof serviceSpec>, progress: ProgressSink): Promise<void> {
  const svc = await swarm.service(spec.name);
  if (svc) {
    progress({ phase: 'start', message: `Updating the service ${spec.name}: Swarm starts each new task before it stops an old one` });
    await swarm.updateService(svc.id, svc.version, spec);
  } else {
    progress({ phase: 'start', message: `Creating the service ${spec.name} (${spec.replicas} replica(s))` });
    await swarm.createService(spec);
  }
}

export interface SwarmRollbackOptions {
  to?: string;
  wait?: boolean;
  signal?: AbortSignal;
}

/** Back to a kept image (every node still has it): a service update, rolled out by Swarm. */
export async function swarmRollback(deps: SwarmDeps, opts: SwarmRollbackOptions = {}): Promise<SwarmResult> {
  const { config, logger, progress, signal } = { ...deps, signal: opts.signal };
  const clock = new PhaseClock();
  const id = newDeployId();
  const sw = await clock.time('connect', () => connectSwarm(deps));
  const stateBase = config.servers[config.swarm.manager].stateDir;
  const lock = await acquireLock(sw.manager.server.files, stateBase, config.app, { owner: deps.who, operation: 'rollback', wait: opts.wait, signal, sessions: sw.manager.server.sessions });
  let target: DeployRecord | undefined;
  let servingAfterMs: number | undefined;
  const record = (result: DeployRecord['result'], reason?: string): DeployRecord => ({
    id, kind: 'rollback', app: config.app, server: config.swarm.manager, commit: target?.commit ?? '', subject: target?.subject ?? '', author: target?.author ?? '',
    image: target?.image ?? '', tag: target?.tag ?? '', who: deps.who, startedAt: clock.startedAt.toISOString(), finishedAt: new Date().toISOString(),
    result, reason, bytesSent: 0, phasesMs: clock.phasesMs,
  });
  const result = (r: DeployRecord, err?: BmError): SwarmResult => ({
    id, kind: 'rollback', result: r.result, app: config.app, manager: config.swarm.manager, commit: r.commit, subject: r.subject, image: r.image,
    replicas: config.swarm.replicas, nodes: sw.members.map((m) => ({ server: m.name, nodeId: m.nodeId, bytesSent: 0, transport: 'none' })),
    durationMs: clock.elapsed(), ...(servingAfterMs !== undefined && { servingAfterMs }), phasesMs: clock.phasesMs, ...(err && { error: { code: err.code, message: err.message } }),
  });
  try {
    const svc = await sw.swarm.service(config.app);
    if (!svc) throw new BmError('NothingToRollBack', `${config.app} is not a service of ${config.swarm.manager}'s swarm yet: deploy it first with "baremetal deploy".`);
    const history = await readJournal(sw.manager.server.files, stateBase, config.app, logger);
    const current = [...history].reverse().find((r) => r.result === 'succeeded' && r.image === svc.image);
    target = chooseRollbackTarget(history, current, opts.to, config.app);
    const chosen = target;
    // Kept on every node, or the task placed on a node without it could not start.
    const missing = (await Promise.all(sw.members.map(async (m) => ((await m.server.engine.image(chosen.image)) ? undefined : m.name)))).filter(Boolean);
    if (missing.length) throw new BmError('ImagePruned', `The image of ${short(chosen.commit)} is no longer on ${missing.join(', ')}: deploy that commit instead ("baremetal deploy --commit ${short(chosen.commit)}").`);
    await lock.describe(record('failed')).catch(() => undefined);
    progress({ phase: 'start', message: `Rolling back to ${short(chosen.commit)} (${chosen.subject})` });
    await clock.time('start', () => updateOrCreate(sw.swarm, serviceSpec(config, chosen.image, chosen.commit, deps.secrets), progress));
    const done = await clock.time('health', () => waitForRollout({
      swarm: sw.swarm, service: config.app, image: chosen.image, replicas: config.swarm.replicas, timeoutSeconds: config.swarm.timeoutSeconds, signal,
      onProgress: (n, of) => progress({ phase: 'health', message: `${n} of ${of} replicas run ${short(chosen.commit)}` }),
    }));
    servingAfterMs = done.at - clock.startedAt.getTime();
    const ok = record('succeeded');
    await clock.time('record', () => appendJournal(sw.manager.server.files, stateBase, ok, logger));
    return result(ok);
  } catch (e) {
    const err = failureOf(e, signal);
    const failed = record(err.code === 'Cancelled' ? 'cancelled' : 'failed', err.message);
    if (target) await appendJournal(sw.manager.server.files, stateBase, failed, logger).catch((je: unknown) => logger.warn(`could not record the failure: ${String(je)}`));
    throw Object.assign(err, { result: result(failed, err) });
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** A swarm config's manager-first node list, or an error for a config without "swarm". */
export function swarmConfigOf(config: Config): SwarmAppConfig {
  if (!config.swarm) throw new BmError('ConfigInvalid', 'baremetal.json has no "swarm": this command needs one.');
  return config as SwarmAppConfig;
}

