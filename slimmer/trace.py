"""Stage: trace. Run the original image under the sensor, drive it with probes,
stop it, and bring back the sensor's log.

How a run ends (--continue-after):
  1. probes: after the probes (the default when the app has TCP ports);
  2. exit: when the app exits by itself (the default without ports: batch jobs);
  3. timeout=S: S seconds after start, probes running meanwhile;
  4. signal: when slim receives SIGUSR1 (a person or CI drove the app by hand).
The container itself (create, ports, exec probes, logs) is apprun.AppRun.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

from . import probe as probing
from .apprun import AppRun, app_command, continue_mode
from .dockerport import DockerPort
from .errors import AppFailed, BadInput, ProbeFailed
from .events import Emit, Note, ignore
from .model import ExecProbe, ImageInfo, ProbeResult, TraceLog, WaitProbe
from .textfmt import indent

LISTEN_GRACE_S = float(os.environ.get("SLIMMER_LISTEN_GRACE", "10"))


@dataclass(frozen=True)
class TraceResult:
    trace: TraceLog
    results: tuple[ProbeResult, ...]
    exit_code: int | None
    logs: str
    ports: tuple[int, ...]


def trace_image(docker: DockerPort, image: ImageInfo, plan: probing.ProbePlan,
                emit: Emit = ignore, signal_event: threading.Event | None = None) -> TraceResult:
    """Run IMAGE under the sensor, probe it, stop it, return the trace log and probe results."""
    app = AppRun(docker, image, image.id, plan.run, traced=True, emit=emit, stage="trace")
    # Listen for SIGUSR1 from the start: a signal sent while probes run must not kill slim.
    sigusr1 = _Sigusr1(signal_event) if continue_mode(plan.run, app.ports)[0] == "signal" else None
    try:
        app.start()
        mode, seconds = continue_mode(plan.run, app.ports)
        if mode == "exit" and _may_be_a_server(plan, app):
            mode = _exit_or_listen(app)
        if mode == "exit":
            results = _run_exec_and_wait(app, plan)
            app.note("waiting for the app to exit")
            code = app.wait_exit()
            results.append(ProbeResult(name="run " + " ".join(app_command(image, plan.run)), kind="run",
                                       ok=code == 0, status=code, digest=probing.digest(app.stdout()),
                                       error=None if code == 0 else f"exit code {code}", probe=plan.run))
            if code != 0:
                raise AppFailed("the app exited with a non-zero code", f"{code}; last log lines:\n{indent(app.last_logs())}",
                                "run the image by hand (docker run) to see why; slimmer traces what a successful run needs")
        else:
            app.note("running probes")
            results = probing.ProbeSession(app, plan).run()
            if not results and mode == "probes":
                raise BadInput("nothing to probe: the image exposes no TCP port and the app listens on none",
                               image.reference,
                               "use --continue-after exit|timeout=SECONDS|signal, or exec probes"
                               + ("" if docker.is_local() else " (listening ports are only found with a local daemon)"))
            if mode == "timeout":
                remaining = seconds - (time.monotonic() - app.started_at)
                if remaining > 0:
                    app.note(f"waiting {remaining:.0f}s (--continue-after timeout)")
                    time.sleep(remaining)
            elif mode == "signal":
                app.note(f"waiting for SIGUSR1 (kill -USR1 {os.getpid()})")
                sigusr1.wait()
            if not app.alive():
                code = docker.exit_code(app.container_id)
                raise AppFailed("the app exited during probing", f"exit code {code}; last log lines:\n{indent(app.last_logs())}",
                                "run the image by hand (docker run) to see why")
        failed = [r for r in results if not r.ok]
        if failed:
            details = "\n".join(f"    {r.name}: {r.error}" for r in failed)
            raise ProbeFailed("probes failed against the original image", f"\n{details}",
                              "fix the probe expectations or the app; slimmer only slims images whose probes pass")
        app.note("stopping the app")
        exit_code = app.stop()
        logs = app.last_logs(200)
        trace = app.fetch_trace()
        return TraceResult(trace=trace, results=tuple(results), exit_code=exit_code, logs=logs,
                           ports=tuple(app.ports))
    finally:
        if sigusr1 is not None:
            sigusr1.restore()
        app.remove()


def _may_be_a_server(plan: probing.ProbePlan, app: AppRun) -> bool:
    """No EXPOSE and no explicit continue-after: it may still be a server that forgot
    EXPOSE. Only worth watching when nothing else must run meanwhile (exec probes)."""
    return (plan.run.continue_after == "auto" and not app.ports and app.docker.is_local()
            and not any(isinstance(item, (ExecProbe, WaitProbe)) for item in plan.probes))


def _exit_or_listen(app: AppRun) -> str:
    """For up to LISTEN_GRACE_S: "probes" as soon as the app listens on a TCP port,
    "exit" when it exits or stays silent (a batch job still working)."""
    app.note("no EXPOSE: watching whether the app exits or listens")
    deadline = time.monotonic() + LISTEN_GRACE_S
    while time.monotonic() < deadline:
        if not app.alive():
            return "exit"
        ports = app.listening_ports()
        if ports:
            app.note(f"the app listens on {', '.join(map(str, ports))}: probing it")
            return "probes"
        time.sleep(0.1)
    return "exit"


def _run_exec_and_wait(app: AppRun, plan: probing.ProbePlan) -> list[ProbeResult]:
    results = []
    for item in plan.probes:
        if isinstance(item, WaitProbe):
            results.append(app.wait_probe(item))
        elif isinstance(item, ExecProbe) and app.alive():
            results.append(app.exec_probe(item)[0])
    return results


class _Sigusr1:
    """SIGUSR1 to slim ends a --continue-after signal run. Tests (or callers off the
    main thread, where signal handlers cannot be set) pass their own event.

    The handler only sets a flag: a Python signal handler runs in the main thread between
    two bytecodes, possibly while that thread holds a lock, so one that took a lock (an
    Event's set()) could wait forever on its own thread."""

    def __init__(self, event: threading.Event | None):
        self.event = event
        self.received = False
        self.installed = event is None
        if self.installed:
            self.previous = signal.signal(signal.SIGUSR1, self._on_signal)

    def _on_signal(self, *_) -> None:
        self.received = True

    def wait(self) -> None:
        while not (self.received or (self.event is not None and self.event.is_set())):
            time.sleep(0.1)

    def restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGUSR1, self.previous if self.previous is not None else signal.SIG_DFL)
            self.installed = False
