"""The collect container started while the keep stage runs (build.prestart_collect, collect.py): the
build takes it, and when the build does not (an image reused, the keep stage failing),
it is removed before the run's cleanup, never left for it. In-memory Docker."""
from __future__ import annotations

import pytest

from slimmer import pipeline
from tests.unit.test_build_reuse import _slim
from tests.unit.test_pipeline import fake


def _collect_containers_at_cleanup(docker) -> list:
    seen = []
    cleanup = docker.cleanup

    def recording(settle_s: float = 0.0):
        seen.append(sorted(cid for cid, c in docker.containers.items() if c.collect))
        return cleanup(settle_s)
    docker.cleanup = recording
    return seen


def test_the_build_takes_the_prestarted_container_and_removes_it(tmp_path):
    docker = fake()
    seen = _collect_containers_at_cleanup(docker)
    outcome, _ = _slim(docker, tmp_path, "one")
    assert outcome.failures == []
    collects = [c for c in docker.created if c.collect]
    assert collects and all(c.argv[-3:] == ["collect", "-", "-"] and c.started for c in collects)
    assert seen == [[]]


def test_a_reused_image_leaves_no_collect_container(tmp_path):
    docker = fake()
    _slim(docker, tmp_path, "one")
    seen = _collect_containers_at_cleanup(docker)
    before = len([c for c in docker.created if c.collect])
    outcome, _ = _slim(docker, tmp_path, "two")
    assert outcome.report.slim.reused is True
    assert len([c for c in docker.created if c.collect]) > before     # started ahead all the same
    assert seen == [[]]


def test_a_failing_keep_stage_removes_the_prestarted_container(tmp_path, monkeypatch):
    docker = fake()
    seen = _collect_containers_at_cleanup(docker)

    def failing(*args, **kwargs):
        raise RuntimeError("keep stage broke")
    monkeypatch.setattr(pipeline, "compute_keep_set", failing)
    with pytest.raises(RuntimeError, match="keep stage broke"):
        _slim(docker, tmp_path, "one")
    assert [c for c in docker.created if c.collect]
    assert seen == [[]]
