"""The builder-less build (build.load_slim_image: the collect step's tar stream, docker
import, a config-only docker load) gives the same image content as the generated
Dockerfile built by the legacy builder: every path with its type, mode, owner, size,
symlink target, hardlink group, extended attributes (file capabilities) and content.

Cases: an original made to hold every kind of entry a layer can (a capability, setuid,
hardlinks, a /lib -> usr/lib parent link, owners, a fifo, a device, a long and a
non-UTF-8 name, a user.* xattr that Docker's archives never carry), and sample apps.
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import threading
import time
import uuid

import pytest

from slimmer.build import build_with_builder, load_slim_image
from slimmer.collect import PrestartedCollect
from slimmer.docker_api import Docker
from slimmer.early import EarlyLayer
from slimmer.dockerfile import write_artifacts
from slimmer.inspect import inspect_image
from slimmer.keep import compute_keep_set
from slimmer.model import KeepOptions, TraceLog, TracedPath
from slimmer.sensor import sensor_path, unescape_path
from tests.integration.test_dockerfile_build import DOCKER_MOUNTED, docker
from tests.integration.test_elf_closure import export_index

CAPABILITY = bytes.fromhex("01000002" "00040000" "00000000" "00000000" "00000000")   # cap_net_bind_service+ep
LONG = "/srv/" + "long-directory-name/" * 6 + "file-with-a-name-over-one-hundred-bytes.txt"
ODD = "/srv/tab\there-\udce9.txt"
TRACED = ["/usr/bin/capable", "/usr/bin/setuid", "/srv/data/a", "/srv/data/b", "/lib/libx.so", "/srv/owned",
          "/srv/fifo", "/srv/null", LONG, ODD, "/srv/xattr.txt", "/srv/link"]


def crafted_layer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, link="", pax=None):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.type, info.mode, info.uid, info.gid, info.linkname = kind, mode, uid, gid, link
            info.mtime, info.size = 981173106, len(data) if kind == tarfile.REGTYPE else 0
            info.pax_headers = pax or {}
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        for directory, mode, owner in [("/usr", 0o755, 0), ("/usr/bin", 0o755, 0), ("/usr/lib", 0o755, 0),
                                       ("/srv", 0o2750, 1000), ("/srv/data", 0o700, 1000), ("/tmp", 0o1777, 0)]:
            add(directory, tarfile.DIRTYPE, mode=mode, uid=owner, gid=owner)
        for part in range(1, 7):
            add("/srv/" + "long-directory-name/" * part, tarfile.DIRTYPE, mode=0o755)
        add("/lib", tarfile.SYMTYPE, link="usr/lib", mode=0o777)
        add("/usr/lib/libx.so", data=b"\x7fELF not really", mode=0o755)
        add("/usr/bin/capable", data=b"capable", mode=0o755,
            pax={"SCHILY.xattr.security.capability": CAPABILITY.decode("utf-8", "surrogateescape")})
        add("/usr/bin/setuid", data=b"setuid", mode=0o4755)
        add("/srv/data/a", data=b"shared inode", mode=0o640, uid=1000, gid=1000)
        add("/srv/data/b", tarfile.LNKTYPE, link="srv/data/a", mode=0o640, uid=1000, gid=1000)
        add("/srv/owned", data=b"user data", mode=0o600, uid=1000, gid=1001)
        add("/srv/fifo", tarfile.FIFOTYPE, mode=0o600)
        add(LONG, data=b"long name")
        add(ODD, data=b"odd name")
        add("/srv/xattr.txt", data=b"x", pax={"SCHILY.xattr.user.origin": "slimmer-test"})
        add("/srv/link", tarfile.SYMTYPE, link="data/a", mode=0o777)
        device = tarfile.TarInfo("srv/null")
        device.type, device.mode, device.devmajor, device.devminor = tarfile.CHRTYPE, 0o666, 1, 3
        tar.addfile(device)
        unused = tarfile.TarInfo("srv/unused.txt")
        unused.size = 6
        tar.addfile(unused, io.BytesIO(b"unused"))
    return buffer.getvalue()


def layer_listing(image: str) -> dict:
    """Every path of IMAGE's layers applied in order (no whiteouts in these images): type,
    mode, owner, size, link, xattrs, content sha256, and the names sharing its inode."""
    proc = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    outer = tarfile.open(fileobj=io.BytesIO(proc.stdout.read()))
    assert proc.wait() == 0
    import json
    manifest = json.load(outer.extractfile("manifest.json"))[0]
    listing: dict[str, list] = {}
    for layer_name in manifest["Layers"]:
        layer = tarfile.open(fileobj=outer.extractfile(layer_name))
        for member in layer:
            path = "/" + member.name.strip("/")
            xattrs = {k: v for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            if member.islnk():
                target = listing["/" + member.linkname.strip("/")]
                target[-1].add(path)
                listing[path] = target
                continue
            digest = hashlib.sha256(layer.extractfile(member).read()).hexdigest() if member.isfile() else None
            listing[path] = [member.type, oct(member.mode & 0o7777), member.uid, member.gid, member.size,
                             member.linkname, xattrs, digest,
                             (member.devmajor, member.devminor) if member.ischr() or member.isblk() else None, {path}]
    view = {}
    for path, item in listing.items():
        item = item[:-1] + [frozenset(item[-1])]
        if path in DOCKER_MOUNTED:
            item[4] = item[7] = "(per container)"
        view[path] = tuple(item)
    return view


def artifacts_for(original: str, traced: list[str], directory: str):
    image = inspect_image(Docker(), original)
    index, texts = export_index(original)
    trace = TraceLog(version=1, paths={p: TracedPath(p, frozenset({"openat"}), False) for p in traced})
    keep_set = compute_keep_set(trace, index, image, KeepOptions(), read_file=texts.get)
    return write_artifacts(directory, image, keep_set, index, sensor_path(), "0.1.0-test")


def build_both_ways(original: str, traced: list[str], directory: str) -> tuple[dict, dict]:
    """The builder's image and the load way's, each as layer_listing; the load way is built
    twice, the second time with its layer started early (slimmer/early.py) and fed the
    keep set in reverse order, as a keeper names paths in no particular order: both
    listings must be the same, the second is returned."""
    suffix = uuid.uuid4().hex[:10]
    builder_tag, loaded_tag = f"slimmer-test-eq-builder:{suffix}", f"slimmer-test-eq-loaded:{suffix}"
    early_tag = f"slimmer-test-eq-early:{suffix}"
    artifacts = artifacts_for(original, traced, directory)
    adapter = Docker()
    adapter.track_image(loaded_tag)
    adapter.track_image(early_tag)
    try:
        # the legacy builder's own build of the Dockerfile (no cache); its intermediate images,
        # the collect stage's among them, are removed as slim build removes them
        build_with_builder(adapter, artifacts, builder_tag)
        load_slim_image(adapter, artifacts, loaded_tag)
        original_id = adapter.inspect_image(original)["Id"]
        early = EarlyLayer(adapter, PrestartedCollect(adapter, original_id, artifacts.sensor))
        try:
            with open(artifacts.keep_list, encoding="utf-8", errors="surrogateescape") as handle:
                for line in reversed(handle.read().splitlines()):
                    early.keep(unescape_path(line))
            events = []
            load_slim_image(adapter, artifacts, early_tag, events.append, early=early)
        finally:
            early.abort()
        assert any("since the keep stage began" in getattr(e, "instruction", "") for e in events), events
        loaded = layer_listing(loaded_tag)
        assert layer_listing(early_tag) == loaded
        return layer_listing(builder_tag), loaded
    finally:
        adapter.cleanup()
        subprocess.run(["docker", "rmi", "-f", builder_tag], capture_output=True)


@pytest.mark.docker
def test_every_kind_of_entry_is_the_same_both_ways(docker_engine, tmp_path):
    tag = f"slimmer-test-eq-original:{uuid.uuid4().hex[:10]}"
    layer = tmp_path / "layer.tar"
    layer.write_bytes(crafted_layer())
    docker("import", "--change", "USER 1000", "--change", 'CMD ["/usr/bin/capable"]', str(layer), tag)
    try:
        by_builder, loaded = build_both_ways(tag, TRACED, str(tmp_path / "artifacts"))
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    assert loaded == by_builder
    assert loaded["/usr/bin/capable"][6] == {
        "SCHILY.xattr.security.capability": CAPABILITY.decode("utf-8", "surrogateescape")}
    assert loaded["/usr/bin/setuid"][1] == oct(0o4755)
    assert loaded["/srv/data/a"][-1] == {"/srv/data/a", "/srv/data/b"}
    assert loaded["/lib"][5] == "usr/lib" and "/usr/lib/libx.so" in loaded
    assert loaded["/srv"][1:4] == (oct(0o2750), 1000, 1000)
    assert loaded["/srv/null"][8] == (1, 3) and loaded["/srv/fifo"][0] == tarfile.FIFOTYPE
    assert LONG in loaded and ODD in loaded
    assert loaded["/srv/xattr.txt"][6] == {}        # Docker's archives carry security.capability only
    assert "/srv/unused.txt" not in loaded


@pytest.mark.docker
@pytest.mark.parametrize("app, traced", [
    ("batch-job", ["/usr/local/bin/batch.sh", "/bin/sh", "/usr/bin/sort"]),
    ("python-flask", ["/usr/bin/python3", "/app/app.py", "/usr/lib/python3/dist-packages/flask/__init__.py"]),
])
def test_sample_apps_are_the_same_both_ways(sample_images, tmp_path, app, traced):
    by_builder, loaded = build_both_ways(sample_images[app], traced, str(tmp_path / "artifacts"))
    assert loaded == by_builder
    assert len(loaded) > 50


@pytest.mark.docker
def test_an_aborted_early_layer_leaves_no_image_and_no_container(sample_images, tmp_path):
    """The keep stage failing while the early layer is being applied: the import's upload
    breaks off, the daemon creates no image, the collect container is removed."""
    artifacts = artifacts_for(sample_images["python-flask"], ["/usr/bin/python3", "/app/app.py"],
                              str(tmp_path / "artifacts"))
    adapter = Docker()
    original_id = adapter.inspect_image(sample_images["python-flask"])["Id"]
    try:
        early = EarlyLayer(adapter, PrestartedCollect(adapter, original_id, artifacts.sensor))
        with open(artifacts.keep_list, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
        for line in lines[:40]:               # part of the list, as a keep stage cut short has sent
            early.keep(unescape_path(line))
        # wait until the daemon applied what was sent: the sensor then waits for more of the
        # list, the import for more of the tar (a read that holds its stream's lock)
        deadline = time.monotonic() + 30
        while early.layer.content_bytes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert early.layer.content_bytes > 0
        time.sleep(0.5)
        container = early.collect.container
        aborting = threading.Thread(target=early.abort, daemon=True)
        aborting.start()
        aborting.join(60)
        assert not aborting.is_alive(), "abort() hung on the waiting import"
        assert early.imported is None
        labelled = docker("images", "-q", "--filter", f"label=slimmer.session={adapter.session}").split()
        assert labelled == []
        assert docker("ps", "-aq", "--filter", f"id={container}").strip() == ""
        assert adapter._containers == []
    finally:
        adapter.cleanup()
