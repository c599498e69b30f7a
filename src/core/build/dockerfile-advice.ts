/**
 * Layer order decides what a one-line change costs: when the whole app is copied before the
 * dependencies are installed, every code change invalidates (and resends) the dependency layer.
 * This finds that shape in a Dockerfile so the user is told before anything is sent.
 */
// Commands that install dependencies (not ones that build the app: those belong after COPY . .).
const INSTALL = /\b(npm (ci|install|i)\b|yarn(\s+install)?\s*($|&&|;|\|)|pnpm (install|i)\b|pip3? install|poetry install|bundle install|go mod download|cargo fetch|composer install|apt-get install|apk add)/;

export interface DockerfileAdvice {
  line: number;
  message: string;
}

export function adviseOnDockerfile(text: string): DockerfileAdvice[] {
  const advice: DockerfileAdvice[] = [];
  let copyAll: { line: number; text: string } | undefined;
  const lines = joinContinuations(text);
  for (const { line, text: instr } of lines) {
    const m = /^\s*(\w+)\s+(.*)$/.exec(instr);
    if (!m) continue;
    const [, keyword, rest] = m;
    const kw = keyword.toUpperCase();
    if (kw === 'FROM') copyAll = undefined; // a new stage starts clean
    if ((kw === 'COPY' || kw === 'ADD') && copiesWholeContext(rest)) copyAll ??= { line, text: instr.trim() };
    if (kw === 'RUN' && copyAll && INSTALL.test(rest)) {
      advice.push({
        line,
        message: `"${copyAll.text}" (line ${copyAll.line}) comes before "${instr.trim().slice(0, 60)}" (line ${line}): every code change rebuilds and resends the dependency layer; copy the dependency manifests (package.json and its lock file, requirements.txt, go.mod…) and install them first, then copy the rest.`,
      });
      copyAll = undefined;
    }
  }
  return advice;
}

function copiesWholeContext(args: string): boolean {
  const parts = args.split(/\s+/).filter((p) => p && !p.startsWith('--'));
  const sources = parts.slice(0, -1);
  return sources.some((s) => s === '.' || s === './' || s === '*');
}

function joinContinuations(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let current: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    // Docker drops comment lines, inside a continued instruction too.
    if (/^\s*#/.test(raw) || (!current && /^\s*$/.test(raw))) return;
    const piece = raw.replace(/\\\s*$/, '');
    current = current ? { line: current.line, text: `${current.text} ${piece.trim()}` } : { line: i + 1, text: piece };
    if (!/\\\s*$/.test(raw)) {
      out.push(current);
      current = undefined;
    }
  });
  if (current) out.push(current);
  return out;
}
