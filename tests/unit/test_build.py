"""The build stage without a daemon: the layer filter over the collect step's tar stream
(build._LayerTar), and the builder-less way against tests/unit/fakes.py (streamed import
with a config-only load, the spooled load where the layer is not reused, the builder
where the daemon refuses, a failing collect step)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from slimmer import build, sensor
from slimmer.errors import SlimError
from slimmer.events import Note
from slimmer.model import Artifacts
from tests.unit import imagetar as t
from tests.unit.fakes import FakeDocker

CAPABILITY = "\x01\x00\x00\x02\x00\x04\x00\x00" + "\x00" * 12
LONG = "srv/" + "a-long-directory/" * 8 + "file.txt"


def collected_tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    """A stream as `sensor collect LIST -` writes it: PAX where needed, names relative to /."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(name: str, kind=tarfile.REGTYPE, data: bytes | None = None, mode=0o644, uid=0, pax=None, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.linkname, info.mtime = kind, mode, uid, uid, link, 981173106
    info.size = len(data) if data is not None else 0
    info.pax_headers = pax or {}
    return info, data


def layer_of(collected: bytes, generated_dir: str) -> tuple[bytes, str, int]:
    out = io.BytesIO()
    diff_id, content = build.write_layer(io.BufferedReader(io.BytesIO(collected)), out, generated_dir)
    return out.getvalue(), diff_id, content


def members(layer: bytes) -> dict[str, tarfile.TarInfo]:
    return {m.name: m for m in tarfile.open(fileobj=io.BytesIO(layer))}


def test_collected_members_pass_through_byte_for_byte(tmp_path):
    collected = collected_tar(
        entry("usr/", tarfile.DIRTYPE, mode=0o755),
        entry("usr/bin/capable", data=b"binary", mode=0o755, pax={"SCHILY.xattr.security.capability": CAPABILITY}),
        entry("usr/bin/setuid", data=b"x" * 700, mode=0o4755),
        entry("usr/bin/again", tarfile.LNKTYPE, link="usr/bin/setuid", mode=0o4755),
        entry("usr/bin/sh", tarfile.SYMTYPE, link="dash", mode=0o777),
        entry(LONG, data=b"long", uid=1000))
    layer, diff_id, content = layer_of(collected, str(tmp_path / "no-generated"))
    body = layer[:-1024]
    assert layer[-1024:] == b"\0" * 1024
    assert collected[:len(body)] == body                 # tarfile pads its end to a record: zeros
    assert collected[len(body):].strip(b"\0") == b""
    assert diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert content == len(b"binary") + 700 + len(b"long")          # the hardlink stores nothing
    found = members(layer)
    assert found["usr/bin/capable"].pax_headers["SCHILY.xattr.security.capability"] == CAPABILITY
    assert found[LONG].uid == 1000 and found["usr/bin/again"].linkname == "usr/bin/setuid"


def test_generated_files_are_laid_over_the_collected_root(tmp_path):
    generated = tmp_path / "generated"
    (generated / "var" / "lib" / "dpkg").mkdir(parents=True)
    (generated / "var" / "lib" / "dpkg" / "status").write_bytes(b"Package: kept\n")
    (generated / "etc").mkdir()
    (generated / "etc" / "new.conf").write_bytes(b"new\n")
    for directory in ("var", "var/lib", "var/lib/dpkg", "etc"):
        os.chmod(generated / directory, 0o755)
    collected = collected_tar(
        entry("var/", tarfile.DIRTYPE, mode=0o700, uid=5),
        entry("var/lib/", tarfile.DIRTYPE, mode=0o700, uid=5),
        entry("var/lib/dpkg/", tarfile.DIRTYPE, mode=0o700, uid=5),
        entry("var/lib/dpkg/status", data=b"Package: everything\n" * 50),
        entry("var/lib/dpkg/other", data=b"kept as collected"))
    layer, _, content = layer_of(collected, str(generated))
    found = members(layer)
    assert tarfile.open(fileobj=io.BytesIO(layer)).extractfile("var/lib/dpkg/status").read() == b"Package: kept\n"
    assert (found["var/lib"].mode, found["var/lib"].uid) == (0o755, 0)      # COPY generated/ / owns it
    assert list(found)[:3] == ["var", "var/lib", "var/lib/dpkg"]              # in place, before their children
    assert list(found)[-3:] == ["etc", "etc/new.conf", "var/lib/dpkg/status"]
    assert content == len(b"kept as collected") + len(b"Package: kept\n") + len(b"new\n")


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:700], "ended early"),                                   # the sensor died mid-file
    (lambda data: data[:100] + b"X" + data[101:], "corrupt"),                  # a broken header
    (lambda data: b"", "ended early"),
])
def test_a_broken_stream_is_an_error_never_a_short_layer(tmp_path, damage, message):
    collected = collected_tar(entry("a", data=b"a" * 1000), entry("b", data=b"b"))
    with pytest.raises(SlimError, match=message):
        layer_of(damage(collected), str(tmp_path))


# --- the load way against the fake daemon ---------------------------------------------------

LAYERS = [[t.dir_("/bin"), t.file("/bin/app", b"#!app", mode=0o755), t.dir_("/etc"), t.file("/etc/unused", b"u")]]


def artifacts_for(docker: FakeDocker, directory, keep: list[str]) -> Artifacts:
    directory.mkdir()
    (directory / "keep.list").write_text("".join(sensor.escape_path(p) + "\n" for p in keep))
    (directory / "sensor").write_bytes(b"\x7fELF sensor")
    (directory / "Dockerfile").write_text("FROM scratch\n")
    (directory / "image-config.json").write_text(json.dumps({
        "original": {"id": docker.image_id, "from": docker.reference, "reference": docker.reference},
        "architecture": "amd64", "os": "linux", "slimmer_version": "0.1.0-test", "config": {"Cmd": ["/bin/app"]}}))
    return Artifacts(str(directory), str(directory / "Dockerfile"), str(directory / "keep.list"),
                     str(directory / "sensor"))


def fake(**kwargs) -> FakeDocker:
    return FakeDocker(LAYERS, ["ADD rootfs /"], {"Cmd": ["/bin/app"]}, lambda present: (0, b"", []), **kwargs)


def test_the_layer_is_imported_and_loaded_with_its_config_alone(tmp_path):
    docker = fake()
    built = build.build_slim_image(docker, artifacts_for(docker, tmp_path / "a", ["/bin/app"]), "app:slim")
    assert docker.images[built.id] == {"/bin/app"}
    assert built.size_bytes == len(b"#!app")
    assert docker.imported == {} and docker.containers == {}     # the import image and the container are gone
    assert docker.builds == 1                                     # one docker load, no builder


def test_a_daemon_that_does_not_reuse_the_layer_gets_it_whole(tmp_path):
    docker = fake(reuses_layers=False)
    events = []
    built = build.build_slim_image(docker, artifacts_for(docker, tmp_path / "a", ["/bin/app"]), "app:slim",
                                   events.append)
    assert docker.images[built.id] == {"/bin/app"}
    assert any(isinstance(e, Note) and "loading it whole" in e.text for e in events)
    assert docker.imported == {} and docker.containers == {}


def test_a_refused_import_falls_back_to_the_builder(tmp_path):
    docker = fake(refuse="import_layer")
    events = []
    built = build.build_slim_image(docker, artifacts_for(docker, tmp_path / "a", ["/bin/app"]), "app:slim",
                                   events.append)
    assert docker.images[built.id] == {"/bin/app"}                 # the fake builder's image
    assert any(isinstance(e, Note) and "docker build instead" in e.text for e in events)
    assert docker.containers == {}


def test_a_failing_collect_step_names_the_sensors_message(tmp_path):
    docker = fake(collect_failure=(1, b"[slim-sensor] collect: opening /bin/app: Permission denied\n"))
    with pytest.raises(SlimError, match="sensor collect exited 1: .*opening /bin/app: Permission denied"):
        build.build_slim_image(docker, artifacts_for(docker, tmp_path / "a", ["/bin/app"]), "app:slim")
    assert docker.containers == {} and docker.imported == {} and docker.loaded == {}
