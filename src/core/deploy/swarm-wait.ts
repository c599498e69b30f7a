/**
 * Waiting for Swarm's own rollout: done when every replica runs the new image (a task is
 * "running" only once its health check passed), failed when Swarm rolled the service back or
 * paused, or when the time is up with replicas still not running.
 */
import { BmError, throwIfAborted } from '../errors';
import type { ServiceInfo, SwarmEngine, TaskInfo } from '../ports';
import { sleep } from '../time';

export interface Converged {
  /** When the last replica was seen running the image (ms since the epoch). */
  at: number;
  tasks: TaskInfo[];
}

export interface WaitRequest {
  swarm: SwarmEngine;
  service: string;
  image: string;
  replicas: number;
  timeoutSeconds: number;
  /** Says how many replicas run the image so far, when that changes. */
  onProgress(running: number, of: number): void;
  signal?: AbortSignal;
  pollMs?: number;
}

/** The outcome of one look: still going, done, or failed with the sentence to say. */
export function judge(svc: ServiceInfo, tasks: TaskInfo[], image: string, replicas: number): { done: boolean; running: number; failure?: string } {
  const wanted = tasks.filter((t) => t.desiredState === 'running');
  const running = wanted.filter((t) => t.image === image && t.state === 'running').length;
  const u = svc.update?.state;
  // The new tasks' own failure says more than Swarm's update message ("rollback completed").
  const failedTask = tasks.filter((t) => t.image === image && t.error).sort((a, b) => b.since.localeCompare(a.since))[0];
  const why = failedTask?.error ? ` (${failedTask.error})` : svc.update?.message ? ` (${svc.update.message})` : '';
  // rollback_started: Swarm is putting the old tasks back; failing once it is done says the old version serves.
  if (u === 'rollback_completed' || u === 'rollback_paused') {
    return { done: false, running, failure: `Swarm rolled ${svc.labels['dev.baremetal.app'] ?? 'the service'} back to the version it ran before: a new task did not become healthy${why}; see why with "baremetal logs"` };
  }
  if (u === 'paused') return { done: false, running, failure: `Swarm paused the update of the service${why}: see why with "baremetal logs", then deploy again` };
  if (u === 'rollback_started') return { done: false, running };
  const settled = u === undefined || u === 'completed';
  return { done: settled && running >= replicas && wanted.every((t) => t.image === image), running };
}

export async function waitForRollout(req: WaitRequest): Promise<Converged> {
  const deadline = Date.now() + req.timeoutSeconds * 1000;
  let last = -1;
  let lastTasks: TaskInfo[] = [];
  for (;;) {
    throwIfAborted(req.signal);
    const svc = await req.swarm.service(req.service);
    if (!svc) throw new BmError('SwarmUpdateFailed', `The service ${req.service} was removed during the deploy: deploy again.`);
    lastTasks = await req.swarm.tasks(req.service);
    const j = judge(svc, lastTasks, req.image, req.replicas);
    if (j.running !== last) req.onProgress(j.running, req.replicas);
    last = j.running;
    if (j.failure) throw new BmError('SwarmUpdateFailed', `${j.failure}.`, lastErrors(lastTasks, req.image));
    if (j.done) return { at: Date.now(), tasks: lastTasks };
    if (Date.now() > deadline) {
      const errors = lastErrors(lastTasks, req.image);
      throw new BmError(
        'SwarmUpdateFailed',
        `${j.running} of ${req.replicas} replicas run the new image after ${req.timeoutSeconds} s${errors ? ` (last task error: ${errors.split('\n')[0]})` : ''}: see "baremetal status" and "baremetal logs", or raise swarm.timeoutSeconds.`,
        errors,
      );
    }
    await sleep(req.pollMs ?? 500, req.signal);
  }
}

/** What the new image's failed tasks said, newest first (Swarm's own words). */
function lastErrors(tasks: TaskInfo[], image: string): string {
  return tasks
    .filter((t) => t.image === image && (t.error || t.state === 'failed' || t.state === 'rejected'))
    .sort((a, b) => b.since.localeCompare(a.since))
    .slice(0, 5)
    .map((t) => `${t.state}: ${t.error ?? t.message ?? ''}`)
    .join('\n');
}
