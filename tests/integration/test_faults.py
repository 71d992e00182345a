"""The fault table (docs/FAULTS.md): every failure gets a clear error, the right
exit code, leaves nothing behind and never touches the original image.

Each test asserts what a CI user sees: the exit code (1 failed, 2 bad input,
130 interrupted), a message naming the cause and a next step, no Python
traceback, no container/image left by slimmer, the original image's id unchanged.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from tests.slimtest import REPO, SlimProcess, slim_cli

pytestmark = pytest.mark.docker

FAULT_IMAGES = {
    "nocmd": ("FROM scratch\nCOPY marker /marker\n", {"marker": b"x\n"}),
    "crash": ('FROM debian:bookworm-slim\nEXPOSE 8080\n'
              'CMD ["sh", "-c", "echo boom-before-exit >&2; exit 7"]\n', {}),
    "batchfail": ('FROM debian:bookworm-slim\nCMD ["sh", "-c", "echo batch-went-wrong >&2; exit 3"]\n', {}),
    "silent": ('FROM debian:bookworm-slim\nEXPOSE 8080\nCMD ["sleep", "600"]\n', {}),
    "fivexx": ("FROM slimmer-sample/nginx-static:latest\n"
               "RUN sed -i 's|location / {|location = /broken { return 503; }\\n        location / {|' "
               "/etc/nginx/nginx.conf\n", {}),
    "nonroot": ('FROM debian:bookworm-slim\nRUN useradd -u 1234 -m worker && mkdir /data '
                '&& echo payload > /data/in.txt && chown -R worker /data\nUSER worker\nWORKDIR /data\n'
                'CMD ["sh", "-c", "id -u; cat /data/in.txt; touch /data/out.txt"]\n', {}),
    "crafted": ('FROM debian:bookworm-slim\n'
                'RUN mkdir -p /app /big && ln -s ../../../../../../../etc/hostname /app/up-and-out '
                '&& ln -s /etc/os-release /app/absolute-link && mknod /app/null c 1 3 && mkfifo /app/pipe '
                '&& truncate -s 2G /big/sparse.bin\n'
                'CMD ["sh", "-c", "cat /app/up-and-out /app/absolute-link > /dev/null; '
                'head -c 1 /app/null; echo crafted-ok"]\n', {}),
}


def image_name(key: str) -> str:
    return f"slimmer-test/fault-{key}:1"


@pytest.fixture(scope="session")
def fault_images(docker_client, sample_images):
    """Every fault image, built once per session and removed afterwards (with its own
    untagged parents; a fault image an earlier session left under the same name, which
    the rebuild leaves dangling, is removed by its recorded id). Nothing else: no prune."""
    built = []
    for key, (dockerfile, files) in FAULT_IMAGES.items():
        earlier = image_id(image_name(key))
        with tempfile.TemporaryDirectory() as context:
            with open(os.path.join(context, "Dockerfile"), "w") as handle:
                handle.write(dockerfile)
            for name, data in files.items():
                with open(os.path.join(context, name), "wb") as handle:
                    handle.write(data)
            subprocess.run(["docker", "build", "-q", "-t", image_name(key), context], check=True,
                           capture_output=True, timeout=600)
        if earlier and earlier != image_id(image_name(key)):
            subprocess.run(["docker", "rmi", earlier], capture_output=True)   # fails while in use: kept
        built.append(image_name(key))
    yield {key: image_name(key) for key in FAULT_IMAGES}
    for ref in built:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)


def image_id(ref: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True,
                          text=True).stdout.strip()


SESSION_LABEL = "slimmer.session"
TEST_CASE_LABEL = "slimmer.test.case"


def _lines(*argv: str) -> list[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True).stdout.split()


class CreatedByTest:
    """What the slimmer runs started by one test created, told apart from everything else
    the daemon holds (a user's containers and images, other slimmer runs going on):
    1. every run of the test carries a label of the test's own (SLIMMER_LABELS, which
       slimmer adds to all it creates): its containers, and any image it labels, are
       found by that label and nothing else is;
    2. the legacy builder's intermediate images carry no label: a dangling image new
       since the test began is the test's when it descends from (the collect stage is
       FROM the original) or names as its source (slimmer.source.id, the final stage)
       an image the test's runs started containers from, and no other slimmer run did
       meanwhile (then whose it is cannot be told, and it is not blamed)."""

    def __init__(self, monkeypatch):
        self.case = uuid.uuid4().hex[:12]
        labels = [os.environ.get("SLIMMER_LABELS", ""), f"{TEST_CASE_LABEL}={self.case}"]
        monkeypatch.setenv("SLIMMER_LABELS", ",".join(label for label in labels if label))
        self.since = time.time() - 1          # the daemon is local: one clock (1 s to spare)
        self.images_before = set(_lines("images", "-aq", "--no-trunc"))

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label={TEST_CASE_LABEL}={self.case}"
        left = {"containers": _lines("ps", "-a", "--filter", label, "--format", "{{.Names}}"),
                "images": _lines("images", "-aq", "--no-trunc", "--filter", label)}
        sources = self._images_only_this_test_ran()
        for image in _lines("images", "-q", "--no-trunc", "--filter", "dangling=true"):
            if image not in self.images_before and self._made_from(image, sources):
                left["images"].append(image)
        return {kind: sorted(set(names)) for kind, names in left.items() if names}

    def _images_only_this_test_ran(self) -> set[str]:
        import docker
        ours: set[str] = set()
        others: set[str] = set()
        ids: dict[str, str] = {}
        client = docker.from_env()
        try:
            # "seconds.nanoseconds", as the API parses timestamps
            for event in client.events(since=f"{self.since:.9f}", until=f"{time.time():.9f}", decode=True,
                                       filters={"type": "container", "event": "create", "label": SESSION_LABEL}):
                attributes = event.get("Actor", {}).get("Attributes", {})
                reference = attributes.get("image", "")
                image = ids.setdefault(reference, image_id(reference) if reference else "")
                if image:
                    (ours if attributes.get(TEST_CASE_LABEL) == self.case else others).add(image)
        finally:
            client.close()
        return ours - others

    @staticmethod
    def remove(leftovers: dict[str, list[str]]) -> None:
        for name in leftovers.get("containers", []):
            subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
        for image in leftovers.get("images", []):
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True)

    @staticmethod
    def _made_from(image: str, sources: set[str]) -> bool:
        while image and sources:
            found = subprocess.run(["docker", "image", "inspect", "-f",
                                    '{{.Parent}}|{{index .Config.Labels "slimmer.source.id"}}', image],
                                   capture_output=True, text=True).stdout.strip()
            parent, _, source = found.partition("|")
            if image in sources or source in sources:
                return True
            image = parent
        return False


def assert_clean_failure(proc, exit_code: int, *phrases: str) -> None:
    text = proc.stderr
    assert proc.returncode == exit_code, f"exit {proc.returncode}, wanted {exit_code}\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]
    assert "next step" in text, text[-3000:]
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{text[-3000:]}"


@pytest.fixture
def unchanged(fault_images, monkeypatch):
    """Records image ids before a test; asserts they are the same afterwards, and that
    the test's slimmer runs left no container or image (CreatedByTest: only what they
    created is looked at)."""
    before = {ref: image_id(ref) for ref in fault_images.values()}
    before["python-flask"] = image_id("slimmer-sample/python-flask:latest")
    created = CreatedByTest(monkeypatch)
    yield
    leftovers = created.leftovers()
    created.remove(leftovers)                 # certainly this test's: no failure cascades
    assert leftovers == {}, "slimmer left containers or images behind"
    after = {ref: image_id(ref) for ref in fault_images.values()}
    after["python-flask"] = image_id("slimmer-sample/python-flask:latest")
    assert after == before


def test_leftover_check_sees_only_what_the_tests_own_runs_created(fault_images, monkeypatch, tmp_path):
    """A user's container and dangling image, and a container of another slimmer run, are
    neither blamed nor touched; a container of the test's own run (its label) is found,
    and so is a dangling image built FROM the image that run used."""
    created = CreatedByTest(monkeypatch)
    own_label = os.environ["SLIMMER_LABELS"].split(",")[-1]
    unique = uuid.uuid4().hex[:10]
    foreign_context, own_context = tmp_path / "foreign", tmp_path / "own"
    foreign_context.mkdir()
    own_context.mkdir()
    (foreign_context / "Dockerfile").write_text(f"FROM scratch\nLABEL foreign={unique}\n")
    (own_context / "Dockerfile").write_text(f"FROM {fault_images['crash']}\nLABEL own={unique}\n")
    containers = {kind: f"slimmer-test-leftover-{unique}-{kind}" for kind in ("user", "other-run", "own")}
    images = []
    try:
        images.append(subprocess.run(["docker", "build", "-q", str(foreign_context)], capture_output=True,
                                     text=True, check=True).stdout.strip())
        for kind, image, labels in (
                ("user", "debian:bookworm-slim", []),
                ("other-run", "debian:bookworm-slim", ["--label", f"{SESSION_LABEL}=other-{unique}"]),
                ("own", fault_images["crash"], ["--label", f"{SESSION_LABEL}=own-{unique}", "--label", own_label])):
            subprocess.run(["docker", "create", "--name", containers[kind], *labels, image],
                           capture_output=True, check=True)
        images.append(subprocess.run(["docker", "build", "-q", str(own_context)], capture_output=True,
                                     text=True, check=True).stdout.strip())
        assert created.leftovers() == {"containers": [containers["own"]], "images": [images[1]]}
        subprocess.run(["docker", "rm", containers["own"]], capture_output=True, check=True)
        subprocess.run(["docker", "rmi", images.pop()], capture_output=True, check=True)
        assert created.leftovers() == {}
        assert _lines("ps", "-aq", "--filter", f"name={containers['user']}")
        assert _lines("ps", "-aq", "--filter", f"name={containers['other-run']}")
        assert image_id(images[0]) == images[0]
    finally:
        subprocess.run(["docker", "rm", "-f", *containers.values()], capture_output=True)
        subprocess.run(["docker", "rmi", *images], capture_output=True)


# --- bad input: exit 2 ---------------------------------------------------------------------

def test_image_does_not_exist(unchanged):
    proc = slim_cli("build", "slimmer-test/no-such-image:404")
    assert_clean_failure(proc, 2, "image not found", "slimmer-test/no-such-image:404")


@pytest.mark.parametrize("reference", ["Upper/Case:1", "bad reference", "app::1", ""])
def test_malformed_image_reference(reference):
    proc = slim_cli("build", reference)
    assert_clean_failure(proc, 2, "malformed image reference")


def test_image_with_neither_entrypoint_nor_cmd(fault_images, unchanged):
    proc = slim_cli("build", fault_images["nocmd"])
    assert_clean_failure(proc, 2, "neither ENTRYPOINT nor CMD", "--run")


def test_malformed_probe_file(fault_images, unchanged, tmp_path):
    probe_file = tmp_path / "bad.toml"
    probe_file.write_text('[[probe]]\ntype = "http"\npath = "/"\nexpect_status = "two hundred"\n')
    proc = slim_cli("build", "slimmer-sample/python-flask:latest", "--probe-file", str(probe_file))
    assert_clean_failure(proc, 2, str(probe_file), "line 4", "expect_status")


def test_image_for_another_platform(docker_client, unchanged):
    """An arm64 image: the amd64 sensor cannot trace it; slimmer says so before starting anything."""
    import io
    import json
    import tarfile
    import hashlib
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    layer_bytes = layer.getvalue()
    config = json.dumps({"architecture": "arm64", "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]},
                         "history": [{"created_by": "COPY hello /"}]}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["slimmer-test/fault-arm64:1"],
                            "Layers": ["layer/layer.tar"]}]).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data in (("layer/layer.tar", layer_bytes), (config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    docker_client.images.load(archive.getvalue())
    try:
        before = image_id("slimmer-test/fault-arm64:1")
        proc = slim_cli("build", "slimmer-test/fault-arm64:1")
        assert_clean_failure(proc, 2, "another platform", "linux/arm64")
        assert image_id("slimmer-test/fault-arm64:1") == before
    finally:
        docker_client.images.remove("slimmer-test/fault-arm64:1", force=True)


# --- the environment: exit 1 ---------------------------------------------------------------------

def test_docker_daemon_unreachable():
    proc = slim_cli("build", "app:1", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert_clean_failure(proc, 1, "cannot reach the Docker daemon", "DOCKER_HOST")


def test_docker_socket_permission_denied(tmp_path):
    """A socket the user may not open (as for a user outside the docker group): slimmer
    says what to do. Root without capabilities meets the socket's mode bits like anyone."""
    import socket as sockets
    path = str(tmp_path / "docker.sock")
    listener = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    os.chmod(path, 0o000)
    try:
        proc = subprocess.run(
            ["setpriv", "--bounding-set=-all", "--inh-caps=-all",
             sys.executable, "-m", "slimmer.cli", "build", "app:1"],
            capture_output=True, text=True, cwd=REPO, timeout=120,
            env=dict(os.environ, DOCKER_HOST=f"unix://{path}"))
    finally:
        listener.close()
    assert_clean_failure(proc, 1, "permission denied on the Docker socket", "docker group")


def test_no_space_left_in_the_artifacts_directory(tmp_path, unchanged):
    """A 64 KiB tmpfs cannot hold the sensor: the run fails cleanly and leaves no image."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        proc = slim_cli("build", "slimmer-sample/batch-job:latest", "--artifacts", str(mount / "art"),
                        "--tag", "slimmer-test/fault-nospace:slim")
        assert_clean_failure(proc, 1, "cannot write the artifacts directory", "No space left on device")
        assert image_id("slimmer-test/fault-nospace:slim") == ""
    finally:
        subprocess.run(["umount", str(mount)], check=True)


# --- the app fails: exit 1 ----------------------------------------------------------------------------

def test_app_exits_non_zero_at_once(fault_images, unchanged):
    proc = slim_cli("build", fault_images["crash"])
    assert_clean_failure(proc, 1, "exit code 7", "boom-before-exit")


def test_batch_app_exits_non_zero(fault_images, unchanged):
    proc = slim_cli("build", fault_images["batchfail"])
    assert_clean_failure(proc, 1, "non-zero code", "3", "batch-went-wrong")


def test_app_never_opens_its_port(fault_images, unchanged):
    start = time.monotonic()
    proc = slim_cli("build", fault_images["silent"], env={"SLIMMER_PORT_TIMEOUT": "6"})
    assert_clean_failure(proc, 1, "never opened its port", "8080")
    assert time.monotonic() - start < 60


def test_probe_gets_a_server_error(fault_images, unchanged):
    proc = slim_cli("build", fault_images["fivexx"], "--http-probe", "/broken")
    assert_clean_failure(proc, 1, "probes failed against the original image", "/broken", "503")


def test_verification_fails_when_a_needed_file_is_excluded(unchanged, tmp_path):
    """Excluding the app's own module: the slim image answers /lazy with 500; exit 1 names the probe."""
    tag = "slimmer-test/fault-verify:slim"
    proc = slim_cli("build", "slimmer-sample/python-flask:latest", "--tag", tag,
                    "--probe-file", os.path.join(REPO, "probes", "python-flask.toml"),
                    "--exclude-path", "/app/plugins/report.py", "--exclude-path", "/app/plugins/__pycache__",
                    "--artifacts", str(tmp_path / "art"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "verification failed" in proc.stderr and "/lazy" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "last log lines of the slim container" in proc.stderr
    assert image_id(tag) == "", "a slim image that failed verification must not stay tagged"
    assert os.path.exists(tmp_path / "art" / "Dockerfile"), "the artifacts stay, to investigate"


# --- interruption: exit 130 ---------------------------------------------------------------------------

STAGE_MARKERS = {
    "inspect": "[inspect]",
    "trace": "[trace] running probes",
    "build": "[build] building",
    "verify": "[verify]",
}


def run_and_signal(args: list[str], marker: str, signum: int, timeout: float = 300) -> tuple[int, str]:
    run = SlimProcess(*args)
    reached = run.wait_for(marker, timeout)
    if reached:
        run.send_signal(signum)
    done = run.finish(timeout)
    assert reached, f"never reached {marker!r}:\n{done.stderr[-2000:]}"
    return done.returncode, done.stderr


@pytest.mark.parametrize("stage", list(STAGE_MARKERS))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_cleans_up(stage, signum, unchanged, tmp_path):
    tag = f"slimmer-test/fault-interrupt-{stage}:slim"
    args = ["build", "slimmer-sample/python-flask:latest", "--tag", tag,
            "--artifacts", str(tmp_path / "art")]
    if stage == "trace":
        args += ["--continue-after", "timeout=60"]   # a long trace, so the signal lands in it
    if stage == "build":
        args += ["--rebuild"]         # a real build to land in, not an earlier test's image reused
    code, stderr = run_and_signal(args, STAGE_MARKERS[stage], signum)
    assert code == 130, stderr[-3000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert image_id(tag) == ""


# --- odd images that must work --------------------------------------------------------------------------

def test_non_root_user_image_is_slimmed_and_keeps_its_user(fault_images, unchanged, docker_client):
    tag = "slimmer-test/fault-nonroot:slim"
    proc = slim_cli("build", fault_images["nonroot"], "--tag", tag)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert docker_client.images.get(tag).attrs["Config"]["User"] == "worker"
        output = docker_client.containers.run(tag, remove=True).decode()
        assert output.split() == ["1234", "payload"]
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_crafted_image_is_handled_safely(fault_images, unchanged, docker_client, tmp_path):
    """Symlinks climbing out of the root or pointing at absolute paths, a device node, a fifo
    and a 2 GB sparse file: slimmer indexes the image without reading 2 GB into memory,
    follows no link out of the image and builds a working slim image without the big file."""
    tag = "slimmer-test/fault-crafted:slim"
    outside = "/etc/hostname"
    host_before = os.stat(outside).st_mtime_ns
    with open(tmp_path / "stderr", "w+") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "slimmer.cli", "build", fault_images["crafted"],
                                 "--tag", tag, "--artifacts", str(tmp_path / "art")],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        errors.seek(0)
        stderr = errors.read()
    try:
        assert os.waitstatus_to_exitcode(status) == 0, stderr[-3000:]
        assert usage.ru_maxrss < 400 * 1024, f"peak RSS {usage.ru_maxrss} KiB while indexing a 2 GB file"
        assert os.stat(outside).st_mtime_ns == host_before
        keep_list = (tmp_path / "art" / "keep.list").read_text().split("\n")
        assert "/big/sparse.bin" not in keep_list
        assert "/app/up-and-out" in keep_list and "/etc/hostname" in keep_list   # resolved inside the image
        assert "/app/null" in keep_list
        slim_size = docker_client.images.get(tag).attrs["Size"]
        assert slim_size < 100 * 1024 * 1024
        output = docker_client.containers.run(tag, remove=True).decode()
        assert "crafted-ok" in output
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_concurrent_builds_do_not_clash(sample_images, unchanged, tmp_path):
    """Four different images at once, and two runs of the same image at once."""
    jobs = [("batch-job", "a"), ("static-scratch", "a"), ("entrypoint-script", "a"), ("nginx-static", "a"),
            ("batch-job", "b")]
    procs = []
    for name, suffix in jobs:
        tag = f"slimmer-test/fault-concurrent-{name}-{suffix}:slim"
        args = [sys.executable, "-m", "slimmer.cli", "build", sample_images[name], "--tag", tag,
                "--artifacts", str(tmp_path / f"{name}-{suffix}")]
        probe_file = os.path.join(REPO, "probes", f"{name}.toml")
        if os.path.exists(probe_file):
            args += ["--probe-file", probe_file]
        procs.append((tag, subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE)))
    try:
        for tag, proc in procs:
            stdout, stderr = proc.communicate(timeout=600)
            assert proc.returncode == 0, f"{tag}: {stderr[-2000:]}"
            assert image_id(tag) != ""
    finally:
        for tag, _ in procs:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
