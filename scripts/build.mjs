// Bundles the extension and the CLI with esbuild. ssh2's optional native parts are left out:
// it loads them in try/catch and falls back to pure JS (notes: transfer-and-ssh.md).
import { build } from 'esbuild';
import { chmod, copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  logLevel: 'warning',
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build does not.
  mainFields: ['module', 'main'],
};

await build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' });
await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } });
await chmod('dist/cli.js', 0o755);

/** A webview's page script, bundled for the browser, with its stylesheets copied beside it. */
async function webview(name, styles) {
  await build({
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: production,
    sourcemap: production ? false : 'inline',
    entryPoints: [`webview/src/${name}.ts`],
    outfile: `dist/webview/${name}.js`,
    logLevel: 'warning',
  });
  for (const [from, to] of styles) await copyFile(from, `dist/webview/${to}`);
}

// The log panel (xterm and its stylesheet) and the resource panel (uPlot's charts).
await webview('logs', [[require.resolve('@xterm/xterm/css/xterm.css'), 'xterm.css'], ['webview/src/logs.css', 'logs.css']]);
await webview('resources', [[require.resolve('uplot/dist/uPlot.min.css'), 'uPlot.min.css'], ['webview/src/resources.css', 'resources.css']]);

// dockerode reads its gRPC .proto files at run time, relative to its own module.
const protoDir = join(dirname(require.resolve('dockerode/package.json')), 'lib', 'proto');
await mkdir('dist/proto', { recursive: true }).catch(() => undefined);
for (const f of await readdir(protoDir).catch(() => [])) await copyFile(join(protoDir, f), join('dist/proto', f));
console.error('built dist/extension.js and dist/cli.js');
