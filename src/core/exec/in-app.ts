/**
 * A process in the app on a server: a shell or a command in its running container (exec), or a
 * command in a new one-off container of the running image with the app's env, secrets and
 * volumes (run). The sessions come from the Engine port; this decides what runs where and turns
 * what is missing into one sentence.
 */
import { randomBytes } from 'node:crypto';
import { logSecrets } from '../config/secret-mask';
import type { Config } from '../config/types';
import { asBmError, BmError, isBmError } from '../errors';
import type { ContainerInfo, ProcessSession, Server, TerminalSize } from '../ports';
import { LABEL } from '../deploy/labels';
import { oneOffSpec } from '../deploy/one-off';
import { runningContainer } from '../deploy/status';

/** Tried in this order when run.shell is not set. */
export const DEFAULT_SHELLS: readonly (readonly string[])[] = [['bash'], ['sh']];

export interface InAppRequest {
  server: Server;
  serverName: string;
  config: Config;
  /** Unset (exec only): the shell, run.shell or the first of DEFAULT_SHELLS the image has. */
  command?: string[];
  tty: boolean;
  stdin: boolean;
  size?: TerminalSize;
}

export interface InAppProcess {
  /** The image a one-off container runs. */
  image?: string;
  session: ProcessSession;
  /** What runs (the shell found, or the command). */
  command: string[];
  /** The app's running container (exec), or the one whose image the one-off container runs. */
  container: ContainerInfo;
}

/** The app's running container, or NotRunning saying to deploy. */
export async function appContainer(server: Server, config: Config, serverName: string): Promise<ContainerInfo> {
  const c = await runningContainer(server, config.app);
  if (!c) throw new BmError('NotRunning', `${config.app} is not running on ${serverName}: deploy it first (Deploy HEAD in the editor, or baremetal deploy).`);
  return c;
}

/**
 * The secrets to mask in what exec, run and the editor's terminals themselves print (errors,
 * their detail): the server's own (its groups', its secretsFile), as for its logs (logSecrets).
 * The process's own output is the user's and passes as it is. Failing closed: a secret that
 * cannot be read cannot be masked, so nothing runs (an empty mask would show it in clear).
 */
export async function inAppSecrets(config: Config, serverName: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  try {
    return await logSecrets(config, [serverName], env);
  } catch (e) {
    const err = asBmError(e);
    const why = asBmError(err.cause ?? err).message.replace(/\.$/, '');
    throw new BmError('SecretMissing', `Nothing was run on ${serverName}, as its secrets must be readable here to keep them out of this tool's messages (${why}).`, undefined, { cause: e });
  }
}

export async function execInApp(req: InAppRequest): Promise<InAppProcess> {
  const engine = req.server.engine;
  if (!engine.exec) throw new BmError('Internal', 'This engine cannot run commands in a container.');
  const container = await appContainer(req.server, req.config, req.serverName);
  const candidates = req.command ? [req.command] : req.config.run.shell ? [req.config.run.shell] : DEFAULT_SHELLS.map((s) => [...s]);
  for (const command of candidates) {
    try {
      const session = await engine.exec(container.id, { command, tty: req.tty, stdin: req.stdin, size: req.size });
      return { session, command, container };
    } catch (e) {
      if (!isBmError(e, 'CommandNotFound')) throw e;
      if (req.command) throw e;
      if (req.config.run.shell) {
        throw new BmError('CommandNotFound', `The shell ${command[0]} set in run.shell is not in the image of ${req.config.app}: install it in the Dockerfile, or change run.shell in baremetal.json.`, e.detail);
      }
    }
  }
  throw new BmError('CommandNotFound', `Neither bash nor sh is in the image of ${req.config.app} on ${req.serverName}: set "run.shell" in baremetal.json to a shell it has.`);
}

export interface OneOffRequest extends InAppRequest {
  command: string[];
  /** Values of run.secrets: they reach the container as env, nothing else. */
  secrets: Record<string, string>;
}

export async function runInApp(req: OneOffRequest): Promise<InAppProcess> {
  const engine = req.server.engine;
  if (!engine.runOneOff) throw new BmError('Internal', 'This engine cannot run one-off containers.');
  const container = await appContainer(req.server, req.config, req.serverName);
  const spec = oneOffSpec(req.config, {
    name: `${req.config.app}--run-${randomBytes(3).toString('hex')}`,
    image: container.image,
    command: req.command,
    secrets: req.secrets,
    // Not the app's own label: status, the swap and the views never take it for the app.
    labels: { [LABEL.app]: `${req.config.app}--run`, ...(container.labels[LABEL.commit] ? { [LABEL.commit]: container.labels[LABEL.commit] } : {}) },
  });
  const session = await engine.runOneOff(spec, { tty: req.tty, stdin: req.stdin, size: req.size });
  return { session, command: req.command, container, image: container.image };
}
