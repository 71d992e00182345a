"""`slim build` on every sample app with its probe file: sizes, ratio, traced
bytes and wall seconds split by stage, then (issue 17) per app:
  - the same build again with the layer cache warm and the first slim image still
    there, as a developer's second run finds it (the image is reused: build.py);
  - the same again with --rebuild: the layer cache alone (the slim image built anew);
  - the file-exact build (every switchable keep rule off, no verification: the
    traced files with their symlinks, parents, ELF closure, interpreters and
    essentials), for the size goal's file-exact column.

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


def slim_one(name: str, workdir: str, cache_dir: str, run: str = "", extra: tuple[str, ...] = (),
             remove: bool = True) -> dict:
    image = f"slimmer-sample/{name}:latest"
    tag = f"slimmer-bench/{name}:slim"
    report_path = os.path.join(workdir, f"{name}{run}.json")
    args = [sys.executable, "-m", "slimmer.cli", "build", image, "--tag", tag,
            "--artifacts", os.path.join(workdir, name + run), "--report", report_path]
    probe_file = os.path.join(REPO, "probes", f"{name}.toml")
    if os.path.exists(probe_file):
        args += ["--probe-file", probe_file]
    args += list(extra)
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, SLIMMER_CACHE_DIR=cache_dir))
    wall = time.monotonic() - start
    report = json.load(open(report_path)) if os.path.exists(report_path) else None
    if remove:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    made = ((report or {}).get("slim") or {}).get("id")
    return {"name": name, "exit": proc.returncode, "wall": wall, "report": report,
            "stderr": proc.stderr[-500:], "image": made}


def remove_images(images: list[str]) -> None:
    """The bench's slim images, removed once every build was measured: removing a layer
    deletes its files, and on a filesystem that is slow to create files where many were
    deleted in the minutes before (ext4 without a journal: docs/BUILD.md), a removal
    between two builds would be measured as the next build's apply."""
    for image in dict.fromkeys(images):
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


def sample_apps() -> list[str]:
    apps = sorted(d for d in os.listdir(os.path.join(REPO, "sample-apps"))
                  if os.path.isfile(os.path.join(REPO, "sample-apps", d, "Dockerfile"))
                  and d not in NEEDS_CONTEXT)
    chosen = [a.strip() for a in os.environ.get("BENCH_APPS", "").split(",") if a.strip()]
    return [a for a in apps if a in chosen] if chosen else apps


def exact_args() -> tuple[str, ...]:
    from slimmer.keep import RULES
    return tuple(arg for name, default in sorted(RULES.items()) if default
                 for arg in ("--keep-rule", f"{name}=off")) + ("--no-verify",)


def _within(slim_bytes: int, traced: int) -> str:
    return "yes" if slim_bytes <= 1.15 * traced + 2e6 else f"no ({slim_bytes / max(traced, 1):.2f}x)"


def _again(first: dict, again: dict) -> str:
    if again["report"] and again["report"].get("slim"):
        return f"{again['wall']:.1f} | {first['wall'] / again['wall']:.2f}x"
    return f"failed (exit {again['exit']}) | "


def run() -> str:
    header = ("| app | original MB | slim MB | ratio | traced MB | slim <= 1.15 traced + 2 MB | file-exact MB "
              "| file-exact <= 1.15 traced + 2 MB | verify | wall s | "
              + " | ".join(f"{s} s" for s in STAGES)
              + " | build stage < 1 s (slim < 50 MB) | 2nd build wall s | 1st / 2nd "
                "| 2nd with --rebuild wall s | 1st / rebuilt |")
    lines = [header, "|" + "---|" * (15 + len(STAGES))]
    second = ["| app | build | wall s | " + " | ".join(f"{s} s" for s in STAGES) + " |",
              "|" + "---|" * (3 + len(STAGES))]
    made: list[str] = []
    with tempfile.TemporaryDirectory(prefix="slimmer-bench-") as workdir:
        try:
            _measure(workdir, lines, second, made)
        finally:
            remove_images(made)
    return "\n".join(lines + ["", "Per stage, each app's first and second builds:", ""] + second)


def _measure(workdir: str, lines: list[str], second: list[str], made: list[str]) -> None:
    for name in sample_apps():
        cache_dir = os.path.join(workdir, f"cache-{name}")
        row = slim_one(name, workdir, cache_dir, remove=False)
        report = row["report"]
        if not report or not report.get("slim"):
            lines.append(f"| {name} | failed (exit {row['exit']}): {row['stderr'].strip().splitlines()[-1:]} |")
            continue
        again = slim_one(name, workdir, cache_dir, run="-cached", remove=False)   # finds the first's image
        rebuilt = slim_one(name, workdir, cache_dir, run="-rebuilt", extra=("--rebuild",), remove=False)
        exact = slim_one(name, workdir, cache_dir, run="-exact", extra=exact_args(), remove=False)
        made.extend(run["image"] for run in (row, again, rebuilt, exact) if run["image"])
        timings = report["timings"]
        verify = report["verify"]
        slim_bytes, traced = report["slim"]["size_bytes"], report["traced"]["present_bytes"]
        exact_bytes = ((exact["report"] or {}).get("slim") or {}).get("size_bytes")
        exact_cells = (f"{exact_bytes / 1e6:.1f} | {_within(exact_bytes, traced)}" if exact_bytes
                       else f"failed (exit {exact['exit']}) | ")
        fast = ("n/a" if slim_bytes >= 50e6 else
                "yes" if timings.get("build_s", 99) < 1 else f"no ({timings.get('build_s', 0):.1f} s)")
        for label, measured in (("1st (cold cache)", row), ("2nd (image reused)", again),
                                ("2nd --rebuild (layer cache only)", rebuilt)):
            stages = ((measured["report"] or {}).get("timings") or {})
            second.append(f"| {name} | {label} | {measured['wall']:.1f} | "
                          + " | ".join(f"{stages.get(f'{s}_s', 0):.1f}" for s in STAGES) + " |")
        lines.append(
            f"| {name} | {report['original']['size_bytes'] / 1e6:.1f} | {slim_bytes / 1e6:.1f} "
            f"| {report['reduction']['ratio']} | {traced / 1e6:.1f} | {_within(slim_bytes, traced)} "
            f"| {exact_cells} "
            f"| {verify['passed']}/{verify['passed'] + verify['failed']} | {row['wall']:.1f} | "
            + " | ".join(f"{timings.get(f'{s}_s', 0):.1f}" for s in STAGES)
            + f" | {fast} | {_again(row, again)} | {_again(row, rebuilt)} |")
