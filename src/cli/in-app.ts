/**
 * `baremetal exec` (a process in the app's running container) and `baremetal run` (a one-off
 * container of the running image): the process's output on ours, our stdin on its (-i), a TTY
 * that follows our terminal's size (-t), and its exit code as ours.
 */
import { rolesOn } from '../core/config/fleet';
import { loadConfig, pickServer } from '../core/config/load';
import { resolveSecrets } from '../core/config/secrets';
import { BmError } from '../core/errors';
import { execInApp, inAppSecrets, runInApp, type InAppProcess } from '../core/exec/in-app';
import type { ProcessSession, TerminalSize } from '../core/ports';
import { agreeToSecrets } from './consent';
import type { Ctx } from './ctx';

/** The CLI's context (main.ts) with the options exec and run take. */
export type InAppContext = Omit<Ctx, 'args' | 'who'> & { args: { server?: string; role?: string; interactive?: boolean; tty?: boolean; yes?: boolean } };

export async function execCommand(ctx: InAppContext): Promise<number> {
  const command = commandOf(ctx, 'exec', false);
  // No command: the shell, interactive, with a TTY when ours is one.
  const tty = ctx.args.tty ?? (!command && process.stdin.isTTY === true && process.stdout.isTTY === true);
  const stdin = ctx.args.interactive ?? !command;
  return inApp(ctx, tty, stdin, (base) => execInApp({ ...base, command }));
}

export async function runCommand(ctx: InAppContext): Promise<number> {
  const command = commandOf(ctx, 'run', true)!;
  const tty = ctx.args.tty ?? false;
  const stdin = ctx.args.interactive ?? false;
  return inApp(ctx, tty, stdin, async (base, secrets) => runInApp({ ...base, command, secrets }), true);
}

function commandOf(ctx: InAppContext, name: string, required: boolean): string[] | undefined {
  if (ctx.rest.length) {
    throw new BmError('InvalidCommand', `Put the command after "--", so its own options are not taken for baremetal's: baremetal ${name} -- ${ctx.rest.join(' ')}.`);
  }
  if (required && !ctx.command?.length) throw new BmError('InvalidCommand', `Say what to run after "--", e.g. baremetal ${name} -- ./manage.py migrate.`);
  return ctx.command?.length ? ctx.command : undefined;
}

type Base = Parameters<typeof execInApp>[0];

async function inApp(
  ctx: InAppContext,
  tty: boolean,
  stdin: boolean,
  open: (base: Omit<Base, 'command'>, secrets: Record<string, string>) => Promise<InAppProcess>,
  needsSecrets = false,
): Promise<number> {
  const file = await loadConfig(ctx.cwd);
  const server = pickServer(file, ctx.args.server);
  // With roles: the role named, else the first placed on this server (said, with the others).
  const roles = rolesOn(file, server.name, ctx.args.role);
  const config = roles[0];
  if (!config) throw new BmError('NotRunning', `The role ${ctx.args.role} does not run on ${server.name}: name a server it runs on with --server.`);
  if (file.roles && !ctx.args.role && roles.length > 1) ctx.out.info(`in the ${config.role} role (--role ${roles.slice(1).map((r) => r.role).join(' or --role ')} for another)`);
  // run: the values go to a new container as env, so the same question as a deploy before any
  // goes to this host for the first time (the app's env only: run sends no build or TLS secret).
  // exec: the running container has them already.
  if (needsSecrets) await agreeToSecrets(file, [server.name], { yes: ctx.args.yes, uses: ['run'] });
  const secrets = needsSecrets ? await resolveSecrets(config) : {};
  // Masked in what this tool itself prints; one that cannot be read stops exec here too.
  ctx.out.secrets = await inAppSecrets(file, server.name);
  ctx.out.progress({ phase: 'connect', message: `Connecting to ${server.name}` });
  const connected = await ctx.pool.get(server, ctx.signal);
  const proc = await open({ server: connected, serverName: server.name, config, tty, stdin, size: tty ? terminalSize() : undefined }, secrets);
  ctx.out.debug(`running ${proc.command[0]} in ${proc.container.name}`);
  return attach(proc.session, { tty, stdin, signal: ctx.signal });
}

function terminalSize(): TerminalSize | undefined {
  const { rows, columns } = process.stdout;
  return rows && columns ? { rows, columns } : undefined;
}

/** Wires the session to this process's stdio until it exits; its exit code. */
async function attach(session: ProcessSession, o: { tty: boolean; stdin: boolean; signal: AbortSignal }): Promise<number> {
  session.onData((chunk, stream) => (stream === 'stderr' ? process.stderr : process.stdout).write(chunk));
  // Raw: every key (Ctrl-C too) goes to the process as the byte it is; its TTY turns it into a signal.
  const raw = o.tty && o.stdin && process.stdin.isTTY === true;
  const onInput = (d: Buffer) => session.write(d);
  const onEnd = () => session.endInput();
  const onResize = () => {
    const size = terminalSize();
    if (size) void session.resize(size).catch(() => undefined);
  };
  // Without a TTY, Ctrl-C reaches us as SIGINT (main turns it into the abort): pass it on.
  const onAbort = () => void session.signal('INT').catch(() => undefined);
  if (o.stdin) {
    if (raw) process.stdin.setRawMode(true);
    process.stdin.on('data', onInput);
    process.stdin.on('end', onEnd);
    process.stdin.resume();
  }
  if (o.tty) process.stdout.on('resize', onResize);
  o.signal.addEventListener('abort', onAbort);
  try {
    return await session.exit;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    process.stdout.off('resize', onResize);
    if (o.stdin) {
      process.stdin.off('data', onInput);
      process.stdin.off('end', onEnd);
      if (raw) process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    await session.close();
  }
}
