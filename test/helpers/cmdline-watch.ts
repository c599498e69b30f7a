/**
 * Every process's command line, sampled over and over while a test runs something: what `ps`
 * shows any user of the machine. The test servers share this machine's PID namespace (each is
 * its own network and mount namespace only), and so do the workstation engines and their
 * builds' containers: one /proc holds the workstation's processes (the CLI, buildx, BuildKit's
 * build steps) and the servers' (sshd, dockerd, containerd's shims, the app's container) alike.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface CmdlineWatch {
  /** Ends the sampling; what was seen. */
  stop(): Promise<CmdlineReport>;
}

export interface CmdlineReport {
  /** Full passes over /proc. */
  passes: number;
  /** Distinct command lines seen (arguments joined by spaces). */
  commands: Set<string>;
  /** The command lines holding one of the needles, and which. */
  hits: { needle: string; cmdline: string }[];
}

async function pass(needles: readonly string[], commands: Set<string>, hits: CmdlineReport['hits']): Promise<void> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
  await Promise.all(
    pids.map(async (pid) => {
      // A process may end between readdir and read: nothing to see then.
      const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
      if (!raw?.length) return;
      const cmdline = raw.toString('utf8').replace(/\0+$/, '').split('\0').join(' ');
      if (commands.has(cmdline)) return;
      commands.add(cmdline);
      for (const needle of needles) if (cmdline.includes(needle)) hits.push({ needle, cmdline });
    }),
  );
}

/** Samples all command lines until stop(), looking for any of the needles. */
export function watchCmdlines(needles: readonly string[], everyMs = 20): CmdlineWatch {
  const commands = new Set<string>();
  const hits: CmdlineReport['hits'] = [];
  let passes = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await pass(needles, commands, hits);
      passes += 1;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await pass(needles, commands, hits);
      return { passes: passes + 1, commands, hits };
    },
  };
}
