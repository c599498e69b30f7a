import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, pickServer } from '../core/config/load';
import { appStreams, configFor, isRollout, resolveTargets, type Targets } from '../core/config/fleet';
import { redact, resolveBuildSecrets, resolveSecrets, resolveTlsPair } from '../core/config/secrets';
import { logSecrets } from '../core/config/secret-mask';
import type { Config, ServerConfig } from '../core/config/types';
import { asBmError, BmError } from '../core/errors';
import { deploy, type DeployResult } from '../core/deploy/deploy';
import { planDeploy, type DeployPlan } from '../core/deploy/plan';
import type { TransferPath } from '../core/transfer/ship';
import { rollback } from '../core/deploy/rollback';
import { history, status, runningContainer, type AppStatus } from '../core/deploy/status';
import { followAppLogs } from '../core/logs/follow';
import { describeProxy } from '../core/proxy/proxy-status';
import type { LogLine } from '../core/ports';
import { deployParts, layerCache } from '../app/deploy-parts';
import { ServerPool } from '../drivers/server-pool';
import { abbreviateLines, CliOutput, formatBytes, formatDuration } from './output';
import { execCommand, runCommand } from './in-app';
import { fleetLogs } from './fleet-logs';
import { logLineFor } from './log-text';
import { swarmDeployCommand, swarmLogsCommand, swarmRollbackCommand, swarmStatusCommand } from './swarm';
import { describeHistory, fleetDeploy, fleetHistory, fleetRollback, fleetStatus } from './fleet';
import { askHidden, confirm } from './prompt';
import { agreeToSecrets } from './consent';
import { runGuarded } from './exit-guard';
import { OPTIONS, type Ctx } from './ctx';

const USAGE = `Usage: baremetal <command> [options]

Commands:
  deploy    [--server NAME|GROUP|all] [--commit REF] [--allow-dirty] [--wait] [--dry-run]
            [--rollback-on-failure] [--yes] [--json]
            build the commit (default HEAD), send the layers each server lacks over SSH,
            run it health-checked; to a group: built once, servers in parallel or in
            batches (rollout.batch), stopping at the first batch with a failure;
            --rollback-on-failure then puts the servers already moved back;
            --dry-run only tells what would be sent
            secrets going to a host for the first time are listed and asked
            about (y/N); --yes agrees without asking (CI, no terminal)
  rollback  [--server NAME|GROUP|all] [--to REF] [--wait] [--yes] [--json]
            run the image of an earlier deploy again (default: the previous one)
  history   [--server NAME|GROUP|all] [--json]   deploys on each server, newest first
  status    [--server NAME|GROUP|all] [--json]   what runs now, its health and uptime
            (default: every server)
  logs      [--server NAME|GROUP|all] [--role ROLE] [--follow] [--tail N] [--since TIME]
            [--timestamps]
            the app's output; of a group or several roles, one stream in time order, each
            line under its server (and role)
  exec      [--server NAME] [--role ROLE] [-i] [-t] [-- CMD…]
            run CMD in the app's running container (no CMD: its shell, bash else sh,
            or run.shell); -i passes stdin, -t gives it a terminal (colours, Ctrl-C, size);
            with roles, in the first role on that server unless --role says which
  run       [--server NAME] [--role ROLE] [-i] [-t] [--yes] -- CMD…
            run CMD in a new one-off container of the running image, with the app's env,
            secrets and volumes (like run.release); removed once it exits; secrets going
            to a host for the first time are asked about as for deploy (--yes)
            exec and run exit with CMD's exit code; 125 when it could not run, 127 when
            CMD is not in the image
  trust     NAME [--yes]                  show a server's host key and add it to known_hosts

Options for every command:
  --cwd DIR     the project folder (where baremetal.json is); default: the current folder
  --verbose     more detail on stderr (build output, connection steps)

Environment:
  DOCKER_HOST             the local engine that builds images (default /var/run/docker.sock)
  BAREMETAL_SSH_CONFIG    an ssh_config file to use instead of ~/.ssh/config
  BAREMETAL_SSH_PASSPHRASE  passphrase of an encrypted key, when there is no terminal to ask on
  BAREMETAL_CACHE_DIR     where compressed layers are kept (default ~/.cache/baremetal/layers)
  BAREMETAL_CACHE_MAX     size limit of that cache, e.g. 5G, 500M, 2GiB or bytes (default 10G);
                          after a deploy the least recently used layers go; "none": no limit
  BAREMETAL_LINK_TIMEOUT  seconds without a byte from a server before its link counts as
                          dead and the command stops saying so (default 20)
  BAREMETAL_TRANSFER      force one transfer path: registry, trimmed-load or full-load
                          (troubleshooting; normally the best one that works is chosen)`;


/** The running command's output, so the exit guard can name the step a silent end stopped at. */
let lastOutput: CliOutput | undefined;


export async function main(argv: string[]): Promise<number> {
  // What follows `--` is the command of exec and run, its options its own.
  const dash = argv.indexOf('--');
  const inner = dash >= 0 ? argv.slice(dash + 1) : undefined;
  let parsed;
  try {
    parsed = parseArgs({ args: dash >= 0 ? argv.slice(0, dash) : argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values: args, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (args.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || args.help ? 0 : 2;
  }
  const out = new CliOutput(args.verbose ?? false);
  lastOutput = out;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    out.warn('cancelling… (Ctrl-C again to quit at once)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const pool = new ServerPool({
    logger: out,
    sshConfigFile: process.env.BAREMETAL_SSH_CONFIG || undefined,
    askPassphrase: async (file) => process.env.BAREMETAL_SSH_PASSPHRASE ?? (process.stdin.isTTY ? askHidden(`Passphrase for ${file}: `) : undefined),
  });
  try {
    const cwd = resolve(args.cwd ?? process.cwd());
    const ctx: Ctx = { args, rest, command: inner, out, pool, cwd, signal: abort.signal, who: `${os.userInfo().username}@${os.hostname()}` };
    // A deploy or rollback moves every role at once (one commit); status and history show each.
    if (args.role !== undefined && !['logs', 'exec', 'run'].includes(command)) {
      throw new BmError('InvalidCommand', `--role is for logs, exec and run; ${command} acts on every role of the app at once, so leave it out.`);
    }
    switch (command) {
      case 'deploy':
        return await deployCommand(ctx);
      case 'rollback':
        return await rollbackCommand(ctx);
      case 'history':
        return await historyCommand(ctx);
      case 'status':
        return await statusCommand(ctx);
      case 'logs':
        return await logsCommand(ctx);
      case 'trust':
        return await trustCommand(ctx);
      case 'exec':
        return await execCommand(ctx);
      case 'run':
        return await runCommand(ctx);
      default:
        process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
        return 2;
    }
  } catch (e) {
    const err = asBmError(e);
    out.error(err.message);
    if (err.detail) out.info(abbreviateLines(err.detail).split('\n').map((l) => `  ${l}`).join('\n'));
    if (err.code === 'Internal' && err.cause instanceof Error) out.debug(err.cause.stack ?? '');
    // exec and run pass the command's own exit code through: theirs must not look like one (docker's convention).
    if (command === 'exec' || command === 'run') return err.code === 'CommandNotFound' ? 127 : 125;
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    pool.closeAll();
  }
}


/**
 * The servers --server names, and whether the fleet path runs: several servers, or roles (several
 * containers on one server). One server without roles keeps the one-server path and its output,
 * with that server's overrides applied.
 */
async function targetsOf(ctx: Ctx): Promise<{ config: Config; targets: Targets; fleet: boolean }> {
  const config = await loadConfig(ctx.cwd);
  // A swarm is one target whatever --server says: the service on the manager, the image on every node.
  const targets = resolveTargets(config, config.swarm && ctx.args.server === undefined ? config.swarm.manager : ctx.args.server);
  return { config, targets, fleet: isRollout(config, targets) };
}

async function connect(ctx: Ctx, server: ServerConfig) {
  ctx.out.progress({ phase: 'connect', message: `Connecting to ${server.name}` });
  return ctx.pool.get(server, ctx.signal);
}

function printDeployResult(ctx: Ctx, r: DeployResult): void {
  ctx.out.result(r, ctx.args.json ?? false, () => {
    const verb = r.kind === 'rollback' ? 'Rolled back' : 'Deployed';
    // Through the proxy, serving starts before the old version has drained and stopped.
    const serving = r.servingAfterMs !== undefined ? `serving after ${formatDuration(r.servingAfterMs)}, done ` : '';
    return `${verb} ${r.commit.slice(0, 12)} (${r.subject}) to ${r.server}, ${serving}in ${formatDuration(r.durationMs)}; ${formatBytes(r.bytesSent)} sent.`;
  });
}

/** Runs a deploy-like operation; on failure still prints the result object under --json. */
async function runAndReport(ctx: Ctx, op: () => Promise<DeployResult>): Promise<number> {
  try {
    printDeployResult(ctx, await op());
    return 0;
  } catch (e) {
    const result = (e as { result?: DeployResult }).result;
    if (result && ctx.args.json) ctx.out.result(result, true, () => '');
    throw e;
  }
}

async function deployCommand(ctx: Ctx): Promise<number> {
  const { config: app, targets, fleet } = await targetsOf(ctx);
  layerCache(); // a bad BAREMETAL_CACHE_MAX stops us before connecting
  // Secrets that would go to a host for the first time are shown and agreed to before anything connects.
  if (!ctx.args['dry-run']) await agreeToSecrets(app, app.swarm ? app.swarm.nodes : targets.servers.map((s) => s.name), { yes: ctx.args.yes });
  if (app.swarm && !ctx.args['dry-run']) return swarmDeployCommand(ctx, app, transferOverride());
  if (fleet && !ctx.args['dry-run']) return fleetDeploy(ctx, app, targets, transferOverride());
  if (fleet) throw new BmError('UnknownServer', `--dry-run looks at one server: add --server ${targets.servers[0].name} (one of ${targets.servers.map((s) => s.name).join(', ')}).`);
  const server = targets.servers[0];
  const config = configFor(app, server.name);
  const secrets = await resolveSecrets(config);
  const buildSecrets = await resolveBuildSecrets(config);
  const tlsPair = await resolveTlsPair(config);
  ctx.out.secrets = { ...secrets, ...buildSecrets, ...(tlsPair ? { TLS_CERT: tlsPair.cert, TLS_KEY: tlsPair.key } : {}) };
  const connected = await connect(ctx, server);
  const parts = await deployParts(config, connected);
  const deps = {
    config,
    serverName: server.name,
    ...parts,
    secrets,
    logger: ctx.out,
    progress: ctx.out.progress,
    who: ctx.who,
    forceTransfer: transferOverride(),
    reconnect: () => ctx.pool.get(server, ctx.signal),
  };
  if (ctx.args['dry-run']) {
    const plan = await planDeploy({ ...deps, server: connected }, { ref: ctx.args.commit, allowDirty: ctx.args['allow-dirty'], signal: ctx.signal });
    ctx.out.result(plan, ctx.args.json ?? false, () => describePlan(plan));
    return 0;
  }
  return runAndReport(ctx, () =>
    deploy(
      { ...deps, server: connected },
      { ref: ctx.args.commit, allowDirty: ctx.args['allow-dirty'], wait: ctx.args.wait, signal: ctx.signal },
    ),
  );
}

function transferOverride(): TransferPath | undefined {
  const v = process.env.BAREMETAL_TRANSFER;
  if (!v || v === 'auto') return undefined;
  if (v === 'registry' || v === 'trimmed-load' || v === 'full-load') return v;
  throw new BmError('ConfigInvalid', `BAREMETAL_TRANSFER is "${v}"; expected auto, registry, trimmed-load or full-load.`);
}

function describePlan(plan: DeployPlan): string {
  const lines = [`${plan.tag.slice(0, 12)} (${plan.subject}) → ${plan.server}:`];
  if (plan.onServer) lines.push('  the server already has this image: nothing to send.');
  for (const l of plan.layers) lines.push(`  ${l.present ? 'has ' : 'SEND'} ${l.digest.slice(7, 19)}  ${formatBytes(l.size).padStart(10)}`);
  lines.push(`  ${formatBytes(plan.missingBytes)} to send, of ${formatBytes(plan.totalBytes)} compressed in all.`);
  for (const a of plan.advice) lines.push(`  advice: ${a}`);
  return lines.join('\n');
}

async function rollbackCommand(ctx: Ctx): Promise<number> {
  const { config: app, targets, fleet } = await targetsOf(ctx);
  // A rollback starts a container with today's secrets: the same question as a deploy.
  await agreeToSecrets(app, app.swarm ? app.swarm.nodes : targets.servers.map((s) => s.name), { yes: ctx.args.yes });
  if (app.swarm) return swarmRollbackCommand(ctx, app);
  if (fleet) return fleetRollback(ctx, app, targets);
  const server = targets.servers[0];
  const config = configFor(app, server.name);
  const secrets = await resolveSecrets(config);
  const tlsPair = await resolveTlsPair(config);
  ctx.out.secrets = { ...secrets, ...(tlsPair ? { TLS_CERT: tlsPair.cert, TLS_KEY: tlsPair.key } : {}) };
  const connected = await connect(ctx, server);
  return runAndReport(ctx, () =>
    rollback(
      { config, server: connected, serverName: server.name, secrets, tlsPair, logger: ctx.out, progress: ctx.out.progress, who: ctx.who },
      { to: ctx.args.to, wait: ctx.args.wait, signal: ctx.signal },
    ),
  );
}

async function historyCommand(ctx: Ctx): Promise<number> {
  const { config, targets, fleet } = await targetsOf(ctx);
  if (fleet) {
    const all = await fleetHistory(ctx, config, targets);
    ctx.out.result(all, ctx.args.json ?? false, () =>
      all.map((h) => `${h.server}${h.role ? ` (${h.role})` : ''}:\n${h.error ?? describeHistory(h.entries, `No deploys of ${h.app} on ${h.server} yet.`)}`.replace(/\n/g, '\n  ')).join('\n'),
    );
    return all.some((h) => h.error) ? 1 : 0;
  }
  const server = targets.servers[0];
  const entries = await history(await connect(ctx, server), config, server.name);
  ctx.out.result(entries, ctx.args.json ?? false, () => describeHistory(entries, `No deploys of ${config.app} on ${server.name} yet.`));
  return 0;
}

async function statusCommand(ctx: Ctx): Promise<number> {
  const config = await loadConfig(ctx.cwd);
  if (config.swarm) return swarmStatusCommand(ctx, config);
  // Without --server: every server, as before groups existed.
  const targets = resolveTargets(config, ctx.args.server ?? 'all');
  const one = targets.servers.length === 1 && !config.roles;
  const results: (AppStatus | { server: string; app: string; state: 'unknown'; error: string })[] = [];
  if (one) results.push(await status(await connect(ctx, targets.servers[0]), configFor(config, targets.servers[0].name), targets.servers[0].name, { who: ctx.who, tidy: true }));
  else results.push(...(await fleetStatus(ctx, config, targets)));
  ctx.out.result(one && targets.kind === 'server' ? results[0] : results, ctx.args.json ?? false, () =>
    results
      .map((r) => {
        if ('error' in r) return `${r.server}: ${r.error}`;
        const proxy = r.proxy ? `\n  proxy: ${describeProxy(r.proxy)}` : '';
        if (r.state === 'absent') return `${r.server}: ${r.app} is not deployed.${proxy}`;
        const up = r.uptimeSeconds !== undefined ? `, up ${formatDuration(r.uptimeSeconds * 1000)}` : '';
        const left = r.leftovers?.length
          ? `\n  ${r.leftovers.every((l) => l.removed) ? 'removed' : 'left (a deploy holds the lock)'}: ${r.leftovers.map((l) => l.name).join(', ')}, left by a deploy that did not finish`
          : '';
        return `${r.server}: ${r.app} ${r.commit?.slice(0, 12) ?? '?'} (${r.subject ?? 'unknown commit'}) ${r.state}${up}, health: ${r.health ?? 'n/a'}${left}${proxy}`;
      })
      .join('\n'),
  );
  return results.some((r) => 'error' in r) ? 1 : 0;
}

async function logsCommand(ctx: Ctx): Promise<number> {
  const tail = ctx.args.tail === undefined ? (ctx.args.follow ? 100 : undefined) : Number(ctx.args.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new BmError('ConfigInvalid', `--tail takes a whole number, not "${ctx.args.tail}".`);
  const { config, targets } = await targetsOf(ctx);
  // A swarm's log is its service's, merged by the manager.
  if (config.swarm) return swarmLogsCommand(ctx, config, tail);
  // The app may print its secrets; what this tool shows never does.
  // Each server's own secrets (its groups', its secretsFile), merged; one that cannot be read stops the logs.
  ctx.out.secrets = await logSecrets(config, targets.servers.map((s) => s.name));
  // A group, all, or several roles: one stream in time order, each line under where it came from.
  const sources = appStreams(config, targets.servers, ctx.args.role);
  if (!sources.length) throw new BmError('NotRunning', `The role ${ctx.args.role} does not run on ${targets.name}: name a server it runs on with --server, or leave out --role.`);
  if (sources.length > 1) return fleetLogs(ctx, sources, { tail, since: ctx.args.since, follow: ctx.args.follow ?? false });
  const { server, app } = sources[0];
  const connected = await connect(ctx, server);
  const print = (l: LogLine) => {
    const to = l.stream === 'stderr' ? process.stderr : process.stdout;
    const text = logLineFor(to, ctx.args.timestamps && l.time ? `${l.time} ${l.text}` : l.text);
    to.write(`${redact(text, ctx.out.secrets)}\n`);
  };
  if (ctx.args.follow) {
    // The same stream as the editor's panel: across deploys and reconnects, no gaps, no doubles.
    const events = followAppLogs({ server: () => ctx.pool.get(server, ctx.signal), app, tail: tail ?? 100, signal: ctx.signal });
    for await (const e of events) {
      if (e.kind === 'line') print(e.line);
      else if (e.kind === 'container') process.stderr.write(`── ${e.replaced ? 'now following' : 'following'} ${e.container.name} (${e.commit?.slice(0, 12) ?? '?'}) ──\n`);
      else ctx.out.info(`${server.name}: ${e.message}`);
    }
    return 0;
  }
  const c = await runningContainer(connected, app);
  if (!c) throw new BmError('NotRunning', `${app} is not running on ${server.name}: deploy it first with "baremetal deploy".`);
  for await (const l of connected.engine.logs(c.id, { follow: false, tail, since: ctx.args.since, timestamps: ctx.args.timestamps }, ctx.signal)) print(l);
  return 0;
}

async function trustCommand(ctx: Ctx): Promise<number> {
  const name = ctx.rest[0] ?? ctx.args.server;
  const config = await loadConfig(ctx.cwd);
  const server = pickServer(config, name);
  const key = await ctx.pool.unknownHostKey(server);
  if (!key) {
    ctx.out.result({ server: server.name, trusted: true, added: false }, ctx.args.json ?? false, () => `${server.name}'s host key is already trusted.`);
    return 0;
  }
  process.stderr.write(`${server.name} (${key.host}:${key.port}) presents this ${key.keyType} host key:\n  ${key.fingerprint}\nCompare it with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_${key.keyType.replace(/^ssh-/, '')}_key.pub on the server).\n`);
  const yes = ctx.args.yes || (process.stdin.isTTY ? await confirm(`Add it to ${key.knownHostsFile}? [y/N] `) : false);
  if (!yes) {
    process.stderr.write(`Not trusted. Run again with --yes once you have checked the fingerprint.\n`);
    return 1;
  }
  await ctx.pool.trust(key);
  ctx.out.result({ server: server.name, trusted: true, added: true, fingerprint: key.fingerprint, file: key.knownHostsFile }, ctx.args.json ?? false, () => `Added ${server.name}'s key to ${key.knownHostsFile}.`);
  return 0;
}

if (require.main === module) {
  runGuarded({
    run: () => main(process.argv.slice(2)),
    lastStep: () => lastOutput?.lastStep,
    verbose: () => lastOutput?.verbose ?? false,
    write: (text) => process.stderr.write(text),
    exit: (code) => process.exit(code),
  });
}
