/**
 * A deploy or rollback on several servers in the editor: the core's rollout over the same wiring
 * the CLI uses (src/app), one progress line naming each server's step, the outcome per server at
 * the end, and after a failed deploy a button that puts the servers it moved back.
 */
import * as vscode from 'vscode';
import { fleetDeps } from '../../app/fleet-deps';
import type { Targets } from '../../core/config/fleet';
import type { Config } from '../../core/config/types';
import { planBatches } from '../../core/deploy/batches';
import { rolloutRollback, type RolloutDeps, type RolloutResult } from '../../core/deploy/rollout';
import { asBmError, BmError } from '../../core/errors';
import type { Logger } from '../../core/ports';
import { FleetProgress, movedBack, rolloutSummary } from '../fleet-text';
import { agreeToSecrets } from './consent';
import type { CommandDeps } from './context';

export const ROLL_BACK_MOVED = 'Roll Back Moved Servers';

type FleetDeps = Omit<RolloutDeps, 'repo' | 'builder' | 'cache'>;

/** Lines of one server in the output channel start with its name, as the CLI's do. */
function prefixed(logger: Logger, name: string): Logger {
  return {
    debug: (m) => logger.debug(`${name}: ${m}`),
    info: (m) => logger.info(`${name}: ${m}`),
    warn: (m) => logger.warn(`${name}: ${m}`),
    error: (m) => logger.error(`${name}: ${m}`),
  };
}

/** Runs `op` in a cancellable notification whose message is every server's current step. */
export async function runRollout(
  deps: CommandDeps,
  config: Config,
  targets: Targets,
  kind: RolloutResult['kind'],
  title: string,
  op: (fleet: FleetDeps, signal: AbortSignal) => Promise<RolloutResult>,
): Promise<RolloutResult | undefined> {
  // Secrets going to a host for the first time: the user sees them and agrees, or nothing moves.
  if (!(await agreeToSecrets(config, targets.servers.map((s) => s.name)))) return undefined;
  let result: RolloutResult;
  const mask = (text: string) => deps.logger.mask(text);
  try {
    // The values this rollout may send, so that no line, progress message or notification shows one.
    await deps.logger.learnSecrets(config);
    result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      const names = targets.servers.map((s) => s.name);
      // The batches the core will go through (planBatches is its own rule), for "waiting for batch 2".
      const line = new FleetProgress(names, planBatches(names, targets.rollout, { release: kind === 'deploy' && config.run.release !== undefined }));
      progress.report({ message: mask(line.text()) });
      const sink = (server?: string) => (e: Parameters<FleetProgress['report']>[1]) => {
        if (!e.bytes) deps.logger.info(`${server ? `${server}: ` : ''}${e.phase}: ${e.message}`);
        progress.report({ message: mask(line.report(server, e)) });
        // A server that has switched shows its new commit in the Servers view before the others finish.
        if (server && e.phase === 'record') deps.model.refreshSoon([1_000]);
      };
      const fleet = await fleetDeps(config, targets, {
        pool: deps.pool,
        who: deps.who,
        signal: abort.signal,
        logger: deps.logger,
        progress: sink(),
        forServer: (name) => ({ logger: prefixed(deps.logger, name), progress: sink(name) }),
      });
      return op(fleet, abort.signal);
    });
  } catch (e) {
    // Before any server changed: a missing secret, a repository that cannot be read.
    void deps.model.refresh();
    const err = asBmError(e);
    deps.logger.error(err.message);
    const choice = await vscode.window.showErrorMessage(mask(err.message), 'Show Log', 'Retry');
    if (choice === 'Show Log') deps.channel.show(true);
    if (choice === 'Retry') return runRollout(deps, config, targets, kind, title, op);
    return undefined;
  }
  for (const s of result.servers) if (s.error?.code === 'ConnectionLost') deps.model.noteLost(s.server, new BmError('ConnectionLost', s.error.message));
  void deps.model.refresh();
  const summary = rolloutSummary(result);
  deps.logger.info(summary);
  for (const s of result.servers) if (s.detail) deps.logger.error(`${s.server}: ${s.detail}`);
  if (result.result === 'succeeded') {
    void vscode.window.showInformationMessage(mask(summary));
    return result;
  }
  const moved = movedBack(result);
  // Cancel is the user's own choice: a warning, not an error; the moved servers can still go back.
  const show = result.result === 'cancelled' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
  const choice = await show(mask(summary), ...(moved.size ? [ROLL_BACK_MOVED] : []), 'Show Log');
  if (choice === 'Show Log') deps.channel.show(true);
  if (choice === ROLL_BACK_MOVED) await rollBackMoved(deps, config, targets, moved);
  return result;
}

/**
 * The rollbackOnFailure of the CLI, asked for after the fact: each server the failed deploy
 * moved goes back on the commit it ran before (one rollout per such commit, usually one).
 */
async function rollBackMoved(deps: CommandDeps, config: Config, targets: Targets, moved: Map<string, string[]>): Promise<void> {
  for (const [commit, names] of moved) {
    const back: Targets = { name: names.join(', '), kind: 'group', servers: names.map((n) => config.servers[n]), ...(targets.rollout && { rollout: targets.rollout }) };
    await runRollout(deps, config, back, 'rollback', `Putting ${back.name} back on ${commit.slice(0, 7)}`, (fleet, signal) => rolloutRollback(fleet, { to: commit, signal }));
  }
}
