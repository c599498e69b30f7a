/**
 * The built CLI as the faults suite runs it: always with a time limit (a command that hangs is a
 * verdict on its row, never a suite that hangs), optionally with the fault switch on
 * (BAREMETAL_FAULT_STOP_AT: the CLI stops itself at that phase and `onStop` decides what then).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cliEnv, PROJECT, testEnv } from '../helpers/world';

/** Longest any one command of the suite may take (the slowest measured, the lossy link's deploy, took 47 s). */
export const CLI_LIMIT_MS = 180_000;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: unknown;
  ms: number;
  /** When the CLI stopped itself at the fault's phase (ms from the start). */
  stoppedAt?: number;
  /** When it was let go on after the fault (ms from the start). */
  continuedAt?: number;
  /** Killed at the time limit. */
  timedOut: boolean;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  limitMs?: number;
  fault?: { phase: string; onStop: (pid: number) => Promise<'kill' | 'continue'> };
}

export function runCli(args: string[], opts: RunOptions): Promise<Run> {
  const t0 = Date.now();
  const fault = opts.fault;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PROJECT, 'dist', 'cli.js'), ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...cliEnv(testEnv()), ...opts.env, ...(fault ? { BAREMETAL_FAULT_STOP_AT: fault.phase } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let stoppedAt: number | undefined;
    let continuedAt: number | undefined;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (fault && stoppedAt === undefined && stderr.includes(`fault-stop: ${fault.phase}`)) {
        stoppedAt = Date.now() - t0;
        void fault.onStop(child.pid!).then((next) => {
          if (next === 'kill') return child.kill('SIGKILL');
          continuedAt = Date.now() - t0;
          return child.kill('SIGCONT');
        });
      }
    });
    const limit = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), opts.limitMs ?? CLI_LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(limit);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json, ms: Date.now() - t0, stoppedAt, continuedAt, timedOut });
    });
  });
}

/** A command that must end: its result, or an error (which fails the row) when it hung. */
export async function cli(args: string[], opts: RunOptions): Promise<Run> {
  const r = await runCli(args, opts);
  if (r.timedOut) throw new Error(`baremetal ${args.join(' ')} did not end within ${((opts.limitMs ?? CLI_LIMIT_MS) / 1000).toFixed(0)} s and was killed`);
  return r;
}
