"""xray benchmark: wall time per MB and peak RSS of `slim xray --json`, each run a fresh child
process (its own ru_maxrss, from os.wait4), on
  1. the largest sample images, slimmer-sample/postgres and slimmer-sample/java-digest, read
     from the daemon's layer store (`--read store`: tar-split and diff dirs, no docker save),
     from the daemon through docker save (`--read save`: streamed and spooled), and the same
     image from a docker-archive file (slimmer's own work: no daemon in the way);
  2. `docker save IMAGE > /dev/null` alone: what the daemon costs before slimmer reads a byte;
  3. a synthetic image of more than 2 GB with many files across several layers (built here
     FROM debian:bookworm-slim, removed afterwards): the RSS goal's case.
The goal (issue 18): at most 10 ms per MB of image and a peak RSS under 100 MB.
Reference: DockerSlim's xray took 2.85 s and 62 MB on a 344 MB image (8.3 ms/MB).
`python -m bench xray` runs this section alone; SLIMMER_BENCH_XRAY_SYNTHETIC=0 skips case 3.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

IMAGES = ("slimmer-sample/postgres:latest", "slimmer-sample/java-digest:latest")
GOAL_MS_PER_MB = 10.0
GOAL_RSS_MB = 100.0
DOCKERSLIM_MS_PER_MB = 8.3
SYNTHETIC_DOCKERFILE = """FROM debian:bookworm-slim
RUN mkdir -p /data/small && head -c 60000000 /dev/urandom | split -b 1200 -a 4 - /data/small/f
RUN head -c 700000000 /dev/urandom > /data/big1
RUN head -c 700000000 /dev/urandom > /data/big2 && cp -r /data/small /data/small-copy
RUN head -c 700000000 /dev/urandom > /data/big3
RUN rm -f /data/big1 && rm -rf /data/small-copy
"""


def _measure(reference: str, read: str = "auto") -> dict:
    """slim xray --json REFERENCE --read READ in a child process: wall seconds, peak RSS (MB) and figures."""
    code = "import sys; from slimmer.cli import main; sys.exit(main(['xray', sys.argv[1], '--json', '--read', sys.argv[2]]))"
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-c", code, reference, read], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)     # this child's own peak RSS
        wall = time.monotonic() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError(f"slim xray {reference} failed: {err.read().decode()[-500:]}")
        out.seek(0)
        data = json.loads(out.read())
    if read != "auto" and data["read"] != {"store": "layer store", "save": "docker save"}[read]:
        raise RuntimeError(f"slim xray {reference} --read {read} read by {data['read']}")
    return {"wall_s": wall, "rss_mb": usage.ru_maxrss / 1024, "size": data["size_bytes"],
            "files": data["file_count"], "layers": len(data["layers"]), "reclaimable": data["reclaimable_bytes"],
            "hashed": data["duplicates_hashed"]}


def _docker_save_seconds(image: str, into: str | None = None) -> float:
    start = time.monotonic()
    with open(into or os.devnull, "wb") as sink:
        subprocess.run(["docker", "save", image], stdout=sink, check=True)
    return time.monotonic() - start


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


def _row(case: str, source: str, row: dict, save_s: float | None = None) -> str:
    per_mb = 1000 * row["wall_s"] / (row["size"] / 1e6)
    save = f"{save_s:>7.2f}" if save_s is not None else f"{'-':>7}"
    return (f"{case:<34} {source:<8} {row['size'] / 1e6:>7.0f}MB {row['layers']:>3} {row['files']:>7} "
            f"{row['hashed']['files']:>6} {row['hashed']['bytes'] / 1e6:>6.1f}MB {save} {row['wall_s']:>7.2f} "
            f"{per_mb:>6.1f} {row['rss_mb']:>6.0f}MB")


def run() -> str:
    lines = [f"{'image':<34} {'read':<8} {'size':>9} {'lay':>3} {'files':>7} {'hashed':>6} {'bytes':>8} "
             f"{'save s':>7} {'wall s':>7} {'ms/MB':>6} {'RSS':>8}"]
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="slimmer-xray-bench-") as scratch:
        for image in IMAGES:
            archive = os.path.join(scratch, "image.tar")
            save_s = _docker_save_seconds(image, archive)
            from_archive = _measure(f"docker-archive:{archive}")
            os.remove(archive)
            save_null_s = _docker_save_seconds(image)
            from_daemon = _measure(image, "save")
            from_store = _measure(image, "store")
            lines.append(_row(image, "store", from_store))
            lines.append(_row(image, "save", from_daemon, save_null_s))
            lines.append(_row(image, "archive", from_archive, save_s))
            own = 1000 * from_archive["wall_s"] / (from_archive["size"] / 1e6)
            total = 1000 * from_daemon["wall_s"] / (from_daemon["size"] / 1e6)
            store = 1000 * from_store["wall_s"] / (from_store["size"] / 1e6)
            daemon = 1000 * save_null_s / (from_daemon["size"] / 1e6)
            rss = max(from_daemon["rss_mb"], from_archive["rss_mb"], from_store["rss_mb"])
            verdicts.append(
                f"xray: {image.split('/')[-1].split(':')[0]} {from_daemon['size'] / 1e6:.0f} MB: "
                f"{from_store['wall_s']:.2f} s from the layer store ({store:.1f} ms/MB: "
                f"{'meets' if store <= GOAL_MS_PER_MB else 'MISSES'} the {GOAL_MS_PER_MB:.0f} ms/MB goal, "
                f"{'at least as fast as' if store <= DOCKERSLIM_MS_PER_MB else 'slower than'} DockerSlim's "
                f"{DOCKERSLIM_MS_PER_MB} ms/MB), "
                f"{from_archive['wall_s']:.2f} s from a docker-archive ({own:.1f} ms/MB), "
                f"{from_daemon['wall_s']:.2f} s through docker save ({total:.1f} ms/MB, of which docker save "
                f"alone {save_null_s:.2f} s = {daemon:.1f} ms/MB), peak RSS {rss:.0f} MB "
                f"({'under' if rss < GOAL_RSS_MB else 'OVER'} {GOAL_RSS_MB:.0f} MB)")
        if os.environ.get("SLIMMER_BENCH_XRAY_SYNTHETIC", "1") != "0":
            tag = _build_synthetic()
            try:
                save_null_s = _docker_save_seconds(tag)
                row = _measure(tag, "save")
                stored = _measure(tag, "store")
                lines.append(_row("synthetic >2 GB", "store", stored))
                lines.append(_row("synthetic >2 GB", "save", row, save_null_s))
                for how, measured in (("layer store", stored), ("docker save", row)):
                    per_mb = 1000 * measured["wall_s"] / (measured["size"] / 1e6)
                    verdicts.append(f"xray: synthetic {measured['size'] / 1e6:.0f} MB, {measured['files']} files, "
                                    f"{how}: {measured['wall_s']:.2f} s ({per_mb:.1f} ms/MB), peak RSS "
                                    f"{measured['rss_mb']:.0f} MB ({'under' if measured['rss_mb'] < GOAL_RSS_MB else 'OVER'} "
                                    f"{GOAL_RSS_MB:.0f} MB)")
            finally:
                subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    lines.append("read: store = the daemon's layer store (--read store), save = through docker save (--read save), "
                 "archive = a docker-archive file; "
                 "save s: docker save alone (to /dev/null for the save row, to the file for the archive row); "
                 "hashed: files (bytes) read for duplicates, the ones whose sizes collide")
    lines.append("reference: DockerSlim xray 2.85 s, 62 MB on a 344 MB image (8.3 ms/MB)")
    return "\n".join(lines + [""] + verdicts)


if __name__ == "__main__":
    print(run())
