#!/usr/bin/env bash
# Build the sample app images: every directory under sample-apps/ with a
# Dockerfile becomes slimmer-sample/NAME:latest.
#
#   bash scripts/sample-apps.sh [NAME...]      build all apps, or only the ones named
#   FORCE=1     rebuild images that already exist (default: skip them)
#   NO_CACHE=1  build without Docker's layer cache (for honest build times)
#
# Each build's output goes to $LOG_DIR/NAME.log (default /tmp/slimmer-sample-apps);
# on failure the tail of that log is printed and the script exits 1 naming every
# app that failed. The legacy builder is used (DOCKER_BUILDKIT=0): it is what the
# development machines have. --force-rm removes the container of a failed step too.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
apps_dir="$root/sample-apps"
log_dir="${LOG_DIR:-${TMPDIR:-/tmp}/slimmer-sample-apps}"
force="${FORCE:-0}"
no_cache="${NO_CACHE:-0}"

if ! docker info >/dev/null 2>&1; then
    echo "sample-apps: Docker engine not reachable: start dockerd or set DOCKER_HOST" >&2
    exit 1
fi
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    echo "sample-apps: base image debian:bookworm-slim is missing: run 'make base-image' first" >&2
    exit 1
fi

if [ "$#" -gt 0 ]; then
    apps=("$@")
else
    apps=()
    for dockerfile in "$apps_dir"/*/Dockerfile; do
        apps+=("$(basename "$(dirname "$dockerfile")")")
    done
fi

mkdir -p "$log_dir"
failed=()
for app in "${apps[@]}"; do
    app="${app%/}"
    app="${app#sample-apps/}"
    context="$apps_dir/$app"
    image="slimmer-sample/$app:latest"
    if [ ! -f "$context/Dockerfile" ]; then
        echo "sample-apps: unknown app '$app' (no $context/Dockerfile)" >&2
        failed+=("$app")
        continue
    fi
    if [ "$force" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
        echo "sample-apps: $image exists, skipped (FORCE=1 rebuilds)"
        continue
    fi
    log="$log_dir/$app.log"
    build_args=(--force-rm --label "slimmer.sample=$app" -t "$image")
    [ "$no_cache" = 1 ] && build_args+=(--no-cache)
    echo "sample-apps: building $image (log: $log)"
    started=$(date +%s)
    if DOCKER_BUILDKIT=0 docker build "${build_args[@]}" "$context" >"$log" 2>&1; then
        seconds=$(( $(date +%s) - started ))
        size=$(docker image inspect --format '{{.Size}}' "$image")
        printf 'sample-apps: built %-40s %4ds %7.1f MB\n' "$image" "$seconds" "$(awk -v b="$size" 'BEGIN { print b / 1e6 }')"
    else
        echo "sample-apps: building $app FAILED; last lines of $log:" >&2
        tail -n 30 "$log" | sed "s/^/  [$app] /" >&2
        failed+=("$app")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "sample-apps: FAILED to build: ${failed[*]}" >&2
    exit 1
fi
