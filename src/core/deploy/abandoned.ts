/**
 * A deploy or rollback whose client died (kill -9, a cut link, a laptop asleep) wrote no history
 * record. The next client to take over its lock writes it, so the history has one record per
 * attempt: "succeeded" when the dead attempt's container had already taken the traffic (it is
 * what serves now, and a rollback target), "failed" otherwise. A record already there (the client
 * died after writing it, while pruning) is never written twice.
 */
import type { Logger, Server } from '../ports';
import { appendJournal, readJournal } from './journal';
import type { LockInfo } from './lock';
import { LABEL } from './labels';
import { liveName } from '../proxy/caddy-config';

export async function recordAbandoned(server: Server, stateBase: string, app: string, holder: LockInfo | undefined, who: string, logger: Logger): Promise<void> {
  const attempt = holder?.attempt;
  if (!attempt || attempt.app !== app) return;
  const history = await readJournal(server.files, stateBase, app, logger);
  if (history.some((r) => r.id === attempt.id)) return;
  const mine = (await server.engine.containers({ [LABEL.app]: app })).filter((c) => c.labels[LABEL.deployId] === attempt.id && c.state === 'running');
  // Through the proxy only the live name serves; without it, a running container is the app.
  const serving = mine.find((c) => c.name === liveName(app)) ?? mine.find((c) => !c.name.includes('--new-'));
  const image = serving?.imageId || attempt.image;
  const record = serving
    ? { ...attempt, image, result: 'succeeded' as const, reason: `Its client (${holder!.owner}) stopped answering after the switch; recorded by ${who}.` }
    : { ...attempt, result: 'failed' as const, reason: `Its client (${holder!.owner}) stopped answering before the switch; the previous version kept serving (recorded by ${who}).` };
  await appendJournal(server.files, stateBase, { ...record, finishedAt: new Date().toISOString() }, logger);
  logger.info(`recorded ${holder!.owner}'s ${attempt.kind} of ${attempt.commit.slice(0, 12)}, left unfinished by its client, as ${record.result}`);
}
