#!/usr/bin/env bash
# The one test command (npm test): typecheck, lint, build, unit tests, then the integration
# tests on real test servers, which are brought up here and always taken down again.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*" >&2; }

step "typecheck"
npx tsc -p . --noEmit
npx tsc -p webview --noEmit
step "lint"
npx eslint src test webview
step "build"
node scripts/build.mjs

step "unit tests"
# shellcheck disable=SC2046
node --import tsx --test --test-reporter=spec $(find test/unit -name '*.test.ts' | sort)
step "fuzzing the parsers (the fast part of npm run faults: 1.5 s each), and the faults suite's own verdicts"
node --import tsx --test --test-reporter=spec test/faults/fuzz.test.ts test/faults/verdicts.test.ts

if [[ ${BM_SKIP_INTEGRATION:-} == 1 ]]; then
  echo "BM_SKIP_INTEGRATION=1: integration tests skipped" >&2
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "The integration tests need root (network namespaces, dockerd per test server): run as root, or set BM_SKIP_INTEGRATION=1." >&2
  exit 1
fi

trap 'bash scripts/test-servers.sh down >/dev/null 2>&1 || true' EXIT
if [[ ${BM_SKIP_MAIN_CHECK:-} != 1 ]]; then
  step "the main command (npm start) on an empty tools folder, until VS Code answers"
  # As a new user runs it: through npm (whose environment once broke code-server's install),
  # with nothing cached in the tools folder; the npm cache makes the downloads quick.
  fresh_tools=$(mktemp -d /tmp/baremetal-fresh-tools.XXXXXX) && chmod 755 "$fresh_tools" # apt runs its downloads as _apt
  demo_dir=$(mktemp -d /tmp/baremetal-check-demo.XXXXXX)
  rmdir "$demo_dir"
  BM_TOOLS_DIR=$fresh_tools BM_DEMO_DIR=$demo_dir BM_DEMO_PORT=0 npm start --silent -- --check
  rm -rf "$fresh_tools" "$demo_dir" "$demo_dir-vscode"
fi

step "test servers up"
# Fresh servers: nothing a previous step deployed is there (tests count the bytes of first deploys).
bash scripts/test-servers.sh up 2 >/dev/null

step "integration tests (real servers)"
# One file at a time: they share the test servers and measure what crosses their links.
# shellcheck disable=SC2046
node --import tsx --test --test-concurrency=1 --test-reporter=spec $(find test/integration -name '*.test.ts' | sort)

step "faults (the fast part of npm run faults: deaths near the switch, damaged files)"
FAULTS_SET=fast FAULTS_NO_FUZZ=1 node --import tsx scripts/faults.ts

if [[ ${BM_SKIP_E2E:-} == 1 ]]; then
  echo "BM_SKIP_E2E=1: editor tests skipped" >&2
  exit 0
fi
step "editor tests (real VS Code in headless Chromium)"
# The packaged .vsix installed into code-server, driven by Chromium; then mocha inside the real
# extension host. Screenshots and logs of failures go to test-artifacts/.
BM_CODE_SERVER=$(bash scripts/install-code-server.sh)
pack_log=$(mktemp)
BM_E2E_VSIX=$(bash scripts/e2e/package-vsix.sh 2>"$pack_log") || { cat "$pack_log" >&2; exit 1; }
rm -f "$pack_log"
export BM_CODE_SERVER BM_E2E_VSIX
rm -rf test-artifacts
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/e2e/install.test.ts test/e2e/editor.test.ts test/e2e/logs.test.ts test/e2e/logs-merged.test.ts test/e2e/exthost.test.ts test/e2e/open-in-browser.test.ts test/e2e/proxy-deploy.test.ts test/e2e/resources.test.ts test/e2e/shell.test.ts test/e2e/fleet.test.ts test/e2e/roles.test.ts test/e2e/swarm.test.ts test/e2e/silent-link.test.ts test/e2e/inline-actions.test.ts test/e2e/cancel.test.ts test/e2e/restricted-mode.test.ts
