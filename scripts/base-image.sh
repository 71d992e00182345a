#!/usr/bin/env bash
# Make debian:bookworm-slim available locally: use it if present, pull it when a
# registry answers, otherwise build it with debootstrap (minbase) and trim it like
# the official slim image.
#   BASE_IMAGE     the image to provide (default debian:bookworm-slim)
#   DEBIAN_MIRROR  the mirror debootstrap uses
#   PULL_TIMEOUT   seconds to wait for `docker pull` (default 300)
#   NO_PULL=1      skip the pull, build with debootstrap
set -euo pipefail
IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE present"
  exit 0
fi
if [ "${NO_PULL:-0}" != 1 ]; then
  echo "pulling $IMAGE"
  if pulled=$(timeout "${PULL_TIMEOUT:-300}" docker pull "$IMAGE" 2>&1); then
    echo "pulled $IMAGE"
    exit 0
  fi
  echo "cannot pull $IMAGE ($(printf '%s' "$pulled" | tail -1)); building it with debootstrap instead"
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debootstrap is missing: installing it (apt-get install debootstrap)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
fi
root=$(mktemp -d /tmp/slimmer-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $IMAGE with debootstrap into $root"
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2; echo "debootstrap failed; is $MIRROR reachable?" >&2; exit 1; }
rm -f "$root.log"
# Trim like the official slim image: no docs, man pages, locales or apt lists,
# and a dpkg config that keeps it that way for later installs.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
       "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true"; Acquire::CompressionTypes::Order:: "gz";
APT::AutoRemove::SuggestsImportant "false";
CFG
echo "deb $MIRROR bookworm main" > "$root/etc/apt/sources.list"
echo "deb $MIRROR bookworm-updates main" >> "$root/etc/apt/sources.list"
rm -f "$root/etc/apt/sources.list.d/"* 2>/dev/null || true
tar -C "$root" -c . | docker import \
  -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$IMAGE" >/dev/null
echo "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
