#!/usr/bin/env bash
# A Docker 26 engine (Debian 13's docker.io) beside the machine's own engine, for CI.
#
#   scripts/docker26.sh start STORE [IMAGE...]   start it (STORE: overlay2 | containerd) and load
#                                                 IMAGE... from the default engine (docker save | load)
#   scripts/docker26.sh stop STORE               stop it and remove everything it made
#   scripts/docker26.sh host STORE               print its DOCKER_HOST
#   scripts/docker26.sh cli                      print the path of the Docker 26 CLI (a wrapper whose
#                                                 DOCKER_CONFIG has the buildx plugin; any engine)
#
# Nothing of the default engine is touched:
#   1. the binaries (dockerd, docker-proxy, docker CLI, buildx, containerd 1.7 and its shim) are
#      fetched with `apt-get download` against a trixie source list kept outside /etc/apt and
#      unpacked with dpkg-deb -x into $SLIMMER_DOCKER26_DIR (default /var/tmp/slimmer-docker26);
#      runc and docker-init are the machine's own (bookworm's);
#   2. each STORE gets its own containerd (own socket, root, state), and a dockerd with its own
#      unix socket, data-root, exec-root, pidfile and --config-file ("containerd-snapshotter"
#      turned on for STORE=containerd);
#   3. its own bridge (slim26o / slim26c, 10.231.x / 10.232.x, outside Docker's default address
#      pools) with --iptables=false: the only rules are two FORWARD ACCEPTs for that bridge,
#      removed by stop. Containers get no outbound NAT (the tests need none); published
#      ports go through docker-proxy.
set -euo pipefail

BASE=${SLIMMER_DOCKER26_DIR:-/var/tmp/slimmer-docker26}
ROOT=$BASE/root
PACKAGES="docker.io docker-cli docker-buildx containerd"

die() { echo "docker26.sh: $*" >&2; exit 1; }

store_vars() {
  STORE=$1
  case "$STORE" in
    overlay2) BRIDGE=slim26o; NET=10.231.0 ;;
    containerd) BRIDGE=slim26c; NET=10.232.0 ;;
    *) die "unknown store '$STORE' (overlay2 | containerd)" ;;
  esac
  DIR=$BASE/$STORE
  SOCK=$DIR/docker.sock
}

fetch() {
  [ -x "$ROOT/usr/sbin/dockerd" ] && [ -x "$ROOT/usr/bin/docker" ] && \
    [ -x "$ROOT/usr/libexec/docker/cli-plugins/docker-buildx" ] && [ -x "$ROOT/usr/bin/containerd" ] && return 0
  local apt=$BASE/apt
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  echo "deb http://deb.debian.org/debian trixie main" >"$apt/trixie.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt/trixie.list" -o "Dir::Etc::sourceparts=-"
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
  apt-get -qq "${opts[@]}" update
  (cd "$apt/debs" && rm -f ./*.deb && apt-get -qq "${opts[@]}" download $PACKAGES)
  rm -rf "$ROOT.new" && mkdir -p "$ROOT.new"
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT.new"; done
  rm -rf "$ROOT" && mv "$ROOT.new" "$ROOT"
  rm -rf "$apt"
}

cli() {   # the Docker 26 CLI with buildx, through a private DOCKER_CONFIG
  fetch >&2
  mkdir -p "$BASE/bin" "$BASE/docker-config/cli-plugins"
  ln -sf "$ROOT/usr/libexec/docker/cli-plugins/docker-buildx" "$BASE/docker-config/cli-plugins/docker-buildx"
  if [ ! -x "$BASE/bin/docker" ]; then
    printf '#!/bin/sh\nDOCKER_CONFIG=%s exec %s "$@"\n' "$BASE/docker-config" "$ROOT/usr/bin/docker" \
      >"$BASE/bin/docker.new"
    chmod 755 "$BASE/bin/docker.new" && mv "$BASE/bin/docker.new" "$BASE/bin/docker"
  fi
  echo "$BASE/bin/docker"
}

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not come up in ${seconds}s"
}

start() {
  store_vars "$1"; shift
  fetch
  if [ -S "$SOCK" ] && DOCKER_HOST=unix://$SOCK "$ROOT/usr/bin/docker" info >/dev/null 2>&1; then
    echo "docker 26 ($STORE) already running: unix://$SOCK"
  else
    stop_store "$STORE" quiet
    mkdir -p "$DIR/containerd-root" "$DIR/containerd-state" "$DIR/data" "$DIR/exec"
    cat >"$DIR/containerd.toml" <<EOF
version = 2
root = "$DIR/containerd-root"
state = "$DIR/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$DIR/containerd.sock"
[ttrpc]
  address = "$DIR/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
EOF
    if [ "$STORE" = containerd ]; then
      echo '{"features": {"containerd-snapshotter": true}}' >"$DIR/daemon.json"
    else
      echo '{"storage-driver": "overlay2"}' >"$DIR/daemon.json"
    fi
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    iptables -A FORWARD -i "$BRIDGE" -j ACCEPT
    iptables -A FORWARD -o "$BRIDGE" -j ACCEPT
    # containerd-shim-runc-v2 and docker-proxy 26 first; runc and docker-init are the machine's
    local path="$ROOT/usr/bin:$ROOT/usr/sbin:$PATH"
    PATH=$path nohup "$ROOT/usr/bin/containerd" --config "$DIR/containerd.toml" \
      >"$DIR/containerd.log" 2>&1 </dev/null &
    echo $! >"$DIR/containerd.pid"
    wait_for 30 "containerd ($STORE)" test -S "$DIR/containerd.sock"
    PATH=$path nohup "$ROOT/usr/sbin/dockerd" --host "unix://$SOCK" --data-root "$DIR/data" \
      --exec-root "$DIR/exec" --pidfile "$DIR/dockerd.pid" --containerd "$DIR/containerd.sock" \
      --config-file "$DIR/daemon.json" --bridge "$BRIDGE" --iptables=false --ip-masq=false \
      --userland-proxy-path "$ROOT/usr/sbin/docker-proxy" --log-level warn \
      >"$DIR/dockerd.log" 2>&1 </dev/null &
    if ! wait_for 60 "dockerd 26 ($STORE)" env DOCKER_HOST="unix://$SOCK" "$ROOT/usr/bin/docker" info; then
      tail -20 "$DIR/dockerd.log" >&2; exit 1
    fi
    echo "docker 26 ($STORE) running: unix://$SOCK"
  fi
  local missing=()
  for image in "$@"; do
    DOCKER_HOST=unix://$SOCK "$ROOT/usr/bin/docker" image inspect "$image" >/dev/null 2>&1 || missing+=("$image")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    docker save "${missing[@]}" | DOCKER_HOST=unix://$SOCK "$ROOT/usr/bin/docker" load -q
  fi
}

kill_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_store() {
  store_vars "$1"
  kill_pidfile "$DIR/dockerd.pid"
  kill_pidfile "$DIR/containerd.pid"
  # shims of containers that outlived their daemon (a crash): only those started from this DIR
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $DIR/containerd.sock" || true); do
    kill -9 "$pid" 2>/dev/null || true
  done
  # mounts left under DIR (overlay layers, netns), deepest first
  awk -v dir="$DIR/" 'index($2, dir) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
  while iptables -D FORWARD -i "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  while iptables -D FORWARD -o "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$DIR"
  [ "${2:-}" = quiet ] || echo "docker 26 ($STORE) stopped and removed"
}

case "${1:-}" in
  start) [ $# -ge 2 ] || die "usage: $0 start STORE [IMAGE...]"; shift; start "$@" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop STORE"; stop_store "$2" ;;
  host) [ $# -eq 2 ] || die "usage: $0 host STORE"; store_vars "$2"; echo "unix://$SOCK" ;;
  cli) cli ;;
  *) die "usage: $0 start|stop|host STORE, or cli" ;;
esac
