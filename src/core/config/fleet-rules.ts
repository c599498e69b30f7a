/**
 * The rules of groups, rollout, roles and per-server overrides that JSON Schema cannot express:
 * names that must exist, names that must not clash, shares between 1% and 100%, and overrides
 * that would contradict each other on one server. Each problem is placed on the value it is about.
 */
import type { RawConfig, RawGroup, RawOverrides, RawRollout } from './raw';

type Add = (pointer: string, text: string) => void;

const members = (g: RawGroup): string[] => (Array.isArray(g) ? g : g.servers);
const overridesOf = (g: RawGroup): RawOverrides | undefined => (Array.isArray(g) ? undefined : g);
const esc = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
/** How users write a key path: groups.web, groups["eu west"]. */
const dotted = (base: string, key: string) => (/^[A-Za-z_$][\w$-]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`);

export function fleetProblems(raw: RawConfig, add: Add): void {
  const servers = Object.keys(raw.servers);
  const groups = raw.groups ?? {};
  const groupNames = Object.keys(groups);
  const known = `known servers: ${servers.join(', ')}${groupNames.length ? `; groups: ${groupNames.join(', ')}` : ''}`;
  const hasProxy = raw.proxy !== undefined || Object.values(raw.roles ?? {}).some((r) => typeof r.proxy === 'object');

  if (servers.includes('all')) add('/servers/all', 'the server name "all" is taken by --server all (every server): choose another name');
  for (const [name, g] of Object.entries(groups)) {
    const at = `/groups/${esc(name)}`;
    const where = dotted('groups', name);
    if (name === 'all') add(at, 'the group name "all" is taken by --server all (every server): choose another name');
    else if (servers.includes(name)) add(at, `the group "${name}" has the name of a server; --server ${name} must mean one of them: rename the group or the server`);
    const list = Array.isArray(g) ? '' : '/servers';
    members(g).forEach((m, i) => {
      if (!servers.includes(m)) add(`${at}${list}/${i}`, `${where}${list ? '.servers' : ''}[${i}] "${m}" is not one of the servers; known servers: ${servers.join(', ')}`);
    });
    const o = overridesOf(g);
    if (o) overrideProblems(o, at, where, raw, hasProxy, add);
    if (!Array.isArray(g)) rolloutProblems(g.rollout, `${at}/rollout`, `${where}.rollout`, add);
  }
  for (const [name, s] of Object.entries(raw.servers)) overrideProblems(s, `/servers/${esc(name)}`, dotted('servers', name), raw, hasProxy, add);
  rolloutProblems(raw.rollout, '/rollout', 'rollout', add);
  conflictingOverrides(raw, add);

  for (const [name, role] of Object.entries(raw.roles ?? {})) {
    const at = `/roles/${esc(name)}`;
    const where = dotted('roles', name);
    if (`${raw.app}-${name}`.length > 63) add(at, `the role "${name}" makes the container name "${raw.app}-${name}", longer than 63 characters: shorten the app or the role name`);
    (role.servers ?? []).forEach((n, i) => {
      if (n !== 'all' && !servers.includes(n) && !groupNames.includes(n)) add(`${at}/servers/${i}`, `${where}.servers[${i}] "${n}" is not a server or a group; ${known}`);
    });
    const proxy = role.proxy ?? raw.proxy;
    const ports = role.ports ?? raw.run?.ports ?? [];
    if (typeof proxy === 'object' && ports.length) {
      add(role.ports ? `${at}/ports` : `${at}/proxy`, `${where} is behind the proxy and publishes host ports (${role.ports ? `${where}.ports` : 'run.ports'}), which the old and the new version cannot both hold while the proxy moves traffic: remove the ports or set "proxy": false for this role`);
    }
  }
}

function overrideProblems(o: RawOverrides, at: string, where: string, raw: RawConfig, hasProxy: boolean, add: Add): void {
  if (o.proxy && !hasProxy) add(`${at}/proxy`, `${where}.proxy sets host names, but the app has no proxy block: add "proxy" (or a role's proxy), or remove ${where}.proxy`);
  const env = { ...raw.run?.env, ...o.env };
  (o.secrets ?? []).forEach((s, i) => {
    if (Object.prototype.hasOwnProperty.call(env, s)) add(`${at}/secrets/${i}`, `${where}.secrets[${i}] "${s}" is also set in ${o.env && s in o.env ? `${where}.env` : 'run.env'}; a secret's value must stay out of baremetal.json, so remove it from there`);
  });
  for (const key of Object.keys(o.env ?? {})) {
    if ((raw.run?.secrets ?? []).includes(key)) add(`${at}/env/${esc(key)}`, `${where}.env sets ${key}, which run.secrets names; a secret's value must stay out of baremetal.json, so remove it from ${where}.env`);
  }
}

function rolloutProblems(r: RawRollout | undefined, at: string, where: string, add: Add): void {
  if (typeof r?.batch !== 'string') return;
  const n = Number(r.batch.slice(0, -1));
  if (n < 1 || n > 100) add(`${at}/batch`, `${where}.batch "${r.batch}" must be a share from 1% to 100%, or a number of servers like 1`);
}

/** A server in two groups may take each value from one of them only, or the file would not say which wins. */
function conflictingOverrides(raw: RawConfig, add: Add): void {
  for (const server of Object.keys(raw.servers)) {
    const seen = new Map<string, string>();
    for (const [name, g] of Object.entries(raw.groups ?? {})) {
      const o = overridesOf(g);
      if (!o || !members(g).includes(server)) continue;
      const keys = [
        ...Object.keys(o.env ?? {}).map((k) => [`env.${k}`, `/env/${esc(k)}`]),
        ...(o.secretsFile !== undefined ? [['secretsFile', '/secretsFile']] : []),
        ...(o.proxy ? [['proxy.hosts', '/proxy']] : []),
      ];
      for (const [key, pointer] of keys) {
        const first = seen.get(key);
        if (first !== undefined) add(`/groups/${esc(name)}${pointer}`, `${dotted('groups', name)}.${key} is also set by ${dotted('groups', first)} for the server ${server}, which is in both: set it in one group only, or on the server itself`);
        else seen.set(key, name);
      }
    }
  }
}
