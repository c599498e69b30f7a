#!/usr/bin/env bash
# Docker Engine of today for the test servers and workstations: Debian 13's docker.io 26.1.5
# (API 1.45), containerd 1.7.24 and docker-buildx 0.13.1, unpacked into a tools folder (cached),
# never installed into the system (recipe: shared/notes/modern-engines.md). They run on
# Debian 12's libc with Debian 12's runc. Prints the folder: dockerd, docker-proxy, containerd,
# containerd-shim-runc-v2, docker-buildx. The mirror is the machine's own (debian-mirror.sh,
# whose BM_APT_ROOT lets tests give it other apt sources).
set -euo pipefail
for v in $(compgen -e); do case $v in npm_* | NODE | INIT_CWD) unset "$v" ;; esac; done
TOOLS=${BM_TOOLS_DIR:-/opt/baremetal-tools}
VERSION=26.1.5
out=$TOOLS/docker-$VERSION
if [[ -x $out/dockerd && -x $out/docker-buildx && -x $out/containerd-shim-runc-v2 ]]; then
  echo "$out" && exit 0
fi
# The same mirror the machine's own sources use (no address of our own: a machine may reach
# only its own mirror), with trixie's suite, in a private lists folder.
uri=$(bash "$(dirname "$0")/debian-mirror.sh" trixie trixie-updates) || exit 1
echo "› Docker Engine $VERSION and buildx from Debian 13's packages" >&2
apt_dir=$TOOLS/trixie-apt
mkdir -p "$apt_dir/lists/partial"
echo "deb $uri trixie main" >"$apt_dir/sources.list"
A=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists")
apt-get "${A[@]}" update -qq >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get "${A[@]}" download -qq docker.io/trixie containerd/trixie docker-buildx/trixie 2>/dev/null >/dev/null)
for d in "$tmp"/*.deb; do dpkg -x "$d" "$tmp/x"; done
mkdir -p "$out.tmp"
cp "$tmp"/x/usr/sbin/dockerd "$tmp"/x/usr/sbin/docker-proxy "$tmp"/x/usr/bin/containerd \
  "$tmp"/x/usr/bin/containerd-shim-runc-v2 "$tmp"/x/usr/libexec/docker/cli-plugins/docker-buildx "$out.tmp/"
"$out.tmp/dockerd" --version >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
