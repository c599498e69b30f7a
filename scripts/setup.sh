#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for building, testing and the demo. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# A Docker Engine (the build machine's and each test server's), sshd for the test servers,
# busybox-static for base images made without a registry; rootless Podman (podman, uidmap,
# slirp4netns) for the Podman test server; faketime for the faults suite's clients with skewed clocks;
# fish, zsh and tcsh: login shells the SSH exec string must survive (a test server user has fish).
need=()
for pkg in docker.io openssh-server openssh-client iproute2 busybox-static git curl podman uidmap slirp4netns qemu-user-static binfmt-support faketime fish zsh tcsh; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "› apt-get install ${need[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm dependencies exactly as locked (skipped when already in place).
if [[ ! -d node_modules/.bin || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "› npm ci" >&2
  npm ci --no-audit --no-fund
fi

# Docker Engine 26 and buildx from Debian 13 for the test servers and workstations of today, and
# the editor tests' real VS Code (code-server) and Chromium; cached in /opt/baremetal-tools.
bash scripts/install-docker26.sh >/dev/null
bash scripts/install-code-server.sh >/dev/null
