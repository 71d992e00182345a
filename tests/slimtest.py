"""Helpers shared by the Docker tests: the real `slim` command, a ledger of what a test created."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Ledger:
    """Images and containers a test created; removed at teardown."""

    def __init__(self, client):
        self.client = client
        self.images: list[str] = []
        self.containers: list[str] = []

    def image(self, ref: str) -> str:
        self.images.append(ref)
        return ref

    def container(self, container_id: str) -> str:
        self.containers.append(container_id)
        return container_id

    def cleanup(self):
        import docker
        for container_id in self.containers:
            try:
                self.client.api.remove_container(container_id, force=True, v=True)
            except docker.errors.APIError:
                pass
        for ref in reversed(self.images):
            try:
                self.client.api.remove_image(ref, force=True)
            except docker.errors.APIError:
                pass


def slim_cli(*args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `slim` command (python -m slimmer.cli) and capture its output."""
    return subprocess.run([sys.executable, "-m", "slimmer.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=dict(os.environ, **(env or {})))


class SlimRun:
    """One `slim build IMAGE --tag TAG --artifacts DIR --report FILE [EXTRA...]` through the real CLI."""

    def __init__(self, image: str, tag: str, workdir: str, key: str, *extra: str):
        self.image = image
        self.tag = tag
        self.artifacts = os.path.join(workdir, key)
        self.report_path = os.path.join(workdir, f"{key}.report.json")
        self.proc = slim_cli("build", image, "--tag", tag, "--artifacts", self.artifacts,
                             "--report", self.report_path, *extra)
        self.report = None
        if os.path.exists(self.report_path):
            with open(self.report_path) as handle:
                self.report = json.load(handle)

    def explain(self) -> str:
        return (f"slim build {self.image} exit {self.proc.returncode}\n"
                f"stdout:\n{self.proc.stdout[-3000:]}\nstderr:\n{self.proc.stderr[-3000:]}")


def once_per_session(make, docker_client):
    """A get(name) that runs make(name) at most once; yields it, then removes every slim image made."""
    done: dict = {}

    def get(name: str):
        if name not in done:
            done[name] = make(name)
        return done[name]

    yield get
    for run in done.values():
        subprocess.run(["docker", "rmi", "-f", run.tag], capture_output=True)


def _signals_as_from_a_terminal() -> None:
    """In the child before exec: SIGINT and SIGHUP at their defaults, as for a command typed
    at a terminal. A test run started in the background (`nohup make test &`, `cmd &` in a
    script) hands its children both ignored, and Python keeps an inherited SIG_IGN, so
    the signals these tests send would never reach slim."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


class SlimProcess:
    """`slim ARGS...` running in the background, its stderr read line by line, so a test
    can wait for a stage's log line and then signal it."""

    def __init__(self, *args: str):
        import threading
        self.proc = subprocess.Popen([sys.executable, "-m", "slimmer.cli", *args], cwd=REPO, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_signals_as_from_a_terminal)
        self.lines: list[str] = []
        self.stdout_parts: list[str] = []
        self._seen = threading.Condition()
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=lambda: self.stdout_parts.append(self.proc.stdout.read()),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float = 120) -> bool:
        with self._seen:
            return self._seen.wait_for(lambda: any(marker in line for line in self.lines), timeout)

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 300) -> subprocess.CompletedProcess:
        """Wait for the exit (killing it after TIMEOUT seconds: its returncode is then -9 and
        its stderr says what it was doing); the whole run as a CompletedProcess."""
        timed_out = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(10)
        if timed_out:
            self.lines.append(f"\n[test] slim did not end within {timeout:.0f} s: killed\n")
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, "".join(self.stdout_parts),
                                           self.stderr)
