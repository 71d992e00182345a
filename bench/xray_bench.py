"""xray benchmark: wall time and peak RSS of `slim xray --json` on
  1. the largest image available locally, and
  2. a synthetic image of more than 2 GB with many files across several layers
     (built here FROM debian:bookworm-slim, removed afterwards).
Each run is a fresh subprocess; peak RSS is its own ru_maxrss (os.wait4).
Reference: DockerSlim's xray took 2.85 s and 62 MB on a 344 MB image.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SYNTHETIC_DOCKERFILE = """FROM debian:bookworm-slim
RUN mkdir -p /data/small && head -c 60000000 /dev/urandom | split -b 1200 -a 4 - /data/small/f
RUN head -c 700000000 /dev/urandom > /data/big1
RUN head -c 700000000 /dev/urandom > /data/big2 && cp -r /data/small /data/small-copy
RUN head -c 700000000 /dev/urandom > /data/big3
RUN rm -f /data/big1 && rm -rf /data/small-copy
"""


def _measure(image: str) -> dict:
    """Run slim xray on IMAGE in a child process; wall seconds, peak RSS (MB) and figures."""
    code = ("import json,sys; from slimmer.cli import main; sys.exit(main(['xray', sys.argv[1], '--json']))")
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-c", code, image], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)     # this child's own peak RSS
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        rss_mb = usage.ru_maxrss / 1024
        if child.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"slim xray {image} failed: {err.read().decode()[-500:]}")
        out.seek(0)
        data = json.loads(out.read())
    return {"image": image, "wall_s": wall, "rss_mb": rss_mb, "size": data["size_bytes"],
            "files": data["file_count"], "layers": len(data["layers"]),
            "reclaimable": data["reclaimable_bytes"]}


def _largest_local_image() -> str:
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    best, best_size = None, -1
    for line in filter(None, out):
        ref, image_id = line.split()
        size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", image_id],
                                  capture_output=True, text=True).stdout.strip() or 0)
        if size > best_size and "<none>" not in ref:
            best, best_size = ref, size
    return best


def _build_synthetic() -> str:
    tag = f"slimmer-bench/xray-synthetic:{os.getpid()}"
    context = tempfile.mkdtemp(prefix="slimmer-xray-bench-")
    try:
        with open(os.path.join(context, "Dockerfile"), "w") as handle:
            handle.write(SYNTHETIC_DOCKERFILE)
        subprocess.run(["docker", "build", "-q", "--rm", "--force-rm", "-t", tag, context], check=True,
                       capture_output=True)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return tag


def run() -> str:
    rows = []
    largest = _largest_local_image()
    if largest:
        rows.append(("largest local image", _measure(largest)))
    tag = _build_synthetic()
    try:
        rows.append(("synthetic >2 GB", _measure(tag)))
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    lines = [f"{'case':<20} {'image':<40} {'size':>9} {'layers':>6} {'files':>7} {'reclaim':>9} "
             f"{'wall s':>7} {'peak RSS':>9}"]
    for name, row in rows:
        lines.append(f"{name:<20} {row['image'][:40]:<40} {row['size'] / 1e6:>7.0f}MB {row['layers']:>6} "
                     f"{row['files']:>7} {row['reclaimable'] / 1e6:>7.0f}MB {row['wall_s']:>7.2f} "
                     f"{row['rss_mb']:>7.0f}MB")
    lines.append("reference: DockerSlim xray 2.85 s, 62 MB on a 344 MB image")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
