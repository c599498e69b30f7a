#!/usr/bin/env bash
# The main job in one command (npm start): bring up a real test server, make a git repository of
# examples/hello, deploy it with the CLI, and print where it answers. Run as root (namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs

echo "› bringing up the test servers (bm1, bm2, bmbare)…" >&2
bash scripts/test-servers.sh up 2 >/dev/null
env_json=/srv/baremetal-test/env.json
host=$(node -e 'const e=require(process.argv[1]); console.log(e.servers.find(s=>s.name==="bm1").host)' "$env_json")
export DOCKER_HOST=unix:///srv/baremetal-test/dev/docker.sock
export BAREMETAL_SSH_CONFIG=/srv/baremetal-test/client/ssh_config

demo=${BM_DEMO_DIR:-/tmp/baremetal-demo}
if [[ ! -d $demo/.git ]]; then
  echo "› making a git repository of examples/hello in $demo" >&2
  mkdir -p "$demo"
  cp -r examples/hello/. "$demo/"
  git -C "$demo" init -q -b main
  git -C "$demo" add -A
  git -C "$demo" -c user.name=Demo -c user.email=demo@example.test commit -qm "hello, first version"
fi

node dist/cli.js deploy --cwd "$demo"
echo >&2
echo "The app answers at http://$host:8080/ (from this machine)." >&2
echo "Try: cd $demo, change www/index.html, commit, then:" >&2
echo "  DOCKER_HOST=$DOCKER_HOST BAREMETAL_SSH_CONFIG=$BAREMETAL_SSH_CONFIG node $PWD/dist/cli.js deploy" >&2
echo "  … history / rollback / status / logs --follow" >&2
curl -fsS "http://$host:8080/" || true
