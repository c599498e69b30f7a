import type { Readable } from 'node:stream';

/** Docker's progress message (build, pull, load): one JSON object per line. */
export interface ProgressMessage {
  stream?: string;
  status?: string;
  error?: string;
}

/** The messages of a Docker progress stream, as they come; lines that are not JSON are skipped. */
export function progressMessages(stream: Readable): AsyncGenerator<ProgressMessage> {
  return jsonLines<ProgressMessage>(stream);
}

/** One JSON value per line (progress, stats), as they come; lines that are not JSON are skipped. */
export async function* jsonLines<T>(stream: Readable): AsyncGenerator<T> {
  let buffered = '';
  const parse = (line: string): T | undefined => {
    if (!line.trim()) return undefined;
    try {
      return JSON.parse(line) as T;
    } catch {
      return undefined;
    }
  };
  for await (const chunk of stream) {
    buffered += (chunk as Buffer).toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const m = parse(line);
      if (m) yield m;
    }
  }
  const last = parse(buffered);
  if (last) yield last;
}
