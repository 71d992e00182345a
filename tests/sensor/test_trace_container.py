"""The sensor as PID 1 of real containers (Docker's default seccomp profile and
capabilities, no --privileged), from debian:bookworm-slim and FROM scratch."""
from __future__ import annotations

import time

import pytest

from conftest import LABEL, WORKDIR, expected_touches, sleep_until

pytestmark = pytest.mark.docker

IMAGES = ["debian_image", "scratch_image"]


@pytest.mark.parametrize("image_fixture", IMAGES)
@pytest.mark.parametrize("user, data_dir", [(None, WORKDIR), ("1000:1000", WORKDIR)])
def test_every_case_is_logged_and_nothing_else(request, traced, image_fixture, user, data_dir):
    image = request.getfixturevalue(image_fixture)
    run = traced(image, ["/workload", "touch-all", data_dir], user=user)
    assert run.wait() == 0, run.logs()
    log = run.trace()
    expected = expected_touches(data_dir, "/workload")
    assert {path: p.write for path, p in log.paths.items()} == expected
    assert [p.argv for p in log.processes] == [
        ("/workload", "touch-all", data_dir), ("/workload", "script-mode", f"{data_dir}/script")]
    assert log.exit_status == 0


def test_non_root_user_by_name_writes_into_its_own_dir(traced, debian_image):
    run = traced(debian_image, ["/workload", "touch-all", "/data-app"], user="app")
    assert run.wait() == 0, run.logs()
    log = run.trace()
    assert log.paths["/data-app/written.txt"].write
    assert {path: p.write for path, p in log.paths.items()} == expected_touches("/data-app", "/workload")


@pytest.mark.parametrize("image_fixture", IMAGES)
@pytest.mark.parametrize("stops", ["confirmed", "unconfirmed"])
def test_app_that_drops_root_without_exec_is_still_traced(request, traced, image_fixture, stops):
    """Like an nginx worker: root forks, setuid()s and goes on; without
    CAP_SYS_PTRACE the sensor must still read its paths, cwd and dirfds.
    "unconfirmed": the injection as on a kernel without PTRACE_GET_SYSCALL_INFO (< 5.3)."""
    environment = {"SLIM_SENSOR_NO_SYSCALL_INFO": "1"} if stops == "unconfirmed" else None
    run = traced(request.getfixturevalue(image_fixture), ["/workload", "drop-privs", "1000", WORKDIR],
                 environment=environment)
    assert run.wait() == 0, run.logs()
    log = run.trace()
    assert {path: p.write for path, p in log.paths.items()} == expected_touches(WORKDIR, "/workload")
    assert [p.exe for p in log.processes] == ["/workload", "/workload"]


@pytest.mark.parametrize("image_fixture", IMAGES)
@pytest.mark.parametrize("mask", ["blocked", "unblocked"])
def test_signal_handlers_during_setuid_leave_the_app_intact_and_traced(request, traced, image_fixture, mask):
    """A timer signal whose handler makes syscalls is pending at the stops of the
    prctl(PR_SET_DUMPABLE) injection after setgid and setuid (each call is repeated until
    one lands): every handler runs to its end, and what each child touches afterwards is
    read (the process is dumpable again). "blocked": the sensor holds signals back during
    the injection, so the handler's own call is read too. "unblocked" (as without
    PTRACE_SETSIGMASK): handlers run inside the injection, and the app must not notice."""
    environment = {"SLIM_SENSOR_NO_SIGMASK": "1"} if mask == "unblocked" else None
    run = traced(request.getfixturevalue(image_fixture), ["/workload", "signalled-drop", "1000", WORKDIR, "20"],
                 environment=environment)
    assert run.wait(timeout=120) == 0, run.logs()
    assert "20 of 20 children dropped privileges cleanly" in run.logs()
    log = run.trace()
    if mask == "blocked":
        assert f"{WORKDIR}/from-handler.txt" in log.paths
    assert {f"{WORKDIR}/after-drop-{i}.txt" for i in range(20)} <= set(log.paths)


def test_paths_at_page_ends_are_read_whole_by_the_peekdata_fallback(traced, debian_image):
    """After setuid a sensor without CAP_SYS_PTRACE is refused process_vm_readv (EPERM)
    and reads with PTRACE_PEEKDATA: paths that end right before an inaccessible page,
    and near PATH_MAX, are logged whole; a path too long for the kernel is not logged."""
    from test_trace_host import edge_cases
    arguments, logged, too_long = edge_cases(WORKDIR)
    run = traced(debian_image, ["/workload", "as-user", "1000", "edge-paths", WORKDIR, *arguments],
                 environment={"SLIM_SENSOR_DEBUG": "1"})
    assert run.wait() == 0, run.logs()[-3000:]
    assert "process_vm_readv failed (Operation not permitted), using PTRACE_PEEKDATA" in run.logs()
    log = run.trace()
    assert set(log.paths) == logged | {"/workload", "/proc/self/exe"}
    assert not [path for path in log.paths if path.startswith(too_long[:100])]


def test_dynamic_programs_through_a_shell(traced, debian_image):
    run = traced(debian_image, ["sh", "-c", "cd /etc && cat hostname debian_version >/dev/null"])
    assert run.wait() == 0, run.logs()
    log = run.trace()
    for path in ("/etc/hostname", "/etc/debian_version", "/usr/bin/cat", "/etc/ld.so.cache",
                 "/lib/x86_64-linux-gnu/libc.so.6", "/etc"):
        assert path in log.paths, path
    assert log.paths["/dev/null"].write
    assert [p.exe for p in log.processes] == ["/usr/bin/dash", "/usr/bin/cat"]


@pytest.mark.parametrize("image_fixture", IMAGES)
@pytest.mark.parametrize("argv, status", [(["exit", "3"], 3), (["exit", "0"], 0), (["kill-self"], 137)])
def test_container_exit_code_is_the_apps(request, traced, image_fixture, argv, status):
    run = traced(request.getfixturevalue(image_fixture), ["/workload", *argv])
    assert run.wait() == status
    assert run.trace().exit_status == status


@pytest.mark.parametrize("image_fixture", IMAGES)
def test_docker_stop_delivers_sigterm_to_the_app(request, traced, image_fixture):
    run = traced(request.getfixturevalue(image_fixture), ["/workload", "wait-term"], user="1000")
    sleep_until(lambda: "ready" in run.logs(), 20, "the app to be ready")
    started = time.monotonic()
    run.container.stop(timeout=10)
    assert time.monotonic() - started < 8, "the app did not get SIGTERM: docker had to SIGKILL"
    assert run.wait() == 0
    assert "terminated cleanly" in run.logs()
    log = run.trace()
    assert log.exit_status == 0 and log.processes[0].argv == ("/workload", "wait-term")


def zombies_in(container) -> list[int]:
    """Zombie pids in the container's process tree, read from the host's /proc
    (docker top cannot show them: a zombie has left its cgroup)."""
    container.reload()
    pending, zombies = [container.attrs["State"]["Pid"]], []
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/stat") as stream:
                if stream.read().rsplit(")", 1)[1].split()[0] == "Z":
                    zombies.append(pid)
            with open(f"/proc/{pid}/task/{pid}/children") as stream:
                pending.extend(int(child) for child in stream.read().split())
        except FileNotFoundError:
            continue
    return zombies


@pytest.mark.parametrize("image_fixture", IMAGES)
def test_orphaned_children_leave_no_zombies(request, traced, image_fixture):
    run = traced(request.getfixturevalue(image_fixture), ["/workload", "orphans", "5"])
    sleep_until(lambda: "orphans made" in run.logs(), 20, "the orphans")
    assert run.logs().count("orphan ") == 5
    sleep_until(lambda: not zombies_in(run.container), 10, "every orphan to be reaped")
    run.container.stop(timeout=10)
    assert run.wait() == 0


def test_zombie_check_sees_zombies_of_an_app_that_is_pid_1(docker_ledger, scratch_image):
    """The control for the test above: without the sensor the orphans stay zombies."""
    container = docker_ledger.containers.run(scratch_image, ["/workload", "orphans", "3"],
                                             detach=True, labels=LABEL)
    try:
        sleep_until(lambda: len(zombies_in(container)) == 3, 10, "three zombies")
    finally:
        container.remove(force=True, v=True)


@pytest.mark.parametrize("image_fixture", IMAGES)
def test_exec_probe_under_run_mode_is_merged_into_the_trace(request, traced, image_fixture):
    """What trace.py does for exec probes: docker exec the sensor's run mode."""
    run = traced(request.getfixturevalue(image_fixture), ["/workload", "wait-term"], user="1000")
    sleep_until(lambda: "ready" in run.logs(), 20, "the app to be ready")
    code, _ = run.container.exec_run(
        ["/.slimmer/sensor", "run", "--log", "/.slimmer/log", "--", "/workload", "exit", "5"],
        user="1000")
    assert code == 5
    code, _ = run.container.exec_run(
        ["/.slimmer/sensor", "run", "--log", "/.slimmer/log", "--",
         "/workload", "touch-all", WORKDIR], user="1000")
    assert code == 0
    run.container.stop(timeout=10)
    assert run.wait() == 0
    log = run.trace()
    assert f"{WORKDIR}/thread.txt" in log.paths and f"{WORKDIR}/written.txt" in log.paths
    assert ("/workload", "wait-term") in [p.argv for p in log.processes]
    assert log.exit_status == 0            # the app's, not the exec probes' 5


@pytest.mark.parametrize("image_fixture", IMAGES)
def test_exec_probe_as_root_in_a_non_root_container(request, traced, image_fixture):
    """`docker exec -u root` into a container whose USER is not root starts a process
    that is not dumpable; the sensor must still be able to trace its own child."""
    run = traced(request.getfixturevalue(image_fixture), ["/workload", "wait-term"], user="1000")
    sleep_until(lambda: "ready" in run.logs(), 20, "the app to be ready")
    code, output = run.container.exec_run(
        ["/.slimmer/sensor", "run", "--log", "/.slimmer/log", "--", "/workload", "exit", "4"], user="0")
    assert code == 4, output.decode(errors="replace")
    run.container.stop(timeout=10)
    assert run.wait() == 0
