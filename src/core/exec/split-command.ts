import { BmError } from '../errors';

/**
 * A command typed in one line ("./manage.py migrate --plan") as the argv the container runs, split
 * the way a shell splits words: blanks separate, '…' is literal, "…" keeps \" \\ \$ \` escapes,
 * a backslash outside quotes escapes the next character. Nothing else is interpreted: no
 * variables, globs, pipes or `&&` (for those, type sh -c '…'), so the text never becomes a script.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new BmError('InvalidCommand', `The command has an opening ${quote} without its closing one: close it, or escape it with a backslash.`);
  if (inWord) words.push(word);
  if (!words.length) throw new BmError('InvalidCommand', 'The command is empty: type the program to run and its arguments, e.g. ./manage.py migrate.');
  return words;
}
