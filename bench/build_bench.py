"""`slim build` on every sample app with its probe file: sizes, ratio, traced
bytes and wall seconds split by stage, then the same build again with the layer
cache warm (issue 17: a second build of an image over 300 MB at least 2x faster).

Each app gets a layer cache of its own, empty before its first build
(SLIMMER_CACHE_DIR in a temporary directory: never the user's ~/.cache), so the
first build is cold even when apps share base layers. BENCH_APPS=a,b limits the
run to those apps."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ("inspect", "index", "trace", "keep", "dockerfile", "build", "verify")
NEEDS_CONTEXT = {"service-counter"}   # needs APP_TOKEN and its Redis: measured by tests/integration/test_run_context.py


def slim_one(name: str, workdir: str, cache_dir: str, run: str = "") -> dict:
    image = f"slimmer-sample/{name}:latest"
    tag = f"slimmer-bench/{name}:slim"
    report_path = os.path.join(workdir, f"{name}{run}.json")
    args = [sys.executable, "-m", "slimmer.cli", "build", image, "--tag", tag,
            "--artifacts", os.path.join(workdir, name + run), "--report", report_path]
    probe_file = os.path.join(REPO, "probes", f"{name}.toml")
    if os.path.exists(probe_file):
        args += ["--probe-file", probe_file]
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, SLIMMER_CACHE_DIR=cache_dir))
    wall = time.monotonic() - start
    report = json.load(open(report_path)) if os.path.exists(report_path) else None
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    return {"name": name, "exit": proc.returncode, "wall": wall, "report": report,
            "stderr": proc.stderr[-500:]}


def sample_apps() -> list[str]:
    apps = sorted(d for d in os.listdir(os.path.join(REPO, "sample-apps"))
                  if os.path.isfile(os.path.join(REPO, "sample-apps", d, "Dockerfile"))
                  and d not in NEEDS_CONTEXT)
    chosen = [a.strip() for a in os.environ.get("BENCH_APPS", "").split(",") if a.strip()]
    return [a for a in apps if a in chosen] if chosen else apps


def run() -> str:
    header = ("| app | original MB | slim MB | ratio | traced MB | slim <= 1.15 traced + 2 MB | verify | wall s | "
              + " | ".join(f"{s} s" for s in STAGES)
              + " | cached 2nd build wall s | its index s | 1st / 2nd |")
    lines = [header, "|" + "---|" * (11 + len(STAGES))]
    second = ["| app | build | wall s | " + " | ".join(f"{s} s" for s in STAGES) + " |",
              "|" + "---|" * (3 + len(STAGES))]
    with tempfile.TemporaryDirectory(prefix="slimmer-bench-") as workdir:
        for name in sample_apps():
            cache_dir = os.path.join(workdir, f"cache-{name}")
            row = slim_one(name, workdir, cache_dir)
            report = row["report"]
            if not report or not report.get("slim"):
                lines.append(f"| {name} | failed (exit {row['exit']}): {row['stderr'].strip().splitlines()[-1:]} |")
                continue
            again = slim_one(name, workdir, cache_dir, run="-cached")
            timings = report["timings"]
            verify = report["verify"]
            slim_bytes, traced = report["slim"]["size_bytes"], report["traced"]["present_bytes"]
            target = "yes" if slim_bytes <= 1.15 * traced + 2e6 else f"no ({slim_bytes / max(traced, 1):.2f}x)"
            for label, measured in (("1st (cold cache)", row), ("2nd (warm cache)", again)):
                stages = ((measured["report"] or {}).get("timings") or {})
                second.append(f"| {name} | {label} | {measured['wall']:.1f} | "
                              + " | ".join(f"{stages.get(f'{s}_s', 0):.1f}" for s in STAGES) + " |")
            if again["report"] and again["report"].get("slim"):
                cached = (f"{again['wall']:.1f} | {again['report']['timings'].get('index_s', 0):.2f} "
                          f"| {row['wall'] / again['wall']:.2f}x")
            else:
                cached = f"failed (exit {again['exit']}) | | "
            lines.append(
                f"| {name} | {report['original']['size_bytes'] / 1e6:.1f} | {slim_bytes / 1e6:.1f} "
                f"| {report['reduction']['ratio']} | {traced / 1e6:.1f} | {target} "
                f"| {verify['passed']}/{verify['passed'] + verify['failed']} | {row['wall']:.1f} | "
                + " | ".join(f"{timings.get(f'{s}_s', 0):.1f}" for s in STAGES) + f" | {cached} |")
    return "\n".join(lines + ["", "Per stage, each app's first and cached second build:", ""] + second)
