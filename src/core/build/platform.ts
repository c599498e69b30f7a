import { BmError } from '../errors';

/** A platform as images and engines name it: os, CPU architecture, and the CPU's variant if any. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** "linux/amd64", "linux/arm/v7": what `--platform` takes. */
export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * Whether an image built for `image` runs on `server`. The variant counts only where both say
 * one, except arm64 whose only variant is v8 (engines report it either way).
 */
export function runsOn(image: string, server: Platform): boolean {
  const i = parsePlatform(image);
  if (i.os !== server.os || i.architecture !== server.architecture) return false;
  if (i.architecture === 'arm64') return true;
  return !i.variant || !server.variant || i.variant === server.variant;
}

/** One sentence for an image the server's CPU cannot run, with the two ways out. Nothing was sent. */
export function platformMismatch(commit: string, image: string, serverName: string, server: Platform): BmError {
  const want = platformString(server);
  return new BmError(
    'PlatformMismatch',
    `The image of ${commit.slice(0, 12)} was built for ${image} but ${serverName} runs ${want}, so it would die there with "exec format error": let your builder build ${want} (Docker Desktop, OrbStack and Colima emulate it; on Linux install QEMU emulation, e.g. Debian's qemu-user-static), or set "build": { "on": "server" } in baremetal.json to build on the server; nothing was sent and the previous version keeps serving.`,
  );
}
