"""The generated Dockerfile (golden files) and the artifacts directory."""
from __future__ import annotations

import json
import os
import stat

import pytest

from slimmer.dockerfile import DEFAULT_PATH, original_name, render_dockerfile, slim_config, write_artifacts
from slimmer.errors import BadInput
from slimmer.model import Healthcheck, ImageConfig, ImageIndex, ImageInfo, KeepSet, KeptPath, KeepReason

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
VERSION = "0.1.0"
ID = "sha256:" + "0123456789abcdef" * 4

RICH = ImageInfo(
    reference="registry.local:5000/team/app:1.0", id=ID, repo_tags=("registry.local:5000/team/app:1.0",),
    size_bytes=123, os="linux", architecture="amd64", layers=(),
    config=ImageConfig(
        entrypoint=("/docker-entrypoint.sh", "--config", "/etc/app/app.conf"),
        cmd=("serve", "--port", "8080", "it's \"quoted\""),
        env=("PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello \"world\" $HOME ${USER} `id`",
             "WINDOWS=C:\\Program Files\\app\\", "EMPTY=", "SPACES=  padded  ", "UNICODE=caf\u00e9 \u2603",
             "SINGLE='x'", "TRAILING=ends with \\"),
        workdir="/srv/app", user="app:app", exposed_ports=("8080/tcp", "53/udp", "443/tcp"),
        volumes=("/var/lib/app", "/data"),
        labels=(("org.opencontainers.image.title", "App \"One\""), ("maintainer", "Jo <jo@example.com>"),
                ("price", "$5 & up"), ("slimmer.version", "0.0.1-old")),
        healthcheck=Healthcheck(("CMD", "curl", "-fsS", "http://localhost:8080/health"), interval_ns=30 * 10**9,
                                timeout_ns=5 * 10**9, start_period_ns=1500 * 10**6, retries=3),
        stop_signal="SIGQUIT",
    ),
)

MINIMAL = ImageInfo(reference="batch:latest", id="sha256:" + "f" * 64, repo_tags=("batch:latest",), size_bytes=1,
                    os="linux", architecture="amd64", layers=(),
                    config=ImageConfig(cmd=("/usr/local/bin/batch",)))


def golden(name: str) -> str:
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as source:
        return source.read()


@pytest.mark.parametrize("image, name", [(RICH, "Dockerfile.rich"), (MINIMAL, "Dockerfile.minimal")])
def test_dockerfile_matches_golden_file(image, name):
    assert render_dockerfile(image, VERSION) == golden(name)
    assert render_dockerfile(image, VERSION) == render_dockerfile(image, VERSION)


@pytest.mark.parametrize("health, line", [
    (Healthcheck(("NONE",)), "HEALTHCHECK NONE"),
    (Healthcheck(("CMD-SHELL", "pg_isready -U postgres || exit 1"), interval_ns=90 * 10**9, retries=5),
     "HEALTHCHECK --interval=90s --retries=5 CMD pg_isready -U postgres || exit 1"),
    (Healthcheck(("CMD", "/bin/check"), timeout_ns=250 * 10**6), 'HEALTHCHECK --timeout=250ms CMD ["/bin/check"]'),
])
def test_healthcheck_forms(health, line):
    image = ImageInfo("a:1", ID, (), 0, "linux", "amd64", ImageConfig(healthcheck=health), ())
    assert line in render_dockerfile(image, VERSION).splitlines()


@pytest.mark.parametrize("config", [ImageConfig(env=("BAD=line1\nline2",)),
                                    ImageConfig(labels=(("note", "a\nb"),)),
                                    ImageConfig(healthcheck=Healthcheck(("CMD-SHELL", "a\nb")))])
def test_values_a_dockerfile_cannot_express_are_refused_with_a_next_step(config):
    image = ImageInfo("a:1", ID, (), 0, "linux", "amd64", config, ())
    with pytest.raises(BadInput) as raised:
        render_dockerfile(image, VERSION)
    assert raised.value.hint


def test_write_artifacts_writes_exactly_the_build_context(tmp_path):
    sensor = tmp_path / "slim-sensor"
    sensor.write_bytes(b"\x7fELF fake sensor")
    sensor.chmod(0o600)
    kept = {p: KeptPath(p, KeepReason.TRACED) for p in
            ("/usr/bin/app", "/etc/weird\tname", "/back\\slash", "/new\nline", "/bell\x07", "/caf\u00e9", "/usr")}
    out = tmp_path / "artifacts"
    artifacts = write_artifacts(str(out), RICH, KeepSet(kept), ImageIndex({}), str(sensor), VERSION)
    assert sorted(os.listdir(out)) == [".dockerignore", "Dockerfile", "image-config.json", "keep.list", "sensor"]
    assert json.loads((out / "image-config.json").read_text()) == slim_config(RICH, VERSION)
    assert artifacts.dockerfile == str(out / "Dockerfile") and artifacts.keep_list == str(out / "keep.list")
    assert (out / "Dockerfile").read_text() == golden("Dockerfile.rich")
    assert (out / "keep.list").read_bytes() == (
        b"/back\\\\slash\n/bell\\x07\n/caf\xc3\xa9\n/etc/weird\\tname\n/new\\nline\n/usr\n/usr/bin/app\n")
    assert stat.S_IMODE(os.stat(artifacts.sensor).st_mode) == 0o755
    assert (out / "sensor").read_bytes() == sensor.read_bytes()
    assert (out / ".dockerignore").read_text().splitlines() == ["*", "!Dockerfile", "!keep.list", "!sensor",
                                                                "!generated"]


def test_generated_files_are_written_under_generated_and_copied_last(tmp_path):
    """The trimmed package database: written as in the image, COPY'd over the collected root."""
    sensor = tmp_path / "sensor-bin"
    sensor.write_bytes(b"\x7fELF")
    out = tmp_path / "artifacts"
    (out / "generated" / "stale").mkdir(parents=True)        # a previous run's leftovers go
    status = b"Package: libc6\nStatus: install ok installed\n\n"
    keep_set = KeepSet({"/var/lib/dpkg": KeptPath("/var/lib/dpkg", KeepReason.PARENT)},
                       generated={"/var/lib/dpkg/status": status})
    write_artifacts(str(out), MINIMAL, keep_set, ImageIndex({}), str(sensor), VERSION)
    assert sorted(os.listdir(out)) == [".dockerignore", "Dockerfile", "generated", "image-config.json", "keep.list",
                                       "sensor"]
    assert (out / "Dockerfile").read_text() == golden("Dockerfile.generated")
    written = out / "generated" / "var" / "lib" / "dpkg" / "status"
    assert written.read_bytes() == status
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "generated" / "var").stat().st_mode) == 0o755
    assert sorted(os.listdir(out / "generated")) == ["var"]
    assert (out / "keep.list").read_bytes() == b"/var/lib/dpkg\n"
    # without generated files the Dockerfile has no such COPY and no directory is left
    write_artifacts(str(out), MINIMAL, KeepSet({}), ImageIndex({}), str(sensor), VERSION)
    assert (out / "Dockerfile").read_text() == golden("Dockerfile.minimal")
    assert not (out / "generated").exists()


def test_the_original_is_named_so_that_buildkit_resolves_it_locally():
    """BuildKit reads FROM sha256:... as docker.io/library/sha256: a name, with the ID pinned."""
    assert original_name(RICH) == "registry.local:5000/team/app:1.0"
    by_id = ImageInfo(ID[7:19], ID, ("app:2", "app:latest"), 0, "linux", "amd64", ImageConfig(), ())
    assert original_name(by_id) == "app:2"
    assert original_name(ImageInfo(ID, ID, ("app:2",), 0, "linux", "amd64", ImageConfig(), ())) == "app:2"
    untagged = ImageInfo(ID, ID, (), 0, "linux", "amd64", ImageConfig(), ())
    assert original_name(untagged) == ID
    lines = render_dockerfile(by_id, VERSION).splitlines()
    assert lines[1] == f"# app:2 must still name image {ID}: docker image inspect -f '{{{{.Id}}}}' app:2"
    assert lines[2] == "FROM app:2 AS original"
    assert "docker tag" in render_dockerfile(untagged, VERSION).splitlines()[1]


def test_slim_config_is_what_the_dockerfile_gives():
    config = slim_config(RICH, VERSION)["config"]
    assert config["Env"][0] == "PATH=/usr/local/bin:/usr/bin:/bin"        # replaced in place, first
    assert config["Env"][1:] == list(RICH.config.env[1:])
    assert config["Labels"] == {"org.opencontainers.image.title": "App \"One\"", "maintainer": "Jo <jo@example.com>",
                                "price": "$5 & up", "slimmer.source.image": RICH.reference,
                                "slimmer.source.id": ID, "slimmer.version": VERSION}
    assert config["Healthcheck"] == {"Test": ["CMD", "curl", "-fsS", "http://localhost:8080/health"],
                                     "Interval": 30 * 10**9, "Timeout": 5 * 10**9, "StartPeriod": 1500 * 10**6,
                                     "Retries": 3}
    assert config["ExposedPorts"] == {"443/tcp": {}, "53/udp": {}, "8080/tcp": {}}
    assert config["Volumes"] == {"/data": {}, "/var/lib/app": {}}
    assert (config["User"], config["WorkingDir"], config["StopSignal"]) == ("app:app", "/srv/app", "SIGQUIT")
    assert config["Entrypoint"] == list(RICH.config.entrypoint) and config["Cmd"] == list(RICH.config.cmd)
    # no PATH in the image: the builders' default one, as in a container without one
    minimal = slim_config(MINIMAL, VERSION)
    assert minimal["config"] == {"Env": [DEFAULT_PATH], "Cmd": ["/usr/local/bin/batch"],
                                 "Labels": {"slimmer.source.image": "batch:latest", "slimmer.source.id": MINIMAL.id,
                                            "slimmer.version": VERSION}}
    assert (minimal["architecture"], minimal["os"]) == ("amd64", "linux")
    shell = ImageInfo("a:1", ID, (), 0, "linux", "amd64",
                      ImageConfig(env=("A=1", "PATH=/x"), healthcheck=Healthcheck(("CMD-SHELL", "  check || exit 1 "))), ())
    assert slim_config(shell, VERSION)["config"]["Env"] == ["PATH=/x", "A=1"]
    assert slim_config(shell, VERSION)["config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "check || exit 1"]}
