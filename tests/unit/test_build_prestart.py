"""The collect container started while the keep stage runs (build.prestart_collect, collect.py): the
build takes it, and when the build does not (an image reused, the keep stage failing),
it is removed before the run's cleanup, never left for it. In-memory Docker."""
from __future__ import annotations

import time

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


def test_the_first_collect_container_starts_while_the_app_is_traced(tmp_path, monkeypatch):
    docker = fake()
    trace_runs = pipeline.trace_runs
    during_trace = []

    def tracing(*args, **kwargs):
        deadline = time.monotonic() + 5
        while not any(c.collect and c.started for c in docker.created) and time.monotonic() < deadline:
            time.sleep(0.01)
        during_trace.append([c for c in docker.created if c.collect and c.started])
        return trace_runs(*args, **kwargs)
    monkeypatch.setattr(pipeline, "trace_runs", tracing)
    outcome, _ = _slim(docker, tmp_path, "one")
    assert outcome.failures == []
    assert len(during_trace[0]) == 1
    # the first build took that one container: no other was started for it
    first_build = [c for c in docker.created if c.collect]
    assert first_build[0] is during_trace[0][0]
    assert docker.ledger == {"containers": [], "tracked_images": []}


@pytest.mark.parametrize("stage, failing_step", [("keep stage", "compute_keep_set"), ("trace", "trace_runs")])
def test_a_failing_stage_removes_the_prestarted_container(tmp_path, monkeypatch, stage, failing_step):
    """The collect container, started beside the trace, is gone whichever stage fails."""
    docker = fake()
    seen = _collect_containers_at_cleanup(docker)

    def failing(*args, **kwargs):
        raise RuntimeError(f"{stage} broke")
    monkeypatch.setattr(pipeline, failing_step, failing)
    with pytest.raises(RuntimeError, match=f"{stage} broke"):
        _slim(docker, tmp_path, "one")
    assert [c for c in docker.created if c.collect]
    assert seen == [[]]
