"""Stage: trace. Run the original image under the sensor, drive it with probes,
stop it, and bring back the sensor's log.

`AppRun` is the lifecycle of one app container (create, start, reach its ports,
run probes, stop, remove); verify.py uses it too, without the sensor.

How a run ends (--continue-after):
  1. probes: after the probes (the default when the app has TCP ports);
  2. exit: when the app exits by itself (the default without ports: batch jobs);
  3. timeout=S: S seconds after start, probes running meanwhile;
  4. signal: when slim receives SIGUSR1 (a person or CI drove the app by hand).
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from . import probe as probing
from . import sensor
from .docker_api import Docker
from .errors import AppFailed, BadInput, ProbeFailed
from .model import (ExecProbe, HttpProbe, ImageInfo, ProbeResult, RunSpec, TraceLog,
                    WaitProbe)

Event = Callable[[str], None]

APP_START_TIMEOUT_S = float(os.environ.get("SLIMMER_PORT_TIMEOUT", "90"))
EXIT_TIMEOUT_S = float(os.environ.get("SLIMMER_EXIT_TIMEOUT", "600"))


@dataclass(frozen=True)
class TraceResult:
    trace: TraceLog
    results: tuple[ProbeResult, ...]
    exit_code: int | None
    logs: str
    ports: tuple[int, ...]


def app_command(image: ImageInfo, run: RunSpec) -> list[str]:
    """The argv the image runs: ENTRYPOINT + CMD, CMD replaced by --run ARGS."""
    entrypoint = list(image.config.entrypoint)
    cmd = list(run.command) if run.command is not None else list(image.config.cmd)
    argv = entrypoint + cmd
    if not argv:
        raise BadInput("the image has neither ENTRYPOINT nor CMD", image.reference,
                       "give the command with --run \"ARGS\" or a probe file's [run] command")
    return argv


def continue_mode(run: RunSpec, ports: tuple[int, ...]) -> tuple[str, float | None]:
    mode, seconds = probing.parse_continue_after(run.continue_after)
    if mode == "auto":
        mode = "probes" if ports else "exit"
    return mode, seconds


class AppRun:
    """One container of an image, run the way the image runs, optionally under the sensor."""

    def __init__(self, docker: Docker, image: ImageInfo, image_ref: str, run: RunSpec,
                 traced: bool, on_event: Event = lambda _: None, name_hint: str = "trace"):
        self.docker = docker
        self.image = image
        self.ports = image.config.tcp_ports()
        self.run = run
        self.traced = traced
        self.on_event = on_event
        argv = app_command(image, run)
        if traced:
            entrypoint = [sensor.SENSOR_IN_CONTAINER, "trace", "--log", sensor.LOG_DIR, "--"]
        else:
            entrypoint = argv[:1]
            argv = argv[1:]
        self.user = run.user if run.user is not None else image.config.user
        self.container_id = docker.create_container(
            image_ref, entrypoint=entrypoint, command=argv, user=self.user,
            environment=[f"{k}={v}" for k, v in run.env] or None,
            ports=self.ports, name_hint=name_hint,
            stop_signal=image.config.stop_signal or None)
        if traced:
            docker.put_archive(self.container_id, "/", sensor.sensor_tar())
        self.endpoints: dict[int, probing.Endpoint] = {}

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self.docker.start(self.container_id)
        self.started_at = time.monotonic()
        for port in self.ports:
            host_port = self.docker.host_port(self.container_id, port)
            if host_port:
                self.endpoints[port] = probing.Endpoint(port, "127.0.0.1", host_port)
        if self.ports and not self.endpoints and not self.alive():
            # Gone before Docker even published its ports: say so, with its last words.
            raise AppFailed("the app exited at once", f"exit code {self.docker.exit_code(self.container_id)}; "
                            f"last log lines:\n{_indent(self.last_logs())}",
                            "run the image by hand (docker run) to see why")

    def alive(self) -> bool:
        return self.docker.is_running(self.container_id)

    def last_logs(self, lines: int = 30) -> str:
        return self.docker.logs(self.container_id, tail=lines)

    def wait_ports(self) -> None:
        for port, endpoint in self.endpoints.items():
            self.on_event(f"waiting for port {port} to accept connections")
            try:
                probing.wait_for_port(endpoint, self.alive, APP_START_TIMEOUT_S)
            except AppFailed as exc:
                raise AppFailed(exc.what, f"{exc.value}; exit code {self.docker.exit_code(self.container_id)}; "
                                f"last log lines:\n{_indent(self.last_logs())}", exc.hint) from None

    def wait_exit(self, timeout_s: float = EXIT_TIMEOUT_S) -> int:
        try:
            return self.docker.wait(self.container_id, timeout=timeout_s)
        except TimeoutError:
            raise AppFailed("the app did not exit", f"still running after {timeout_s:.0f}s",
                            "use --continue-after timeout=SECONDS or probes for a server") from None

    def stop(self) -> int | None:
        if self.alive():
            self.docker.stop(self.container_id, timeout=10)
        return self.docker.exit_code(self.container_id)

    def fetch_trace(self) -> TraceLog:
        archive = self.docker.get_archive(self.container_id, sensor.LOG_DIR)
        if archive is None:
            raise sensor_missing_log(self.image.reference)
        files = {}
        for member in archive:
            if member.isfile():
                files[os.path.basename(member.name)] = archive.extractfile(member).read()
        if not files:
            raise sensor_missing_log(self.image.reference, self.last_logs())
        return sensor.parse_log(files)

    def remove(self) -> None:
        self.docker.remove_container(self.container_id)

    # --- probes ---------------------------------------------------------------------

    def exec_probe(self, probe: ExecProbe) -> tuple[ProbeResult, bytes]:
        argv = list(probe.argv)
        if self.traced:
            argv = [sensor.SENSOR_IN_CONTAINER, "run", "--log", sensor.LOG_DIR, "--"] + argv
        user = probe.user if probe.user is not None else self.user
        start = time.monotonic()
        code, output = self.docker.exec_run(self.container_id, argv, user=user or None)
        error = probing.check_exec_expectations(probe, code, output)
        return ProbeResult(name=probe.name, kind="exec", ok=error is None, status=code,
                           digest=probing.digest(output), elapsed_s=time.monotonic() - start,
                           error=error, probe=probe), output

    def wait_probe(self, probe: WaitProbe) -> ProbeResult:
        start = time.monotonic()
        error = None
        if probe.seconds is not None:
            time.sleep(probe.seconds)
        elif probe.port is not None:
            endpoint = self.endpoints.get(probe.port) or self._endpoint_by_ip(probe.port)
            try:
                probing.wait_for_port(endpoint, self.alive, probe.timeout_s)
            except AppFailed as exc:
                error = f"{exc.what}: {exc.value}"
        else:
            import re
            pattern = re.compile(probe.log_regex)
            while not pattern.search(self.docker.logs(self.container_id)):
                if time.monotonic() - start > probe.timeout_s:
                    error = f"no log line matched /{probe.log_regex}/ in {probe.timeout_s:.0f}s"
                    break
                if not self.alive():
                    error = "the app exited before the log line appeared"
                    break
                time.sleep(0.2)
        return ProbeResult(name=probe.name, kind="wait", ok=error is None, error=error,
                           elapsed_s=time.monotonic() - start, probe=probe)

    def _endpoint_by_ip(self, port: int) -> probing.Endpoint:
        address = self.docker.container_ip(self.container_id)
        if not address:
            raise BadInput("cannot reach a port that the image does not EXPOSE", port,
                           "add EXPOSE to the image, or probe an exposed port")
        return probing.Endpoint(port, address, port)

    def http_endpoint(self, port: int) -> probing.Endpoint:
        return self.endpoints.get(port) or self._endpoint_by_ip(port)

    def listening_ports(self) -> tuple[int, ...]:
        """TCP ports the app listens on, read from its network namespace (local daemon only)."""
        if not self.docker.is_local():
            return ()
        pid = self.docker.container_pid(self.container_id)
        return listening_tcp_ports(pid) if pid else ()

    def healthcheck(self) -> ProbeResult | None:
        """Run the image's HEALTHCHECK command once, traced, so its files are kept."""
        health = self.image.config.healthcheck
        if health is None or not health.test or health.test[0] == "NONE":
            return None
        if health.test[0] == "CMD-SHELL":
            argv = ("/bin/sh", "-c", " ".join(health.test[1:]))
        else:
            argv = tuple(health.test[1:])
        result, _ = self.exec_probe(ExecProbe(argv=argv, expect_exit=None))
        # Health output often carries times or counters: compare its exit code only.
        return replace(result, name="healthcheck " + " ".join(argv), kind="healthcheck", stable=False)


_LOOPBACK = {"0100007F", "00000000000000000000000001000000"}


def listening_tcp_ports(pid: int) -> tuple[int, ...]:
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":   # TCP_LISTEN
                        address, port_hex = fields[1].rsplit(":", 1)
                        if address in _LOOPBACK:
                            continue   # loopback only: not reachable from outside
                        ports.add(int(port_hex, 16))
        except OSError:
            continue
    return tuple(sorted(ports))


def sensor_missing_log(reference: str, logs: str = ""):
    from .errors import SensorError
    return SensorError("the sensor left no trace log", reference,
                       "the sensor could not run in this image (another architecture?); "
                       "last log lines:\n" + _indent(logs) if logs else
                       "the sensor could not run in this image (another architecture?)")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()[-30:])


# --- the probe plan on a running app -----------------------------------------------------

@dataclass
class ProbeSession:
    """Runs a probe plan against an AppRun and collects concrete, replayable results.

    Progress goes out as "probe N/M NAME: RESULT" and "crawl PORT PATH" events
    (M grows as the crawl finds pages); the CLI draws them as a bar.
    """

    app: AppRun
    plan: probing.ProbePlan
    crawl_limits: probing.CrawlLimits | None = None   # None: the plan's
    replays: int = 2    # each HTTP probe runs twice on the original: unstable bodies compare by status
    discover_s: float = APP_START_TIMEOUT_S   # how long to look for a listening port when none is EXPOSEd

    def run(self) -> list[ProbeResult]:
        results: list[ProbeResult] = []
        self._done, self._total = 0, 0
        ports = self._ports()
        http_ports: dict[int, str] = {}
        for port in ports:
            endpoint = self.app.http_endpoint(port)
            self.app.on_event(f"waiting for port {port} to accept connections")
            try:
                probing.wait_for_port(endpoint, self.app.alive, APP_START_TIMEOUT_S)
            except AppFailed as exc:
                code = self.app.docker.exit_code(self.app.container_id)
                state = f"exit code {code}" if code is not None else "still running"
                raise AppFailed(exc.what, f"{exc.value}; {state}; last log lines:\n{_indent(self.app.last_logs())}",
                                exc.hint) from None
            scheme = "https" if probing.speaks_tls(endpoint) else "http"
            if probing.speaks_http(endpoint, scheme):
                http_ports[port] = scheme
            else:
                self._total += 1
                results.append(self._report(ProbeResult(
                    name=f"connect to port {port}", kind="connect", ok=True, port=port,
                    probe=WaitProbe(port=port, timeout_s=APP_START_TIMEOUT_S))))
        explicit = list(self.plan.probes)
        self._total += sum(1 if not isinstance(item, HttpProbe) or item.port is not None
                           else max(len(http_ports), 1) for item in explicit)
        seen_paths: dict[int, set[str]] = {port: set() for port in http_ports}
        for item in explicit:
            if isinstance(item, HttpProbe) and item.port is None and not http_ports:
                results.append(self._report(ProbeResult(
                    name=item.name, kind="http", ok=False, probe=item,
                    error="no port of the app speaks HTTP" + (f" (ports: {', '.join(map(str, ports))})" if ports else ""))))
            elif isinstance(item, HttpProbe):
                targets = [item.port] if item.port is not None else list(http_ports)
                for port in targets:
                    concrete = replace(item, port=port,
                                       scheme=item.scheme if item.scheme != "http" else http_ports.get(port, "http"))
                    results.append(self._report(self._http(concrete)))
                    seen_paths.setdefault(port, set()).add(item.path)
            elif isinstance(item, ExecProbe):
                result, _ = self.app.exec_probe(item)
                results.append(self._report(result))
            else:
                results.append(self._report(self.app.wait_probe(item)))
        if self.plan.crawl:
            limits = self.crawl_limits or self.plan.crawl_limits
            for port, scheme in http_ports.items():
                if "/" not in seen_paths[port]:
                    seen_paths[port].add("/")
                    self._total += 1
                    results.append(self._report(self._http(HttpProbe(path="/", port=port, scheme=scheme))))
                endpoint = self.app.http_endpoint(port)
                pages = probing.crawl(endpoint, scheme, limits, seen_paths[port],
                                      on_page=lambda path, port=port: self.app.on_event(f"crawl {port} {path}"))
                self._total += len(pages)
                for page in pages:
                    results.append(self._report(self._http(page)))
        health = self.app.healthcheck() if self.app.traced else None
        if health is not None:
            self._total += 1
            results.append(self._report(health))
        return results

    def _ports(self) -> list[int]:
        """EXPOSEd ports, plus the ports the app listens on (read once the exposed ones accept).

        Without EXPOSE and without explicit probes, listening sockets are the only
        way to find the app: look for them until one appears, the app exits, or
        discover_s passes.
        """
        if self.app.ports or self.plan.probes or not self.app.docker.is_local():
            return sorted(set(self.app.ports) | set(self.app.listening_ports()))
        self.app.on_event("no EXPOSEd port: looking for the ports the app listens on")
        start = time.monotonic()
        while True:
            found = self.app.listening_ports()
            if found:
                return sorted(found)
            if not self.app.alive() or time.monotonic() - start > self.discover_s:
                return []
            time.sleep(0.2)

    def _report(self, result: ProbeResult) -> ProbeResult:
        self._done += 1
        self._total = max(self._total, self._done)
        outcome = "ok" if result.ok else f"FAILED ({result.error})"
        self.app.on_event(f"probe {self._done}/{self._total} {result.name}: {outcome}")
        return result

    def _http(self, probe: HttpProbe) -> ProbeResult:
        endpoint = self.app.http_endpoint(probe.port)
        result, _ = probing.http_probe(probe, endpoint)
        stable = True
        for _ in range(max(probe.repeat, self.replays) - 1):
            again, _ = probing.http_probe(probe, endpoint)
            if again.status != result.status or again.digest != result.digest:
                stable = False
            if not again.ok and result.ok:
                result = again
        return replace(result, stable=stable, probe=probe)


def trace_image(docker: Docker, image: ImageInfo, plan: probing.ProbePlan,
                on_event: Event = lambda _: None, signal_event: threading.Event | None = None) -> TraceResult:
    """Run IMAGE under the sensor, probe it, stop it, return the trace log and probe results."""
    app = AppRun(docker, image, image.id, plan.run, traced=True, on_event=on_event)
    # Listen for SIGUSR1 from the start: a signal sent while probes run must not kill slim.
    sigusr1 = _Sigusr1(signal_event) if continue_mode(plan.run, app.ports)[0] == "signal" else None
    try:
        app.start()
        mode, seconds = continue_mode(plan.run, app.ports)
        if mode == "exit" and _may_be_a_server(plan, app):
            mode = _exit_or_listen(app, on_event)
        results: list[ProbeResult] = []
        if mode == "exit":
            results = [replace(r) for r in _run_exec_and_wait(app, plan)]
            on_event("waiting for the app to exit")
            code = app.wait_exit()
            results.append(ProbeResult(name="run " + " ".join(app_command(image, plan.run)), kind="run",
                                       ok=code == 0, status=code,
                                       digest=probing.digest(docker.api.logs(app.container_id, stdout=True, stderr=False)),
                                       error=None if code == 0 else f"exit code {code}",
                                       probe=plan.run))
            if code != 0:
                raise AppFailed("the app exited with a non-zero code", f"{code}; last log lines:\n{_indent(app.last_logs())}",
                                "run the image by hand (docker run) to see why; slimmer traces what a successful run needs")
        else:
            on_event("running probes")
            results = ProbeSession(app, plan).run()
            if not results and mode == "probes":
                raise BadInput("nothing to probe: the image exposes no TCP port and the app listens on none",
                               image.reference,
                               "use --continue-after exit|timeout=SECONDS|signal, or exec probes"
                               + ("" if docker.is_local() else " (listening ports are only found with a local daemon)"))
            if mode == "timeout":
                remaining = seconds - (time.monotonic() - app.started_at)
                if remaining > 0:
                    on_event(f"waiting {remaining:.0f}s (--continue-after timeout)")
                    time.sleep(remaining)
            elif mode == "signal":
                on_event(f"waiting for SIGUSR1 (kill -USR1 {os.getpid()})")
                sigusr1.wait()
            if not app.alive():
                code = docker.exit_code(app.container_id)
                raise AppFailed("the app exited during probing", f"exit code {code}; last log lines:\n{_indent(app.last_logs())}",
                                "run the image by hand (docker run) to see why")
        failed = [r for r in results if not r.ok]
        if failed:
            details = "\n".join(f"    {r.name}: {r.error}" for r in failed)
            raise ProbeFailed("probes failed against the original image", f"\n{details}",
                              "fix the probe expectations or the app; slimmer only slims images whose probes pass")
        on_event("stopping the app")
        exit_code = app.stop()
        logs = app.last_logs(200)
        trace = app.fetch_trace()
        return TraceResult(trace=trace, results=tuple(results), exit_code=exit_code, logs=logs,
                           ports=tuple(app.ports))
    finally:
        if sigusr1 is not None:
            sigusr1.restore()
        app.remove()


LISTEN_GRACE_S = float(os.environ.get("SLIMMER_LISTEN_GRACE", "10"))


def _may_be_a_server(plan: probing.ProbePlan, app: AppRun) -> bool:
    """No EXPOSE and no explicit continue-after: it may still be a server that forgot
    EXPOSE. Only worth watching when nothing else must run meanwhile (exec probes)."""
    return (plan.run.continue_after == "auto" and not app.ports and app.docker.is_local()
            and not any(isinstance(item, (ExecProbe, WaitProbe)) for item in plan.probes))


def _exit_or_listen(app: AppRun, on_event: Event) -> str:
    """For up to LISTEN_GRACE_S: "probes" as soon as the app listens on a TCP port,
    "exit" when it exits or stays silent (a batch job still working)."""
    on_event("no EXPOSE: watching whether the app exits or listens")
    deadline = time.monotonic() + LISTEN_GRACE_S
    while time.monotonic() < deadline:
        if not app.alive():
            return "exit"
        if app.listening_ports():
            on_event(f"the app listens on {', '.join(map(str, app.listening_ports()))}: probing it")
            return "probes"
        time.sleep(0.2)
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
    main thread, where signal handlers cannot be set) pass their own event."""

    def __init__(self, event: threading.Event | None):
        self.received = event or threading.Event()
        self.installed = event is None
        if self.installed:
            self.previous = signal.signal(signal.SIGUSR1, lambda *_: self.received.set())

    def wait(self) -> None:
        while not self.received.wait(0.5):
            pass

    def restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGUSR1, self.previous if self.previous is not None else signal.SIG_DFL)
            self.installed = False
