/**
 * deploy, rollback, status and logs of an app with "swarm": one SSH connection per node (each
 * node's lines prefixed with its name), the service on the manager, one result for the swarm.
 */
import { configFor } from '../core/config/fleet';
import { redact, resolveSecrets } from '../core/config/secrets';
import { logSecrets } from '../core/config/secret-mask';
import type { Config } from '../core/config/types';
import { BmError } from '../core/errors';
import type { LogLine } from '../core/ports';
import { swarmDeploy, swarmRollback, swarmConfigOf, type SwarmDeps, type SwarmResult } from '../core/deploy/swarm';
import { swarmStatus, type SwarmStatus } from '../core/deploy/swarm-status';
import { fleetParts } from '../app/deploy-parts';
import { formatBytes, formatDuration, relativeTime } from './output';
import type { Ctx } from './ctx';
import { logLineFor } from './log-text';

async function swarmDeps(ctx: Ctx, app: Config): Promise<SwarmDeps> {
  const config = swarmConfigOf(app);
  const manager = configFor(config, config.swarm.manager);
  const secrets = await resolveSecrets(manager);
  Object.assign(ctx.out.secrets, secrets);
  const width = Math.max(...config.swarm.nodes.map((n) => n.length));
  return {
    config, secrets, who: ctx.who, logger: ctx.out, progress: ctx.out.progress,
    async node(name) {
      const out = ctx.out.forServer(name, width);
      out.progress({ phase: 'connect', message: `Connecting to ${name}` });
      return { server: await ctx.pool.get(config.servers[name], ctx.signal), logger: out, progress: out.progress };
    },
  };
}

/** Prints the result (also of a failure under --json), then passes the failure on. */
async function report(ctx: Ctx, op: () => Promise<SwarmResult>): Promise<number> {
  let r: SwarmResult;
  try {
    r = await op();
  } catch (e) {
    const result = (e as { result?: SwarmResult }).result;
    if (result && ctx.args.json) ctx.out.result(result, true, () => '');
    throw e;
  }
  ctx.out.result(r, ctx.args.json ?? false, () => {
    const verb = r.kind === 'deploy' ? 'Deployed' : 'Rolled back to';
    const sent = r.nodes.map((n) => `${n.server} ${formatBytes(n.bytesSent)}`).join(', ');
    const serving = r.servingAfterMs !== undefined ? `, every replica serving after ${formatDuration(r.servingAfterMs)}` : '';
    return `${verb} ${r.commit.slice(0, 12)} (${r.subject}) on ${r.manager}'s swarm: ${r.replicas} replica(s) on ${r.nodes.length} node(s)${serving}${r.kind === 'deploy' ? ` (sent: ${sent})` : ''}.`;
  });
  return 0;
}

export async function swarmDeployCommand(ctx: Ctx, app: Config, forceTransfer: Parameters<typeof swarmDeploy>[0]['forceTransfer']): Promise<number> {
  const deps = await swarmDeps(ctx, app);
  const shared = await fleetParts(app);
  return report(ctx, () => swarmDeploy({ ...deps, ...shared, forceTransfer }, { ref: ctx.args.commit, allowDirty: ctx.args['allow-dirty'], wait: ctx.args.wait, signal: ctx.signal }));
}

export async function swarmRollbackCommand(ctx: Ctx, app: Config): Promise<number> {
  const deps = await swarmDeps(ctx, app);
  return report(ctx, () => swarmRollback(deps, { to: ctx.args.to, wait: ctx.args.wait, signal: ctx.signal }));
}

export async function swarmStatusCommand(ctx: Ctx, app: Config): Promise<number> {
  const deps = await swarmDeps(ctx, app);
  const s = await swarmStatus(deps);
  ctx.out.result(s, ctx.args.json ?? false, () => describeSwarm(s));
  // After Swarm rolled back, the old version serves: that is not an error of the swarm.
  return s.state === 'running' || s.state === 'absent' || (s.state === 'rolled-back' && s.running >= (s.replicas ?? 0)) ? 0 : 1;
}

export function describeSwarm(s: SwarmStatus): string {
  const head = s.state === 'absent'
    ? `${s.app} is not deployed on ${s.manager}'s swarm.`
    : `${s.app} ${s.commit?.slice(0, 12) ?? '?'} (${s.subject ?? 'unknown commit'}) ${s.state}: ${s.running} of ${s.replicas ?? '?'} replicas running, a service of ${s.manager}'s swarm${s.update?.message && s.state !== 'running' ? ` (${s.update.message})` : ''}`;
  const nodes = s.nodes.map((n) => {
    const tasks = n.tasks.length
      ? n.tasks.map((t) => `task ${t.slot ?? '?'} ${t.state} ${t.commit?.slice(0, 12) ?? '?'}${t.since ? ` since ${relativeTime(t.since)}` : ''}${t.error ? ` (${t.error})` : ''}`).join('; ')
      : 'no task';
    return `  ${n.server ?? n.addr} (${n.addr}, ${n.role}, ${n.state}${n.availability !== 'active' ? `, ${n.availability}` : ''}): ${tasks}`;
  });
  return [head, ...nodes].join('\n');
}

/** The service's logs, merged by Swarm from every task on every node. */
export async function swarmLogsCommand(ctx: Ctx, app: Config, tail: number | undefined): Promise<number> {
  const config = swarmConfigOf(app);
  // The service runs with the manager's secrets; one that cannot be read stops the logs.
  ctx.out.secrets = await logSecrets(config, [config.swarm.manager]);
  const manager = await ctx.pool.get(config.servers[config.swarm.manager], ctx.signal);
  const api = manager.engine.swarm;
  if (!api || !(await api.service(config.app))) throw new BmError('NotRunning', `${config.app} is not a service of ${config.swarm.manager}'s swarm: deploy it first with "baremetal deploy".`);
  const print = (l: LogLine) => {
    const to = l.stream === 'stderr' ? process.stderr : process.stdout;
    const text = logLineFor(to, ctx.args.timestamps && l.time ? `${l.time} ${l.text}` : l.text);
    to.write(`${redact(text, ctx.out.secrets)}\n`);
  };
  for await (const l of api.serviceLogs(config.app, { follow: ctx.args.follow ?? false, tail, since: ctx.args.since, timestamps: ctx.args.timestamps }, ctx.signal)) print(l);
  return 0;
}
