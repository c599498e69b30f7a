/**
 * A small seeded fuzzer: generators draw from one PRNG (mulberry32), so a failure is replayed
 * by its seed. Each target runs for a time budget (FUZZ_MS, default 1.5 s: the fast part in
 * npm test; npm run faults gives it 30 s) and its counts go to FUZZ_REPORT (a JSON file) for the
 * faults table.
 */
import { appendFileSync } from 'node:fs';

export class Rng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Up to `max` characters of `alphabet` (whole code points: an emoji is never split). */
  string(alphabet: string, max: number): string {
    const chars = Array.from(alphabet);
    let s = '';
    for (let i = this.int(max + 1); i > 0; i--) s += chars[this.int(chars.length)];
    return s;
  }
  bytes(max: number): Buffer {
    const b = Buffer.alloc(this.int(max + 1));
    for (let i = 0; i < b.length; i++) b[i] = this.int(256);
    return b;
  }
}

/**
 * Every target fuzz.test.ts fuzzes, by the name it reports: the faults suite fails a run that
 * did not report each of them (a test that crashed before its fuzzer ran reports nothing).
 */
export const FUZZ_TARGETS = [
  'baremetal.json (text mutations)', 'baremetal.json (tree mutations)', 'known_hosts lines', 'ssh_config', 'log stream',
  'history file', 'registry requests', 'Range header', 'webview messages', 'resource panel messages',
] as const;

export const BUDGET_MS = Number(process.env.FUZZ_MS ?? 1500);
export const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20261202);

export interface FuzzOutcome {
  target: string;
  tried: number;
  failures: { seed: number; input: string; problem: string }[];
}

/**
 * Runs `once(rng)` with seeds BASE_SEED, BASE_SEED+1, … until the budget is spent (at least
 * `min` times). `once` returns a problem sentence, or undefined when the property held.
 */
export async function fuzz(target: (typeof FUZZ_TARGETS)[number], once: (rng: Rng) => Promise<{ input: string; problem?: string }> | { input: string; problem?: string }, min = 50): Promise<FuzzOutcome> {
  const out: FuzzOutcome = { target, tried: 0, failures: [] };
  const until = Date.now() + BUDGET_MS;
  for (let seed = BASE_SEED; out.tried < min || Date.now() < until; seed++) {
    let r: { input: string; problem?: string };
    try {
      r = await once(new Rng(seed));
    } catch (e) {
      r = { input: '(the generator or the check itself threw)', problem: String((e as Error).stack ?? e) };
    }
    out.tried++;
    if (r.problem && out.failures.length < 5) out.failures.push({ seed, input: r.input.slice(0, 400), problem: r.problem.slice(0, 600) });
    else if (r.problem) out.failures.push({ seed, input: '', problem: '' });
  }
  if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, JSON.stringify({ target, tried: out.tried, failed: out.failures.length }) + '\n');
  return out;
}

export function explain(o: FuzzOutcome): string {
  return `${o.target}: ${o.failures.length} of ${o.tried} inputs broke it; first: ${JSON.stringify(o.failures.slice(0, 3), null, 1)}`;
}

/** Text-level mutations: what a hand edit, a bad merge or a truncated write does to a file. */
export function mutateText(rng: Rng, text: string, alphabet: string): string {
  let s = text;
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(6)) {
      case 0: // delete a span
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
        break;
      case 1: // insert characters
        s = s.slice(0, at) + rng.string(alphabet, 4) + s.slice(at);
        break;
      case 2: // duplicate a span
        s = s.slice(0, at) + s.slice(at, at + rng.int(30)) + s.slice(at);
        break;
      case 3: // truncate
        s = s.slice(0, at);
        break;
      case 4: // swap two characters
        if (s.length > 1) {
          const b = rng.int(s.length);
          const chars = [...s];
          [chars[at % chars.length], chars[b]] = [chars[b]!, chars[at % chars.length]!];
          s = chars.join('');
        }
        break;
      default: // a character replaced
        s = s.slice(0, at) + rng.string(alphabet, 1) + s.slice(at + 1);
    }
  }
  return s;
}

/** Values of every JSON type, odd ones included: what a wrong edit puts where a value was. */
export function oddValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => true,
    () => rng.int(2 ** 31) - 2 ** 30,
    () => -0.5,
    () => 1e308,
    () => '',
    () => rng.string('abc:/.-_ 09\u00e9\u200b\n\t"\\', 12),
    () => 'x'.repeat(300),
    () => [],
    () => [rng.string('ab', 3), 7],
    () => ({}),
    () => ({ [rng.string('abcdefg', 6)]: rng.int(9) }),
    () => '../../etc/passwd',
    () => '$(touch /tmp/pwned)',
    () => '80:80:80',
    () => '65536:1',
  ])();
}

/** Structural mutations of a parsed JSON document: keys removed, values swapped for odd ones, unknown keys. */
export function mutateTree(rng: Rng, value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) {
    const arr = value.map((v) => (rng.chance(0.3) ? mutateTree(rng, v, depth + 1) : v));
    if (rng.chance(0.2)) arr.push(oddValue(rng));
    if (rng.chance(0.1)) arr.splice(rng.int(arr.length + 1), 1);
    return arr;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const roll = rng.next();
      if (roll < 0.08) continue; // removed
      if (roll < 0.2) out[k] = oddValue(rng);
      else if (roll < 0.6) out[k] = mutateTree(rng, v, depth + 1);
      else out[k] = v;
    }
    // defineProperty: "__proto__" must become a key of the text, as a user could write it.
    if (rng.chance(0.08)) Object.defineProperty(out, rng.pick(['sever', 'porst', '__proto__', 'constructor', 'Proxy', 'app ']), { value: oddValue(rng), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return rng.chance(0.3) ? oddValue(rng) : value;
}
