// Lint makes the layers mechanical: only the editor layer imports 'vscode' (types aside), only
// the drivers import dockerode, ssh2 and simple-git.
import tseslint from 'typescript-eslint';

const driverPackages = ['dockerode', 'ssh2', 'simple-git'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'webview/dist/**', 'test-artifacts/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'vscode', message: "Only src/editor and src/extension.ts may import 'vscode'.", allowTypeImports: true },
            ...driverPackages.map((name) => ({ name, message: `Only src/drivers may import ${name}.` })),
          ],
        },
      ],
    },
  },
  {
    files: ['src/editor/**/*.ts', 'src/extension.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: driverPackages.map((name) => ({ name, message: `Only src/drivers may import ${name}.` })) }],
    },
  },
  {
    files: ['src/drivers/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'Drivers must not depend on the editor.', allowTypeImports: true }] }],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'vscode', message: 'The core must run without VS Code.', allowTypeImports: false },
            ...driverPackages.map((name) => ({ name, message: 'The core talks to drivers through src/core/ports.ts only.' })),
          ],
          patterns: [{ group: ['**/drivers/**', '**/editor/**', '**/cli/**'], message: 'The core must not depend on outer layers.' }],
        },
      ],
    },
  },
  {
    // Browser code: talks to the extension only through the typed protocol.
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['vscode', ...driverPackages].map((name) => ({ name, message: 'The webview runs in the browser: use src/protocol messages.' })),
          patterns: [{ group: ['node:*', '**/core/**', '**/drivers/**', '**/editor/**', '**/cli/**'], message: 'The webview may import only src/protocol.' }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
