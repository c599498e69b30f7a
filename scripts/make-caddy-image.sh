#!/usr/bin/env bash
# local/caddy:2 for the tests, without a registry: Debian 12's caddy 2.6.2 binary and the libraries
# it links (libc, libzstd), with busybox for a shell, imported into the engine at $1 (a DOCKER_HOST).
# Its entry point is the same as the official caddy:2 image's (caddy run --config … --adapter …),
# so the product treats it as it treats caddy:2. Cached: does nothing when the image is there.
set -euo pipefail
engine=$1
ref=${2:-local/caddy:2}
docker -H "$engine" image inspect "$ref" >/dev/null 2>&1 && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools=${BM_TOOLS_DIR:-/opt/baremetal-tools}
deb=$(ls "$tools"/caddy-deb/caddy_*.deb 2>/dev/null | head -n 1 || true)
if [[ -z $deb ]]; then
  mkdir -p "$tools/caddy-deb" && chmod 755 "$tools/caddy-deb"
  (cd "$tools/caddy-deb" && apt-get download -qq caddy >/dev/null 2>&1)
  deb=$(ls "$tools"/caddy-deb/caddy_*.deb | head -n 1)
fi
dpkg -x "$deb" "$work/deb"
root=$work/root
mkdir -p "$root"/{bin,usr/bin,etc,tmp,data,config,etc/caddy,lib64,lib/x86_64-linux-gnu}
cp "$work/deb/usr/bin/caddy" "$root/usr/bin/caddy"
# The libraries the binary links, at the paths the dynamic loader looks them up.
ldd "$work/deb/usr/bin/caddy" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
  [[ -f $lib ]] && mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
done
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh ls cat wget; do ln -s /bin/busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ca-certificates.crt" 2>/dev/null || true
printf ':80 {\n\trespond "Caddy works"\n}\n' >"$root/etc/caddy/Caddyfile"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker -H "$engine" import \
  -c 'ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data' -c 'EXPOSE 80 443 2019' \
  -c 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
  -c 'LABEL org.opencontainers.image.version=2.6.2' - "$ref" >/dev/null
echo "$ref"
