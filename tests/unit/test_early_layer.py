"""The layer started while the keep stage runs (slimmer/early.py): the keeper names each kept
path as it keeps it, the build completes that import; where it cannot be used (a path taken
back, --exclude-path, an image to reuse, SLIMMER_EARLY_LAYER=off) the build collects the
layer as before; when the keep stage fails, nothing of it is left. In-memory Docker, and
LayerTar's generated_last mode on bytes."""
from __future__ import annotations

import io
import os
import tarfile
import time

import pytest

from slimmer import pipeline
from slimmer.events import Note
from slimmer.keep import core as keep_core
from slimmer.keep import generated_directories
from slimmer.layertar import LayerTar
from tests.unit.test_build_reuse import _slim, _steps
from tests.unit.test_pipeline import fake

EARLY = "since the keep stage began"


def test_the_layer_is_collected_while_the_keep_stage_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    seen: list[str] = []
    record = keep_core.Keeper.record

    def recording(self, path, reason, because_of):
        if path not in self.kept:
            # the sensor's stdin is being fed while the keeper still runs
            seen.append(path)
        return record(self, path, reason, because_of)
    monkeypatch.setattr(keep_core.Keeper, "record", recording)
    outcome, events = _slim(docker, tmp_path, "one")
    assert outcome.failures == [], outcome.failures
    assert any(EARLY in step for step in _steps(events)), _steps(events)
    keep_list = (tmp_path / "one" / "keep.list").read_text().split()
    collects = [c for c in docker.created if c.collect]
    # each build (the first, then the repaired one) got every keep.list path, none more
    assert collects[-1].keep == set(keep_list)
    assert set(keep_list) <= set(seen)
    # the slim image holds the kept paths, the imported image is gone, no container is left
    assert docker.images[outcome.report.slim.id] >= set(keep_list)
    assert docker.ledger == {"containers": [], "tracked_images": []}


def test_a_path_taken_back_makes_the_build_collect_the_layer_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    run = keep_core.Keeper.run

    def taking_back(self):
        keep_set = run(self)
        self.on_keep and self.on_keep("/opt/never-kept")        # sent, then not in keep.list
        return keep_set
    monkeypatch.setattr(keep_core.Keeper, "run", taking_back)
    completed = []
    import_layer = docker.import_layer
    docker.import_layer = lambda layer: completed.append(import_layer(layer)) or completed[-1]
    outcome, events = _slim(docker, tmp_path, "one")
    assert outcome.failures == [], outcome.failures
    notes = [e.text for e in events if isinstance(e, Note)]
    assert any("not usable; collecting it now" in n for n in notes), notes
    assert not any(EARLY in step for step in _steps(events))
    assert "/opt/never-kept" not in docker.images[outcome.report.slim.id]
    assert docker.ledger == {"containers": [], "tracked_images": []}
    assert len(completed) == docker.builds          # only the build's own imports completed


@pytest.mark.parametrize("how", ["exclude", "env", "reuse"])
def test_no_early_layer_where_it_could_change_or_waste_the_build(tmp_path, monkeypatch, how):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    request = {}
    if how == "exclude":
        request["keep"] = pipeline.KeepOptions(exclude=("/opt/unused",))
    elif how == "env":
        monkeypatch.setenv("SLIMMER_EARLY_LAYER", "off")
    else:
        _slim(docker, tmp_path, "first")              # its image is there to be reused
    outcome, events = _slim(docker, tmp_path, "one", **request)
    assert outcome.failures == [], outcome.failures
    assert not any(EARLY in step for step in _steps(events)), _steps(events)
    assert docker.ledger == {"containers": [], "tracked_images": []}


def test_a_failing_keep_stage_leaves_no_image_and_no_container(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()

    def failing(self):
        self.keep("/bin/sh", keep_core.KeepReason.TRACED, None)     # some paths sent first
        deadline = time.monotonic() + 5
        while not any(c.keep for c in docker.created if c.collect) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise RuntimeError("keep stage broke")
    monkeypatch.setattr(keep_core.Keeper, "run", failing)
    with pytest.raises(RuntimeError, match="keep stage broke"):
        _slim(docker, tmp_path, "one")
    collects = [c for c in docker.created if c.collect]
    assert collects and collects[0].keep                       # it had started collecting
    assert docker.imported == {}                               # the import never completed
    assert docker.ledger == {"containers": [], "tracked_images": []}


def _tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o700
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_generated_last_holds_back_the_directories_generated_files_may_need(tmp_path):
    generated = tmp_path / "generated"
    (generated / "var" / "lib" / "dpkg").mkdir(parents=True)
    (generated / "var" / "lib" / "dpkg" / "status").write_bytes(b"trimmed\n")
    collected = _tar([("usr", None), ("usr/bin", None), ("usr/bin/python3", b"ELF"), ("var", None),
                      ("var/lib", None), ("var/lib/dpkg", None), ("var/lib/dpkg/info", None),
                      ("var/lib/dpkg/info/x.list", b"/x\n")])
    layer = LayerTar("", generated_last=True, held_names=generated_directories())
    layer.generated_dir = str(generated)      # set when the keep stage is over, before the stream ends
    data = b"".join(layer.blocks(io.BytesIO(collected)))
    members = tarfile.open(fileobj=io.BytesIO(data)).getmembers()
    names = [m.name for m in members]
    # no path twice (Docker refuses such a layer); the held directories come after their
    # children: the collected one where generated/ has none (usr), else generated/'s
    assert len(names) == len(set(names)), names
    assert names == ["usr/bin", "usr/bin/python3", "var/lib/dpkg/info", "var/lib/dpkg/info/x.list",
                     "usr", "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status"]
    by_name = {m.name: m for m in members}
    assert by_name["usr"].mode == 0o700                          # the collected entry's
    assert by_name["var/lib/dpkg"].mode == os.stat(generated / "var" / "lib" / "dpkg").st_mode & 0o7777
    assert by_name["var"].uid == 0
    assert tarfile.open(fileobj=io.BytesIO(data)).extractfile(members[-1]).read() == b"trimmed\n"
    # the in-place mode gives the same tree, the same content size
    in_place = LayerTar(str(generated))
    placed = tarfile.open(fileobj=io.BytesIO(b"".join(in_place.blocks(io.BytesIO(collected))))).getmembers()
    assert {m.name: (m.mode, m.uid, m.size) for m in placed} == {m.name: (m.mode, m.uid, m.size) for m in members}
    assert in_place.content_bytes == layer.content_bytes == len(b"ELF") + len(b"/x\n") + len(b"trimmed\n")
