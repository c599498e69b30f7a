/**
 * A swarm app's status: the service and, per node, the tasks it runs now (their state, commit,
 * since when). Nodes are named by their server when one of swarm.nodes is that node, else by
 * their address. A node that cannot be reached still shows, as the manager sees it.
 */
import type { DeployRecord } from './journal';
import { readJournal } from './journal';
import { LABEL } from './labels';
import { connectSwarm, type SwarmDeps } from './swarm';

export interface NodeStatus {
  /** The server of swarm.nodes that is this node, when it is one. */
  server?: string;
  nodeId: string;
  addr: string;
  role: 'manager' | 'worker';
  state: string;
  availability: string;
  tasks: { slot?: number; state: string; commit?: string; since: string; error?: string }[];
}

export interface SwarmStatus {
  app: string;
  manager: string;
  state: 'absent' | 'running' | 'updating' | 'rolled-back' | 'degraded';
  commit?: string;
  subject?: string;
  image?: string;
  replicas?: number;
  running: number;
  update?: { state: string; message?: string };
  nodes: NodeStatus[];
}

export async function swarmStatus(deps: Pick<SwarmDeps, 'config' | 'node' | 'logger'>): Promise<SwarmStatus> {
  const { config } = deps;
  const sw = await connectSwarm(deps, { tolerant: true });
  const svc = await sw.swarm.service(config.app);
  const base = { app: config.app, manager: config.swarm.manager };
  const serverOf = (id: string) => Object.entries(sw.known).find(([, nodeId]) => nodeId === id)?.[0];
  const tasks = svc ? (await sw.swarm.tasks(config.app)).filter((t) => t.desiredState === 'running') : [];
  const nodes: NodeStatus[] = sw.nodes.map((n) => ({
    ...(serverOf(n.id) && { server: serverOf(n.id) }),
    nodeId: n.id, addr: n.addr, role: n.role, state: n.state, availability: n.availability,
    tasks: tasks.filter((t) => t.nodeId === n.id).sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0)).map((t) => ({
      ...(t.slot !== undefined && { slot: t.slot }), state: t.state, ...(t.labels[LABEL.commit] && { commit: t.labels[LABEL.commit] }), since: t.since, ...(t.error && { error: t.error }),
    })),
  }));
  // Managers first, then by server (or address): the same order on every refresh.
  nodes.sort((a, b) => Number(b.role === 'manager') - Number(a.role === 'manager') || (a.server ?? a.addr).localeCompare(b.server ?? b.addr));
  if (!svc) return { ...base, state: 'absent', running: 0, nodes };
  const history: DeployRecord[] = await readJournal(sw.manager.server.files, config.servers[config.swarm.manager].stateDir, config.app, deps.logger).catch(() => []);
  const commit = svc.labels[LABEL.commit];
  const running = tasks.filter((t) => t.state === 'running' && t.image === svc.image).length;
  const u = svc.update?.state;
  const state = u === 'updating' || u === 'rollback_started' ? 'updating' : u === 'rollback_completed' ? 'rolled-back' : running < (svc.replicas ?? 0) ? 'degraded' : 'running';
  return {
    ...base, state, ...(commit && { commit }), subject: history.filter((r) => r.commit === commit).pop()?.subject, image: svc.image,
    ...(svc.replicas !== undefined && { replicas: svc.replicas }), running, ...(svc.update && { update: svc.update }), nodes,
  };
}
