/**
 * The bench's workload: a temporary git repository with a 200 MB base layer, 3 MB of
 * "dependencies" and a small app, in two commits (version 1, then a one-line change).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { APP, ROOT, run } from './bench-meter';

export const PORT = 18080;
const BASE_BYTES = 200 * 1024 * 1024;
const CACHE = join(ROOT, 'bench-cache');

function baseBin(): string {
  const file = join(CACHE, 'base.bin');
  if (existsSync(file) && statSync(file).size === BASE_BYTES) return file;
  console.log(`generating ${BASE_BYTES} random bytes into ${file} (once)`);
  mkdirSync(CACHE, { recursive: true });
  const fd = openSync(`${file}.tmp`, 'w');
  for (let n = 0; n < BASE_BYTES; n += 1 << 20) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
  renameSync(`${file}.tmp`, file);
  return file;
}

const page = (version: string) => `<!doctype html>\n<html><head><title>bench</title><link rel="stylesheet" href="style.css"></head>\n<body>\n<h1>Bench app</h1>\n<p id="version">${version}</p>\n<script src="app.js"></script>\n</body></html>\n`;

/** A plausible source module: code-like text that compresses the way source does. */
function sourceFile(i: number): string {
  const lines: string[] = [`// module ${i}`];
  for (let f = 0; f < 60; f += 1) {
    const id = randomBytes(4).toString('hex');
    lines.push(`export function handle_${id}(request, options = {}) {`, `  const value = options.value ?? ${f * i};`, `  if (!request.ok) throw new Error('request ${id} failed: ' + request.status);`, `  return { id: '${id}', value, at: Date.now() };`, '}', '');
  }
  return lines.join('\n');
}

/**
 * Makes the repository in `repo` (baremetal.json names every server our side deploys to) and
 * commits both versions: v1, then v2 = a one-line change in app/index.html (the last layer).
 */
export async function makeRepo(repo: string, servers: string[]): Promise<{ v1: string; v2: string }> {
  const write = (p: string, content: string | Buffer) => {
    mkdirSync(resolve(repo, p, '..'), { recursive: true });
    writeFileSync(join(repo, p), content);
  };
  mkdirSync(repo, { recursive: true });
  copyFileSync(baseBin(), join(repo, 'base.bin'));
  for (let i = 0; i < 4; i += 1) write(`deps/lib${i}.js`, `/* dependency ${i} */\n${randomBytes(768 * 1024).toString('base64').replace(/(.{100})/g, '$1\n')}`);
  write('app/index.html', page('version 1'));
  write('app/app.js', `document.title += ' ' + document.getElementById('version').textContent;\n`);
  write('app/style.css', 'body { font-family: sans-serif; margin: 2em; }\n');
  // The app's own source, as an app has it: a few dozen modules of ordinary text (~250 KB).
  for (let i = 0; i < 40; i += 1) write(`app/src/module${i}.js`, sourceFile(i));
  write('start.sh', '#!/bin/sh\nbusybox httpd -f -p 8080 -h /app &\npid=$!\ntrap \'kill "$pid"; exit 0\' TERM INT\nwait "$pid"\n');
  write('Dockerfile', 'FROM local/busybox:1\nCOPY base.bin /opt/base.bin\nCOPY deps/ /opt/deps/\nCOPY start.sh /start.sh\nCOPY app/ /app/\nEXPOSE 8080\nCMD ["/bin/sh", "/start.sh"]\n');
    write('baremetal.json', JSON.stringify({ app: APP, servers: Object.fromEntries(servers.map((s) => [s, { host: s }])), run: { ports: [`${PORT}:8080`], healthcheck: { port: 8080, path: '/', timeoutSeconds: 30 } } }, null, 2));
  const git = (...args: string[]) => run('git', args, { cwd: repo });
  await git('init', '-q', '-b', 'main');
  for (const [k, v] of [['user.email', 'bench@example.test'], ['user.name', 'Bench'], ['core.compression', '0']]) await git('config', k, v);
  const commit = async (message: string) => {
    await git('add', '-A');
    await git('commit', '-q', '-m', message);
    return (await git('rev-parse', 'HEAD')).stdout.trim();
  };
  const v1 = await commit('version 1');
  write('app/index.html', page('version 2'));
  const v2 = await commit('version 2: one-line change');
  return { v1, v2 };
}
