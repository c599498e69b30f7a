/**
 * Log lines on demand, for the log panel's editor tests: a CGI script the example's busybox
 * httpd serves from /www. (A module of its own: importing it from a test file would run that
 * file's tests too.)
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `GET /cgi-bin/seq?word&from&to` writes "word-from" … "word-to" to the app's log, one per line. */
const SEQ_CGI = `#!/bin/sh
# For the log panel's tests: ?word&from&to writes "word-from" ... "word-to" to the app's log
# (PID 1's stdout is the container's stdout), then answers "ok".
set -f
IFS='&'
set -- $QUERY_STRING
unset IFS
printf 'Content-Type: text/plain\\r\\n\\r\\n'
i=$2
while [ "$i" -le "$3" ]; do echo "$1-$i"; i=$((i + 1)); done >/proc/1/fd/1
echo ok
`;

/** Puts the script into a workspace made from examples/hello (commit it to deploy it). */
export function addSeqCgi(dir: string): void {
  mkdirSync(join(dir, 'www', 'cgi-bin'), { recursive: true });
  writeFileSync(join(dir, 'www', 'cgi-bin', 'seq'), SEQ_CGI);
  chmodSync(join(dir, 'www', 'cgi-bin', 'seq'), 0o755);
}
