"""Keep rules: what each default rule costs and what it rescues.

Per sample app, traced ONCE with the default probes (no probe file, no flags):
the slim image size with every default rule, with each rule switched off
(`--keep-rule NAME=off`), with the opt-in os-packages rule on, and with a
file-exact keep set (every switchable rule off); and whether the app's full
independent functional check (tests/apps.py) passes against each. A variant
whose keep set equals another's is not built twice (same files, same image).
"Rescued" names the checks that fail when that rule alone is off.

`python -m bench.keep_bench [--rule NAME]... [APP...]`: only the named rules'
variants (all, NAME=off or NAME=on), for the named apps.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

APPS = ["python-flask", "node-express", "nginx-static", "entrypoint-script", "java-digest",
        "batch-job", "static-scratch", "postgres", "python-venv", "python-cli", "ruby-yaml", "perl-job"]


def variants(rules: dict[str, bool], only: list[str] | None = None) -> list[tuple[str, dict[str, bool]]]:
    found = [("all", {})]
    found += [(f"{name}=off", {name: False}) for name, default in rules.items() if default
              and (not only or name in only)]
    found += [(f"{name}=on", {name: True}) for name, default in rules.items() if not default
              and (not only or name in only)]
    if not only:
        found.append(("exact", {name: False for name in rules}))
    return found


def _fingerprint(keep_set) -> str:
    digest = hashlib.sha256()
    for path in keep_set.paths():
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
    for path, data in sorted(keep_set.generated.items()):
        digest.update(path.encode() + b"\1" + data)
    return digest.hexdigest()


def _check(name: str, tag: str) -> str | None:
    """None when the full functional check passes, else its first failure, one line."""
    from tests.apps import check_app
    try:
        check_app(name, tag)
        return None
    except AssertionError as exc:
        message = str(exc).split("--- last log lines ---")[0]
        message = message.split(f"against {tag}: ", 1)[-1]
        message = " ".join(message.split())
        return message if len(message) <= 240 else message[:90] + " ... " + message[-150:]


def bench_app(name: str, workdir: str, only: list[str] | None = None) -> list[dict]:
    from slimmer import build as build_stage
    from slimmer import dockerfile as dockerfile_stage
    from slimmer import imagefs, sensor
    from slimmer import inspect as inspect_stage
    from slimmer import keep as keep_stage
    from slimmer import probe as probing
    from slimmer import trace as trace_stage
    from slimmer import __version__
    from slimmer.docker_api import Docker
    from slimmer.errors import SlimError
    from slimmer.model import KeepOptions

    docker = Docker()
    rows = []
    try:
        image = inspect_stage.inspect_image(docker, f"slimmer-sample/{name}:latest")
        trace = trace_stage.trace_image(docker, image, probing.ProbePlan()).trace
        index = imagefs.index_image(docker.export_image(image.id))
        reader = docker.file_reader(image.id)
        read: dict[str, bytes | None] = dict(index.contents)      # each file read once for every variant
        built: dict[str, tuple[int, str | None]] = {}
        try:
            for label, rules in variants(keep_stage.RULES, only):
                keep_set = keep_stage.compute_keep_set(
                    trace, index, image, KeepOptions(rules=rules),
                    read_file=lambda p: read[p] if p in read else read.setdefault(p, reader(p)))
                key = _fingerprint(keep_set)
                if key not in built:
                    tag = f"slimmer-bench/keep-{name}:{len(built)}"
                    artifacts = dockerfile_stage.write_artifacts(
                        os.path.join(workdir, f"{name}-{len(built)}"), image, keep_set, index,
                        sensor.sensor_path(), __version__)
                    try:
                        try:
                            slim = build_stage.build_slim_image(docker, artifacts, tag)
                        except SlimError:
                            # a shared daemon: someone's `docker image prune` can remove the
                            # collect stage mid-build; the same context builds the same image
                            slim = build_stage.build_slim_image(docker, artifacts, tag)
                        built[key] = (slim.size_bytes, _check(name, tag))
                    finally:
                        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
                size, failure = built[key]
                rows.append({"app": name, "variant": label, "size": size, "failure": failure,
                             "original": image.size_bytes})
        finally:
            reader.close()
    finally:
        docker.cleanup()
    return rows


def table(rows: list[dict], rules: list[str], only: list[str] | None = None) -> str:
    labels = [label for label, _ in variants({r: d for r, d in rules}, only)]
    header = "| app | original MB | " + " | ".join(f"{label} MB" for label in labels) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(labels)]
    by_app: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_app.setdefault(row["app"], {})[row["variant"]] = row
    for app, found in by_app.items():
        base = found["all"]["size"]
        cells = []
        for label in labels:
            row = found[label]
            mark = "" if row["failure"] is None else " ✗"
            delta = "" if label == "all" else f" ({(row['size'] - base) / 1e6:+.1f})"
            cells.append(f"{row['size'] / 1e6:.1f}{delta}{mark}")
        lines.append(f"| {app} | {found['all']['original'] / 1e6:.1f} | " + " | ".join(cells) + " |")
    lines += ["", "✗: the app's full functional check fails against that image; (+-x.x): MB "
              "against all default rules.", "", "Rescues (the check's first failure with only that rule off):", ""]
    for app, found in by_app.items():
        for label in labels:
            row = found[label]
            if row["failure"] is not None:
                lines.append(f"- {app}, {label}: {row['failure']}")
    return "\n".join(lines)


def run(apps: list[str] | None = None, only: list[str] | None = None) -> str:
    from slimmer.keep import RULES
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "sample-apps.sh")], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"sample apps could not be built:\n{proc.stderr[-2000:]}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="slimmer-keep-bench-") as workdir:
        for name in apps or APPS:
            rows += bench_app(name, workdir, only)
    return table(rows, list(RULES.items()), only)


if __name__ == "__main__":      # python -m bench.keep_bench [--rule NAME]... [APP...]
    args, only = sys.argv[1:], []
    while "--rule" in args:
        at = args.index("--rule")
        only.append(args[at + 1])
        del args[at:at + 2]
    print(run(args, only or None))
