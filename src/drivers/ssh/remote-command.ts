/**
 * The one place where arguments become the command string of an SSH "exec" request.
 *
 * sshd hands that string to the login's shell (`$SHELL -c STRING`), and login shells disagree on
 * quoting: fish reads `\'` and `\\` as escapes inside single quotes, csh expands `!` and breaks on
 * newlines there, zsh with RC_QUOTES reads `''` as a quote. No quoting is right for all of them,
 * so no value is quoted at all. The string holds only constant text and words made of letters,
 * digits and `_ . / - + =`, each inside single quotes: every shell (sh, bash, dash, zsh, ksh, fish,
 * csh, tcsh) hands such a word over unchanged. A constant POSIX `sh` script then turns the words
 * back into the arguments and runs them, so the first shell to see a user value is that `sh`,
 * and it sees it as the value of a parameter, never as text to parse.
 *
 * A word is `p` + the argument when it is already made of the safe letters (most are: `docker`,
 * `/var/run/docker.sock`), else `b` + the argument's UTF-8 bytes in base64 (decoded on the
 * server by `base64 -d`, in coreutils and busybox).
 */

/**
 * $1.. are the words. Each is decoded, moved to the end of the list, and after one round the list
 * is the argv, run with exec. The "." appended before decoding keeps trailing newlines, which
 * $(...) would strip. One line without `'`, `\` or `!`: it is itself single-quoted for the login
 * shell, so it must be a word every shell leaves alone too.
 */
export const DECODER =
  'n=$#; while [ "$n" -gt 0 ]; do case $1 in p*) v=${1#p};; ' +
  '*) v=$(printf %s "${1#b}" | base64 -d && echo .) || { echo "cannot decode the command: base64 -d failed on this server" >&2; exit 127; }; v=${v%.};; esac; ' +
  'shift; set -- "$@" "$v"; n=$((n - 1)); done; exec "$@"';

const PLAIN = /^[A-Za-z0-9_./-]*$/;

export function remoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('remoteCommand: empty command');
  const words = argv.map((arg) => {
    // A process argument ends at NUL: the program would silently get a shorter value.
    if (arg.includes('\0')) throw new Error('remoteCommand: argument contains a NUL byte');
    return PLAIN.test(arg) ? `p${arg}` : `b${Buffer.from(arg, 'utf8').toString('base64')}`;
  });
  return `sh -c '${DECODER}' sh ${words.map((w) => `'${w}'`).join(' ')}`;
}
