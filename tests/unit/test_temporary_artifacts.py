"""Without --artifacts a run writes into a temporary directory: removed after success, kept
(and named) after a failure, and removed when the run failed before writing anything."""
from __future__ import annotations

import tempfile

import pytest

from slimmer.errors import SlimError
from slimmer.pipeline import BuildRequest, build_slim_image
from slimmer.probefile import ProbePlan
from tests.unit.test_pipeline import fake


def test_a_run_that_fails_before_writing_anything_leaves_no_empty_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SlimError, match="image not found"):
        build_slim_image(BuildRequest(image="demo/missing:1", plan=ProbePlan()), docker=fake())
    assert list(tmp_path.iterdir()) == []


def test_a_successful_run_removes_its_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    docker = fake()
    outcome = build_slim_image(BuildRequest(image=docker.reference, plan=ProbePlan(), tag="demo/app:1.0-slim"),
                               docker=docker)
    assert outcome.failures == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("slimmer-artifacts-")] == []
