"""The sensor's trace and run modes on the host (not PID 1), driven by subprocess."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import time

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


# --- the sensor's edges: signals at start, odd paths, AT_EMPTY_PATH, signal handlers ---------------

def test_sigterm_right_after_start_is_never_lost(sensor_binary, workload, tmp_path):
    """A SIGTERM at any instant of the sensor's start (before, between and after the fork
    and the app's exec) ends the run: the app gets it (exit 0 from its handler, or 143
    when it came before the handler was in place), or it kills a sensor that has not yet
    run (-15). It is never lost, leaving the app running. Delays sweep the first 4 ms
    until the sensor has taken charge 30 times (a loaded machine starts it later)."""
    outcomes = collections.Counter()
    for attempt in range(200):
        if outcomes[0] + outcomes[128 + signal.SIGTERM] >= 30 and attempt >= 50:
            break
        delay = (attempt % 50) * 80e-6
        process = subprocess.Popen(
            [sensor_binary, "trace", "--log", str(tmp_path / f"log{attempt}"), "--", workload, "wait-term"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.perf_counter() + delay
        while time.perf_counter() < deadline:
            pass
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"SIGTERM {delay * 1e6:.0f} us after start was lost (attempt {attempt}): "
                        f"the app still ran 10 s later; outcomes so far {dict(outcomes)}")
        assert process.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM), (process.returncode, stderr)
        if process.returncode == 0:
            assert stdout.endswith(b"terminated cleanly\n"), stdout
        outcomes[process.returncode] += 1
    assert outcomes[0] + outcomes[128 + signal.SIGTERM] >= 30, f"the sensor seldom took charge: {dict(outcomes)}"


def path_of_length(prefix: str, length: int) -> str:
    """prefix followed by 200-byte components, exactly length bytes long."""
    body = ("c" * 199 + "/") * (length // 200 + 2)
    path = (prefix + body)[:length]
    return path[:-1] + "z" if path.endswith("/") else path


def edge_cases(data_dir: str) -> tuple[list[str], set[str], str]:
    """The edge-paths arguments, the absolute paths the sensor must log for them, and a
    path too long to name a file (the kernel fails it with ENAMETOOLONG)."""
    longest = path_of_length(f"{data_dir}/longest-", 4095)          # PATH_MAX - 1: accepted
    too_long = path_of_length(f"{data_dir}/too-long-", 4096)        # no NUL within PATH_MAX
    deep = path_of_length("deep-", 4095)                            # relative: absolute > PATH_MAX
    # short names whose NUL ends a page at every offset in an 8-byte word
    short = [f"edge-{'e' * n}.txt" for n in range(8)] + [f"{data_dir}/absolute-edge.txt"]
    arguments = [longest, too_long, deep, *short]
    logged = {longest, f"{data_dir}/{deep}", data_dir,
              *(name if name.startswith("/") else f"{data_dir}/{name}" for name in short)}
    assert len(longest) == 4095 and len(too_long) == 4096 and len(f"{data_dir}/{deep}") > 4096
    return arguments, logged, too_long


@pytest.mark.parametrize("reader", ["process_vm_readv", "PTRACE_PEEKDATA"])
def test_paths_at_page_ends_and_near_path_max_are_logged_whole(sensor_binary, workload, tmp_path, reader):
    """Each path ends at the last byte before an inaccessible page. Both ways of reading
    the tracee's memory log exactly these paths: whole, NUL-terminated, nothing past
    the page, and nothing for a path the kernel refuses as too long."""
    data_dir = str(tmp_path / "data")
    os.mkdir(data_dir)
    arguments, logged, too_long = edge_cases(data_dir)
    env = dict(os.environ, SLIM_SENSOR_DEBUG="1")
    if reader == "PTRACE_PEEKDATA":
        env["SLIM_SENSOR_FORCE_PEEK"] = "1"
    done = run_sensor(sensor_binary, tmp_path / "log", [workload, "edge-paths", data_dir, *arguments], env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (b"PTRACE_PEEKDATA" in done.stderr) == (reader == "PTRACE_PEEKDATA")
    log = read_log_dir(tmp_path / "log")
    assert set(log.paths) == logged | {workload, "/proc/self/exe"}
    assert not [path for path in log.paths if path.startswith(too_long[:100])]


def test_at_empty_path_with_a_non_empty_path_is_traced(sensor_binary, workload, tmp_path):
    """AT_EMPTY_PATH only means "the fd itself" when the path is empty: newfstatat and
    statx with a real path are lookups and are logged; with "" or NULL nothing new is."""
    data_dir = str(tmp_path / "data")
    os.makedirs(os.path.join(data_dir, "sub"))
    done = run_sensor(sensor_binary, tmp_path / "log", [workload, "empty-path-flag", data_dir])
    assert done.returncode == 0, done.stderr
    log = read_log_dir(tmp_path / "log")
    syscalls = {path: traced.syscalls for path, traced in log.paths.items()}
    assert syscalls == {
        f"{data_dir}/fstatat-flag.txt": {"newfstatat"},
        f"{data_dir}/statx-flag.txt": {"statx"},
        f"{data_dir}/sub/at-flag.txt": {"newfstatat"},
        f"{data_dir}/statx-at-flag.txt": {"statx"},
        data_dir: {"openat"},
        workload: {"execve"},
        "/proc/self/exe": {"readlink"},
    }


@pytest.mark.parametrize("mask", ["blocked", "unblocked"])
def test_signal_handlers_making_syscalls_during_setuid_are_left_intact(sensor_binary, workload, tmp_path, mask):
    """The sensor injects prctl(PR_SET_DUMPABLE) after every setuid-family call. A timer
    signal whose handler makes syscalls (trapped and not) is pending at those stops; the
    handler must run to its end and the process continue unharmed, every time: held back
    until the prctl is done ("blocked") or, as without PTRACE_SETSIGMASK, run in between."""
    data_dir = str(tmp_path / "data")
    os.mkdir(data_dir)
    os.chmod(tmp_path, 0o755)
    env = {**os.environ, "SLIM_SENSOR_NO_SIGMASK": "1"} if mask == "unblocked" else None
    done = run_sensor(sensor_binary, tmp_path / "log", [workload, "signalled-drop", "1000", data_dir, "30"],
                      env=env, timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr[-3000:])
    assert b"30 of 30 children dropped privileges cleanly" in done.stdout
    log = read_log_dir(tmp_path / "log")
    assert f"{data_dir}/from-handler.txt" in log.paths
    assert {f"{data_dir}/after-drop-{i}.txt" for i in range(30)} <= set(log.paths)
