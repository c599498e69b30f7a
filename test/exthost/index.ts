/**
 * Runs inside VS Code's real extension host (loaded as `extensionTestsPath`, bundled by
 * test/e2e/exthost.test.ts with esbuild): mocha over the suites below. VS Code turns the promise
 * run() returns into the window's exit code (0 when every test passed). The report is written to
 * BM_EXTHOST_REPORT for the node:test side to print.
 */
import { writeFileSync } from 'node:fs';
import Mocha from 'mocha';
import { commandsSuite } from './commands.test';
import { viewsSuite } from './views.test';

/** A spec-like reporter whose lines go to a file (the extension host's stdout is nobody's). */
class FileReporter extends Mocha.reporters.Base {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const lines: string[] = [];
    const say = (line: string) => {
      lines.push(line);
      console.log(line);
    };
    let depth = 0;
    runner.on('suite', (suite) => {
      if (suite.title) say(`${'  '.repeat(depth)}${suite.title}`);
      depth += suite.title ? 1 : 0;
    });
    runner.on('suite end', (suite) => {
      depth -= suite.title ? 1 : 0;
    });
    runner.on('pass', (test) => say(`${'  '.repeat(depth)}✔ ${test.title} (${test.duration ?? 0} ms)`));
    runner.on('pending', (test) => say(`${'  '.repeat(depth)}- ${test.title} (skipped)`));
    runner.on('fail', (test, err: Error) => say(`${'  '.repeat(depth)}✖ ${test.title}\n${String(err.stack ?? err).replace(/^/gm, `${'  '.repeat(depth + 2)}`)}`));
    runner.once('end', () => {
      const s = this.stats;
      say(`${s.passes} passing, ${s.failures} failing, ${s.pending} pending (${s.duration ?? 0} ms)`);
      const file = process.env.BM_EXTHOST_REPORT;
      if (file) writeFileSync(file, lines.join('\n') + '\n');
    });
  }
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: FileReporter });
  // The bdd functions (describe, it, …) exist once mocha announces a file; the suites are
  // functions so that they are declared only now.
  mocha.suite.emit('pre-require', globalThis, 'exthost', mocha);
  commandsSuite();
  viewsSuite();
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve()));
  });
}
