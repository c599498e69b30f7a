import type { Logger, Phase, ServerFiles } from '../ports';

/** One line of the deploy journal kept on the server: every client reads the same history. */
export interface DeployRecord {
  id: string;
  kind: 'deploy' | 'rollback';
  app: string;
  server: string;
  commit: string;
  subject: string;
  author: string;
  /** Image ID (sha256:…) and the tag it was run by. */
  image: string;
  tag: string;
  /** user@host of the client that ran it. */
  who: string;
  startedAt: string;
  finishedAt: string;
  result: 'succeeded' | 'failed' | 'cancelled';
  /** The one-sentence reason of a failure. */
  reason?: string;
  bytesSent: number;
  phasesMs: Partial<Record<Phase, number>>;
  /** Built from uncommitted files (--allow-dirty). */
  dirty?: boolean;
  transport?: string;
  /** Where the image was built, when it was built for this deploy: "local" (then shipped) or "server". */
  builtOn?: 'local' | 'server';
}

/** The journal never grows without bound; old lines are dropped past this. */
const MAX_RECORDS = 1000;

export function stateDir(base: string, app: string): string {
  return `${base.replace(/\/+$/, '')}/${app}`;
}

export function journalPath(base: string, app: string): string {
  return `${stateDir(base, app)}/history.jsonl`;
}

/**
 * Oldest first, as stored. Lines that do not parse, or are not a whole record (a write cut short,
 * a hand edit, a record of a newer version of this tool), are skipped and logged, never fatal:
 * everything that reads a record (the views, `history`, rollback) can then trust its fields.
 */
export function parseJournal(text: string, logger?: Logger): DeployRecord[] {
  return journalLines(text, logger).flatMap((l) => (l.record ? [l.record] : []));
}

/** A stored line as it is, with the record it holds when this version knows it. */
interface JournalLine {
  raw: string;
  record?: DeployRecord;
}

/**
 * The journal's lines that hold a JSON object, each kept as written: a rewrite puts them back
 * byte for byte, so a record of a newer version (another kind, more fields) outlives a deploy
 * made with this one. Only what is not JSON at all (a line cut short) is dropped.
 */
function journalLines(text: string, logger?: Logger): JournalLine[] {
  const out: JournalLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      logger?.warn(`history: line ${i + 1} is not valid JSON; skipped`);
      return;
    }
    if (isDeployRecord(r)) out.push({ raw: line, record: r });
    else {
      logger?.warn(`history: line ${i + 1} is not a whole deploy record; skipped`);
      if (typeof r === 'object' && r !== null && !Array.isArray(r)) out.push({ raw: line });
    }
  });
  return out;
}

const TEXT_FIELDS = ['id', 'app', 'server', 'commit', 'subject', 'author', 'image', 'tag', 'who', 'startedAt', 'finishedAt'] as const;

function isDeployRecord(v: unknown): v is DeployRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    TEXT_FIELDS.every((k) => typeof r[k] === 'string') &&
    (r.kind === 'deploy' || r.kind === 'rollback') &&
    (r.result === 'succeeded' || r.result === 'failed' || r.result === 'cancelled') &&
    (r.reason === undefined || typeof r.reason === 'string') &&
    typeof r.bytesSent === 'number' &&
    typeof r.phasesMs === 'object' && r.phasesMs !== null && !Array.isArray(r.phasesMs)
  );
}

export async function readJournal(files: ServerFiles, base: string, app: string, logger?: Logger): Promise<DeployRecord[]> {
  const text = await files.read(journalPath(base, app));
  return text ? parseJournal(text, logger) : [];
}

/**
 * Appends one record and returns the records this version knows (oldest first). Called only
 * while holding the app lock, so read-modify-write is safe. The lines already there are written
 * back as they were, known or not (see journalLines).
 */
export async function appendJournal(files: ServerFiles, base: string, record: DeployRecord, logger?: Logger): Promise<DeployRecord[]> {
  await files.mkdirp(stateDir(base, record.app));
  const text = await files.read(journalPath(base, record.app));
  const lines = [...(text ? journalLines(text, logger) : []), { raw: JSON.stringify(record), record }].slice(-MAX_RECORDS);
  await files.writeAtomic(journalPath(base, record.app), lines.map((l) => l.raw).join('\n') + '\n');
  return lines.flatMap((l) => (l.record ? [l.record] : []));
}
