/**
 * The app of npm run bench:swap and the CLI as a user runs it. The app is busybox httpd as the
 * container's PID 1 (start.sh execs it): PID 1 ignores SIGTERM unless it handles it, and httpd
 * does not, so `docker stop` waits out its timeout and kills it, as with many real apps
 * (a shell script without exec + trap, a server that drains on SIGINT only, …).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeployResult } from '../src/core/deploy/deploy';
import { cliEnv, PROJECT, testEnv } from '../test/helpers/world';
import { now } from './bench-swap-load';

const exec = promisify(execFile);

const DOCKERFILE = `FROM local/busybox:1
COPY bulk /bulk
COPY www /www
COPY start.sh /start.sh
EXPOSE 8080
CMD ["/bin/sh", "/start.sh"]
`;
const START_SH = `#!/bin/sh
# exec: busybox httpd becomes PID 1, which ignores SIGTERM (no handler): docker stop kills it after its timeout.
echo "bench-swap: serving /www on :8080"
exec busybox httpd -f -p 8080 -h /www
`;
const page = (version: number) => `<!doctype html>
<title>bench-swap</title>
<p>commit: <code id="commit">$Format:%H$</code></p>
<p>version ${version}</p>
`;

/**
 * A git repository with the app and baremetal.json (`config` is merged into it), and two
 * commits: A, and B = a one-line change in the page. www/id.txt holds a value of this run's
 * only, so the first deploy builds and sends every layer but the base image's; bulk/deps.bin
 * (`bulkBytes` of random data) stands for the app's dependencies.
 */
export async function makeApp(dir: string, app: string, config: object, bulkBytes = 0): Promise<{ a: string; b: string }> {
  mkdirSync(join(dir, 'www'), { recursive: true });
  mkdirSync(join(dir, 'bulk'), { recursive: true });
  // The weight of a real app's dependencies (random: it compresses no more than they do), so
  // the first deploy the rollback is compared with builds and sends what a real one does.
  writeFileSync(join(dir, 'bulk', 'deps.bin'), randomBytes(bulkBytes));
  const files: Record<string, string> = {
    Dockerfile: DOCKERFILE,
    'start.sh': START_SH,
    '.gitattributes': 'www/index.html export-subst\n',
    'www/index.html': page(1),
    'www/id.txt': `${app} ${new Date().toISOString()} ${Math.random()}\n`,
    'baremetal.json': JSON.stringify({ app, servers: { bm2: { host: 'bm2' } }, keep: 5, ...config }, null, 2),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const git = async (...args: string[]) => (await exec('git', args, { cwd: dir })).stdout.trim();
  await git('init', '-q', '-b', 'main');
  await git('config', 'user.email', 'bench@example.test');
  await git('config', 'user.name', 'Bench');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'version A');
  const a = await git('rev-parse', 'HEAD');
  writeFileSync(join(dir, 'www/index.html'), page(2));
  await git('commit', '-q', '-am', 'version B');
  return { a, b: await git('rev-parse', 'HEAD') };
}

export interface CliRun {
  args: string[];
  /** Bench clock (ms): the process spawned, and exited. */
  start: number;
  end: number;
  code: number | null;
  json?: DeployResult;
  /** stderr, a line at a time, with when it arrived (bench clock). */
  lines: { t: number; text: string }[];
}

/** `node dist/cli.js ARGS --json` in the app's folder, with the environment of test/helpers/world.ts. */
export function runCli(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const start = now();
  const child = spawn(process.execPath, [join(PROJECT, 'dist', 'cli.js'), ...args, '--json'], {
    cwd: dir,
    env: { ...process.env, ...cliEnv(testEnv()), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: CliRun['lines'] = [];
  let stdout = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    const t = now();
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ t, text });
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      if (partial) lines.push({ t: now(), text: partial });
      let json: DeployResult | undefined;
      try {
        json = JSON.parse(stdout) as DeployResult;
      } catch {
        json = undefined;
      }
      resolve({ args, start, end: now(), code, json, lines });
    });
  });
}

/** Throws with the CLI's own words when the command did not succeed. */
export function mustSucceed(r: CliRun): DeployResult {
  if (r.code !== 0 || r.json?.result !== 'succeeded') {
    throw new Error(`baremetal ${r.args.join(' ')} failed (exit ${r.code}):\n${r.lines.map((l) => l.text).join('\n')}`);
  }
  return r.json;
}
