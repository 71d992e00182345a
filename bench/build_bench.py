"""`slim build` on every sample app with its probe file: sizes, ratio, traced
bytes and wall seconds split by stage."""
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


def slim_one(name: str, workdir: str) -> dict:
    image = f"slimmer-sample/{name}:latest"
    tag = f"slimmer-bench/{name}:slim"
    report_path = os.path.join(workdir, f"{name}.json")
    args = [sys.executable, "-m", "slimmer.cli", "build", image, "--tag", tag,
            "--artifacts", os.path.join(workdir, name), "--report", report_path]
    probe_file = os.path.join(REPO, "probes", f"{name}.toml")
    if os.path.exists(probe_file):
        args += ["--probe-file", probe_file]
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    wall = time.monotonic() - start
    report = json.load(open(report_path)) if os.path.exists(report_path) else None
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    return {"name": name, "exit": proc.returncode, "wall": wall, "report": report,
            "stderr": proc.stderr[-500:]}


def run() -> str:
    apps = sorted(d for d in os.listdir(os.path.join(REPO, "sample-apps"))
                  if os.path.isfile(os.path.join(REPO, "sample-apps", d, "Dockerfile"))
                  and d not in NEEDS_CONTEXT)
    header = ("| app | original MB | slim MB | ratio | traced MB | slim <= 1.15 traced + 2 MB | verify | wall s | "
              + " | ".join(f"{s} s" for s in STAGES) + " |")
    lines = [header, "|" + "---|" * (8 + len(STAGES))]
    with tempfile.TemporaryDirectory(prefix="slimmer-bench-") as workdir:
        for name in apps:
            row = slim_one(name, workdir)
            report = row["report"]
            if not report or not report.get("slim"):
                lines.append(f"| {name} | failed (exit {row['exit']}): {row['stderr'].strip().splitlines()[-1:]} |")
                continue
            timings = report["timings"]
            verify = report["verify"]
            slim_bytes, traced = report["slim"]["size_bytes"], report["traced"]["present_bytes"]
            target = "yes" if slim_bytes <= 1.15 * traced + 2e6 else f"no ({slim_bytes / max(traced, 1):.2f}x)"
            lines.append(
                f"| {name} | {report['original']['size_bytes'] / 1e6:.1f} | {slim_bytes / 1e6:.1f} "
                f"| {report['reduction']['ratio']} | {traced / 1e6:.1f} | {target} "
                f"| {verify['passed']}/{verify['passed'] + verify['failed']} | {row['wall']:.1f} | "
                + " | ".join(f"{timings.get(f'{s}_s', 0):.1f}" for s in STAGES) + " |")
    return "\n".join(lines)
