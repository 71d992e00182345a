"""Verification with repair on every sample app slimmed with defaults only (no probe
file): what the traced verification found removed and repaired, and what --no-repair
makes of the same image. Apps that need a run context (service-counter) are left out."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDS_CONTEXT = {"service-counter"}        # exits without APP_TOKEN and its Redis


def slim(name: str, workdir: str, *extra: str) -> dict:
    tag = f"slimmer-bench/{name}:repair"
    report_path = os.path.join(workdir, f"{name}{''.join(extra)}.json")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "slimmer.cli", "build", f"slimmer-sample/{name}:latest",
                           "--tag", tag, "--report", report_path, *extra], capture_output=True, text=True, cwd=REPO)
    wall = time.monotonic() - start
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    report = json.load(open(report_path)) if os.path.exists(report_path) else {}
    return {"exit": proc.returncode, "wall": wall, "report": report}


def run() -> str:
    apps = sorted(d for d in os.listdir(os.path.join(REPO, "sample-apps"))
                  if os.path.isfile(os.path.join(REPO, "sample-apps", d, "Dockerfile")) and d not in NEEDS_CONTEXT)
    lines = ["| app | repair on: exit | repaired paths | wall s | repair off: exit | removed files reached |",
             "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="slimmer-repair-bench-") as workdir:
        for name in apps:
            on = slim(name, workdir)
            off = slim(name, workdir, "--no-repair")
            repaired = (on["report"].get("verify") or {}).get("repaired") or []
            reached = (off["report"].get("verify") or {}).get("reached_removed") or []
            shown = ", ".join(item["path"] for item in repaired[:4]) + (" ..." if len(repaired) > 4 else "")
            lines.append(f"| {name} | {on['exit']} | {len(repaired)}{': ' + shown if repaired else ''} "
                         f"| {on['wall']:.1f} | {off['exit']} | {len(reached)} |")
    return "\n".join(lines)
