"""The lifecycle of one app container: create it the way the image runs (with the
user's run context), start it, reach its ports, run exec and wait probes in it,
stop it, bring back the sensor's log, remove it.

trace.py runs it under the sensor; verify.py runs the slim image with it, under
the sensor too, so that a removed file the slim app reaches is seen.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import replace

from . import probe as probing
from . import sensor
from .dockerport import DockerPort
from .errors import AppFailed, BadInput, SensorError
from .events import Emit, Note, ignore
from .model import ExecProbe, ImageInfo, ProbeResult, RunSpec, TraceLog, WaitProbe
from .probe import APP_START_TIMEOUT_S
from .textfmt import indent

EXIT_TIMEOUT_S = float(os.environ.get("SLIMMER_EXIT_TIMEOUT", "600"))


def app_command(image: ImageInfo, run: RunSpec) -> list[str]:
    """The argv the container runs, as `docker run` builds it: ENTRYPOINT + CMD;
    --entrypoint replaces ENTRYPOINT and drops the image's CMD, --cmd/--run ARGS
    replace CMD."""
    if run.entrypoint is not None:
        entrypoint = list(run.entrypoint)
        cmd = list(run.command) if run.command is not None else []
    else:
        entrypoint = list(image.config.entrypoint)
        cmd = list(run.command) if run.command is not None else list(image.config.cmd)
    argv = entrypoint + cmd
    if not argv:
        raise BadInput("the image has neither ENTRYPOINT nor CMD", image.reference,
                       "give the command with --cmd \"ARGS\" (or --run \"ARGS\" for several variants) "
                       "or a probe file's [run] command")
    return argv


def continue_mode(run: RunSpec, ports: tuple[int, ...]) -> tuple[str, float | None]:
    mode, seconds = probing.parse_continue_after(run.continue_after)
    if mode == "auto":
        mode = "probes" if ports else "exit"
    return mode, seconds


class AppRun:
    """One container of an image, run the way the image runs, optionally under the sensor."""

    def __init__(self, docker: DockerPort, image: ImageInfo, image_ref: str, run: RunSpec,
                 traced: bool, emit: Emit = ignore, stage: str = "trace"):
        self.docker = docker
        self.image = image
        self.ports = image.config.tcp_ports()
        self.run = run
        self.traced = traced
        self.emit = emit
        self.stage = stage
        argv = app_command(image, run)
        if traced:
            entrypoint = [sensor.SENSOR_IN_CONTAINER, "trace", "--log", sensor.LOG_DIR, "--"]
        else:
            entrypoint = argv[:1]
            argv = argv[1:]
        self.user = run.user if run.user is not None else image.config.user
        self.container_id = docker.create_container(
            image_ref, entrypoint=entrypoint, command=argv, user=self.user, run=run,
            ports=self.ports, name_hint=stage, stop_signal=image.config.stop_signal or None)
        if traced:
            docker.put_archive(self.container_id, "/", sensor.sensor_tar())
        self.endpoints: dict[int, probing.Endpoint] = {}
        self.started_at = 0.0

    def note(self, text: str) -> None:
        self.emit(Note(self.stage, text))

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self.docker.start(self.container_id)
        self.started_at = time.monotonic()
        address = self.docker.container_ip(self.container_id) if self.ports else None
        for port in self.ports:
            host_port = self.docker.host_port(self.container_id, port)
            if host_port:
                self.endpoints[port] = probing.Endpoint(port, "127.0.0.1", host_port, direct=address)
        if self.ports and not self.endpoints and not self.alive():
            # Gone before Docker even published its ports: say so, with its last words.
            raise AppFailed("the app exited at once", f"exit code {self.docker.exit_code(self.container_id)}; "
                            f"last log lines:\n{indent(self.last_logs())}",
                            "run the image by hand (docker run) to see why")

    def alive(self) -> bool:
        return self.docker.is_running(self.container_id)

    def last_logs(self, lines: int = 30) -> str:
        return self.docker.logs(self.container_id, tail=lines)

    def stdout(self) -> bytes:
        return self.docker.stdout(self.container_id)

    def wait_for_port(self, port: int, timeout_s: float = APP_START_TIMEOUT_S) -> probing.Endpoint:
        """Wait until PORT accepts; on failure the error carries the app's state and last log lines."""
        endpoint = self.http_endpoint(port)
        self.note(f"waiting for port {port} to accept connections")
        try:
            probing.wait_for_port(endpoint, self.alive, timeout_s)
        except AppFailed as exc:
            code = self.docker.exit_code(self.container_id)
            state = f"exit code {code}" if code is not None else "still running"
            raise AppFailed(exc.what, f"{exc.value}; {state}; last log lines:\n{indent(self.last_logs())}",
                            exc.hint) from None
        return endpoint

    def wait_ports(self, extra: tuple[int, ...] = ()) -> None:
        """Wait for every published port, and for EXTRA ports reached by the container's address."""
        for port in list(self.endpoints) + [p for p in extra if p not in self.endpoints]:
            self.wait_for_port(port)

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
        try:
            for member in archive:
                if member.isfile():
                    # names under the log directory: trace.PID.log, run.PID.log, exec-N/run.PID.log
                    files[member.name.split("/", 1)[-1]] = archive.extractfile(member).read()
        finally:
            archive.close()
        if not files:
            raise sensor_missing_log(self.image.reference, self.last_logs())
        return sensor.parse_log(files)

    def remove(self) -> None:
        self.docker.remove_container(self.container_id)

    # --- probes run inside the container ----------------------------------------------

    def exec_probe(self, probe: ExecProbe, log_name: str | None = None) -> tuple[ProbeResult, bytes]:
        """PROBE run in the container; traced, its sensor logs go to LOG_DIR/LOG_NAME when
        given (fetch_trace names them LOG_NAME/run.PID.log: verify.py knows whose they are)."""
        argv = list(probe.argv)
        if self.traced:
            log_dir = f"{sensor.LOG_DIR}/{log_name}" if log_name else sensor.LOG_DIR
            argv = [sensor.SENSOR_IN_CONTAINER, "run", "--log", log_dir, "--"] + argv
        user = probe.user if probe.user is not None else self.user
        start = time.monotonic()
        code, output = self.docker.exec_run(self.container_id, argv, user=user or None,
                                            environment=dict(self.run.env) or None,
                                            workdir=self.run.workdir)
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
            try:
                probing.wait_for_port(self.http_endpoint(probe.port), self.alive, probe.timeout_s)
            except AppFailed as exc:
                error = f"{exc.what}: {exc.value}"
        else:
            pattern = re.compile(probe.log_regex)
            while not pattern.search(self.docker.logs(self.container_id)):
                if time.monotonic() - start > probe.timeout_s:
                    error = f"no log line matched /{probe.log_regex}/ in {probe.timeout_s:.0f}s"
                    break
                if not self.alive():
                    error = "the app exited before the log line appeared"
                    break
                time.sleep(probing.POLL_S)
        return ProbeResult(name=probe.name, kind="wait", ok=error is None, error=error,
                           elapsed_s=time.monotonic() - start, probe=probe)

    def http_endpoint(self, port: int) -> probing.Endpoint:
        """The published host port, or the container's own address for a port without EXPOSE."""
        if port in self.endpoints:
            return self.endpoints[port]
        address = self.docker.container_ip(self.container_id)
        if not address:
            raise BadInput("cannot reach a port that the image does not EXPOSE", port,
                           "add EXPOSE to the image, or probe an exposed port")
        return probing.Endpoint(port, address, port)

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


_LOOPBACK_V6 = "00000000000000000000000001000000"


def _is_loopback(address: str) -> bool:
    """/proc/net/tcp{,6} hex addresses: 127.0.0.0/8 (IPv4, or IPv4-mapped in tcp6; the
    kernel writes it little-endian: 127.0.0.11 is 0B00007F) and ::1. Docker's DNS
    resolver listens on 127.0.0.11 in every container on a user-defined network."""
    if address == _LOOPBACK_V6:
        return True
    return len(address) in (8, 32) and address[-2:] == "7F" and (
        len(address) == 8 or address[:24] == "0000000000000000FFFF0000")


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
                        if _is_loopback(address):
                            continue   # loopback only: not reachable from outside
                        ports.add(int(port_hex, 16))
        except OSError:
            continue
    return tuple(sorted(ports))


def sensor_missing_log(reference: str, logs: str = "") -> SensorError:
    hint = "the sensor could not run in this image (another architecture?)"
    if logs:
        hint += "; last log lines:\n" + indent(logs)
    return SensorError("the sensor left no trace log", reference, hint)
