/**
 * The one place where arguments become a remote shell command line. SSH "exec" takes a string
 * that the server's login shell parses, so every argument is single-quoted (a quote inside is
 * closed, escaped and reopened). Nothing user-supplied is ever concatenated unquoted.
 */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('shellQuote: empty command');
  return argv.map(quoteOne).join(' ');
}

function quoteOne(arg: string): string {
  if (arg.includes('\0')) throw new Error('shellQuote: argument contains a NUL byte');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
