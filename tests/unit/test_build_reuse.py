"""build.py's reuse: a second build from the same inputs tags the image the first one made
instead of building it again, and such an image is never removed by ID (it may carry the
user's tag of that earlier run). Against the in-memory Docker of tests/unit/fakes.py."""
from __future__ import annotations

import os

from slimmer import build as build_stage
from slimmer.events import BuildStep
from slimmer.imagefs import LayerCache
from slimmer.pipeline import BuildRequest, build_slim_image
from slimmer.probefile import ProbePlan
from tests.unit.test_pipeline import fake


def _slim(docker, tmp_path, name: str, **request):
    events = []
    outcome = build_slim_image(BuildRequest(image=docker.reference, plan=ProbePlan(), tag="demo/app:1.0-slim",
                                            artifacts_dir=str(tmp_path / name), **request),
                               emit=events.append, docker=docker)
    return outcome, events


def _steps(events) -> list[str]:
    return [event.instruction for event in events if isinstance(event, BuildStep)]


def test_a_second_build_from_the_same_inputs_reuses_the_first_image(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    first, _ = _slim(docker, tmp_path, "one")
    assert first.failures == [] and first.report.slim.reused is False
    builds = docker.builds
    second, events = _slim(docker, tmp_path, "two")
    assert second.failures == [], second.failures
    # the fake app needs a repair: the unrepaired keep set's image was removed by the first
    # run, so it is built again; the repaired one is reused: nothing collected or loaded
    assert docker.builds == builds + 1
    assert second.report.slim.reused is True
    assert second.report.slim.id == first.report.slim.id
    assert second.report.slim.size_bytes == first.report.slim.size_bytes
    assert any(step.startswith("reuse sha256:") for step in _steps(events)), _steps(events)
    assert second.report.verify["ran"] and second.report.verify["failed"] == 0   # still verified
    assert docker.tags["demo/app:1.0-slim"] == first.report.slim.id
    assert first.report.slim.id not in docker.removed_images


def test_rebuild_builds_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    _slim(docker, tmp_path, "one")
    builds = docker.builds
    again, _ = _slim(docker, tmp_path, "two", reuse=False)
    assert docker.builds > builds and again.report.slim.reused is False


def test_an_image_removed_since_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    first, _ = _slim(docker, tmp_path, "one")
    docker.images.pop(first.report.slim.id)              # docker rmi by the user
    builds = docker.builds
    again, _ = _slim(docker, tmp_path, "two")
    assert docker.builds > builds and again.report.slim.reused is False and again.failures == []


def test_without_a_cache_nothing_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", "off")
    docker = fake()
    _slim(docker, tmp_path, "one")
    builds = docker.builds
    again, _ = _slim(docker, tmp_path, "two")
    assert docker.builds > builds and again.report.slim.reused is False


def _artifacts(tmp_path, docker):
    outcome, _ = _slim(docker, tmp_path, "art", reuse=False)
    from slimmer.model import Artifacts
    directory = str(tmp_path / "art")
    return Artifacts(directory=directory, dockerfile=os.path.join(directory, "Dockerfile"),
                     keep_list=os.path.join(directory, "keep.list"),
                     sensor=os.path.join(directory, "sensor"))


def test_the_key_names_every_input_the_build_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", "off")
    artifacts = _artifacts(tmp_path, fake())
    key = build_stage.build_key(artifacts)
    assert key == build_stage.build_key(artifacts)
    assert key.startswith("sha256:") and len(key) == 71
    generated = os.path.join(artifacts.directory, "generated")
    os.makedirs(generated, exist_ok=True)
    changes = [
        (artifacts.keep_list, lambda path: open(path, "a").write("/etc/passwd\n")),
        (os.path.join(artifacts.directory, "image-config.json"),
         lambda path: open(path, "a").write(" ")),
        (os.path.join(generated, "new-file"), lambda path: open(path, "w").write("x")),
        (os.path.join(generated, "new-file"), lambda path: os.chmod(path, 0o700)),
    ]
    seen = {key}
    for path, change in changes:
        change(path)
        now = build_stage.build_key(artifacts)
        assert now not in seen, path
        seen.add(now)


def test_a_record_of_an_image_that_is_gone_or_malformed_is_not_reused(tmp_path):
    cache = LayerCache(str(tmp_path / "cache"))
    docker = fake()
    key = "sha256:" + "1" * 64
    for record in ({"id": "sha256:" + "9" * 64, "size_bytes": 1}, {"id": 42}, {}):
        cache.put_built_image(key, record)
        assert build_stage.reuse_built_image(docker, cache, key, "demo/app:1.0-slim", lambda event: None) is None
    assert "demo/app:1.0-slim" not in docker.tags


def test_a_reused_image_that_needs_a_repair_is_not_removed_by_id(tmp_path, monkeypatch):
    """Run 1 (no verification) leaves the user's tag on the unrepaired image; run 2 reuses
    it, its verification repairs, and the reused image is left to the user's tag alone."""
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    docker = fake()
    unverified, _ = _slim(docker, tmp_path, "one", verify=False)
    earlier = unverified.report.slim.id
    assert docker.tags["demo/app:1.0-slim"] == earlier
    repaired, events = _slim(docker, tmp_path, "two")
    assert repaired.failures == [], repaired.failures
    assert any(step.startswith("reuse sha256:") for step in _steps(events))
    assert repaired.report.slim.id != earlier and repaired.report.slim.reused is False
    assert earlier not in docker.removed_images and earlier in docker.images
    assert docker.tags["demo/app:1.0-slim"] == repaired.report.slim.id
