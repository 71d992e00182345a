"""Stage: verify. Run the slim image as the original was run (same run context),
under the sensor, replay the same probes in the same order and number, and judge
the app, not the bytes.

Verdicts:
  1. hard failures: the probe's own expectations (expect_*), its status (HTTP
     status or exit code) differing from the original's, a connection that
     fails, the app crashing or exiting, a new error signature in the slim
     container's log that the original's log lacks ("No module named",
     "cannot open shared object file", ...), and a file the slim app tried to
     reach that exists in the original image but was removed;
  2. warnings: the same status with a different body or output (clocks,
     timings, counters), unless the probe asks for `compare = "exact"`; a
     probe whose original answers already differed between two runs gets no
     warning at all;
  3. "connect" and "wait" probes pass when the port accepts / the wait ends.
Removed files the app reached are returned (with the probe that reached them)
so the pipeline can repair: keep them, rebuild, verify again.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from . import probe as probing
from . import sensor
from .apprun import AppRun
from .dockerport import DockerPort
from .errors import AppFailed, SlimError
from .events import Emit, ProbeDone, ignore
from .model import (BuiltImage, ExecProbe, HttpProbe, ImageIndex, ImageInfo, KeepSet, ProbeCheck,
                    ProbeResult, RunSpec, TraceLog, Verification, WaitProbe)

# Lines that say a file or module is missing: new ones in the slim app's log fail verification.
ERROR_SIGNATURES = re.compile(
    r"No module named|ModuleNotFoundError|ImportError|cannot open shared object file|"
    r"error while loading shared libraries|Can't locate \S+ in @INC|LoadError|cannot load such file|"
    r"Cannot find module|No such file or directory|command not found|not found in PATH|"
    r"NoClassDefFoundError|ClassNotFoundException|UnsatisfiedLinkError|symbol lookup error")


@dataclass(frozen=True)
class SlimRun:
    """One verification run: the checks, the slim app's log, and what it reached."""
    verification: Verification
    trace: TraceLog | None          # None when the run could not start or left no log
    exec_logs: dict[str, str]       # log directory (exec-N) -> the exec probe whose sensor logs are there


def compare(original: ProbeResult, slim: ProbeResult) -> ProbeCheck:
    if not slim.ok:
        return ProbeCheck(original.name, False, original, slim, slim.error or "failed")
    if original.kind in ("connect", "wait"):
        return ProbeCheck(original.name, True, original, slim)
    if original.status != slim.status:
        return ProbeCheck(original.name, False, original, slim,
                          f"status {slim.status}, the original gave {original.status}")
    if original.digest != slim.digest:
        what = "output" if original.kind in ("exec", "run", "healthcheck") else "body"
        if getattr(original.probe, "compare", "auto") == "exact":
            return ProbeCheck(original.name, False, original, slim,
                              f"{what} differs from the original's (compare = \"exact\")")
        if original.stable:
            return ProbeCheck(original.name, True, original, slim,
                              warning=f"{what} differs from the original's (same status {slim.status})")
    return ProbeCheck(original.name, True, original, slim)


def verify_image(docker: DockerPort, original_image: ImageInfo, slim: BuiltImage, run: RunSpec,
                 original_results: tuple[ProbeResult, ...], original_logs: str = "",
                 emit: Emit = ignore) -> SlimRun:
    """Replay ORIGINAL_RESULTS' probes against the slim image, traced."""
    slim_info = replace(original_image, id=slim.id, reference=slim.tag)
    app = AppRun(docker, slim_info, slim.id, run, traced=True, emit=emit, stage="verify")
    checks: list[ProbeCheck] = []
    exec_logs: dict[str, str] = {}
    trace = None
    try:
        app.start()
        run_result = next((r for r in original_results if r.kind == "run"), None)
        if run_result is None:
            app.wait_ports(extra=tuple(sorted({r.port for r in original_results if r.port})))
        replays = [r for r in original_results if r.kind != "run"]
        for number, original in enumerate(replays, 1):
            log_name = f"exec-{number}"      # an exec probe's sensor logs go to a directory of its own
            if isinstance(original.probe, ExecProbe):
                exec_logs[log_name] = original.name
            checks.append(compare(original, _replay(app, original, log_name)))
            check = checks[-1]
            emit(ProbeDone("verify", number, len(replays), original.name, check.passed,
                           None if check.passed else check.reason, check.warning or None))
        if run_result is not None:
            code = app.wait_exit()
            slim_result = ProbeResult(name=run_result.name, kind="run", ok=True, status=code,
                                      digest=probing.digest(app.stdout()))
            checks.append(compare(run_result, slim_result))
            check = checks[-1]
            emit(ProbeDone("verify", len(replays) + 1, len(replays) + 1, run_result.name, check.passed,
                           None if check.passed else check.reason, check.warning or None))
        elif not app.alive():
            code = docker.exit_code(app.container_id)
            failed = ProbeResult("app", "run", False, status=code, error=f"the slim app exited with code {code}")
            checks.append(ProbeCheck("app keeps running", False, original_results[0] if original_results else failed,
                                     failed, f"the slim app exited with code {code}"))
        logs = app.last_logs(200)
        checks.extend(new_error_lines(original_logs, logs))
        app.stop()
        trace = _fetch_trace(app)
    except AppFailed as exc:
        logs = app.last_logs(200)
        failed = ProbeResult(name="start", kind="run", ok=False, error=f"{exc.what}: {exc.value}")
        checks.append(ProbeCheck("slim image starts", False, failed, failed, f"{exc.what}: {exc.value}"))
        checks.extend(new_error_lines(original_logs, logs))
        trace = _fetch_trace(app)
    finally:
        app.remove()
    tail = "\n".join(logs.splitlines()[-40:])
    return SlimRun(Verification(checks=tuple(checks), slim_logs=tail), trace, exec_logs)


def new_error_lines(original_logs: str, slim_logs: str) -> list[ProbeCheck]:
    """A failure per error signature the slim app logged that the original's log lacks."""
    known = {match.group(0) for match in ERROR_SIGNATURES.finditer(original_logs)}
    checks, seen = [], set()
    for line in slim_logs.splitlines():
        match = ERROR_SIGNATURES.search(line)
        if match and match.group(0) not in known and line not in seen:
            seen.add(line)
            result = ProbeResult("log", "log", False, error=line.strip()[:300])
            checks.append(ProbeCheck("slim app's log", False, result, result,
                                     f"new error in the slim app's log: {line.strip()[:300]}"))
    return checks


def removed_reached(slim_run: SlimRun, index: ImageIndex, keep_set: KeepSet,
                    mount_targets: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(path, probe) for each file the slim app tried to reach that the original image
    has and the slim image lacks: the path itself, or a symlink on the way to it."""
    from .keep import resolve
    from .keep.core import never_kept
    if slim_run.trace is None:
        return []
    found: dict[str, str] = {}
    names = slim_run.exec_logs
    for traced in slim_run.trace.paths.values():
        path = os.path.normpath(traced.path)
        if never_kept(path) or _under(path, mount_targets):
            continue
        resolution = resolve(index, path)
        missing = [link for link in resolution.symlinks if link not in keep_set]
        if resolution.path is not None and resolution.path != "/" and resolution.path not in keep_set:
            missing.append(resolution.path)
        for real in missing:
            if not never_kept(real):   # what the slim image can never hold is never judged
                found.setdefault(real, _who(traced, names))
    return sorted(found.items())


def _who(traced, exec_logs: dict[str, str]) -> str:
    """The exec probes whose own logs (exec-N/...) saw the path, else the app."""
    directories = {name.split("/", 1)[0] for name in getattr(traced, "logs", ()) if "/" in name}
    probes = sorted({exec_logs[directory] for directory in directories if directory in exec_logs})
    return ", ".join(probes) if probes else "the app while the probes ran"


def _under(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _fetch_trace(app: AppRun) -> TraceLog | None:
    try:
        return app.fetch_trace()
    except SlimError:
        return None


def _replay(app: AppRun, original: ProbeResult, log_name: str) -> ProbeResult:
    probe = original.probe
    if isinstance(probe, HttpProbe):
        return probing.run_http(probe, app.http_endpoint(probe.port), original.runs)
    if isinstance(probe, ExecProbe):
        return app.exec_probe(probe, log_name)[0]
    if isinstance(probe, WaitProbe):
        return app.wait_probe(probe)
    raise SlimError("cannot replay a probe", original.name, "report this as a bug")
