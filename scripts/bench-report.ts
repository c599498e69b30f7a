/** The bench's report for one pair: the table, the targets, the notes, the machine. */
import os from 'node:os';
import { docker, run, serverSocket, type Sample } from './bench-meter';
import type { Pair } from './bench-sides';

/** What one pair's run measured. */
export interface PairResult {
  pair: Pair;
  plan1: Sample; plan2: Sample; // deploy --dry-run of v1 and v2 (build + compress; in nobody's time)
  ours: [Sample, Sample, Sample]; noop: Sample; status: Sample; bareSsh: Sample;
  naive: [Sample, Sample, Sample];
  registry: [Sample, Sample, Sample]; registryNoop: Sample;
  pushMs: number[]; stored: number[]; // registry: per deploy (first, redeploy, again, rollback)
  load: [number, number]; // the machine's 1-minute load average when the pair started and ended
}

const mb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (a: number, b: number) => (a / b < 0.01 ? (a / b).toExponential(1) : (a / b).toFixed(2));
const STEPS = ['1. first deploy', '2. redeploy (one-line change)', '3. rollback'];

function table(r: PairResult): string {
  const head = '| step | ours bytes | save\\|load bytes | registry bytes | ours / save\\|load | ours / registry | ours time | save\\|load time | registry time | ours / save\\|load | ours / registry | SSH handshakes ours / save\\|load / registry |';
  const body = STEPS.map((step, i) => { // registry pushes: first, redeploy, again, rollback (none)
    const [o, n, g] = [r.ours[i], r.naive[i], r.registry[i]];
    return `| ${step} | ${mb(o.bytes)} | ${mb(n.bytes)} | ${mb(g.bytes)} | ${ratio(o.bytes, n.bytes)} | ${ratio(o.bytes, g.bytes)} | ${sec(o.ms)} | ${sec(n.ms)} | ${sec(g.ms)}${i < 2 ? ` (push ${sec(r.pushMs[i])})` : ''} | ${ratio(o.ms, n.ms)} | ${ratio(o.ms, g.ms)} | ${o.handshakes} / ${n.handshakes} / ${g.handshakes} |`;
  });
  return [head, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|', ...body].join('\n');
}

export function report(r: PairResult): string {
  const { pair, plan1, plan2, noop, status, bareSsh } = r;
  const [ours1, ours2, ours3] = r.ours;
  const naive2 = r.naive[1];
  const reg2 = r.registry[1];
  const layers1 = plan1.json!.layers as { size: number; present: boolean }[];
  const changed = plan2.json!.missingBytes as number;
  const missing2 = (plan2.json!.layers as { present: boolean }[]).filter((l) => !l.present).length;
  const imageWire = ours2.bytes - noop.bytes;
  const regWire = reg2.bytes - r.registryNoop.bytes;
  const sent = (s: Sample) => s.json!.bytesSent as number;
  const verdict = (ok: boolean, text: string) => `- ${ok ? 'PASS' : 'MISS'}: ${text}`;
  const commands = [plan1, ours1, plan2, ours2, noop, ours3, status];
  const targets = [
    verdict(imageWire <= 1.1 * changed, `redeploy sends ≤ 1.1× the changed layer: ${imageWire} B on the wire for the image (the redeploy's ${ours2.bytes} B minus ${noop.bytes} B of the same deploy with nothing to send) vs ${changed} B compressed (${missing2} layer(s) missing) = ${(imageWire / changed).toFixed(2)}×; ` +
      `the tool's own count: ${sent(ours2)} B = ${(sent(ours2) / changed).toFixed(2)}×; a whole deploy's fixed cost (SSH, Docker API, lock, history, health check) is the ${noop.bytes} B; \`baremetal status\` alone ${status.bytes} B, an empty \`ssh ${pair.ours} true\` ${bareSsh.bytes} B`),
    verdict(naive2.bytes >= 50 * ours2.bytes, `redeploy ≥ 50× fewer bytes than save|load: ${mb(naive2.bytes)} / ${mb(ours2.bytes)} = ${(naive2.bytes / ours2.bytes).toFixed(0)}×`),
    // Judged on the wire, not only by the tool's count: a rollback that re-pulled while reporting 0
    // would pass the count. Its wire may be no more than a deploy that sends nothing (the fixed
    // cost: SSH, Docker API, lock, history, health check), with 64 KiB to spare.
    verdict(sent(ours3) === 0 && ours3.bytes <= noop.bytes + 65_536, `rollback sends 0 image bytes: ${ours3.bytes} B on the wire, against ${noop.bytes} B for a deploy with nothing to send; the tool's own count: ${sent(ours3)} B`),
    verdict(ours3.ms <= 0.2 * ours1.ms, `rollback ≤ 0.2× our first deploy's time: ${sec(ours3.ms)} / ${sec(ours1.ms)} = ${(ours3.ms / ours1.ms).toFixed(2)}×`),
    verdict(commands.every((c) => c.handshakes === 1), `one SSH handshake per server per command: ${commands.map((c) => c.handshakes).join(', ')} (deploy --dry-run, deploy, deploy --dry-run, deploy, deploy again, rollback, status)`),
  ];
  const all: [string, Sample][] = [
    ...STEPS.flatMap((step, i) => [[`${step}, ours`, r.ours[i]], [`${step}, save|load`, r.naive[i]], [`${step}, registry`, r.registry[i]]] as [string, Sample][]),
    ['status (ours)', status],
  ];
  const sameServer = pair.ours === pair.naive;
  const notes = [
    `Pair ${pair.id}: workstation engine ${pair.workstation.name} (where the image is built and where save and push run); ours on ${pair.ours}, save|load on ${pair.naive}, registry on ${pair.registry}` +
      (sameServer ? ' (one server: the sides took turns, each starting from a server without any of this run\'s images, containers or deploy history).' : '.'),
    `Image: ${layers1.length} layers, ${mb(plan1.json!.totalBytes as number)} compressed; before our first deploy ${pair.ours} already had ${layers1.filter((l) => l.present).length} of them ` +
      `(${mb(layers1.filter((l) => l.present).reduce((n, l) => n + l.size, 0))}). The one-line change: ${missing2} layer(s), ${changed} B compressed (our dry-run's count).`,
    `Transfer path (ours): ${ours1.json!.transport} (first), ${ours2.json!.transport} (redeploy). Our time includes the health check; neither baseline has one (\`docker run -d\` returns at once).`,
    `Build + gzip of the layers ran before each deploy via \`deploy --dry-run\` (${sec(plan1.ms)} for version 1, ${sec(plan2.ms)} for version 2) and is in nobody's time; both baselines would need a \`docker build\` too.`,
    `Our phases (ms, the CLI's own durationMs / phasesMs; the wall time above adds Node's start and the SSH connect): ${r.ours
      .map((o, i) => `step ${i + 1}: ${o.json!.durationMs} = ${JSON.stringify(o.json!.phasesMs).replace(/"/g, '')}`).join('; ')}.`,
    'save|load: `docker save IMAGE | ssh SERVER docker load`, then `ssh SERVER \'docker rm -f …; docker run -d …\'`. Its rollback: a script without deploy history sends the old image again.',
    `registry: its time is \`docker tag\` + \`docker push\` into the laptop's registry (${r.pushMs.slice(0, 3).map(sec).join(', ')} for the first deploy, the redeploy and the same deploy again; the registry's storage grew by ${r.stored.slice(0, 3).map(mb).join(', ')}), ` +
      `then the tunnel's SSH connection, then \`docker pull\` + \`docker run\` over a second one. Its rollback pulls the old tag (no push: the registry has it; the server still has the image, so the pull only checks manifests) and runs it.`,
    `registry, what the one-line change cost on the server's link: ${regWire} B (the redeploy's ${reg2.bytes} B minus ${r.registryNoop.bytes} B of the same deploy again, push and pull with nothing new) = ${(regWire / changed).toFixed(2)}× the changed layer's ${changed} B; ` +
      `the same deploy again took ${sec(r.registryNoop.ms)} and ${r.registryNoop.handshakes} SSH handshakes.`,
    'Bytes = Ethernet frames of our own processes\' connections on the host side of the server\'s veth (nftables counters matched on our cgroup, + 14 B per packet); ' +
      'raw veth counter deltas (rx + tx, everything on the link, including other users of the test servers): ' +
      all.map(([what, s]) => `${what} ${s.vethBytes}${s.vethBytes === s.bytes ? '' : ` (ours ${s.bytes})`}`).join('; ') + '.',
    `Handshakes = new \`Accepted publickey\` lines in the server's sshd.log whose client port is one of our connections' (all new lines, others' included: ${commands.map((c) => c.acceptedAll).join(', ')} ours; ` +
      `${r.naive.map((c) => c.acceptedAll).join(', ')} save|load; ${r.registry.map((c) => c.acceptedAll).join(', ')} registry).`,
  ];
  return `${table(r)}\n\nTargets:\n${targets.join('\n')}\n\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
}

export async function machine({ pair, load }: PairResult): Promise<string> {
  const engine = async (host: string) => {
    const v = (await docker(host, 'info', '--format', '{{.ServerVersion}} {{.Driver}}')).stdout.trim().split(' ');
    return `${v[0]}, ${v[1] === 'overlayfs' ? 'containerd image store' : `${v[1]} store`}`;
  };
  const servers = [...new Set([pair.ours, pair.naive, pair.registry])];
  const engines = [`${await engine(pair.workstation.dockerHost)} (${pair.workstation.name}, workstation)`];
  for (const s of servers) engines.push(`${await engine(serverSocket(s))} (${s})`);
  const sshVersion = (await run('ssh', ['-V'])).stderr.trim();
  const registry = (await run('docker-registry', ['--version'], { allowFail: true })).stdout.trim().split(' ').pop();
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, kernel ${os.release()}; ` +
    `load average (1 min, the machine is shared with other developers' tests) ${load[0].toFixed(1)} at the start, ${load[1].toFixed(1)} at the end; ` +
    `Docker Engine ${engines.join(', ')}; docker CLI ${(await run('docker', ['version', '--format', '{{.Client.Version}}'], { allowFail: true })).stdout.trim()}; ` +
    `registry: Debian's docker-registry ${registry}; ${sshVersion}; Node ${process.version}`;
}
