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

// The log panel's webview: bundled for the browser, with xterm's stylesheet beside it.
await build({
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  minify: production,
  sourcemap: production ? false : 'inline',
  entryPoints: ['webview/src/logs.ts'],
  outfile: 'dist/webview/logs.js',
  logLevel: 'warning',
});
await copyFile(require.resolve('@xterm/xterm/css/xterm.css'), 'dist/webview/xterm.css');
await copyFile('webview/src/logs.css', 'dist/webview/logs.css');

// The resource panel's webview (Show Resource Use): uPlot's charts, with its stylesheet beside it.
await build({
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  minify: production,
  sourcemap: production ? false : 'inline',
  entryPoints: ['webview/src/resources.ts'],
  outfile: 'dist/webview/resources.js',
  logLevel: 'warning',
});
await copyFile(require.resolve('uplot/dist/uPlot.min.css'), 'dist/webview/uPlot.min.css');
await copyFile('webview/src/resources.css', 'dist/webview/resources.css');

// dockerode reads its gRPC .proto files at run time, relative to its own module.
const protoDir = join(dirname(require.resolve('dockerode/package.json')), 'lib', 'proto');
await mkdir('dist/proto', { recursive: true }).catch(() => undefined);
for (const f of await readdir(protoDir).catch(() => [])) await copyFile(join(protoDir, f), join('dist/proto', f));
console.error('built dist/extension.js and dist/cli.js');
