/**
 * Reads baremetal.json (JSONC), checks it against schemas/baremetal.schema.json — the same schema
 * VS Code uses for completion — and returns a Config with every default filled in. Every problem
 * becomes one `file:line:column: ...` sentence, so a user can jump straight to the culprit.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { getNodeValue, parseTree, printParseErrorCode, stripComments, visit, type Node } from 'jsonc-parser';
import schema from '../../../schemas/baremetal.schema.json';
import { BmError } from '../errors';
import type { Config, HealthcheckConfig, PortMapping, ProxyConfig, ProxyTls, RestartPolicy, ServerConfig, VolumeMapping } from './types';

export const CONFIG_FILE = 'baremetal.json';

// Defaults are read from the schema so editor completion and the loader can never disagree.
const SERVER_DEFAULTS = schema.definitions.server.properties;
const RUN = schema.properties.run.properties;
const HEALTH = (RUN.healthcheck.anyOf[1] as { properties: { path: { default: string }; timeoutSeconds: { default: number }; intervalSeconds: { default: number } } }).properties;

interface RawServer { host: string; user?: string; port?: number; identityFile?: string; dockerSocket?: string; stateDir?: string }
interface RawConfig {
  app: string;
  servers: Record<string, RawServer>;
  defaultServer?: string;
  build?: { dockerfile?: string; context?: string; args?: Record<string, string>; target?: string; secrets?: string[]; on?: 'local' | 'server' };
  run?: {
    ports?: string[]; env?: Record<string, string>; secrets?: string[]; volumes?: string[]; restart?: RestartPolicy; memory?: string | number; cpus?: number;
    command?: string[]; release?: string[]; shell?: string[]; healthcheck?: false | { port?: number; path?: string; timeoutSeconds?: number; intervalSeconds?: number };
  };
  keep?: number;
  proxy?: {
    hosts: string[]; port: number; tls?: ProxyTls; drainSeconds?: number; image?: string;
    healthcheck?: { path?: string; timeoutSeconds?: number; intervalSeconds?: number };
  };
}

/** One thing wrong with the file: where, and a sentence fragment saying what was expected. */
interface Problem { offset: number; text: string; rank: number }

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  if (!compiled) {
    // verbose: errors carry the offending data and the schema around it (for patternErrorMessage).
    // allowUnionTypes: run.memory is "512m" or a number of bytes.
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
    // Editor-only annotations VS Code understands; ajv must accept them in strict mode.
    ajv.addVocabulary(['markdownDescription', 'patternErrorMessage', 'defaultSnippets', 'enumDescriptions']);
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
    };
  }
  const b = raw.build ?? {};
  const r = raw.run ?? {};
  const hc = r.healthcheck;
  // Left out with no TCP port published (a worker): nothing to GET, so only "keeps running"
  // (or the image's own HEALTHCHECK) can judge it.
  const publishesTcp = (r.ports ?? []).some((p) => !p.endsWith('/udp'));
  const healthcheck: HealthcheckConfig | false = hc === false || (hc === undefined && !publishesTcp) ? false : {
    ...(hc?.port !== undefined && { port: hc.port }),
    path: hc?.path ?? HEALTH.path.default,
    timeoutSeconds: hc?.timeoutSeconds ?? HEALTH.timeoutSeconds.default,
    intervalSeconds: hc?.intervalSeconds ?? HEALTH.intervalSeconds.default,
  };
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
  };
}

const PROXY = schema.properties.proxy.properties;

function proxyConfig(p: NonNullable<RawConfig['proxy']>): ProxyConfig {
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

/** Walks an ajv instancePath through the tree, naming it the way users write it: run.ports[0]. */
function locate(root: Node, pointer: string): { node?: Node; name: string } {
  const segs = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: Node | undefined = root;
  let name = '';
  for (const seg of segs) {
    if (node?.type === 'array') {
      name += `[${seg}]`;
      node = node.children?.[Number(seg)];
    } else {
      name += /^[A-Za-z_$][\w$-]*$/.test(seg) ? `${name ? '.' : ''}${seg}` : `[${JSON.stringify(seg)}]`;
      node = propertyOf(node, seg)?.children?.[1];
    }
  }
  return { node, name };
}

/** The property node for `key` (the last one if repeated: that is the value that counts). */
function propertyOf(obj: Node | undefined, key: string): Node | undefined {
  const props = obj?.type === 'object' ? obj.children ?? [] : [];
  for (let i = props.length - 1; i >= 0; i--) if (props[i].children?.[0]?.value === key) return props[i];
  return undefined;
}

const REQUIRED_HINTS: Record<string, string> = {
  app: 'the app\'s name, e.g. "app": "hello"',
  servers: 'where to deploy, e.g. "servers": { "prod": { "host": "my-server" } }',
  host: 'a Host from ~/.ssh/config or an address, e.g. "host": "prod-box"',
};

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null || typeof v === 'boolean') return String(v);
  return typeof v === 'object' ? 'an object' : `the ${typeof v} ${JSON.stringify(v)}`;
}
const TYPE_WORDS: Record<string, string> = {
  string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false', array: 'a list [...]', object: 'an object {...}',
};

function schemaProblems(errors: ErrorObject[], root: Node): Problem[] {
  // healthcheck is "false or an object": keep only the branch matching what the user wrote.
  const hcObject = errors.some((e) => e.keyword === 'anyOf' && typeof e.data === 'object' && e.data !== null);
  return errors.filter((e) => {
    if (e.keyword === 'propertyNames') return false; // its nested "pattern" error says more
    if (/\/anyOf\/\d+\//.test(e.schemaPath)) return hcObject && e.schemaPath.includes('/anyOf/1/');
    return !(e.keyword === 'anyOf' && hcObject);
  }).map((e) => describe(e, root));
}

/** One ajv error in the user's terms, placed on the value (or key) it is about. */
function describe(e: ErrorObject, root: Node): Problem {
  const { node, name } = locate(root, e.instancePath);
  const where = name || 'the top level';
  const shown = JSON.stringify(e.data);
  const p = e.params as Record<string, unknown>;
  const ps = e.parentSchema ?? {};
  const problem = (text: string, at: Node | undefined = node, rank = 0): Problem => ({ offset: at?.offset ?? node?.offset ?? 0, text, rank });
  switch (e.keyword) {
    case 'required': {
      const missing = String(p.missingProperty);
      const hint = REQUIRED_HINTS[missing];
      return problem(`missing required property "${missing}" in ${where}${hint ? ` (${hint})` : ''}`, node, 1);
    }
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys((ps.properties ?? {}) as object).filter((k) => k !== '$schema');
      return problem(`unknown property "${key}" in ${where}; expected one of ${known.join(', ')}`, propertyOf(node, key)?.children?.[0]);
    }
    case 'pattern': {
      const msg = (ps.patternErrorMessage as string | undefined) ?? 'has the wrong format';
      if (e.propertyName === undefined) return problem(`${where} ${shown} ${msg}`);
      return problem(`the name "${e.propertyName}" in ${where} ${msg}`, propertyOf(node, e.propertyName)?.children?.[0]);
    }
    case 'type': {
      const want = ([] as string[]).concat(p.type as string).map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      const quote = p.type === 'string' && typeof e.data !== 'object' ? ' (put the value in double quotes)' : '';
      return problem(`${where} must be ${want}, not ${kindOf(e.data)}${quote}`);
    }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': {
      if (name === 'run.memory') return problem(`run.memory is ${shown} bytes, less than Docker's smallest limit, 6 MiB (6291456 or "6m"); give the app more`);
      const { minimum: min, maximum: max } = ps as { minimum?: number; maximum?: number };
      const low = min !== undefined ? `from ${min}` : `more than ${String(ps.exclusiveMinimum)}`;
      return problem(`${where} is ${shown}; it must be ${low}${max === undefined ? '' : min !== undefined ? ` to ${max}` : ` and at most ${max}`}`);
    }
    case 'minLength': case 'minItems':
      return problem(`${where} must not be empty`);
    case 'maxLength':
      return problem(`${where} must be at most ${String(p.limit)} characters long`);
    case 'minProperties':
      return problem(name === 'servers' ? 'servers must name at least one server, e.g. "prod": { "host": "my-server" }' : `${where} must not be empty`);
    case 'enum':
      return problem(`${where} ${shown} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
    case 'uniqueItems': {
      const i = Math.max(Number(p.i), Number(p.j));
      return problem(`${where}[${i}] ${JSON.stringify((e.data as unknown[])[i])} is listed twice`, node?.children?.[i]);
    }
    case 'anyOf':
      return problem(`${where} must be false (no health check) or an object like { "port": 8080, "path": "/" }`);
    default:
      return problem(`${where} ${e.message ?? 'is invalid'}`);
  }
}

/** Rules JSON Schema cannot express; run only on a file the schema accepted. */
function semanticProblems(raw: RawConfig, root: Node): Problem[] {
  const problems: Problem[] = [];
  const add = (pointer: string, text: string) => problems.push({ offset: locate(root, pointer).node?.offset ?? 0, text, rank: 0 });
  const names = Object.keys(raw.servers);
  if (raw.defaultServer !== undefined && !names.includes(raw.defaultServer)) {
    add('/defaultServer', `defaultServer "${raw.defaultServer}" is not one of the servers; known servers: ${names.join(', ')}`);
  }
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
