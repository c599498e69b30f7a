#!/usr/bin/env bash
# The main job in one command (npm start): the extension in a real VS Code, on a real server.
# Brings up the test servers, installs code-server (VS Code in the browser) if needed, packages
# the extension, makes a git repository of examples/hello (once) and deploys it to bm1 when
# nothing runs there yet, then serves VS Code with the extension installed and that folder open
# until Ctrl-C. Run as root (the test servers are namespaces).
#
#   BM_DEMO_DIR   the demo repository     (default /tmp/baremetal-demo)
#   BM_DEMO_PORT  VS Code's port          (default 8443, or a free one when taken)
#   BM_DEMO_APP   the app's name on bm1   (default hello, answering on port 8080)
#
# `npm start -- --check` (what the tests run on a fresh tools folder, BM_TOOLS_DIR): the same
# steps, then, once VS Code serves its workbench page, stops it and exits 0.
set -euo pipefail
check=no
if [[ ${1:-} == --check ]]; then check=yes; fi
cd "$(dirname "$0")/.."
project=$PWD

bash scripts/setup.sh
echo "› bringing up the test servers (bm1, bm2, bmbare)…" >&2
bash scripts/test-servers.sh up 2 >/dev/null
code_server=$(bash scripts/install-code-server.sh)
echo "› packaging the extension" >&2
pack_log=$(mktemp)
vsix=$(bash scripts/e2e/package-vsix.sh 2>"$pack_log") || { cat "$pack_log" >&2; exit 1; }
rm -f "$pack_log"

env_json=/srv/baremetal-test/env.json
host=$(node -e 'const e=require(process.argv[1]); console.log(e.servers.find(s=>s.name==="bm1").host)' "$env_json")
# The default workstation (Docker 26 with the containerd store) and its buildx, as a developer has them.
DOCKER_HOST=$(node -e 'console.log(require(process.argv[1]).dockerHost)' "$env_json")
DOCKER_CONFIG=$(node -e 'console.log(require(process.argv[1]).dockerConfig)' "$env_json")
export DOCKER_HOST DOCKER_CONFIG
export BAREMETAL_SSH_CONFIG=/srv/baremetal-test/client/ssh_config
export SSH_AUTH_SOCK=

demo=${BM_DEMO_DIR:-/tmp/baremetal-demo}
app=${BM_DEMO_APP:-hello}
app_port=${BM_DEMO_APP_PORT:-8080}
if [[ ! -d $demo/.git ]]; then
  echo "› making a git repository of examples/hello in $demo" >&2
  mkdir -p "$demo"
  cp -r examples/hello/. "$demo/"
  cat >"$demo/baremetal.json" <<JSON
{
  "app": "$app", // the image is $app:<commit>
  "servers": {
    "bm1": { "host": "bm1" } // a Host of the ssh config
  },
  "build": { "dockerfile": "Dockerfile", "context": "." },
  "run": {
    "ports": ["$app_port:8080"],
    "env": { "GREETING": "hi" },
    "restart": "unless-stopped",
    "healthcheck": { "port": 8080, "path": "/", "timeoutSeconds": 20 }
  },
  "keep": 5
}
JSON
  git -C "$demo" init -q -b main
  git -C "$demo" add -A
  git -C "$demo" -c user.name="Demo" -c user.email=demo@example.test commit -qm "hello, first version"
fi

# A first deploy (CLI), so the sidebar has something to show; later ones are yours.
current=$(node dist/cli.js history --json --cwd "$demo" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).some(h=>h.current)?"yes":"")}catch{console.log("")}})')
if [[ -z $current ]]; then
  node dist/cli.js deploy --cwd "$demo"
fi

# VS Code's own state lives next to the demo (settings, the installed extension, its caches).
state=${BM_DEMO_STATE:-$demo-vscode}
mkdir -p "$state"/{home,tmp,user-data/User,extensions,xdg/config,xdg/data,xdg/cache,xdg/state}
cat >"$state/user-data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "workbench.colorTheme": "Default Dark Modern",
  "workbench.tips.enabled": false,
  "editor.minimap.enabled": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "update.mode": "none",
  "chat.disableAIFeatures": true,
  "git.openRepositoryInParentFolders": "never"
}
JSON
tools=$(dirname "$(dirname "$(dirname "$(dirname "$code_server")")")")
node24=$(ls -d "$tools"/node-24.* | head -n 1)
run_env=(env "PATH=$node24/bin:$PATH" "HOME=$state/home" "TMPDIR=$state/tmp"
  "XDG_CONFIG_HOME=$state/xdg/config" "XDG_DATA_HOME=$state/xdg/data" "XDG_CACHE_HOME=$state/xdg/cache" "XDG_STATE_HOME=$state/xdg/state")
dirs=(--user-data-dir "$state/user-data" --extensions-dir "$state/extensions")
"${run_env[@]}" "$code_server" "${dirs[@]}" --install-extension "$vsix" --force >/dev/null

port=${BM_DEMO_PORT:-8443}
if [[ $port == 0 ]] || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  taken=$port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  echo "› port $taken is taken: using $port" >&2
fi

# Its own process group (setsid), so that Ctrl-C stops code-server and its extension hosts.
setsid "${run_env[@]}" "$code_server" "${dirs[@]}" --auth none --bind-addr "127.0.0.1:$port" \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --ignore-last-opened "$demo" >"$state/code-server.log" 2>&1 &
pid=$!
stop() {
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -rf "${state:?}/tmp"/*
}
trap stop EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$state/code-server.log" >&2; exit 1; }
  sleep 0.2
done

url="http://127.0.0.1:$port/?folder=$(node -e 'console.log(encodeURIComponent(process.argv[1]))' "$demo")"
if [[ $check == yes ]]; then
  # VS Code answers: the workbench page of the demo folder, served by code-server.
  page=$(curl -fsSL "$url") || { tail -n 30 "$state/code-server.log" >&2; exit 1; }
  grep -q 'vscode-workbench-web-configuration\|workbench' <<<"$page" || { echo "code-server did not serve the workbench" >&2; exit 1; }
  curl -fsS "http://$host:$app_port/" | grep -q 'id="commit"' || { echo "the example app does not answer on $host:$app_port" >&2; exit 1; }
  echo "› check: VS Code answered at $url; the app answers at http://$host:$app_port/" >&2
  exit 0
fi
cat >&2 <<EOF

The app answers at http://$host:$app_port/ (from this machine).
VS Code with Bare Metal Deploy, on $demo:

  $url

Open the Bare Metal view in the activity bar: commit a change in $demo, click the rocket on it in
Commits, watch it roll out; right-click an earlier deploy for "Roll Back to This".
(From another machine: ssh -L $port:127.0.0.1:$port this-machine, then open the URL there.)
Ctrl-C stops VS Code (the app keeps running on bm1).
EOF
echo "$url"
wait "$pid"
