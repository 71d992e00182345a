"""`slim build` as a story: inspect, index and trace, keep, write the Dockerfile,
build, verify (and repair), report. Each stage is its own module; this file only
orders them, times them and makes sure everything temporary is removed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace

from . import __version__
from . import build as build_stage
from . import compose
from . import dockerfile as dockerfile_stage
from . import imagefs
from . import index as index_stage
from . import inspect as inspect_stage
from . import keep as keep_stage
from . import report as report_stage
from . import runcontext
from . import sensor
from . import trace as trace_stage
from . import verify as verify_stage
from .docker_api import Docker
from .dockerport import DockerPort
from .errors import BadInput, Interrupted, SlimError
from .events import Emit, Note, Repaired, StageStarted, for_stage, ignore
from .model import (ImageIndex, KeepOptions, ProbeCheck, ProbeResult, RunSpec, TraceLog, TracedPath,
                    Verification)
from .probefile import ProbePlan
from .textfmt import indent

MAX_REPAIR_ROUNDS = 3


@dataclass(frozen=True)
class BuildRequest:
    image: str
    plan: ProbePlan
    runs: tuple[RunSpec, ...] = ()          # --run variants; empty: the plan's own run
    tag: str | None = None
    keep: KeepOptions = field(default_factory=KeepOptions)
    artifacts_dir: str | None = None
    verify: bool = True
    repair: bool = True                     # --no-repair: a removed file the slim app reaches fails instead
    reuse: bool = True                      # --rebuild: never reuse an earlier build's image (build.py)
    max_size: int | None = None
    min_ratio: float | None = None
    compose: compose.ComposeTarget | None = None   # --compose-file FILE --service NAME


@dataclass
class BuildOutcome:
    report: report_stage.ReportDoc
    failures: list[str]


class _Timer:
    def __init__(self):
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}
        self.current = "start"          # the stage running now: an interrupt names it

    def stage(self, name: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.t0 = time.monotonic()
                timer.current = name

            def __exit__(self, *exc):
                timer.timings[f"{name}_s"] = round(timer.timings.get(f"{name}_s", 0) + time.monotonic() - self.t0, 2)
        return _Span()

    def total(self) -> dict[str, float]:
        return dict(self.timings, total_s=round(time.monotonic() - self.start, 2))


def build_slim_image(request: BuildRequest, emit: Emit = ignore, docker: DockerPort | None = None) -> BuildOutcome:
    """Run the story; whatever happens, remove what this run created (a second Ctrl-C or
    CI's SIGTERM cannot cut that short). An interrupt becomes errors.Interrupted, naming
    the stage it landed in, the timings so far and what the cleanup removed."""
    docker = docker or Docker()
    timer = _Timer()
    temporary = _TemporaryArtifacts(request)
    request = replace(request, artifacts_dir=temporary.directory)
    try:
        outcome = _build(docker, request, emit, timer)
    except KeyboardInterrupt:
        with _signals_deferred(redeliver=False):
            removed = docker.cleanup(settle_s=1.0)     # a create request may still be in flight
            temporary.remove()
        interrupted = Interrupted("interrupted", f"during {timer.current}",
                                  "nothing this run created is left: rerun when ready", stage=timer.current,
                                  timings=timer.total(), removed=removed)
        interrupted.session = docker.session
        raise interrupted from None
    except BaseException as exc:
        with _signals_deferred(redeliver=False):
            docker.cleanup()
            temporary.remove_if_empty()        # a run that failed before writing anything
        if isinstance(exc, SlimError):        # for the report of a run that ended early
            exc.stage, exc.timings, exc.session = timer.current, timer.total(), docker.session
        raise
    # The outcome is decided (and the slim image tagged or removed): a signal now only
    # waits for the cleanup to end.
    with _signals_deferred(redeliver=False):
        docker.cleanup()
        if not outcome.failures and temporary.remove():
            outcome.report.artifacts = outcome.report.dockerfile = None
    return outcome


class _TemporaryArtifacts:
    """Without --artifacts the run writes into a temporary directory, removed afterwards
    unless the build failed (the failure message names it, to investigate)."""

    def __init__(self, request: BuildRequest):
        self.created = request.artifacts_dir is None
        self.directory = request.artifacts_dir or tempfile.mkdtemp(prefix="slimmer-artifacts-")

    def remove(self) -> bool:
        if self.created:
            shutil.rmtree(self.directory, ignore_errors=True)
        return self.created

    def remove_if_empty(self) -> None:
        if self.created:
            with contextlib.suppress(OSError):
                os.rmdir(self.directory)           # fails, as wanted, when it holds anything


class _signals_deferred:
    """Hold SIGINT/SIGTERM/SIGHUP while the block runs; afterwards re-deliver them as
    KeyboardInterrupt, or (redeliver=False: the run is over either way) drop them."""

    def __init__(self, redeliver: bool = True):
        self.redeliver = redeliver

    def __enter__(self):
        self.pending: list[int] = []
        self.previous = {}
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.previous[signum] = signal.signal(signum, lambda n, _f: self.pending.append(n))
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if self.pending and self.redeliver and not exc[0]:
            raise KeyboardInterrupt
        return False


@dataclass
class _Slim:
    """The slim image as it stands: its keep set, artifacts and build (repair replaces them)."""
    options: KeepOptions
    keep_set: object
    artifacts: object
    built: object


def _build(docker: DockerPort, request: BuildRequest, emit: Emit, timer: _Timer) -> BuildOutcome:
    """The story of one `slim build`."""
    sensor.sensor_path()   # fail early, with how to build it, when the binary is missing
    request, dependencies = resolve_run_context(docker, request, emit)
    with timer.stage("inspect"):
        emit(StageStarted("inspect", f"inspecting {request.image}"))
        # its size comes free once the index has read the layers (no second docker save)
        image = inspect_stage.inspect_image(docker, request.image, content_size=False)
    check_platform(image)
    tag = request.tag or inspect_stage.default_slim_tag(image)
    # The traced runs and verification share one world: the same dependencies, networks, volumes.
    with run_context_resources(docker, request.runs, dependencies, emit, timer):
        outcome = _slim(docker, request, image, tag, emit, timer)
    if dependencies is not None:
        service = dependencies.service
        outcome.report.run_context["compose"] = {
            "file": service.compose_file, "service": service.name, "project": service.project,
            "dependencies": list(service.dependencies)}
    return outcome


def _slim(docker: DockerPort, request: BuildRequest, image, tag: str, emit: Emit, timer: _Timer) -> BuildOutcome:
    """Trace, keep, build, verify (and repair), report: the part that runs in the run context."""
    # The index streams `docker save` while the app runs under the sensor, and the first
    # build's collect container starts meanwhile (its 0.3-0.6 s start is then nobody's wait).
    indexer = index_stage.Indexer(docker, image, timer)
    collect = build_stage.prestart_collect(docker, image.id, sensor.sensor_path())
    try:
        return _traced_and_slimmed(docker, request, image, tag, emit, timer, indexer, collect)
    finally:
        if collect is not None:
            collect.discard()


def _traced_and_slimmed(docker: DockerPort, request: BuildRequest, image, tag: str, emit: Emit, timer: _Timer,
                        indexer, collect) -> BuildOutcome:
    with timer.stage("trace"):
        runs = trace_runs(docker, image, request, emit)
    read = indexer.result()
    emit(Note("index", f"{read.layers} layers, {len(read.index)} paths, from the {read.source}"))
    index = read.index
    # the saved config's empty_layer flags pair history with layers (the heuristic otherwise)
    image = inspect_stage.with_config_history(docker, image, (read.config or {}).get("history"))
    image = inspect_stage.with_content_size(docker, image)
    trace = without_mounted_paths(merge_traces([traced.trace for _, traced in runs]), request.runs)

    slim = _Slim(request.keep, None, None, None)
    make_slim_image(docker, image, index, trace, slim, request, tag, emit, timer, collect)
    verification = None
    if request.verify:
        verification = verify_and_repair(docker, image, index, trace, slim, runs, request, tag, emit, timer)
    built = slim.built
    gates = report_stage.evaluate_gates(image.size_bytes, built.size_bytes, request.max_size, request.min_ratio)
    failures = failure_messages(verification, gates)
    doc = report_stage.make_report(image, built, index, trace, slim.keep_set, runs, verification, gates,
                                   timer.total(), slim.artifacts, failures)
    if failures:
        failures.append(f"the slim image was not tagged {tag} and was removed; rebuild it to investigate: "
                        f"docker build {slim.artifacts.directory}")
    else:
        # verified and within the gates: only now does the user's tag point at it
        docker.tag_image(built.id, tag)
        work_tag = unverified_tag(tag, docker.session)
        docker.remove_image(work_tag)            # the unverified tag; the image keeps TAG
        docker.untrack_image(work_tag)
    return BuildOutcome(report=doc, failures=failures)


def resolve_run_context(docker: DockerPort, request: BuildRequest, emit: Emit):
    """One complete RunSpec per run: with --compose-file, the service's run context under
    the probe file's [run] and the flags (already merged by the CLI; runcontext rule 4).
    The Compose CLI only resolves the project here; nothing starts yet.
    Returns (request with its runs filled in, ComposeDependencies or None)."""
    runs = request.runs or (request.plan.run,)
    dependencies = None
    if request.compose is not None:
        dependencies = compose.prepare(request.compose, docker.session, docker, for_stage(emit, "compose"))
        runs = tuple(runcontext.merge_run(dependencies.service.run, run) for run in runs)
    return replace(request, runs=tuple(runcontext.check_run(run) for run in runs)), dependencies


@contextlib.contextmanager
def run_context_resources(docker: DockerPort, runs: tuple[RunSpec, ...], dependencies, emit: Emit, timer: _Timer):
    """What the runs need around them, for as long as the block lasts:
      1. the Compose dependencies (up, healthy), when --compose-file is given;
      2. every network a run attaches to exists (else exit 2 naming it: a typo must
         not become a daemon error halfway through);
      3. a named volume that does not exist yet is created for this build (labelled)
         and removed at the end, like everything slimmer makes; an existing one is
         used as it is;
      4. at the end, also after a failure or Ctrl-C: the dependencies go down
         (`down -v`, the project's containers, networks and volumes) and the
         volumes of 3 are removed. The traced and verify containers are gone by
         then (their own finally blocks)."""
    created: list[str] = []
    try:
        if dependencies is not None:
            with timer.stage("compose"):
                emit(StageStarted("compose", f"service {dependencies.service.name} of {dependencies.service.compose_file}"))
                dependencies.up()
        check_networks(docker, runs)
        created = create_missing_volumes(docker, runs, emit)
        for line in runcontext.describe(runs[0]):
            emit(Note("trace", f"run context: {line}"))
        yield
    except BaseException as failure:
        with _signals_deferred():
            if dependencies is not None:
                dependencies.down_after(failure)
            if created:
                docker.remove_volumes()
        raise
    with _signals_deferred():
        try:
            if dependencies is not None:
                dependencies.down()
        finally:
            if created:
                docker.remove_volumes()


def check_networks(docker: DockerPort, runs: tuple[RunSpec, ...]) -> None:
    for name in dict.fromkeys(name for run in runs for name in run.networks):
        if name not in ("bridge", "default") and not docker.network_exists(name):
            raise BadInput("unknown network", name,
                           f"create it first (docker network create {name}) or check the name: docker network ls")


def create_missing_volumes(docker: DockerPort, runs: tuple[RunSpec, ...], emit: Emit) -> list[str]:
    """The named volumes this build created (rule 3 of run_context_resources)."""
    created = []
    for name in dict.fromkeys(mount.source for run in runs for mount in run.mounts
                              if mount.kind == "volume" and mount.source):
        if not docker.volume_exists(name):
            emit(Note("trace", f"creating volume {name} for this build (removed at the end)"))
            docker.create_volume(name)
            created.append(name)
    return created


SHADOWING_MOUNTS = ("bind", "tmpfs")


def without_mounted_paths(trace: TraceLog, runs: tuple[RunSpec, ...]) -> TraceLog:
    """What the app read under a mount came from the mount, not from the image:
      1. traced paths strictly under a bind or tmpfs mount target are dropped before
         the keep stage: they are not traced image files;
      2. the mount point itself stays, as a traced path: the slim image has it with
         the image's mode and owner (when the image lacks it, its nearest directory;
         Docker creates the mount point at run time);
      3. a named or anonymous volume starts as a copy of the image's directory: what
         the app read there is image content, kept by the usual rules."""
    targets = sorted({mount.target for run in runs for mount in run.mounts if mount.kind in SHADOWING_MOUNTS})
    if not targets:
        return trace
    paths = {path: item for path, item in trace.paths.items()
             if not any(path.startswith(target.rstrip("/") + "/") for target in targets)}
    for target in targets:
        paths[target] = TracedPath(target, frozenset({"mount"}), False)
    return replace(trace, paths=paths)


def make_slim_image(docker: DockerPort, image, index: ImageIndex, trace: TraceLog, slim: _Slim,
                    request: BuildRequest, tag: str, emit: Emit, timer: _Timer, collect=None) -> None:
    """keep -> dockerfile -> build, for the keep options in SLIM (again after a repair).
    The build's collect container is COLLECT (started during the trace), or starts now,
    while the keep set is computed; whatever happens, it is gone when this returns
    unless the build took it."""
    if collect is None:
        collect = build_stage.prestart_collect(docker, image.id, sensor.sensor_path())
    early = None
    try:
        early = build_stage.early_layer(docker, collect, image.id, bool(slim.options.exclude),
                                        imagefs.default_cache(), reuse=request.reuse)
        _keep_and_build(docker, image, index, trace, slim, request, tag, emit, timer, collect, early)
    finally:
        if early is not None:
            early.abort()
        if collect is not None:
            collect.discard()


def _keep_and_build(docker: DockerPort, image, index: ImageIndex, trace: TraceLog, slim: _Slim,
                    request: BuildRequest, tag: str, emit: Emit, timer: _Timer, collect, early) -> None:
    with timer.stage("keep"):
        emit(StageStarted("keep", f"computing the keep set from {len(trace.paths)} traced paths"
                                  + (" (the layer is collected and applied as paths are kept)" if early else "")))
        slim.keep_set = compute_keep_set(docker, image, index, trace, slim.options,
                                         on_keep=early.keep if early is not None else None)
    with timer.stage("dockerfile"):
        slim.artifacts = write_artifacts(slim.artifacts.directory if slim.artifacts else request.artifacts_dir,
                                         image, slim.keep_set, index)
    # Until it is verified (and passes the gates) the slim image carries a temporary tag
    # that the cleanup removes: a failed or interrupted run never leaves TAG on an image
    # a later CI step could push, nor moves TAG off the user's previous image.
    work_tag = unverified_tag(tag, docker.session)
    docker.track_image(work_tag)
    with timer.stage("build"):
        emit(StageStarted("build", f"building {tag}"))
        previous = slim.built
        built = build_stage.build_slim_image(docker, slim.artifacts, work_tag, emit, imagefs.default_cache(),
                                             reuse=request.reuse, collect=collect, early=early)
        slim.built = replace(built, tag=tag)
        if previous is not None and previous.id != built.id and not previous.reused:
            docker.remove_image(previous.id)    # the work tag moved to the repaired image


def unverified_tag(tag: str, session: str) -> str:
    """app:1.0-slim -> app:1.0-slim.unverified-SESSION (the work tag of this run)."""
    name, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    return f"{name}:{(version + '.unverified-' + session)[-128:]}"


def verify_and_repair(docker: DockerPort, image, index: ImageIndex, trace: TraceLog, slim: _Slim, runs,
                      request: BuildRequest, tag: str, emit: Emit, timer: _Timer) -> Verification:
    """Verify; when the slim app reached files the slim image lacks, keep them (with their
    closures), rebuild and verify again, up to MAX_REPAIR_ROUNDS times (--no-repair: fail)."""
    repairs: list[tuple[int, str, str]] = []
    for round_number in range(1, MAX_REPAIR_ROUNDS + 2):
        with timer.stage("verify"):
            emit(StageStarted("verify", f"replaying the probes against {tag} under the sensor"))
            checks, logs, reached = verify_runs(docker, image, index, slim, runs, emit)
        # a path the user excluded stays out: reaching it is a warning, the probes judge the app
        vetoed = [(p, probe) for p, probe in reached if keep_stage.excluded(index, slim.options.exclude, p)]
        checks += [_excluded_check(path, probe) for path, probe in vetoed]
        reached = [item for item in reached if item not in vetoed]
        if not reached:
            return Verification(tuple(checks), logs, repairs=tuple(repairs))
        if not request.repair or round_number > MAX_REPAIR_ROUNDS:
            checks += [_removed_check(path, probe) for path, probe in reached]
            return Verification(tuple(checks), logs, repairs=tuple(repairs), reached_removed=tuple(reached))
        emit(Repaired(round_number, tuple(path for path, _ in reached)))
        repairs += [(round_number, path, probe) for path, probe in reached]
        slim.options = replace(slim.options, repaired=tuple(slim.options.repaired) + tuple(reached))
        make_slim_image(docker, image, index, trace, slim, request, tag, emit, timer)
    raise AssertionError("unreachable")


def _excluded_check(path: str, probe: str) -> ProbeCheck:
    result = ProbeResult(name=probe, kind="file", ok=True)
    return ProbeCheck(f"file {path}", True, result, result,
                      warning=f"the slim app reached {path}, which --exclude-path removed (reached by {probe})")


def _removed_check(path: str, probe: str) -> ProbeCheck:
    result = ProbeResult(name=probe, kind="file", ok=False, error=f"{path} was removed")
    return ProbeCheck(f"file {path}", False, result, result,
                      f"the slim app reached {path}, which the original image has and the slim image lacks "
                      f"(reached by {probe}); keep it with --include-path {path}, or drop --no-repair")


def trace_runs(docker: DockerPort, image, request: BuildRequest, emit: Emit):
    """One traced run per --run variant (or the plan's own run): [(run, TraceResult)]."""
    runs = []
    for run in request.runs or (request.plan.run,):
        emit(StageStarted("trace", f"running {image.reference} under the sensor"))
        traced = trace_stage.trace_image(docker, image, replace(request.plan, run=run), emit=emit)
        runs.append((run, traced))
    return runs


def compute_keep_set(docker: DockerPort, image, index: ImageIndex, trace: TraceLog, options: KeepOptions,
                     on_keep=None):
    reader = index_stage.file_reader(docker, image, index)
    cache = imagefs.default_cache()
    scans = imagefs.load_python_scans(cache)          # what earlier runs' Python sources import
    known = len(scans or ())

    def read_file(path: str) -> bytes | None:
        # bytes captured while indexing first; the layer store or a created container for the rest
        captured = index.contents.get(path)
        return captured if captured is not None else reader(path)
    try:
        keep_set = keep_stage.compute_keep_set(trace, index, image, options, read_file=read_file,
                                               python_scans=scans, on_keep=on_keep)
    finally:
        reader.close()
    imagefs.save_python_scans(cache, scans, known)
    return keep_set


def verify_runs(docker: DockerPort, image, index: ImageIndex, slim: _Slim, runs, emit: Emit):
    """Each run variant replayed on the slim image: (checks, slim log tail, [(removed path, probe)])."""
    checks: list[ProbeCheck] = []
    slim_logs = ""
    reached: dict[str, str] = {}
    for run, traced in runs:
        slim_run = verify_stage.verify_image(docker, image, slim.built, run, traced.results,
                                             original_logs=traced.logs, emit=emit)
        checks.extend(slim_run.verification.checks)
        if not slim_run.verification.passed:
            slim_logs = slim_logs or slim_run.verification.slim_logs
        for path, probe in verify_stage.removed_reached(slim_run, index, slim.keep_set, run.mount_targets()):
            reached.setdefault(path, probe)
    return checks, slim_logs, sorted(reached.items())


def failure_messages(verification: Verification | None, gates) -> list[str]:
    failures = [gate.message for gate in gates if not gate.passed]
    if verification is not None and not verification.passed:
        failed = [c for c in verification.checks if not c.passed]
        failures.insert(0, "verification failed: " + "; ".join(f"{c.name}: {c.reason}" for c in failed)
                        + ("\n  last log lines of the slim container:\n" + indent(verification.slim_logs)
                           if verification.slim_logs else ""))
    return failures


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


def merge_traces(traces: list[TraceLog]) -> TraceLog:
    """The union of several runs' traces (--run variants)."""
    if len(traces) == 1:
        return traces[0]
    paths: dict[str, TracedPath] = {}
    for trace in traces:
        for path, item in trace.paths.items():
            known = paths.get(path)
            paths[path] = item if known is None else TracedPath(
                path, known.syscalls | item.syscalls, known.write or item.write, known.logs | item.logs)
    processes = tuple(p for trace in traces for p in trace.processes)
    return TraceLog(version=traces[0].version, paths=paths, processes=processes,
                    exit_status=traces[-1].exit_status)
