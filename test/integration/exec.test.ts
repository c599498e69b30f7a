/**
 * A shell and one-off commands over the server's one connection, through the built CLI on real
 * engines (Docker 26 with the containerd store, Docker 20.10): exit codes passed through, stdin
 * piped, a secret as env only and asked about before it goes to a host for the first time, a TTY that follows the terminal's size and takes Ctrl-C (driven
 * through a real pseudo-terminal), a missing program, nothing deployed, a connection cut mid-session.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { cleanupApp, cli, cliEnv, errorLine, makeWorkspace, onServer, PROJECT, type Workspace } from '../helpers/world';

const run = promisify(execFile);
const SECRET = 'ex-s3cret-never-in-argv';
const SERVERS = ['bm26c', 'bm1'] as const;

/** Drives the CLI in a real pty: the size set, keys typed, the window resized (SIGWINCH), its exit status. */
const PTY_DRIVER = String.raw`
import fcntl, json, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def size(r, c): fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
size(24, 80)
out = b''
def until(pat, timeout=20):
    global out
    end = time.time() + timeout
    while pat.encode() not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: out += os.read(fd, 65536)
            except OSError: break
    return pat.encode() in out
steps = {}
steps['prompt'] = until('# ')
os.write(fd, b'stty size\r'); steps['first'] = until('24 80')
size(33, 111); time.sleep(1)
os.write(fd, b'stty size\r'); steps['resized'] = until('33 111')
os.write(fd, b'echo hi-$((6*7))\r'); steps['typed'] = until('hi-42')
os.write(fd, b'sleep 40\r'); time.sleep(1); t = time.time(); os.write(fd, b'\x03')
os.write(fd, b'echo after-$((1+1))\r'); steps['interrupted'] = until('after-2', 10); steps['interruptSeconds'] = time.time() - t
os.write(fd, b'exit 5\r')
_, status = os.waitpid(pid, 0)
print(json.dumps({'steps': steps, 'code': os.waitstatus_to_exitcode(status), 'out': out.decode('utf8', 'replace')}))
`;

function inPty(args: string[], cwd: string): Promise<{ steps: Record<string, boolean | number>; code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PTY_DRIVER, process.execPath, join(PROJECT, 'dist', 'cli.js'), ...args], { cwd, env: { ...process.env, ...cliEnv() } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', () => {
      try {
        resolve(JSON.parse(stdout) as { steps: Record<string, boolean | number>; code: number; out: string });
      } catch {
        reject(new Error(`pty driver: ${stdout}\n${stderr}`));
      }
    });
  });
}

/** Kills the sshd processes serving the CLI's own connection (no other client's) on a test server: a cut link. */
async function cutConnectionOf(cliPid: number, serverName: string): Promise<void> {
  const mine = (await run('ss', ['-tnpH', 'state', 'established', 'dport', '= :22'])).stdout.split('\n').find((l) => l.includes(`pid=${cliPid},`));
  const localPort = /\S+:(\d+)\s+\S+:22\s/.exec(mine ?? '')?.[1];
  assert.ok(localPort, `the CLI's SSH socket: ${mine}`);
  const there = (await run('ip', ['netns', 'exec', serverName, 'ss', '-tnpH', 'state', 'established', 'sport', '= :22', 'dport', `= :${localPort}`])).stdout;
  const pids = [...there.matchAll(/pid=(\d+)/g)].map((m) => m[1]);
  assert.ok(pids.length, `sshd of that connection on ${serverName}: ${there}`);
  await run('kill', ['-9', ...new Set(pids)]);
}

async function oneOffs(serverName: string, app: string): Promise<string[]> {
  return (await onServer(serverName, ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${app}--run`])).split('\n').filter(Boolean);
}

for (const serverName of SERVERS) {
  describe(`exec and run on ${serverName}`, () => {
    let ws: Workspace;
    const cmd = (args: string[], opts: Omit<Parameters<typeof cli>[1], 'cwd'> = {}) => cli(args, { cwd: ws.dir, ...opts });

    before(async () => {
      ws = await makeWorkspace({ prefix: 'ex', servers: { [serverName]: { host: serverName } }, run: { secrets: ['DB_PASSWORD'] } });
      await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n');
      await writeFile(join(ws.dir, '.baremetal.secrets'), `DB_PASSWORD=${SECRET}\n`);
      await ws.commit('ignore the secrets file');
      const r = await cmd(['deploy']);
      assert.equal(r.code, 0, r.stderr);
    });
    after(async () => {
      for (const id of await oneOffs(serverName, ws.app)) await onServer(serverName, ['docker', 'rm', '-f', id]);
      await cleanupApp(serverName, ws.app);
      await onServer(serverName, ['rm', '-rf', `/root/.baremetal/${ws.app}`]);
    });

    test("exec: the command's exit code is the CLI's", async () => {
      assert.equal((await cmd(['exec', '--', 'sh', '-c', 'exit 3'])).code, 3);
      const ok = await cmd(['exec', '--', 'sh', '-c', 'echo "in $(hostname) as $(id -u)"']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^in \w+ as \d+\n$/);
    });

    test('exec -i and run -i: piped stdin reaches cat, and its end ends it', async () => {
      const input = 'line one\nline two ünïcode\n';
      const e = await cmd(['exec', '-i', '--', 'cat'], { input });
      assert.equal(e.code, 0, e.stderr);
      assert.equal(e.stdout, input);
      const r = await cmd(['run', '-i', '--', 'sh', '-c', 'cat; exit 4'], { input });
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stdout, input);
    });

    test('exec with no command: the shell the image has (no bash here, so sh), reading stdin', async () => {
      const r = await cmd(['exec'], { input: 'echo "shell=$0"; exit 7\n' });
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout.trim(), 'shell=sh');
    });

    test('run: the secret is env inside the one-off container, never its Cmd, Args, labels or name, nor our output; the container goes', async () => {
      let inspected = '';
      let checked: Promise<void> | undefined;
      const r = await cmd(['run', '--verbose', '--', 'sh', '-c', 'echo "pw=$DB_PASSWORD greeting=$GREETING"; sleep 4'], {
        onStdout: (s) => {
          if (checked || !s.includes('pw=')) return;
          checked = (async () => {
            const [id] = await oneOffs(serverName, ws.app);
            inspected = await onServer(serverName, ['docker', 'inspect', '--format', '{{json .Config.Cmd}} {{json .Args}} {{json .Path}} {{json .Config.Labels}} {{.Name}} ENV {{json .Config.Env}}', id]);
          })();
        },
      });
      await checked;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `pw=${SECRET} greeting=hi\n`);
      const [visible, env] = inspected.split(' ENV ');
      assert.ok(env.includes(`DB_PASSWORD=${SECRET}`), `env: ${env}`);
      assert.ok(visible.includes('echo') && !visible.includes(SECRET), `Cmd/Args/labels/name: ${visible}`);
      assert.ok(!r.stderr.includes(SECRET), 'not in what the CLI itself prints');
      assert.deepEqual(await oneOffs(serverName, ws.app), [], 'the one-off container is removed once it exits');
    });

    test('run: secrets new to this host are listed and refused without --yes (nothing runs), run with it, then remembered', async () => {
      // The agreements live in this test's own config folder: the deploy's (the machine's) do not count.
      const configHome = await mkdtemp(join(tmpdir(), 'bm-run-consent-'));
      try {
        const env = { XDG_CONFIG_HOME: configHome };
        const refused = await cmd(['run', '--', 'sh', '-c', 'echo ran'], { env, agreeToSecrets: false });
        assert.equal(refused.code, 125, refused.stderr);
        assert.equal(errorLine(refused.stderr), 'error: Nothing was sent: these secrets would go to a host for the first time, so check the list above and run again with --yes to send them.');
        assert.match(refused.stderr, new RegExp(`${serverName} \\(${serverName}\\) would receive:\n {4}DB_PASSWORD \\(the app's env\\) from \\.baremetal\\.secrets\n`));
        assert.ok(!refused.stderr.includes(SECRET));
        assert.equal(refused.stdout, '', 'the command never ran');
        const sent = await cmd(['run', '--yes', '--', 'sh', '-c', 'echo "pw=$DB_PASSWORD"'], { env, agreeToSecrets: false });
        assert.equal(sent.code, 0, sent.stderr);
        assert.equal(sent.stdout, `pw=${SECRET}\n`);
        const again = await cmd(['run', '--', 'sh', '-c', 'echo again'], { env, agreeToSecrets: false });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(again.stdout, 'again\n');
        assert.doesNotMatch(again.stderr, /would receive/);
      } finally {
        await rm(configHome, { recursive: true, force: true });
      }
    });

    test('-it in a real terminal: the size follows a resize, typed input runs, Ctrl-C reaches the process, the exit code comes back', async () => {
      const r = await inPty(['exec', '-it', '--', 'sh'], ws.dir);
      assert.deepEqual({ ...r.steps, interruptSeconds: undefined }, { prompt: true, first: true, resized: true, typed: true, interrupted: true, interruptSeconds: undefined }, r.out);
      assert.ok((r.steps.interruptSeconds as number) < 5, `Ctrl-C took ${String(r.steps.interruptSeconds)} s`);
      assert.equal(r.code, 5, r.out);
    });

    test('Ctrl-C on exec without a TTY reaches the process (exit 130), and nothing is left running', async () => {
      const r = await cmd(['exec', '--', 'sh', '-c', 'echo started; exec sleep 77'], { signalAfterMs: 3000 });
      assert.equal(r.code, 130, r.stderr);
      const ps = await cmd(['exec', '--', 'ps']);
      assert.ok(!ps.stdout.includes('sleep 77'), ps.stdout);
    });

    test('a program the image lacks: one sentence, exit 127', async () => {
      for (const verb of ['exec', 'run']) {
        const r = await cmd([verb, '--', 'rails', 'console']);
        assert.equal(r.code, 127, r.stderr);
        assert.equal(errorLine(r.stderr), 'error: rails is not in the image: check its name, or install it in the Dockerfile.');
      }
      assert.deepEqual(await oneOffs(serverName, ws.app), []);
    });

    test('a connection cut mid-session ends the CLI with a sentence saying so', async () => {
      let cut: Promise<void> | undefined;
      const t0 = Date.now();
      const r = await cmd(['exec', '-i', '--', 'sh', '-c', 'echo started; sleep 60'], {
        input: '',
        onStdout: (s, pid) => void (s.includes('started') && (cut ??= cutConnectionOf(pid, serverName))),
      });
      await cut;
      assert.ok(Date.now() - t0 < 20_000, 'noticed at once, not after the command ran out');
      assert.equal(r.code, 125, r.stderr);
      assert.equal(
        errorLine(r.stderr),
        `error: The connection to ${serverName} dropped while the command ran: its exit code is unknown and it may still be running there; reconnect to see.`,
      );
    });
  });
}

test('exec and run of an app that is not deployed: say so and how, exit 125', async () => {
  const ws = await makeWorkspace({ prefix: 'ex', servers: { bm1: { host: 'bm1' } } });
  try {
    for (const verb of ['exec', 'run']) {
      const r = await cli([verb, '--', 'true'], { cwd: ws.dir });
      assert.equal(r.code, 125, r.stderr);
      assert.equal(errorLine(r.stderr), `error: ${ws.app} is not running on bm1: deploy it first (Deploy HEAD in the editor, or baremetal deploy).`);
    }
    const noDash = await cli(['exec', 'ls', '-l'], { cwd: ws.dir });
    assert.equal(noDash.code, 2, 'ls -l was taken for our options');
    const noCommand = await cli(['run'], { cwd: ws.dir });
    assert.match(errorLine(noCommand.stderr), /Say what to run after "--"/);
  } finally {
    await onServer('bm1', ['rm', '-rf', `/root/.baremetal/${ws.app}`]);
  }
});
