"""The sensor's trace and run modes on the host (not PID 1), driven by subprocess."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from conftest import expected_touches, make_case_dir, read_log_dir, sleep_until


def run_sensor(binary, log_dir, argv, mode="trace", env=None, timeout=60):
    return subprocess.run([binary, mode, "--log", str(log_dir), "--", *argv],
                          capture_output=True, timeout=timeout, env=env)


@pytest.fixture
def case_dir(tmp_path, workload):
    return make_case_dir(str(tmp_path / "data"), workload)


def test_every_case_is_logged_and_nothing_else(sensor_binary, workload, case_dir, tmp_path):
    done = run_sensor(sensor_binary, tmp_path / "log", [workload, "touch-all", case_dir])
    assert done.returncode == 0, done.stderr
    log = read_log_dir(tmp_path / "log")
    expected = expected_touches(case_dir, workload)
    assert {path: traced.write for path, traced in log.paths.items()} == expected
    assert os.path.join(case_dir, "untouched.txt") not in log.paths
    assert log.paths[os.path.join(case_dir, "sub", "at.txt")].syscalls == {"newfstatat"}
    assert log.paths[os.path.join(case_dir, "stat-only.txt")].syscalls == {"newfstatat"}
    assert log.exit_status == 0
    # the app and the shebang script's interpreter, with their argv
    assert [p.argv for p in log.processes] == [
        (workload, "touch-all", case_dir),
        (workload, "script-mode", os.path.join(case_dir, "script"))]
    assert all(p.exe == workload for p in log.processes)


def test_log_dir_is_created_world_writable(sensor_binary, workload, tmp_path):
    log_dir = tmp_path / "deep" / "log"
    assert run_sensor(sensor_binary, log_dir, [workload, "exit", "0"]).returncode == 0
    assert os.stat(log_dir).st_mode & 0o7777 == 0o1777
    assert [name.startswith("trace.") for name in os.listdir(log_dir)] == [True]


def test_run_mode_writes_its_own_log(sensor_binary, workload, case_dir, tmp_path):
    done = run_sensor(sensor_binary, tmp_path / "log", [workload, "touch-all", case_dir], mode="run")
    assert done.returncode == 0
    (name,) = os.listdir(tmp_path / "log")
    assert name.startswith("run.") and name.endswith(".log")
    assert os.path.join(case_dir, "absolute.txt") in read_log_dir(tmp_path / "log").paths


@pytest.mark.parametrize("argv, status", [
    (["exit", "0"], 0), (["exit", "3"], 3), (["exit", "255"], 255), (["kill-self"], 137)])
def test_exit_status_is_the_apps(sensor_binary, workload, tmp_path, argv, status):
    assert run_sensor(sensor_binary, tmp_path / "log", [workload, *argv]).returncode == status
    assert read_log_dir(tmp_path / "log").exit_status == status


def test_missing_command_fails_with_127_and_says_why(sensor_binary, tmp_path):
    done = run_sensor(sensor_binary, tmp_path / "log", ["no-such-command-here"])
    assert done.returncode == 127
    assert b"[slim-sensor] cannot run no-such-command-here" in done.stderr


def test_debug_output_on_request(sensor_binary, workload, tmp_path):
    env = dict(os.environ, SLIM_SENSOR_DEBUG="1")
    done = run_sensor(sensor_binary, tmp_path / "log", [workload, "exit", "0"], env=env)
    assert b"[slim-sensor] debug: " in done.stderr
    quiet = run_sensor(sensor_binary, tmp_path / "log2", [workload, "exit", "0"])
    assert quiet.stderr == b""


class Running:
    """A sensor started in the background with the workload's wait-term or orphans."""

    def __init__(self, binary, log_dir, argv):
        self.log_dir = log_dir
        self.process = subprocess.Popen([binary, "trace", "--log", str(log_dir), "--", *argv],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []

    def read_line(self) -> str:
        line = self.process.stdout.readline().decode().strip()
        self.lines.append(line)
        return line

    def app_pid(self) -> int:
        children = f"/proc/{self.process.pid}/task/{self.process.pid}/children"
        found = sleep_until(lambda: open(children).read().split(), 10, "the app process")
        return int(found[0])

    def finish(self, sig=signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def process_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_sigterm_reaches_the_app_and_log_is_flushed_while_it_runs(sensor_binary, workload, tmp_path):
    app = Running(sensor_binary, tmp_path / "log", [workload, "wait-term"])
    assert app.read_line() == "ready"
    # the periodic flush: the exec record is readable while the app still runs
    sleep_until(lambda: read_log_dir(tmp_path / "log").processes, 5, "a flushed exec record")
    assert app.process.poll() is None
    assert app.finish(signal.SIGTERM) == 0
    assert app.read_line() == "terminated cleanly"
    assert read_log_dir(tmp_path / "log").exit_status == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                                 signal.SIGUSR1, signal.SIGUSR2])
def test_forwarded_signal_kills_the_app_with_128_plus_n(sensor_binary, workload, tmp_path, sig):
    app = Running(sensor_binary, tmp_path / "log", [workload, "wait-term"])
    assert app.read_line() == "ready"
    assert app.finish(sig) == 128 + sig


def test_sigwinch_is_forwarded_and_harmless(sensor_binary, workload, tmp_path):
    app = Running(sensor_binary, tmp_path / "log", [workload, "wait-term"])
    assert app.read_line() == "ready"
    app.process.send_signal(signal.SIGWINCH)
    assert app.finish(signal.SIGTERM) == 0


def test_stopped_app_stays_stopped_until_sigcont(sensor_binary, workload, tmp_path):
    app = Running(sensor_binary, tmp_path / "log", [workload, "wait-term"])
    assert app.read_line() == "ready"
    pid = app.app_pid()
    os.kill(pid, signal.SIGSTOP)
    sleep_until(lambda: process_state(pid) in ("T", "t"), 10, "the app to stop")
    os.kill(pid, signal.SIGCONT)
    sleep_until(lambda: process_state(pid) == "S", 10, "the app to run again")
    assert app.finish(signal.SIGTERM) == 0


def test_orphans_are_reaped(sensor_binary, workload, tmp_path):
    app = Running(sensor_binary, tmp_path / "log", [workload, "orphans", "5"])
    orphans = []
    while (line := app.read_line()) != "orphans made":
        orphans.append(int(line.split()[1]))
    assert len(orphans) == 5
    sleep_until(lambda: all(process_state(pid) == "gone" for pid in orphans), 10,
                "the orphans to be reaped (no zombies)")
    assert app.finish(signal.SIGTERM) == 0
