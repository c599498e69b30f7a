import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { LineSplitter } from '../../core/logs/line-splitter';

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

/**
 * Docker's JSON messages are small (a stats sample: a few KiB); a longer line is cut by the
 * splitter, so it no longer parses and is skipped, without ever being held whole.
 */
const MAX_JSON_LINE = 1024 * 1024;

/** One JSON value per line (progress, stats), as they come; lines that are not JSON are skipped. */
export async function* jsonLines<T>(stream: Readable): AsyncGenerator<T> {
  const lines = new LineSplitter(MAX_JSON_LINE);
  const decoder = new StringDecoder('utf8');
  const parse = (line: string | undefined): T | undefined => {
    if (!line?.trim()) return undefined;
    try {
      return JSON.parse(line) as T;
    } catch {
      return undefined;
    }
  };
  for await (const chunk of stream) {
    for (const line of lines.push(decoder.write(chunk as Buffer))) {
      const m = parse(line);
      if (m) yield m;
    }
  }
  for (const line of [...lines.push(decoder.end()), lines.end()]) {
    const m = parse(line);
    if (m) yield m;
  }
}
