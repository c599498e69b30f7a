/**
 * What the server's engine is, learnt at connect from GET /version (the probe that tells the
 * engine answers at all), and from GET /info only when something asks.
 */

/**
 * The newest Engine API whose answers this code reads. docker-modem sends unversioned paths by
 * default, and the daemon answers those in its own newest API: a daemon newer than this code
 * could change the shape of what we parse. Pinned to the lower of the two, the answers stay
 * those of an API we know (Docker 29 still accepts 1.44 and up).
 */
export const NEWEST_KNOWN_API = '1.47';

/** The fields of GET /version that are read. */
export interface VersionAnswer {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  Os?: string;
  Arch?: string;
  /** Podman names itself here ("Podman Engine"); Docker says "Engine". */
  Components?: { Name?: string }[];
}

/** Podman's Docker-compatible API: some steps go through its own (libpod) endpoints instead. */
export function isPodman(v: VersionAnswer): boolean {
  return (v.Components ?? []).some((c) => /podman/i.test(c.Name ?? ''));
}

/** The fields of GET /info that are read. */
export interface InfoAnswer {
  Driver?: string;
  DriverStatus?: [string, string][];
  SecurityOptions?: string[];
  Architecture?: string;
}

export interface EngineInfo {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  /** 'containerd' for the containerd image store, else the graph driver ('overlay2', …). */
  storage: string;
  rootless: boolean;
}

export interface EnginePlatform {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * min(the server's API, the newest we know), never below the server's minimum. Undefined when the
 * server does not say (requests then stay unversioned, as before).
 */
export function negotiateApiVersion(server: VersionAnswer, newest = NEWEST_KNOWN_API): string | undefined {
  if (!isVersion(server.ApiVersion)) return undefined;
  const chosen = compareVersions(server.ApiVersion, newest) < 0 ? server.ApiVersion : newest;
  return isVersion(server.MinAPIVersion) && compareVersions(chosen, server.MinAPIVersion) < 0 ? server.MinAPIVersion : chosen;
}

function isVersion(v: string | undefined): v is string {
  return v !== undefined && /^\d+\.\d+$/.test(v);
}

/** "1.41" against "1.9": numerically, part by part. */
export function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

export function storageOf(info: InfoAnswer): string {
  const driverType = info.DriverStatus?.find(([k]) => k === 'driver-type')?.[1];
  if (driverType?.startsWith('io.containerd.snapshotter')) return 'containerd';
  return info.Driver ?? 'unknown';
}

/**
 * GET /version says "arm" for every 32-bit ARM; the machine name of GET /info (uname -m) says
 * which. arm64 has no variant, as in image indexes (its "v8" is the default and omitted).
 */
export function variantOf(arch: string, machine: string | undefined): string | undefined {
  if (arch !== 'arm') return undefined;
  const v = /^armv(\d)/.exec(machine ?? '')?.[1];
  return v ? `v${v}` : undefined;
}

export class EngineFacts {
  private infoAnswer?: Promise<InfoAnswer>;
  private platformAnswer?: Promise<EnginePlatform>;

  constructor(
    private readonly docker: { info(): Promise<unknown> },
    readonly version: VersionAnswer,
    /** What requests are sent as (`/v<apiVersion>/…`), undefined when unversioned. */
    readonly apiVersion: string | undefined,
  ) {}

  private rawInfo(): Promise<InfoAnswer> {
    this.infoAnswer ??= this.docker.info().then((i) => i as InfoAnswer);
    this.infoAnswer.catch(() => (this.infoAnswer = undefined));
    return this.infoAnswer;
  }

  async info(): Promise<EngineInfo> {
    const i = await this.rawInfo();
    return {
      version: this.version.Version ?? 'unknown',
      apiVersion: this.version.ApiVersion ?? 'unknown',
      os: this.version.Os ?? 'unknown',
      arch: this.version.Arch ?? 'unknown',
      storage: storageOf(i),
      rootless: (i.SecurityOptions ?? []).some((o) => o.split(',').includes('name=rootless')),
    };
  }

  /** From GET /version alone, except on 32-bit ARM, where GET /info tells the variant. */
  platform(): Promise<EnginePlatform> {
    this.platformAnswer ??= (async () => {
      const os = this.version.Os ?? 'unknown';
      const architecture = this.version.Arch ?? 'unknown';
      const variant = architecture === 'arm' ? variantOf(architecture, (await this.rawInfo()).Architecture) : undefined;
      return variant ? { os, architecture, variant } : { os, architecture };
    })();
    this.platformAnswer.catch(() => (this.platformAnswer = undefined));
    return this.platformAnswer;
  }
}
