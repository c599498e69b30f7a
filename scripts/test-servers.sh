#!/usr/bin/env bash
# Real test servers on this machine (recipe: /work/shared/notes/test-servers.md).
#
#   bash scripts/test-servers.sh up [N]             (re)create bm1..bmN (default 2) and bmbare;
#                                                   prints /srv/baremetal-test/env.json on stdout
#   bash scripts/test-servers.sh down [--all]       remove the servers (--all: stop the dev engine too)
#   bash scripts/test-servers.sh exec NAME -- CMD…  run CMD inside server NAME's net + mount namespaces
#   bash scripts/test-servers.sh status             show what is up
#   bash scripts/test-servers.sh restart-engine NAME  stop and start the Docker Engine of NAME (a "reboot")
#   bash scripts/test-servers.sh stop-engine|start-engine NAME  NAME's Docker Engine down (a node lost) or up again
#   bash scripts/test-servers.sh small-disk NAME SIZE|off  NAME's engine on an empty tmpfs of SIZE (or its own disk again)
#   bash scripts/test-servers.sh link|unlink NAME NAME…  let the servers reach each other (a swarm) or not
#
# Server bmN = network namespace bmN (veth bmN-h 10.213.N.1 <-> bmN-s 10.213.N.2) + a persistent mount
# namespace ($ROOT/bmN/mnt) with private /run /root /home /tmp + its own dockerd and sshd.
# bm1..bmN run Docker Engine 20.10 (Debian 12); bm26c (10.213.97.2) runs Docker Engine 26 with the
# containerd image store, bm26o (10.213.96.2) Docker Engine 26 with the classic overlay2 store
# (Debian 13's build: scripts/install-docker26.sh). bmbare (10.213.99.2) has sshd but no dockerd.
# Every server with Docker also has users "deployer" (in the docker group) and "outsider" (not),
# and "fisher" (in the docker group, fish as login shell: sshd hands exec strings to it),
# and three more sshds: port 2222 refuses all forwarding (NAME-nofwd), port 2223 has no SFTP
# subsystem (NAME-nosftp).
# Workstations are the engines that build (where a developer's laptop would): dev (Docker 20.10, in
# the host's namespaces, socket $ROOT/dev/docker.sock), ws26c (Docker 26, containerd store: the
# default, as on fresh installs today) and ws26o (Docker 26, classic store), each of the two in
# its own namespaces with its socket at $ROOT/wsNAME/run/docker.sock.
# Needs (Debian 12): docker.io openssh-server iproute2 busybox-static fish (these bring iptables,
# containerd, runc and openssh-client along; util-linux is always there).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

ROOT=/srv/baremetal-test
CLIENT=$ROOT/client
DEV=$ROOT/dev
DEV_HOST=unix://$DEV/docker.sock
CGROUP_PARENT=/baremetal-test # server containers' cgroups: $CGROUP_PARENT/<server>/<container>

log() { printf '[test-servers %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*" && exit 1; }

# Third octet of a server's /24 (bm1 -> 1, bmbare -> 99); also validates names given by users.
net_of() {
  case $1 in
    bmbare) echo 99 ;;
    bm26c) echo 97 ;;
    bmpod) echo 93 ;;
    bm26o) echo 96 ;;
    ws26c) echo 95 ;;
    ws26o) echo 94 ;;
    bm9[3-9]) die "$1 is reserved (10.213.${1#bm}.0/24 is taken)" ;;
    bm[1-9] | bm[1-9][0-9]) echo "${1#bm}" ;;
    *) die "unknown server '$1' (expected bm1..bm92, bm26c, bm26o, bmpod, bmbare, ws26c or ws26o)" ;;
  esac
}

# Which engine a host runs: 20 (Debian 12's 20.10), 26c / 26o (Docker 26, containerd / classic
# store), none (bmbare). Workstations (ws*) have no sshd.
engine_of() {
  case $1 in
    bmbare) echo none ;;
    bmpod) echo podman ;;
    bm26c | ws26c) echo 26c ;;
    bm26o | ws26o) echo 26o ;;
    *) echo 20 ;;
  esac
}
is_workstation() { [[ $1 == ws* ]]; }
D26=${BM_DOCKER26_DIR:-}

require_tools() { # iptables: every server's dockerd sets up NAT in its own network namespace
  local t pkgs="docker.io openssh-server iproute2 busybox-static fish"
  for t in ip nsenter unshare findmnt flock dockerd docker iptables sshd ssh ssh-keygen busybox fish; do
    command -v "$t" >/dev/null || die "$t is missing: apt-get install -y $pkgs"
  done
}

# wait_for SECONDS WHAT LOGFILE CMD...: retry CMD every 0.2 s; on timeout show the log and fail.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2 logfile=$3
  shift 3
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { tail -n 20 "$logfile" >&2; die "timed out waiting for $what"; }
    sleep 0.2
  done
}

# detach LOG CMD...: start a daemon that outlives this script, in its own session and holding
# none of our file descriptors (the lock on fd 9, or a caller's pipe that then never sees EOF).
detach() {
  local log=$1 fd
  shift
  (
    for fd in "/proc/$BASHPID/fd"/*; do fd=${fd##*/} && if ((fd > 2)); then exec {fd}>&-; fi; done
    exec setsid "$@" </dev/null >"$log" 2>&1
  ) &
}

alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; } # zombies: dead

# ---- finding what a previous (possibly killed) run left behind -------------------------------
# Servers that exist in any form: a state folder, a network namespace or a host-side veth.
known_servers() {
  {
    for d in "$ROOT"/bm*/; do if [[ -d $d ]]; then basename "$d"; fi; done
    ip netns list | cut -d' ' -f1
    ip -o link show | cut -d: -f2 | sed -n 's/^ *//; s/@.*//; s/-h$//p'
  } | grep -E '^(bm([0-9]+|bare|pod|26c|26o)|ws26[co])$' | sort -u || true
}

# Daemons whose command line names a path containing $1: dockerd, its containerd and shims,
# sshd listeners. They run detached (setsid) and outlive the run that started them.
daemon_pids() {
  local f pid
  { grep -lsF -- "$1" /proc/[0-9]*/cmdline || true; } | while read -r f; do
    pid=${f#/proc/} pid=${pid%/cmdline}
    case $(cat "/proc/$pid/comm" 2>/dev/null) in dockerd | containerd* | sshd) echo "$pid" ;; esac
  done
}

# Processes inside server $1: in its network namespace (docker-proxy, ssh sessions, `exec`
# commands), in its mount namespace, or in its containers' cgroups (containers whose shim died).
# Processes come and go while /proc is read, so errors here are expected and ignored.
namespace_pids() {
  local name=$1 ino
  if [[ -e /run/netns/$name ]]; then ip netns pids "$name" || true; fi
  if findmnt -rn --mountpoint "$ROOT/$name/mnt" >/dev/null; then
    ino=$(stat -L -c %i "$ROOT/$name/mnt")
    { find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/mnt' -lname "mnt:\[$ino\]" \
      2>/dev/null || true; } | cut -d/ -f3
  fi
  cat /sys/fs/cgroup{,/*}"$CGROUP_PARENT/$name"/*/cgroup.procs 2>/dev/null || true
}

# stdin: pids; stdout: those pids and all their descendants (e.g. containers under their shims).
with_descendants() {
  local -A kids=()
  local p line todo=()
  for p in /proc/[0-9]*; do
    read -r line 2>/dev/null <"$p/stat" || continue
    line=${line##*) } line=${line#* } # drop "pid (comm) state": the ppid comes next
    kids[${line%% *}]+=" ${p#/proc/}"
  done
  mapfile -t todo
  while ((${#todo[@]})); do
    p=${todo[-1]} && unset 'todo[-1]'
    [[ $p == "$$" ]] || echo "$p"
    read -ra line <<<"${kids[$p]:-}" && todo+=("${line[@]}")
  done | sort -un
}

kill_and_wait() { # SIGKILL the given pids, then wait (up to 5 s each) until they are gone
  local p i
  kill -9 "$@" 2>/dev/null || true
  for p in "$@"; do
    for ((i = 0; i < 50; i++)); do if alive "$p"; then sleep 0.1; else break; fi; done
  done
}

remove_servers() {
  local s servers pids
  mapfile -t servers < <(known_servers)
  # SIGKILL is enough: all server state is deleted below, and the containers' mounts, iptables
  # rules and veths vanish with the server's namespaces.
  mapfile -t pids < <({
    daemon_pids "$ROOT/bm"
    daemon_pids "$ROOT/ws"
    for s in "${servers[@]}"; do namespace_pids "$s"; done
  } | with_descendants)
  ((${#pids[@]} == 0)) || log "stopping ${#pids[@]} server processes"
  kill_and_wait "${pids[@]}"
  for s in "${servers[@]}"; do
    if findmnt -rn --mountpoint "$ROOT/$s/mnt" >/dev/null; then umount "$ROOT/$s/mnt"; fi
    if [[ -e /run/netns/$s ]]; then ip netns del "$s"; fi
    if ip link show "$s-h" >/dev/null 2>&1; then ip link del "$s-h"; fi # takes its peer along
  done
  # Never rm -rf across a mount point: unmount whatever the host still has under $ROOT/bm*.
  { findmnt -rn -o TARGET | grep -E "^$ROOT/(bm|ws)" || true; } | sort -r | xargs -r umount -l
  rm -rf "$ROOT"/bm* "$ROOT"/ws* "$ROOT/env.json" "$CLIENT/known_hosts" "$CLIENT/ssh_config"
  find /sys/fs/cgroup{,/*}"$CGROUP_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# ---- the dev (workstation) engine -----------------------------------------------------------
dev_answers() { docker -H "$DEV_HOST" info >/dev/null 2>&1; }

stop_dev() {
  local pid pids
  pid=$(cat "$DEV/dockerd.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && alive "$pid" && grep -qF "$DEV/" "/proc/$pid/cmdline"; then
    kill "$pid" # SIGTERM: a clean shutdown keeps its data root (the image cache) usable
    for _ in {1..100}; do if alive "$pid"; then sleep 0.2; else break; fi; done
  fi
  mapfile -t pids < <(daemon_pids "$DEV/" | with_descendants)
  kill_and_wait "${pids[@]}"
}

start_dev() {
  if dev_answers; then log "dev engine already running ($DEV_HOST)" && return 0; fi
  stop_dev # leftovers of a killed run (containerd, shims, a dockerd that does not answer)
  mkdir -p "$DEV" && echo '{}' >"$DEV/daemon.json" # ignore the host's /etc/docker/daemon.json
  log "starting dev engine"
  # Default bridge (docker0, 172.17.0.0/16 on the host) so that RUN steps in builds get a network.
  detach "$DEV/dockerd.log" dockerd --config-file "$DEV/daemon.json" --data-root "$DEV/docker" \
    --exec-root "$DEV/exec" --pidfile "$DEV/dockerd.pid" -H "$DEV_HOST"
}

# local/busybox:1 without a registry: /bin/busybox plus the links `busybox --install -s` would
# make, /etc/passwd and /etc/group, imported from a tar stream.
ensure_busybox_image() {
  local engine=${1:-$DEV_HOST} rootfs=$DEV/busybox-rootfs-$RANDOM applet
  docker -H "$engine" image inspect local/busybox:1 >/dev/null 2>&1 && return 0
  log "importing local/busybox:1 into $engine"
  rm -rf "$rootfs" && mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp}
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  busybox --list-full | while read -r applet; do
    [[ -e $rootfs/$applet ]] || ln -s /bin/busybox "$rootfs/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  chmod 700 "$rootfs/root" && chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -c . | docker -H "$engine" import \
    -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["/bin/sh"]' - local/busybox:1 >/dev/null
  rm -rf "$rootfs"
}

# local/busybox:1-arm64 in a workstation, for building linux/arm64 images here under QEMU
# emulation (qemu-user-static's binfmt handler, registered with F so it works in every
# namespace): Debian 12's arm64 busybox-static, fetched with private package lists. Best effort:
# without it the test that needs it says why it skips.
ensure_arm64_image() {
  local engine=$1 tools=${BM_TOOLS_DIR:-/opt/baremetal-tools} dir rootfs applet
  docker -H "$engine" image inspect local/busybox:1-arm64 >/dev/null 2>&1 && return 0
  [[ -x /usr/bin/qemu-aarch64-static ]] || { log "no qemu-user-static: no arm64 base image" && return 0; }
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 0
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || return 0
  dir=$tools/arm64-apt
  if ! ls "$dir"/busybox-static_*_arm64.deb >/dev/null 2>&1; then
    local uri A
    mkdir -p "$dir/lists/partial" && chmod 755 "$dir"
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    echo "deb [arch=arm64] ${uri:-http://deb.debian.org/debian} bookworm main" >"$dir/sources.list"
    A=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/lists" -o APT::Architecture=arm64 -o APT::Architectures=arm64)
    apt-get "${A[@]}" update -qq >/dev/null 2>&1 && (cd "$dir" && apt-get "${A[@]}" download -qq busybox-static >/dev/null 2>&1) || { log "could not fetch arm64 busybox" && return 0; }
  fi
  log "importing local/busybox:1-arm64 into $engine"
  rootfs=$(mktemp -d) && dpkg -x "$dir"/busybox-static_*_arm64.deb "$rootfs/x"
  mkdir -p "$rootfs/r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp} && cp "$rootfs/x/bin/busybox" "$rootfs/r/bin/busybox"
  busybox --list-full | while read -r applet; do [[ -e $rootfs/r/$applet ]] || ln -s /bin/busybox "$rootfs/r/$applet"; done
  tar -C "$rootfs/r" -c . | docker -H "$engine" import --platform linux/arm64 \
    -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["/bin/sh"]' - local/busybox:1-arm64 >/dev/null
  rm -rf "$rootfs"
}

# ---- servers ---------------------------------------------------------------------------------
ensure_client_key() { # created once, reused by every run
  mkdir -p "$CLIENT" && chmod 700 "$CLIENT"
  [[ -f $CLIENT/id_ed25519 ]] ||
    ssh-keygen -q -t ed25519 -N '' -C baremetal-test-client -f "$CLIENT/id_ed25519"
  [[ -f $CLIENT/id_ed25519.pub ]] || ssh-keygen -y -f "$CLIENT/id_ed25519" >"$CLIENT/id_ed25519.pub"
}

create_server() { # namespaces, private folders, host key, authorized key, sshd_config
  local name=$1 dir=$ROOT/$1 n
  n=$(net_of "$name")
  mkdir -p "$dir"/{run/sshd,root/.ssh,home,tmp,docker,ssh}
  chmod 700 "$dir/root" && chmod 1777 "$dir/tmp"
  ip netns add "$name"
  ip link add "$name-h" type veth peer name "$name-s" netns "$name"
  ip addr add "10.213.$n.1/24" dev "$name-h" && ip link set "$name-h" up
  ip -n "$name" addr add "10.213.$n.2/24" dev "$name-s"
  ip -n "$name" link set "$name-s" up && ip -n "$name" link set lo up
  # The mount namespace lives on as a bind mount on $dir/mnt (its parent mount must not be shared).
  touch "$dir/mnt" && unshare --mount="$dir/mnt" --propagation private true
  # Inside: drop the copied mounts of other namespaces (so no server keeps another's namespaces
  # alive), then put the private folders over /run /root /home /tmp.
  # shellcheck disable=SC2016 # $1 is expanded by the inner sh
  nsenter --mount="$dir/mnt" sh -ec '
    findmnt -rn -t nsfs -o TARGET | sort -r | xargs -r umount -l
    for d in run root home tmp; do mount --bind "$1/$d" "/$d"; done' sh "$dir"
  if is_workstation "$name"; then return 0; fi
  ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/ssh/ssh_host_ed25519_key"
  cp "$CLIENT/id_ed25519.pub" "$dir/root/.ssh/authorized_keys" # ~root/.ssh inside the server
  local u
  for u in deployer outsider podder fisher; do # non-root users, their homes private to this server
    mkdir -p "$dir/home/$u/.ssh" && cp "$CLIENT/id_ed25519.pub" "$dir/home/$u/.ssh/authorized_keys"
    chown -R "$u:$u" "$dir/home/$u" && chmod 700 "$dir/home/$u"
  done
  # Key auth only; forwarding on (the product tunnels to /var/run/docker.sock); room for
  # parallel tests (MaxSessions, MaxStartups). /run is the server's private one.
  printf '%s\n' "ListenAddress 10.213.$n.2" "Port 22" "HostKey $dir/ssh/ssh_host_ed25519_key" \
    "PidFile /run/sshd.pid" "AuthorizedKeysFile .ssh/authorized_keys" "UsePAM no" \
    "PermitRootLogin prohibit-password" "PubkeyAuthentication yes" "PasswordAuthentication no" \
    "KbdInteractiveAuthentication no" "StrictModes no" "AllowTcpForwarding yes" \
    "AllowStreamLocalForwarding yes" "MaxSessions 30" "MaxStartups 100:30:200" \
    "Subsystem sftp /usr/lib/openssh/sftp-server" >"$dir/ssh/sshd_config"
  # A second, locked-down sshd on port 2222 (same host key) that refuses every forwarding, as
  # hardened servers do: the product must fall back to `docker system dial-stdio` there.
  sed -e 's/^Port 22$/Port 2222/' -e 's|^PidFile .*|PidFile /run/sshd-nofwd.pid|' \
    -e 's/^Allow\(Tcp\|StreamLocal\)Forwarding yes$/Allow\1Forwarding no/' \
    "$dir/ssh/sshd_config" >"$dir/ssh/sshd_config_nofwd"
  echo "DisableForwarding yes" >>"$dir/ssh/sshd_config_nofwd"
  # A third on port 2223 without the SFTP subsystem, as some hardened servers are.
  sed -e 's/^Port 22$/Port 2223/' -e 's|^PidFile .*|PidFile /run/sshd-nosftp.pid|' -e '/^Subsystem sftp/d' \
    "$dir/ssh/sshd_config" >"$dir/ssh/sshd_config_nosftp"
}

# The server users: created once on the host (so every server's sshd knows them), homes per server.
ensure_users() {
  getent group docker >/dev/null || groupadd --system docker
  id deployer >/dev/null 2>&1 || useradd --no-create-home --home-dir /home/deployer --shell /bin/sh --groups docker deployer
  id outsider >/dev/null 2>&1 || useradd --no-create-home --home-dir /home/outsider --shell /bin/sh outsider
  # Rootless Podman's user (bmpod): its own range of subordinate IDs for the containers' users.
  id podder >/dev/null 2>&1 || useradd --no-create-home --home-dir /home/podder --shell /bin/sh podder
  # fish reads \' and \\ as escapes inside single quotes: the exec string must not depend on quoting.
  id fisher >/dev/null 2>&1 || useradd --no-create-home --home-dir /home/fisher --shell /usr/bin/fish --groups docker fisher
  grep -q '^podder:' /etc/subuid 2>/dev/null || echo 'podder:300000:65536' >>/etc/subuid
  grep -q '^podder:' /etc/subgid 2>/dev/null || echo 'podder:300000:65536' >>/etc/subgid
  # useradd leaves the password field locked ("!"), which sshd (UsePAM no) reads as "no login at all".
  usermod -p '*' deployer && usermod -p '*' outsider && usermod -p '*' podder && usermod -p '*' fisher
}

# bmpod: rootless Podman's Docker-compatible API as most Podman servers run it, started by its user
# with a private /run/user/<uid> (root Podman cannot start containers in this sandbox: the notes).
start_podman() {
  local name=$1 dir=$ROOT/$1 uid
  uid=$(id -u podder)
  # slirp4netns (rootless networking) opens /dev/net/tun as the user; Debian's udev makes it 0666,
  # this sandbox leaves it 0600.
  chmod 666 /dev/net/tun 2>/dev/null || true
  mkdir -p "$dir/run/user/$uid/podman" && chown -R podder:podder "$dir/run/user/$uid" && chmod 700 "$dir/run/user/$uid"
  detach "$dir/podman.log" nsenter --net="/run/netns/$name" --mount="$dir/mnt" \
    setpriv --reuid=podder --regid=podder --init-groups \
    env HOME=/home/podder XDG_RUNTIME_DIR="/run/user/$uid" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    podman system service --time=0 "unix:///run/user/$uid/podman/podman.sock"
}
podman_answers() { curl -fsS --unix-socket "$ROOT/$1/run/user/$(id -u podder)/podman/podman.sock" http://d/_ping; }

start_server() {
  local name=$1 dir=$ROOT/$1 engine
  engine=$(engine_of "$name")
  # nsenter, not `ip netns exec`: that remounts /sys, and dockerd then finds no cgroups.
  local in=(nsenter --net="/run/netns/$name" --mount="$dir/mnt")
  if [[ $engine == podman ]]; then start_podman "$name"; fi
  start_engine "$name"
  if is_workstation "$name"; then return 0; fi
  # sshd daemonizes itself (closing our descriptors) once it listens.
  "${in[@]}" /usr/sbin/sshd -f "$dir/ssh/sshd_config" -E "$dir/sshd.log" </dev/null &>/dev/null ||
    die "sshd on $name did not start (see $dir/sshd.log)"
  "${in[@]}" /usr/sbin/sshd -f "$dir/ssh/sshd_config_nofwd" -E "$dir/sshd-nofwd.log" </dev/null &>/dev/null ||
    die "the no-forwarding sshd on $name did not start (see $dir/sshd-nofwd.log)"
  "${in[@]}" /usr/sbin/sshd -f "$dir/ssh/sshd_config_nosftp" -E "$dir/sshd-nosftp.log" </dev/null &>/dev/null ||
    die "the no-SFTP sshd on $name did not start (see $dir/sshd-nosftp.log)"
}

# The server's dockerd (not Podman's), in its namespaces; restart-engine runs it again.
start_engine() {
  local name=$1 dir=$ROOT/$1 engine
  engine=$(engine_of "$name")
  D26=${D26:-$ROOT/docker-26} # where `up` put Docker 26 (restart-engine and small-disk run without up)
  local in=(nsenter --net="/run/netns/$name" --mount="$dir/mnt")
  if [[ $engine != none && $engine != podman ]]; then
    local path=$PATH dockerd=dockerd
    echo '{}' >"$dir/daemon.json"
    if [[ $engine == 26* ]]; then
      # Docker 26 starts the containerd found first on PATH: Debian 13's, beside it.
      path=$D26:$PATH dockerd=$D26/dockerd
      [[ $engine != 26c ]] || echo '{"features": {"containerd-snapshotter": true}}' >"$dir/daemon.json"
    fi
    # --exec-root and --pidfile are the private /run as seen from the host, so containerd and
    # the shims carry $dir in their command lines too (daemon_pids finds them after a crash).
    local data_root=$dir/docker
    [[ ! -f $dir/data-root ]] || data_root=$(cat "$dir/data-root") # small-disk's
    detach "$dir/dockerd.log" env "PATH=$path" "${in[@]}" "$dockerd" --config-file "$dir/daemon.json" \
      --data-root "$data_root" --exec-root "$dir/run/docker" --pidfile "$dir/run/docker.pid" \
      -H unix:///var/run/docker.sock --cgroup-parent "$CGROUP_PARENT/$name"
  fi
}

# A server's Docker Engine on a small, empty filesystem (a tmpfs of SIZE inside the server's
# mount namespace), to fill its disk on purpose; "off" puts its own data root back. For npm run faults.
cmd_small_disk() {
  local name=${1:?usage: small-disk NAME SIZE|off} size=${2:?usage: small-disk NAME SIZE|off} dir in
  dir=$ROOT/$name
  in=(nsenter --mount="$dir/mnt")
  stop_engine "$name"
  if [[ $size == off ]]; then
    rm -f "$dir/data-root"
    "${in[@]}" umount "$dir/docker-small" 2>/dev/null || true
  else
    mkdir -p "$dir/docker-small"
    "${in[@]}" mount -t tmpfs -o "size=$size" tmpfs "$dir/docker-small"
    echo "$dir/docker-small" >"$dir/data-root"
  fi
  start_engine "$name"
  wait_for 60 "dockerd on $name" "$dir/dockerd.log" docker -H "unix://$dir/run/docker.sock" info
  log "$name: Docker's data root is $(cat "$dir/data-root" 2>/dev/null || echo "its own again")"
}

stop_engine() {
  local name=$1 dir pid
  dir=$ROOT/$name
  case $(engine_of "$name") in none | podman) die "$name has no dockerd" ;; esac
  pid=$(cat "$dir/run/docker.pid" 2>/dev/null) || return 0 # not running
  alive "$pid" || return 0
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do if alive "$pid"; then sleep 0.1; else break; fi; done
  if alive "$pid"; then die "dockerd on $name did not stop within 30 s"; fi
}

# A server's Docker Engine stopped (SIGTERM: its containers stop, as on a reboot) and started
# again; containers with a restart policy come back by themselves. For npm run faults.
# A server whose engine is down (a crashed or powered-off node, as its swarm sees it) and up again.
cmd_stop_engine() {
  local name=${1:?usage: stop-engine NAME}
  stop_engine "$name"
  log "stopped the Docker Engine of $name"
}
cmd_start_engine() {
  local name=${1:?usage: start-engine NAME} dir
  dir=$ROOT/$name
  start_engine "$name"
  wait_for 60 "dockerd on $name" "$dir/dockerd.log" docker -H "unix://$dir/run/docker.sock" info
  log "started the Docker Engine of $name"
}

cmd_restart_engine() {
  local name=${1:?usage: restart-engine NAME} dir
  dir=$ROOT/$name
  stop_engine "$name"
  start_engine "$name"
  wait_for 60 "dockerd on $name" "$dir/dockerd.log" docker -H "unix://$dir/run/docker.sock" info
  log "restarted the Docker Engine of $name"
}

wait_server() {
  local name=$1 dir=$ROOT/$1
  case $(engine_of "$name") in
    none) ;;
    podman) wait_for 60 "podman on $name" "$dir/podman.log" podman_answers "$name" ;;
    *) wait_for 60 "dockerd on $name" "$dir/dockerd.log" docker -H "unix://$dir/run/docker.sock" info ;;
  esac
  if is_workstation "$name"; then
    ensure_busybox_image "unix://$dir/run/docker.sock"
    [[ $name != ws26c ]] || ensure_arm64_image "unix://$dir/run/docker.sock"
    return 0
  fi
  wait_for 20 "ssh to $name" "$dir/sshd.log" \
    ssh -F "$CLIENT/ssh_config" -o ConnectTimeout=2 "$name" true
}

known_hosts_line() { # "10.213.N.2 ssh-ed25519 AAAA..."
  echo "10.213.$(net_of "$1").2 $(cut -d' ' -f1,2 "$ROOT/$1/ssh/ssh_host_ed25519_key.pub")"
}

write_client_files() {
  local s
  local line
  for s in "$@"; do
    line=$(known_hosts_line "$s")
    echo "$line"
    echo "[${line%% *}]:2222 ${line#* }" # the no-forwarding sshd on port 2222
    echo "[${line%% *}]:2223 ${line#* }" # the no-SFTP sshd on port 2223
  done >"$CLIENT/known_hosts"
  # BatchMode: key auth only, never prompt. NAME-nofwd is the port 2222 sshd, NAME-nosftp the
  # port 2223 one; NAME-deployer, NAME-outsider and NAME-fisher log in as those users.
  local alias port user
  for s in "$@"; do
    local aliases=("$s:22:root" "$s-nofwd:2222:root" "$s-nosftp:2223:root" "$s-deployer:22:deployer" "$s-outsider:22:outsider" "$s-fisher:22:fisher")
    [[ $s != bmpod ]] || aliases=("$s:22:podder") # Podman's API is its user's
    for alias in "${aliases[@]}"; do
      IFS=: read -r alias port user <<<"$alias"
      printf 'Host %s\n  HostName 10.213.%s.2\n  Port %s\n  User %s\n  IdentityFile %s\n' \
        "$alias" "$(net_of "$s")" "$port" "$user" "$CLIENT/id_ed25519"
      printf '  IdentitiesOnly yes\n  UserKnownHostsFile %s\n' "$CLIENT/known_hosts"
      printf '  StrictHostKeyChecking yes\n  BatchMode yes\n\n'
    done
  done >"$CLIENT/ssh_config"
}

# JSON by printf: every value is a fixed path, a server name, an address or base64 (no escaping).
engine_version() { case $(engine_of "$1") in 20) echo 20.10 ;; none) echo none ;; podman) echo podman-4.3 ;; *) echo 26.1 ;; esac; }
engine_store() { case $(engine_of "$1") in 26c) echo containerd ;; none) echo none ;; podman) echo podman ;; *) echo overlay2 ;; esac; }

# env.json: the default workstation (dockerHost) is Docker 26 with the containerd store, as a
# fresh install of Docker today; every workstation is listed under "workstations".
write_env_json() {
  local s sep='' dir sock fp ws=() srv=()
  for s in "$@"; do if is_workstation "$s"; then ws+=("$s"); else srv+=("$s"); fi; done
  printf '{"dockerHost":"unix://%s","identityFile":"%s","knownHosts":"%s","sshConfig":"%s",' \
    "$ROOT/ws26c/run/docker.sock" "$CLIENT/id_ed25519" "$CLIENT/known_hosts" "$CLIENT/ssh_config"
  printf '"dockerConfig":"%s","docker26":"%s","workstations":[' "$CLIENT/docker-config" "$D26"
  printf '{"name":"dev","dockerHost":"%s","engine":"20.10","store":"overlay2"}' "$DEV_HOST"
  for s in "${ws[@]}"; do
    printf ',{"name":"%s","dockerHost":"unix://%s","engine":"%s","store":"%s"}' \
      "$s" "$ROOT/$s/run/docker.sock" "$(engine_version "$s")" "$(engine_store "$s")"
  done
  printf '],"servers":['
  set -- "${srv[@]}"
  for s in "$@"; do
    dir=$ROOT/$s sock="\"$ROOT/$s/run/docker.sock\""
    [[ $s != bmbare ]] || sock=null
    [[ $s != bmpod ]] || sock="\"$ROOT/$s/run/user/$(id -u podder)/podman/podman.sock\""
    fp=$(ssh-keygen -lf "$dir/ssh/ssh_host_ed25519_key.pub" | cut -d' ' -f2)
    printf '%s{"name":"%s","host":"10.213.%s.2","port":22,"user":"%s","hasDocker":%s,' \
      "$sep" "$s" "$(net_of "$s")" "$([[ $s == bmpod ]] && echo podder || echo root)" "$([[ $sock == null ]] && echo false || echo true)"
    printf '"dockerSocketOnHost":%s,"knownHostsLine":"%s","hostKeyFingerprint":"%s",' \
      "$sock" "$(known_hosts_line "$s")" "$fp"
    printf '"netns":"%s","mountns":"%s","engine":"%s","store":"%s"}' "$s" "$dir/mnt" \
      "$(engine_version "$s")" "$(engine_store "$s")"
    sep=,
  done
  printf ']}\n'
}

# ---- commands --------------------------------------------------------------------------------
# One up/down at a time (detach keeps daemons from inheriting the lock).
lock() { mkdir -p "$ROOT" && exec 9>"$ROOT/.lock" && flock 9; }

cmd_up() {
  local count=${1:-2} s i names=()
  [[ $count =~ ^[1-9][0-9]?$ && $count -le 93 ]] || die "N must be 1..93, got '$count'"
  require_tools
  D26=$(bash "$(dirname "$0")/install-docker26.sh")
  lock
  remove_servers # first: whatever an earlier (possibly killed) run left
  # The servers see their own /tmp, /root, /home and /run: Docker 26 must live where they all
  # see it, whatever tools folder it came from (a fresh one may be under /tmp). Copied beside,
  # then renamed into place: a binary still running elsewhere is never written over.
  rm -rf "$ROOT/docker-26.new" && cp -a "$D26" "$ROOT/docker-26.new"
  rm -rf "$ROOT/docker-26" && mv "$ROOT/docker-26.new" "$ROOT/docker-26"
  D26=$ROOT/docker-26
  if [[ $(findmnt -no PROPAGATION -T "$ROOT") == *shared* ]]; then # e.g. under systemd
    mount --bind "$ROOT" "$ROOT" && mount --make-private "$ROOT"
  fi
  ensure_client_key
  ensure_users
  # The docker CLI's buildx plugin for the tests (DOCKER_CONFIG), as a developer has it installed.
  mkdir -p "$CLIENT/docker-config/cli-plugins" && cp "$D26/docker-buildx" "$CLIENT/docker-config/cli-plugins/"
  for ((i = 1; i <= count; i++)); do names+=("bm$i"); done
  names+=(bm26c bm26o bmbare ws26c ws26o)
  if command -v podman >/dev/null; then names+=(bmpod); fi
  for s in "${names[@]}"; do create_server "$s"; done
  local ssh_names=()
  for s in "${names[@]}"; do is_workstation "$s" || ssh_names+=("$s"); done
  write_client_files "${ssh_names[@]}"
  log "starting daemons for ${names[*]}"
  for s in "${names[@]}"; do start_server "$s"; done
  start_dev
  wait_for 60 "the dev engine" "$DEV/dockerd.log" dev_answers
  ensure_busybox_image
  for s in "${names[@]}"; do wait_server "$s"; done
  write_env_json "${names[@]}" >"$ROOT/env.json"
  log "up: ${names[*]} (try: ssh -F $CLIENT/ssh_config bm1 docker info)"
  cat "$ROOT/env.json"
}

cmd_down() {
  lock
  remove_servers
  if [[ ${1:-} == --all ]]; then stop_dev; fi
  log "down"
}

cmd_exec() {
  local name=${1:-}
  if (($# < 3)) || [[ $2 != -- ]]; then die "usage: exec NAME -- CMD [ARGS...]"; fi
  shift 2 && net_of "$name" >/dev/null
  { [[ -e /run/netns/$name ]] && findmnt -rn --mountpoint "$ROOT/$name/mnt" >/dev/null; } ||
    die "$name is not up"
  exec nsenter --net="/run/netns/$name" --mount="$ROOT/$name/mnt" -- "$@"
}

cmd_status() {
  local s sock engine sshd fmt='{{.Images}} images, {{.ContainersRunning}} running'
  engine=$(docker -H "$DEV_HOST" info --format "$fmt" 2>/dev/null) || engine="down"
  echo "dev engine ($DEV_HOST): $engine"
  for s in $(known_servers); do
    sock=unix://$ROOT/$s/run/docker.sock sshd=down engine="no dockerd"
    if alive "$(cat "$ROOT/$s/run/sshd.pid" 2>/dev/null || echo 0)"; then sshd=up; fi
    if is_workstation "$s"; then sshd="none (a workstation)"; fi
    [[ $s == bmbare ]] || engine=$(docker -H "$sock" info --format "$fmt" 2>/dev/null) || engine=down
    echo "$s (10.213.$(net_of "$s").2): sshd $sshd, docker: $engine"
  done
  if [[ -f $ROOT/env.json ]]; then echo "env: $ROOT/env.json"; else echo "env: none (run up)"; fi
}

# Servers are isolated from each other by default: each namespace only knows its own /24, and the
# host's FORWARD policy (its dev engine's Docker) is DROP. A swarm needs its nodes to reach each
# other (TCP 2377, TCP/UDP 7946, UDP 4789), so `link` adds, for every pair: a route in each
# namespace to the other's /24 via its host end, and a host FORWARD accept between the two /24s
# (commented bm-link so `unlink` removes exactly those). Nothing else on the host changes.
link_rules() { # NAME NAME: the two FORWARD rules of the pair, as iptables arguments after -A/-D
  local a b
  a=10.213.$(net_of "$1").0/24 b=10.213.$(net_of "$2").0/24
  echo "FORWARD -s $a -d $b -m comment --comment bm-link -j ACCEPT"
  echo "FORWARD -s $b -d $a -m comment --comment bm-link -j ACCEPT"
}

cmd_link() {
  (($# >= 2)) || die "usage: link NAME NAME..."
  local a b rule
  for a in "$@"; do for b in "$@"; do
    [[ $a != "$b" ]] || continue
    ip -n "$a" route replace "10.213.$(net_of "$b").0/24" via "10.213.$(net_of "$a").1"
    [[ $a < $b ]] || continue
    while read -r rule; do
      # shellcheck disable=SC2086 # the rule is a word list
      iptables -C $rule 2>/dev/null || iptables -I $rule
    done < <(link_rules "$a" "$b")
  done; done
  log "linked: $*"
}

cmd_unlink() {
  (($# >= 2)) || die "usage: unlink NAME NAME..."
  local a b rule
  for a in "$@"; do for b in "$@"; do
    [[ $a != "$b" ]] || continue
    ip -n "$a" route del "10.213.$(net_of "$b").0/24" 2>/dev/null || true
    [[ $a < $b ]] || continue
    while read -r rule; do
      # shellcheck disable=SC2086
      while iptables -C $rule 2>/dev/null; do iptables -D $rule; done
    done < <(link_rules "$a" "$b")
  done; done
  log "unlinked: $*"
}

case ${1:-} in
  up | down | exec) cmd="cmd_$1" && shift && "$cmd" "$@" ;;
  restart-engine) shift && cmd_restart_engine "$@" ;;
  stop-engine) shift && cmd_stop_engine "$@" ;;
  start-engine) shift && cmd_start_engine "$@" ;;
  small-disk) shift && cmd_small_disk "$@" ;;
  status) cmd_status ;;
  link | unlink) cmd="cmd_$1" && shift && "$cmd" "$@" ;;
  *) sed -n '4,12p' "$0" | cut -c5- >&2 && exit 2 ;;
esac
