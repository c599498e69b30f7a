/**
 * Reads baremetal.json (JSONC), checks it against schemas/baremetal.schema.json — the same schema
 * VS Code uses for completion — and returns a Config with every default filled in. Every problem
 * becomes one `file:line:column: ...` sentence, so a user can jump straight to the culprit.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { getNodeValue, parseTree, printParseErrorCode, stripComments, visit, type Node } from 'jsonc-parser';
import schema from '../../../schemas/baremetal.schema.json';
import { BmError } from '../errors';
import type { Batch, Config, GroupConfig, HealthcheckConfig, Overrides, PortMapping, ProxyConfig, ProxyTls, RestartPolicy, RoleConfig, ServerConfig, SwarmConfig, VolumeMapping } from './types';
import { fleetProblems } from './fleet-rules';
import { swarmProblems } from './swarm-rules';
import { locate, schemaProblems, type Problem } from './schema-problems';
import type { RawConfig, RawGroup, RawHealthcheck, RawOverrides, RawProxy, RawRole, RawSwarm } from './raw';

export const CONFIG_FILE = 'baremetal.json';

// Defaults are read from the schema so editor completion and the loader can never disagree.
const SERVER_DEFAULTS = schema.definitions.server.properties;
const RUN = schema.properties.run.properties;
const HEALTH = (RUN.healthcheck.anyOf[1] as { properties: { path: { default: string }; timeoutSeconds: { default: number }; intervalSeconds: { default: number } } }).properties;


let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  if (!compiled) {
    // verbose: errors carry the offending data and the schema around it (for patternErrorMessage).
    // allowUnionTypes: run.memory is "512m" or a number of bytes.
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
    // Editor-only annotations VS Code understands; ajv must accept them in strict mode.
    ajv.addVocabulary(['markdownDescription', 'patternErrorMessage', 'errorMessage', 'defaultSnippets', 'enumDescriptions']);
    compiled = ajv.compile(schema);
  }
  return compiled;
}

export async function loadConfig(dir: string): Promise<Config> {
  const file = path.join(path.resolve(dir), CONFIG_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new BmError('ConfigNotFound', `No baremetal.json in ${dir}: create one (see the README) or run from your project's folder.`, undefined, { cause: e });
    }
    throw new BmError('ConfigInvalid', `Cannot read ${file}: ${(e as Error).message}.`, undefined, { cause: e });
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Config {
  // A UTF-8 BOM is not JSON; blank it rather than cut it so offsets stay right.
  if (text.charCodeAt(0) === 0xfeff) text = ' ' + text.slice(1);
  fail(file, text, syntaxProblems(text));
  const root = parseTree(text, [], { allowTrailingComma: true })!;
  const value: unknown = getNodeValue(root);
  const validate = validator();
  if (!validate(value)) fail(file, text, schemaProblems(validate.errors ?? [], root));
  const raw = value as RawConfig;
  fail(file, text, semanticProblems(raw, root));
  return build(raw, file);
}

export function pickServer(config: Config, name?: string): ServerConfig {
  const names = Object.keys(config.servers);
  const wanted = name ?? config.defaultServer ?? (names.length === 1 ? names[0] : undefined);
  if (wanted === undefined) {
    throw new BmError('UnknownServer', `baremetal.json has several servers (${names.join(', ')}): choose one with --server NAME or set "defaultServer".`);
  }
  const server = Object.prototype.hasOwnProperty.call(config.servers, wanted) ? config.servers[wanted] : undefined;
  const group = wanted === 'all' ? names : config.groups && Object.prototype.hasOwnProperty.call(config.groups, wanted) ? config.groups[wanted].servers : undefined;
  if (!server && group) throw new BmError('UnknownServer', `"${wanted}" names several servers (${group.join(', ')}) and this takes one: choose it with --server NAME.`);
  if (!server) throw new BmError('UnknownServer', `No server named "${wanted}" in baremetal.json; known servers: ${names.join(', ')}.`);
  return server;
}

const PORT_RE = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/;
const VOLUME_RE = /^([A-Za-z0-9][A-Za-z0-9_.-]+|\/[^:]*):(\/[^:]*)(?::(ro|rw))?$/;

/** "[ip:]hostPort:containerPort[/tcp|/udp]" → PortMapping; throws ConfigInvalid when malformed. */
export function parsePortSpec(spec: string): PortMapping {
  const r = tryPort(spec);
  if (typeof r === 'string') throw new BmError('ConfigInvalid', `Port mapping "${spec}" ${r}.`);
  return r;
}

/** "name:/path[:ro|rw]" or "/abs:/path[:ro|rw]" → VolumeMapping; throws ConfigInvalid when malformed. */
export function parseVolumeSpec(spec: string): VolumeMapping {
  const r = tryVolume(spec);
  if (typeof r === 'string') throw new BmError('ConfigInvalid', `Volume "${spec}" ${r}.`);
  return r;
}

const UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
/** Docker's smallest memory limit. */
const MIN_MEMORY = RUN.memory.minimum;

/** "512m", "1.5g", "512MiB", "1024", 1048576 → bytes (units binary whatever the spelling, as docker's --memory). */
export function parseMemory(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?) ?(?:([kmgt])i?)?b?$/i.exec(v);
  if (!m) throw new BmError('ConfigInvalid', `run.memory "${v}" ${RUN.memory.patternErrorMessage}.`);
  return Math.round(Number(m[1]) * UNIT[(m[2] ?? '').toLowerCase()]);
}

// The try* forms return what is wrong (a fragment after the spec) so the loader can position it.
function tryPort(spec: string): PortMapping | string {
  const m = PORT_RE.exec(spec);
  if (!m) return RUN.ports.items.patternErrorMessage;
  const [, hostIp, host, container, protocol] = m;
  if (hostIp && hostIp.split('.').some((o) => Number(o) > 255)) return `has an invalid IPv4 address "${hostIp}"`;
  for (const [which, p] of [['host', host], ['container', container]] as const) {
    const n = Number(p);
    if (n < 1 || n > 65535) return `has ${which} port ${n}; ports go from 1 to 65535`;
  }
  const mapping: PortMapping = { hostPort: Number(host), containerPort: Number(container), protocol: protocol === 'udp' ? 'udp' : 'tcp', spec };
  return hostIp ? { hostIp, ...mapping } : mapping;
}

function tryVolume(spec: string): VolumeMapping | string {
  const m = VOLUME_RE.exec(spec);
  if (!m) return RUN.volumes.items.patternErrorMessage;
  const [, source, target, mode] = m;
  if (target.replace(/\/+$/, '') === '') return `mounts over the container's root "/"; choose a folder like "/data"`;
  return { source, target, readOnly: mode === 'ro', kind: source.startsWith('/') ? 'bind' : 'volume', spec };
}

function build(raw: RawConfig, file: string): Config {
  const servers: Record<string, ServerConfig> = {};
  for (const [name, s] of Object.entries(raw.servers)) {
    servers[name] = {
      name, host: s.host,
      ...(s.user !== undefined && { user: s.user }),
      ...(s.port !== undefined && { port: s.port }),
      ...(s.identityFile !== undefined && { identityFile: s.identityFile }),
      dockerSocket: s.dockerSocket ?? SERVER_DEFAULTS.dockerSocket.default,
      stateDir: s.stateDir ?? SERVER_DEFAULTS.stateDir.default,
      ...withOverrides(s),
    };
  }
  const groups = raw.groups === undefined ? undefined : Object.fromEntries(Object.entries(raw.groups).map(([name, g]) => [name, groupConfig(name, g)]));
  const b = raw.build ?? {};
  const r = raw.run ?? {};
  const healthcheck = healthcheckConfig(r.healthcheck, r.ports ?? []);
  const props = schema.properties;
  return {
    file, dir: path.dirname(path.resolve(file)), app: raw.app, servers,
    ...(raw.defaultServer !== undefined && { defaultServer: raw.defaultServer }),
    build: {
      dockerfile: b.dockerfile ?? props.build.properties.dockerfile.default,
      context: b.context ?? props.build.properties.context.default,
      args: { ...b.args },
      ...(b.target !== undefined && { target: b.target }),
      secrets: [...(b.secrets ?? [])],
      on: b.on ?? 'local',
    },
    run: {
      ports: (r.ports ?? []).map(parsePortSpec),
      env: { ...r.env },
      secrets: [...(r.secrets ?? [])],
      volumes: (r.volumes ?? []).map(parseVolumeSpec),
      restart: r.restart ?? (RUN.restart.default as RestartPolicy),
      ...(r.memory !== undefined && { memoryBytes: parseMemory(r.memory) }),
      ...(r.cpus !== undefined && { cpus: r.cpus }),
      ...(r.command !== undefined && { command: [...r.command] }),
      ...(r.release !== undefined && { release: [...r.release] }),
      ...(r.shell !== undefined && { shell: [...r.shell] }),
      healthcheck,
    },
    keep: raw.keep ?? props.keep.default,
    ...(raw.proxy !== undefined && { proxy: proxyConfig(raw.proxy) }),
    ...(groups && { groups }),
    ...(raw.rollout?.batch !== undefined && { rollout: { batch: parseBatch(raw.rollout.batch) } }),
    ...(raw.roles && { roles: Object.fromEntries(Object.entries(raw.roles).map(([name, role]) => [name, roleConfig(name, role, raw)])) }),
    ...(raw.swarm && { swarm: swarmConfig(raw.swarm, Object.keys(raw.servers)) }),
  };
}

function swarmConfig(s: RawSwarm, servers: string[]): SwarmConfig {
  const SWARM = schema.properties.swarm.properties;
  const nodes = s.nodes ?? servers;
  return {
    manager: s.manager,
    nodes: [s.manager, ...nodes.filter((n) => n !== s.manager)],
    replicas: s.replicas ?? SWARM.replicas.default,
    publish: s.publish ?? (SWARM.publish.default as SwarmConfig['publish']),
    timeoutSeconds: s.timeoutSeconds ?? SWARM.timeoutSeconds.default,
  };
}

function healthcheckConfig(hc: RawHealthcheck | undefined, ports: string[]): HealthcheckConfig | false {
  // Left out with no TCP port published (a worker): nothing to GET, so only "keeps running"
  // (or the image's own HEALTHCHECK) can judge it.
  const publishesTcp = ports.some((p) => !p.endsWith('/udp'));
  return hc === false || (hc === undefined && !publishesTcp) ? false : {
    ...(hc?.port !== undefined && { port: hc.port }),
    path: hc?.path ?? HEALTH.path.default,
    timeoutSeconds: hc?.timeoutSeconds ?? HEALTH.timeoutSeconds.default,
    intervalSeconds: hc?.intervalSeconds ?? HEALTH.intervalSeconds.default,
  };
}

function withOverrides(o: RawOverrides): { overrides?: Overrides } {
  const overrides: Overrides = {
    ...(o.env !== undefined && { env: { ...o.env } }),
    ...(o.secrets !== undefined && { secrets: [...o.secrets] }),
    ...(o.secretsFile !== undefined && { secretsFile: o.secretsFile }),
    ...(o.proxy !== undefined && { proxyHosts: [...o.proxy.hosts] }),
  };
  return Object.keys(overrides).length ? { overrides } : {};
}

function groupConfig(name: string, g: RawGroup): GroupConfig {
  if (Array.isArray(g)) return { name, servers: [...g] };
  return { name, servers: [...g.servers], ...withOverrides(g), ...(g.rollout?.batch !== undefined && { rollout: { batch: parseBatch(g.rollout.batch) } }) };
}

/** 1 → one server at a time; "25%" → a quarter of them (rounded up). Checked by the schema and semanticProblems. */
export function parseBatch(v: number | string): Batch {
  return typeof v === 'number' ? { count: v } : { percent: Number(v.slice(0, -1)) };
}

/** Server names a list of server and group names stands for, in order, each once. */
function expandNames(names: string[], raw: RawConfig): string[] {
  const out: string[] = [];
  for (const n of names) {
    const g = raw.groups?.[n];
    const members = n === 'all' ? Object.keys(raw.servers) : g ? (Array.isArray(g) ? g : g.servers) : [n];
    for (const m of members) if (!out.includes(m)) out.push(m);
  }
  return out;
}

function roleConfig(name: string, role: RawRole, raw: RawConfig): RoleConfig {
  return {
    name,
    ...(role.servers !== undefined && { servers: expandNames(role.servers, raw) }),
    ...(role.command !== undefined && { command: [...role.command] }),
    ...(role.ports !== undefined && { ports: role.ports.map(parsePortSpec) }),
    ...(role.env !== undefined && { env: { ...role.env } }),
    // A role that publishes its own ports gets the default check for them, as the app would.
    ...((role.healthcheck !== undefined || role.ports !== undefined) && { healthcheck: healthcheckConfig(role.healthcheck, role.ports ?? []) }),
    ...(role.proxy !== undefined && { proxy: role.proxy === false ? false : proxyConfig(role.proxy) }),
  };
}

const PROXY = schema.properties.proxy.properties;

function proxyConfig(p: RawProxy): ProxyConfig {
  const hc = p.healthcheck ?? {};
  return {
    hosts: [...p.hosts],
    port: p.port,
    tls: typeof p.tls === 'object' ? { ...p.tls } : (p.tls ?? (PROXY.tls.default as ProxyTls)),
    healthcheck: {
      path: hc.path ?? PROXY.healthcheck.properties.path.default,
      timeoutSeconds: hc.timeoutSeconds ?? PROXY.healthcheck.properties.timeoutSeconds.default,
      intervalSeconds: hc.intervalSeconds ?? PROXY.healthcheck.properties.intervalSeconds.default,
    },
    drainSeconds: p.drainSeconds ?? PROXY.drainSeconds.default,
    image: p.image ?? PROXY.image.default,
  };
}

function fail(file: string, text: string, problems: Problem[]): void {
  if (problems.length === 0) return;
  // Specific problems before "missing property" ones, then in file order: a typo'd key also
  // makes its real name "missing", and the typo is what the user needs to see.
  const sorted = [...problems].sort((a, b) => a.rank - b.rank || a.offset - b.offset);
  const lines = sorted.map((p) => {
    const { line, column } = position(text, p.offset);
    // A name or value quoted in the sentence may hold an escaped control character ("a\nb"):
    // shown escaped, so the message stays one line.
    const said = p.text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
    return `${file}:${line}:${column}: ${said}${/[.!?]$/.test(said) ? '' : '.'}`;
  });
  throw new BmError('ConfigInvalid', lines[0], lines.join('\n'));
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

const SYNTAX: Record<string, string> = {
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected a colon after the property name',
  CloseBraceExpected: 'expected a closing brace "}"',
  CloseBracketExpected: 'expected a closing bracket "]"',
  EndOfFileExpected: 'unexpected text after the end of the JSON',
  InvalidCommentToken: 'a comment is not closed with "*/"',
  UnexpectedEndOfComment: 'a comment is not closed with "*/"',
  UnexpectedEndOfString: 'a string is not closed with a double quote',
  UnexpectedEndOfNumber: 'a number is cut short',
  InvalidUnicode: 'invalid \\u escape in a string',
  InvalidEscapeCharacter: 'invalid backslash escape in a string',
  InvalidCharacter: 'a control character (a tab or a line break) inside a string',
};

function syntaxProblems(text: string): Problem[] {
  const problems: Problem[] = [];
  // Track the enclosing container: "expected a comma" needs to say brace or bracket.
  const stack: ('brace' | 'bracket')[] = [];
  visit(text, {
    onObjectBegin: () => { stack.push('brace'); },
    onObjectEnd: () => { stack.pop(); },
    onArrayBegin: () => { stack.push('bracket'); },
    onArrayEnd: () => { stack.pop(); },
    onError: (code, offset) => {
      const name = printParseErrorCode(code);
      let what = SYNTAX[name] ?? name;
      if (name === 'CommaExpected') what = `expected a comma or closing ${stack[stack.length - 1] ?? 'brace'}`;
      if (name === 'InvalidSymbol') what = `unexpected ${JSON.stringify(text[offset] ?? '')} (strings and property names need double quotes)`;
      // At the end of the file the parser's expectation is noise: say what was left open.
      if (offset >= text.trimEnd().length) {
        const open = stack[stack.length - 1];
        if (open) what = `the file ends before the closing ${open} "${open === 'brace' ? '}' : ']'}"`;
        else if (name === 'ValueExpected') what = stripComments(text).trim() === '' ? 'the file is empty' : 'the file ends where a value was expected';
      }
      problems.push({ offset, text: `the JSON is malformed: ${what}`, rank: 0 });
    },
  }, { allowTrailingComma: true, disallowComments: false });
  return problems;
}

/** Rules JSON Schema cannot express; run only on a file the schema accepted. */
function semanticProblems(raw: RawConfig, root: Node): Problem[] {
  const problems: Problem[] = [];
  const add = (pointer: string, text: string) => problems.push({ offset: locate(root, pointer).node?.offset ?? 0, text, rank: 0 });
  const names = Object.keys(raw.servers);
  const groupNames = Object.keys(raw.groups ?? {});
  if (raw.defaultServer !== undefined && !names.includes(raw.defaultServer) && !groupNames.includes(raw.defaultServer) && raw.defaultServer !== 'all') {
    add('/defaultServer', `defaultServer "${raw.defaultServer}" is not one of the servers; known servers: ${names.join(', ')}${groupNames.length ? `; groups: ${groupNames.join(', ')}` : ''}`);
  }
  fleetProblems(raw, add);
  swarmProblems(raw, add);
  const env = raw.run?.env ?? {};
  (raw.run?.secrets ?? []).forEach((s, i) => {
    if (Object.prototype.hasOwnProperty.call(env, s)) add(`/run/secrets/${i}`, `run.secrets[${i}] "${s}" is also set in run.env; a secret's value must stay out of baremetal.json, so remove it from run.env`);
  });
  const bound: { m: PortMapping; i: number }[] = [];
  (raw.run?.ports ?? []).forEach((spec, i) => {
    const m = tryPort(spec);
    if (typeof m === 'string') return add(`/run/ports/${i}`, `run.ports[${i}] "${spec}" ${m}`);
    // 0.0.0.0 (or no address) overlaps every address on the same port and protocol.
    const wild = (ip?: string) => ip === undefined || ip === '0.0.0.0';
    const clash = bound.find(({ m: o }) => o.hostPort === m.hostPort && o.protocol === m.protocol && (o.hostIp === m.hostIp || wild(o.hostIp) || wild(m.hostIp)));
    if (clash) add(`/run/ports/${i}`, `run.ports[${i}] "${spec}" uses host port ${m.hostPort} again (already in run.ports[${clash.i}]); each host port can be published once`);
    bound.push({ m, i });
  });
  const targets = new Map<string, number>();
  (raw.run?.volumes ?? []).forEach((spec, i) => {
    const v = tryVolume(spec);
    if (typeof v === 'string') return add(`/run/volumes/${i}`, `run.volumes[${i}] "${spec}" ${v}`);
    const target = v.target.replace(/\/+$/, '');
    const prev = targets.get(target);
    if (prev !== undefined) add(`/run/volumes/${i}`, `run.volumes[${i}] "${spec}" mounts ${target} again (already in run.volumes[${prev}]); each container path can be mounted once`);
    else targets.set(target, i);
  });
  // The schema's minimum covers a number of bytes; a size written with a unit is checked here.
  const memory = raw.run?.memory;
  if (typeof memory === 'string' && parseMemory(memory) < MIN_MEMORY) {
    add('/run/memory', `run.memory "${memory}" is less than Docker's smallest limit, 6 MiB ("6m"); give the app more`);
  }
  // healthcheck.port need not be in run.ports: the probe can reach the container's own address.
  if (raw.proxy && (raw.run?.ports ?? []).length) {
    add('/run/ports', 'run.ports publishes host ports, which the old and the new version cannot both hold while the proxy moves traffic between them: remove run.ports (the proxy routes proxy.hosts to proxy.port inside the container)');
  }
  return problems;
}
