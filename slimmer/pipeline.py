"""`slim build` as a story: inspect, index and trace, keep, write the Dockerfile,
build, verify, report. Each stage is its own module; this file only orders them,
times them and makes sure everything temporary is removed.
"""
from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from . import __version__
from . import build as build_stage
from . import dockerfile as dockerfile_stage
from . import imagefs
from . import inspect as inspect_stage
from . import keep as keep_stage
from . import report as report_stage
from . import sensor
from . import trace as trace_stage
from . import verify as verify_stage
from .docker_api import Docker
from .errors import BadInput, SlimError
from .model import ImageIndex, KeepOptions, RunSpec, TraceLog, TracedPath, Verification
from .probe import ProbePlan

Event = Callable[[str, str], None]   # (stage, message)


@dataclass(frozen=True)
class BuildRequest:
    image: str
    plan: ProbePlan
    runs: tuple[RunSpec, ...] = ()          # --run variants; empty: the plan's own run
    tag: str | None = None
    keep: KeepOptions = field(default_factory=KeepOptions)
    artifacts_dir: str | None = None
    verify: bool = True
    max_size: int | None = None
    min_ratio: float | None = None


@dataclass
class BuildOutcome:
    report: report_stage.ReportDoc
    failures: list[str]


class _Timer:
    def __init__(self):
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}

    def stage(self, name: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.t0 = time.monotonic()

            def __exit__(self, *exc):
                timer.timings[f"{name}_s"] = round(timer.timings.get(f"{name}_s", 0) + time.monotonic() - self.t0, 2)
        return _Span()

    def total(self) -> dict[str, float]:
        return dict(self.timings, total_s=round(time.monotonic() - self.start, 2))


def build_slim_image(request: BuildRequest, on_event: Event = lambda stage, msg: None,
                     docker: Docker | None = None) -> BuildOutcome:
    docker = docker or Docker()
    timer = _Timer()
    try:
        return _build(docker, request, on_event, timer)
    finally:
        # A second Ctrl-C (or CI's SIGTERM) must not cut the cleanup short.
        with _signals_deferred():
            docker.cleanup()


class _signals_deferred:
    """Hold SIGINT/SIGTERM while the block runs; re-deliver them afterwards."""

    def __enter__(self):
        self.pending: list[int] = []
        self.previous = {}
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, lambda n, _f: self.pending.append(n))
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if self.pending and not exc[0]:
            raise KeyboardInterrupt
        return False


def _build(docker: Docker, request: BuildRequest, on_event: Event, timer: _Timer) -> BuildOutcome:
    """The story of one `slim build`."""
    sensor.sensor_path()   # fail early, with how to build it, when the binary is missing
    with timer.stage("inspect"):
        on_event("inspect", f"inspecting {request.image}")
        image = inspect_stage.inspect_image(docker, request.image)
    check_platform(image)
    tag = request.tag or inspect_stage.default_slim_tag(image)

    # The index streams `docker save` while the app runs under the sensor.
    indexer = _Indexer(docker, image.id, timer)
    with timer.stage("trace"):
        runs = trace_runs(docker, image, request, on_event)
    index = indexer.result()
    trace = merge_traces([traced.trace for _, traced in runs])

    with timer.stage("keep"):
        on_event("keep", f"computing the keep set from {len(trace.paths)} traced paths")
        keep_set = compute_keep_set(docker, image, index, trace, request.keep)
    with timer.stage("dockerfile"):
        artifacts = write_artifacts(request.artifacts_dir, image, keep_set, index)
    with timer.stage("build"):
        on_event("build", f"building {tag}")
        built = build_stage.build_slim_image(docker, artifacts, tag, on_line=lambda line: on_event("build", line))
    # Until it is verified (and passes the gates) the slim image is temporary: a failed
    # or interrupted run must not leave an image a later CI step could push.
    docker.track_image(tag)

    verification = None
    if request.verify:
        with timer.stage("verify"):
            verification = verify_runs(docker, image, built, runs, on_event)
    gates = evaluate_gates(image.size_bytes, built.size_bytes, request.max_size, request.min_ratio)
    failures = failure_messages(verification, gates)
    doc = make_report(image, built, index, trace, keep_set, runs, verification, gates, timer,
                      artifacts, failures)
    if failures:
        failures.append(f"the slim image {tag} was removed; rebuild it to investigate: docker build {artifacts.directory}")
    else:
        docker.untrack_image(tag)
    return BuildOutcome(report=doc, failures=failures)


def trace_runs(docker: Docker, image, request: BuildRequest, on_event: Event):
    """One traced run per --run variant (or the plan's own run): [(run, TraceResult)]."""
    runs = []
    for run in request.runs or (request.plan.run,):
        on_event("trace", f"running {image.reference} under the sensor")
        traced = trace_stage.trace_image(docker, image, replace(request.plan, run=run),
                                         on_event=lambda m: on_event("trace", m))
        runs.append((run, traced))
    return runs


def compute_keep_set(docker: Docker, image, index: ImageIndex, trace: TraceLog, options: KeepOptions):
    reader = docker.file_reader(image.id)

    def read_file(path: str) -> bytes | None:
        # bytes captured while indexing first; a created container for the rest
        captured = index.contents.get(path)
        return captured if captured is not None else reader(path)
    try:
        return keep_stage.compute_keep_set(trace, index, image, options, read_file=read_file)
    finally:
        reader.close()


def verify_runs(docker: Docker, image, built, runs, on_event: Event) -> Verification:
    checks = []
    slim_logs = ""
    for run, traced in runs:
        on_event("verify", f"replaying {len(traced.results)} probes against {built.tag}")
        verification = verify_stage.verify_image(docker, image, built, run, traced.results,
                                                 on_event=lambda m: on_event("verify", m))
        checks.extend(verification.checks)
        slim_logs = slim_logs or ("" if verification.passed else verification.slim_logs)
    return Verification(tuple(checks), slim_logs)


def failure_messages(verification: Verification | None, gates) -> list[str]:
    failures = [gate.message for gate in gates if not gate.passed]
    if verification is not None and not verification.passed:
        failed = [c for c in verification.checks if not c.passed]
        failures.insert(0, "verification failed: " + "; ".join(f"{c.name}: {c.reason}" for c in failed)
                        + ("\n  last log lines of the slim container:\n" + _indent(verification.slim_logs)
                           if verification.slim_logs else ""))
    return failures


def make_report(image, built, index, trace, keep_set, runs, verification, gates, timer, artifacts,
                failures) -> report_stage.ReportDoc:
    removed = keep_stage.removed_by_top_dir(index, keep_set)
    return report_stage.ReportDoc(
        schema_version=report_stage.SCHEMA_VERSION,
        slimmer_version=__version__,
        original=report_stage.ImageFigures(image.reference, image.id, image.size_bytes),
        slim=report_stage.ImageFigures(built.tag, built.id, built.size_bytes),
        reduction=report_stage.reduction(image.size_bytes, built.size_bytes),
        probes=report_stage.probe_entries([r for _, traced in runs for r in traced.results]),
        verify=report_stage.verify_section(verification),
        keep=keep_stage.keep_summary(keep_set, index),
        removed={"top_dirs": [{"path": d, "bytes": b, "files": f} for d, b, f in removed]},
        traced=traced_figures(trace, index),
        gates=gates,
        timings=timer.total(),
        artifacts=artifacts.directory,
        dockerfile=artifacts.dockerfile,
        status="failed" if failures else "ok",
        error="\n".join(failures) or None,
        by_top_dir={"original": imagefs.bytes_by_top_dir(index), "slim": kept_bytes_by_top_dir(keep_set, index)},
    )


class _Indexer:
    """imagefs.index_image on a thread: `docker save` streams while the app is traced."""

    def __init__(self, docker: Docker, image_id: str, timer: _Timer):
        self.box: dict = {}
        self.thread = threading.Thread(target=_index_into, args=(docker, image_id, self.box, timer), daemon=True)
        self.thread.start()

    def result(self) -> ImageIndex:
        self.thread.join()
        if "error" in self.box:
            raise self.box["error"]
        return self.box["index"]


SENSOR_PLATFORM = ("linux", "amd64")


def check_platform(image) -> None:
    """The sensor is a linux/amd64 binary: an image for another platform cannot be traced."""
    platform = (image.os or "linux", image.architecture or "amd64")
    if platform != SENSOR_PLATFORM:
        raise BadInput("the image is for another platform", f"{image.reference} is {platform[0]}/{platform[1]}",
                       "slimmer's sensor runs linux/amd64 images only; build the image for linux/amd64")


def write_artifacts(directory: str | None, image, keep_set, index):
    try:
        directory = directory or tempfile.mkdtemp(prefix="slimmer-artifacts-")
        os.makedirs(directory, exist_ok=True)
        return dockerfile_stage.write_artifacts(directory, image, keep_set, index,
                                                sensor.sensor_path(), __version__)
    except OSError as exc:
        raise SlimError("cannot write the artifacts directory", f"{directory}: {exc.strerror}",
                        "free some space or choose another directory with --artifacts DIR") from exc


def _index_into(docker: Docker, image_id: str, box: dict, timer: _Timer) -> None:
    try:
        with timer.stage("index"):
            box["index"] = imagefs.index_image(docker.export_image(image_id))
    except SlimError as exc:
        box["error"] = exc
    except Exception as exc:  # surfaced in the main thread with what failed
        box["error"] = SlimError("reading the image's layers failed", f"{type(exc).__name__}: {exc}",
                                 "rerun with --debug and report it")


def merge_traces(traces: list[TraceLog]) -> TraceLog:
    """The union of several runs' traces (--run variants)."""
    if len(traces) == 1:
        return traces[0]
    paths: dict[str, TracedPath] = {}
    for trace in traces:
        for path, item in trace.paths.items():
            known = paths.get(path)
            paths[path] = item if known is None else TracedPath(
                path, known.syscalls | item.syscalls, known.write or item.write)
    processes = tuple(p for trace in traces for p in trace.processes)
    return TraceLog(version=traces[0].version, paths=paths, processes=processes,
                    exit_status=traces[-1].exit_status)


def kept_bytes_by_top_dir(keep_set, index: ImageIndex) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in keep_set.paths():
        entry = index.get(path)
        if entry is not None and entry.type.value == "file":
            top = "/" + path.split("/")[1] if path.count("/") > 1 else "/"
            sizes[top] = sizes.get(top, 0) + entry.size
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def traced_figures(trace: TraceLog, index: ImageIndex) -> dict:
    # through symlinks (/lib -> usr/lib), each real file once
    real_paths = {keep_stage.resolve(index, path).path for path in trace.paths}
    present = [index.get(path) for path in real_paths if path is not None]
    files = [entry for entry in present if entry is not None and entry.type.value == "file"]
    return {"paths": len(trace.paths), "present_files": len(files),
            "present_bytes": sum(entry.size for entry in files)}


def evaluate_gates(original_bytes: int, slim_bytes: int, max_size: int | None,
                   min_ratio: float | None) -> list[report_stage.GateEntry]:
    gates = []
    if max_size is not None:
        ok = slim_bytes <= max_size
        gates.append(report_stage.GateEntry(
            "max_size", ok, slim_bytes, max_size,
            f"slim image size {slim_bytes} bytes {'<=' if ok else '>'} --max-size {max_size} bytes"))
    if min_ratio is not None:
        ratio = original_bytes / slim_bytes if slim_bytes else float("inf")
        ok = ratio >= min_ratio
        gates.append(report_stage.GateEntry(
            "min_ratio", ok, round(ratio, 2), min_ratio,
            f"reduction ratio {ratio:.2f} {'>=' if ok else '<'} --min-ratio {min_ratio}"))
    return gates


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()[-30:])
