/**
 * Which servers a `--server NAME|GROUP|all` means, and what the app's config is on each of them:
 * the groups' and the server's own overrides applied, and one config per role. Pure functions of
 * the loaded config, so the CLI, the editor and the rollout agree on them.
 */
import { BmError } from '../errors';
import type { Config, GroupConfig, Overrides, RolloutConfig, ServerConfig } from './types';

export interface Targets {
  /** What was asked for, as written ("web", "bm1", "all"). */
  name: string;
  kind: 'server' | 'group' | 'all';
  servers: ServerConfig[];
  /** The group's own rollout, else the app's. */
  rollout?: RolloutConfig;
}

const has = (o: object | undefined, k: string) => o !== undefined && Object.prototype.hasOwnProperty.call(o, k);

/** The names known to --server, for sentences: "known servers: a, b; groups: web". */
export function knownTargets(config: Config): string {
  const groups = Object.keys(config.groups ?? {});
  return `known servers: ${Object.keys(config.servers).join(', ')}${groups.length ? `; groups: ${groups.join(', ')}` : ''}`;
}

/**
 * The servers `spec` names: a server, a group (in the order written), or "all". Without a spec:
 * defaultServer, or the only server. An unknown name gets a sentence listing the known ones.
 */
export function resolveTargets(config: Config, spec?: string): Targets {
  const names = Object.keys(config.servers);
  const wanted = spec ?? config.defaultServer ?? (names.length === 1 ? names[0] : undefined);
  if (wanted === undefined) {
    const groups = config.groups && Object.keys(config.groups).length ? ', a group' : '';
    throw new BmError('UnknownServer', `baremetal.json has several servers (${names.join(', ')}): choose one${groups} or all with --server NAME, or set "defaultServer".`);
  }
  if (has(config.servers, wanted)) return { name: wanted, kind: 'server', servers: [config.servers[wanted]], ...rolloutOf(config) };
  if (wanted === 'all') return { name: wanted, kind: 'all', servers: names.map((n) => config.servers[n]), ...rolloutOf(config) };
  const group = has(config.groups, wanted) ? config.groups![wanted] : undefined;
  if (group) return { name: wanted, kind: 'group', servers: group.servers.map((n) => config.servers[n]), ...rolloutOf(config, group) };
  const what = config.groups && Object.keys(config.groups).length ? 'server or group' : 'server';
  throw new BmError('UnknownServer', `No ${what} named "${wanted}" in baremetal.json; ${knownTargets(config)}.`);
}

/**
 * Whether the targets take the rollout (several servers, or roles: several containers on one
 * server); one server without roles keeps the one-server deploy and what it says.
 */
export function isRollout(config: Pick<Config, 'roles'>, targets: Targets): boolean {
  return targets.servers.length > 1 || config.roles !== undefined;
}

function rolloutOf(config: Config, group?: GroupConfig): { rollout?: RolloutConfig } {
  const r = group?.rollout ?? config.rollout;
  return r ? { rollout: r } : {};
}

/** The groups a server is in, in file order. */
export function groupsOf(config: Config, server: string): GroupConfig[] {
  return Object.values(config.groups ?? {}).filter((g) => g.servers.includes(server));
}

/**
 * The app's config on one server: its groups' overrides, then its own (the loader refused two
 * groups setting the same value for one server). The result is a plain Config, so the
 * single-server deploy, rollback and status need to know nothing of fleets.
 */
export function configFor(config: Config, serverName: string): Config {
  const layers = [...groupsOf(config, serverName).map((g) => g.overrides), config.servers[serverName]?.overrides].filter((o): o is Overrides => o !== undefined);
  if (!layers.length) return config;
  let c: Config = config;
  for (const o of layers) c = applyOverrides(c, o);
  return c;
}

function applyOverrides(c: Config, o: Overrides): Config {
  const hosts = o.proxyHosts;
  const roles = hosts && c.roles
    ? Object.fromEntries(Object.entries(c.roles).map(([k, r]) => [k, r.proxy ? { ...r, proxy: { ...r.proxy, hosts: [...hosts] } } : r]))
    : c.roles;
  return {
    ...c,
    run: {
      ...c.run,
      env: { ...c.run.env, ...o.env },
      secrets: [...new Set([...c.run.secrets, ...(o.secrets ?? [])])],
    },
    ...(o.secretsFile !== undefined && { secretsFile: o.secretsFile }),
    ...(hosts && c.proxy && { proxy: { ...c.proxy, hosts: [...hosts] } }),
    ...(roles && { roles }),
  };
}

/** The role's container name on the servers: the app's, then the role's. */
export function roleApp(app: string, role: string): string {
  return `${app}-${role}`;
}

/**
 * What runs on one server: the app itself, or one config per role placed there. A role's config
 * is the app's with the role's command, ports, env, health check and proxy, named `APP-ROLE`
 * (its own containers, history and lock) and running the app's image.
 */
export function roleConfigs(config: Config, serverName: string): Config[] {
  const c = configFor(config, serverName);
  if (!c.roles) return [c];
  const out: Config[] = [];
  for (const role of Object.values(c.roles)) {
    if (role.servers && !role.servers.includes(serverName)) continue;
    const proxy = role.proxy === false ? undefined : (role.proxy ?? c.proxy);
    const { proxy: _omit, roles: _roles, ...rest } = c;
    out.push({
      ...rest,
      app: roleApp(c.app, role.name),
      image: c.app,
      role: role.name,
      run: {
        ...c.run,
        ...(role.command && { command: role.command }),
        ...(role.ports && { ports: role.ports }),
        ...(role.healthcheck !== undefined && { healthcheck: role.healthcheck }),
        env: { ...c.run.env, ...role.env },
        // The release command (migrations) is the app's, not a role's: it runs once, with the first role.
        ...(out.length > 0 && { release: undefined }),
      },
      ...(proxy && { proxy }),
    });
  }
  return out;
}

/** The servers a role runs on among `servers` (all of them when the role names none). */
export function serversOfRole(config: Config, role: string, servers: readonly string[]): string[] {
  const r = config.roles?.[role];
  return r?.servers ? servers.filter((s) => r.servers!.includes(s)) : [...servers];
}

/**
 * The configs that commands acting on the running app (logs, exec, run) read on one server:
 * every role placed there, or the one `role` names (refused, listing the roles, when there is
 * no such role; empty when it does not run on this server).
 */
export function rolesOn(config: Config, serverName: string, role?: string): Config[] {
  const all = roleConfigs(config, serverName);
  if (role === undefined) return all;
  const known = Object.keys(config.roles ?? {});
  if (!known.length) throw new BmError('ConfigInvalid', `baremetal.json has no roles: leave out --role ${role}.`);
  if (!known.includes(role)) throw new BmError('ConfigInvalid', `No role named "${role}" in baremetal.json; its roles are ${known.join(', ')}.`);
  return all.filter((c) => c.role === role);
}

/** One log to read: an app's (or a role's) containers on a server, and the name its lines carry. */
export interface AppStream {
  server: ServerConfig;
  app: string;
  /** "bm1", or "bm1 worker" for a role. */
  label: string;
}

/** The logs of the app on these servers: one per server, or per role on each server (rolesOn). */
export function appStreams(config: Config, servers: readonly ServerConfig[], role?: string): AppStream[] {
  return servers.flatMap((s) => rolesOn(config, s.name, role).map((c) => ({ server: s, app: c.app, label: config.roles ? `${s.name} ${c.role}` : s.name })));
}
