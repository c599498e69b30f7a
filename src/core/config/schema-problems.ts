/**
 * ajv's errors in the user's terms: each placed on the value (or key) it is about, named the way
 * users write it (run.ports[0]), and of a value with several shapes only the shape they wrote.
 */
import type { ErrorObject } from 'ajv';
import type { Node } from 'jsonc-parser';
import schema from '../../../schemas/baremetal.schema.json';

/** One thing wrong with the file: where, and a sentence fragment saying what was expected. */
export interface Problem { offset: number; text: string; rank: number }

/** Walks an ajv instancePath through the tree, naming it the way users write it: run.ports[0]. */
export function locate(root: Node, pointer: string): { node?: Node; name: string } {
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

export function schemaProblems(errors: ErrorObject[], root: Node): Problem[] {
  const dropped = new Set<ErrorObject>();
  // A value with several shapes (healthcheck false or an object, a group as a list or an object,
  // a batch as a count or a share): keep only the errors of the shape the user wrote, or one
  // sentence naming the shapes when it is none of them.
  for (const a of errors.filter((e) => e.keyword === 'anyOf')) {
    const under = (e: ErrorObject) => e !== a && (e.instancePath === a.instancePath || e.instancePath.startsWith(`${a.instancePath}/`));
    const branches = (a.schema ?? []) as object[];
    const chosen = branches.findIndex((b) => branchAccepts(b, a.data));
    if (chosen < 0) {
      for (const e of errors) if (under(e)) dropped.add(e);
      continue;
    }
    dropped.add(a);
    const prefix = a.schemaPath.replace(/^#/, '');
    for (const e of errors) {
      const m = under(e) && e.schemaPath.replace(/^#/, '').startsWith(`${prefix}/`) ? /^\/(\d+)\//.exec(e.schemaPath.replace(/^#/, '').slice(prefix.length)) : null;
      if (m && Number(m[1]) !== chosen) dropped.add(e);
    }
  }
  return errors.filter((e) => e.keyword !== 'propertyNames' && !dropped.has(e)).map((e) => describe(e, root)); // propertyNames: its nested "pattern" error says more
}

/** Whether a branch of an anyOf is the shape `data` has (a $ref followed to its definition). */
function branchAccepts(branch: object, data: unknown): boolean {
  let b = branch as { $ref?: string; type?: string; const?: unknown };
  if (b.$ref) b = b.$ref.slice(2).split('/').reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, schema as unknown as Record<string, unknown>) as typeof b;
  if ('const' in b) return b.const === data;
  switch (b.type) {
    case 'array': return Array.isArray(data);
    case 'object': return typeof data === 'object' && data !== null && !Array.isArray(data);
    case 'integer': return typeof data === 'number';
    case undefined: return false;
    default: return typeof data === b.type;
  }
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
      return problem(`${where} ${(ps.errorMessage as string | undefined) ?? 'has the wrong shape'}`);
    default:
      return problem(`${where} ${e.message ?? 'is invalid'}`);
  }
}

