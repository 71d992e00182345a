"""The orchestration of `slim build` (pipeline.py) against an in-memory Docker
(tests/unit/fakes.py): the story's order, verification with repair, gates and
failure messages, cleanup, a daemon failing mid-run, and the report's JSON
schema as a golden file. No daemon needed.
"""
from __future__ import annotations

import json
import os

import pytest

from slimmer.errors import DaemonFailed
from slimmer.events import BuildStep, ProbeDone, Repaired, StageStarted
from slimmer.inspect import image_info_from_api
from slimmer.model import KeepOptions
from slimmer.pipeline import BuildRequest, build_slim_image
from slimmer.probefile import ProbePlan
from tests.unit import imagetar as t
from tests.unit.fakes import FakeDocker

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "report.json")

LAYERS = [
    [t.dir_("/bin"), t.file("/bin/sh", b"#sh", mode=0o755), t.dir_("/etc"), t.file("/etc/hostname", b"x\n")],
    [t.dir_("/opt"), t.dir_("/opt/data"), t.file("/opt/data/a"), t.file("/opt/data/b"), t.file("/opt/data/c"),
     t.dir_("/opt/plugins")] + [t.file(f"/opt/plugins/{n}.txt", f"plugin {n}\n".encode()) for n in range(4)],
]
CREATED_BY = ["/bin/sh -c #(nop) ADD file:rootfs in / ", "/bin/sh -c mkdir -p /opt/data /opt/plugins && ..."]


def scanning_app(present: set[str]):
    """Counts the entries of /opt/data (a directory listing: nothing traced in it) and
    prints /opt/plugins/<count>.txt. A slim image keeps /opt/data empty, so the slim
    app reaches a plugin file that the original never read."""
    count = sum(1 for p in present if os.path.dirname(p) == "/opt/data")
    plugin = f"/opt/plugins/{count}.txt"
    touched = ["/bin/sh", "/opt/data", plugin]
    if plugin in present:
        return 0, f"plugin {count}\n".encode(), touched
    return 1, f"cat: {plugin}: No such file or directory\n".encode(), touched


def fake(**kwargs) -> FakeDocker:
    return FakeDocker(LAYERS, CREATED_BY, {"Cmd": ["/bin/sh", "-c", "scan"], "Env": ["PATH=/bin"]},
                      scanning_app, **kwargs)


def build(docker: FakeDocker, tmp_path, **request):
    events = []
    request.setdefault("artifacts_dir", str(tmp_path / "art"))
    outcome = build_slim_image(BuildRequest(image=docker.reference, plan=ProbePlan(), tag="demo/app:1.0-slim",
                                            **request), emit=events.append, docker=docker)
    return outcome, events


def test_the_story_runs_in_order_and_repairs_what_the_slim_app_reached(tmp_path):
    docker = fake()
    outcome, events = build(docker, tmp_path)
    assert outcome.failures == [], outcome.failures
    stages = [e.stage for e in events if isinstance(e, StageStarted)]
    assert stages == ["inspect", "trace", "keep", "build", "verify", "keep", "build", "verify"]
    assert [e.paths for e in events if isinstance(e, Repaired)] == [("/opt/plugins/0.txt",)]
    assert any(isinstance(e, BuildStep) for e in events)
    verify = outcome.report.verify
    assert verify["repaired"] == [{"round": 1, "path": "/opt/plugins/0.txt", "probe": "the app while the probes ran"}]
    assert verify["failed"] == 0 and verify["warnings"] == 1       # "plugin 0" is not "plugin 3": a warning
    assert outcome.report.keep["by_reason"]["repaired"]["files"] == 1
    # the first slim image was replaced by the repaired one, which alone gets the user's tag
    # once verified; the work tag is gone and nothing is left running
    assert docker.builds == 2
    assert docker.removed_images == ["sha256:" + f"{1:064x}", "demo/app:1.0-slim.unverified-fakesession1"]
    assert docker.tags == {"demo/app:1.0-slim": "sha256:" + f"{2:064x}"}
    assert docker.ledger == {"containers": [], "tracked_images": []}
    assert outcome.report.slim.image == "demo/app:1.0-slim"


def test_no_repair_fails_naming_the_removed_file_and_removes_the_slim_image(tmp_path):
    docker = fake()
    outcome, events = build(docker, tmp_path, repair=False)
    assert len(outcome.failures) == 2
    assert "the slim app reached /opt/plugins/0.txt, which the original image has" in outcome.failures[0]
    assert "status 1, the original gave 0" in outcome.failures[0]
    assert "new error in the slim app's log: cat: /opt/plugins/0.txt: No such file or directory" in outcome.failures[0]
    assert "the slim image was not tagged demo/app:1.0-slim and was removed; rebuild it to investigate" \
        in outcome.failures[1]
    assert outcome.report.status == "failed"
    assert outcome.report.verify["reached_removed"] == [{"path": "/opt/plugins/0.txt",
                                                         "probe": "the app while the probes ran"}]
    assert docker.tags == {}                                 # an unverified image never gets the user's tag
    assert docker.removed_images == ["demo/app:1.0-slim.unverified-fakesession1"]
    failed = [e for e in events if isinstance(e, ProbeDone) and not e.ok]
    assert failed and failed[0].stage == "verify"


def test_an_include_keeps_the_file_and_no_repair_is_needed(tmp_path):
    docker = fake()
    outcome, events = build(docker, tmp_path, keep=KeepOptions(include=("/opt/plugins/0.txt",)), repair=False)
    assert outcome.failures == [] and docker.builds == 1
    assert not [e for e in events if isinstance(e, Repaired)]


def test_gates_fail_the_build_and_say_why(tmp_path):
    docker = fake()
    outcome, _ = build(docker, tmp_path, max_size=10, min_ratio=1000.0)
    assert outcome.failures[0].startswith("slim image size ") and "> --max-size 10 bytes" in outcome.failures[0]
    assert "< --min-ratio 1000.0" in outcome.failures[1]
    assert [g.name for g in outcome.report.gates if not g.passed] == ["max_size", "min_ratio"]
    assert docker.tags == {} and "demo/app:1.0-slim.unverified-fakesession1" in docker.removed_images


def test_a_daemon_failure_mid_run_is_a_slim_error_and_cleanup_still_runs(tmp_path):
    docker = fake(fail_on="build")
    with pytest.raises(DaemonFailed) as raised:
        build(docker, tmp_path)
    assert "the Docker daemon failed during the run" in raised.value.message
    assert docker.ledger == {"containers": [], "tracked_images": []}


def _normalised(doc: dict, tmp_path) -> dict:
    doc = json.loads(json.dumps(doc).replace(str(tmp_path), "TMP"))
    doc["timings"] = sorted(doc["timings"])
    doc["slimmer_version"] = "VERSION"
    for probe in doc["probes"]:
        probe["elapsed_s"] = 0
    for check in doc["verify"]["checks"]:
        for side in ("original", "slim"):
            check.pop(side, None)
    return doc


def test_report_json_schema_matches_the_golden_file(tmp_path):
    """The report is the CI contract: a change to its keys must be deliberate
    (regenerate with SLIMMER_UPDATE_GOLDEN=1 and say so in the changelog)."""
    outcome, _ = build(fake(), tmp_path)
    doc = _normalised(json.loads(outcome.report.to_json()), tmp_path)
    if os.environ.get("SLIMMER_UPDATE_GOLDEN"):
        with open(GOLDEN, "w") as handle:
            json.dump(doc, handle, indent=2, sort_keys=True)
            handle.write("\n")
    with open(GOLDEN) as handle:
        assert doc == json.load(handle)


def test_inspect_pairs_layers_with_the_history_entries_that_made_them():
    raw = {"Id": "sha256:" + "b" * 64, "Size": 10, "Config": {"Cmd": ["app"]},
           "RootFS": {"Layers": ["sha256:1", "sha256:2", "sha256:3"]}}
    history = list(reversed([
        {"CreatedBy": "/bin/sh -c #(nop) ADD file:abc in / ", "Size": 5},
        {"CreatedBy": "/bin/sh -c #(nop)  ENV A=b", "Size": 0},
        {"CreatedBy": "/bin/sh -c apt-get update && apt-get install -y curl", "Size": 3},
        {"CreatedBy": "/bin/sh -c #(nop) WORKDIR /app", "Size": 0},        # made a layer: counts agree only so
        {"CreatedBy": "/bin/sh -c #(nop)  CMD [\"app\"]", "Size": 0},
    ]))
    info = image_info_from_api("x:1", raw, history)
    assert [layer.created_by for layer in info.layers] == [
        "ADD file:abc in /", "RUN apt-get update && apt-get install -y curl", "WORKDIR /app"]
    assert [entry.empty_layer for entry in info.history] == [False, True, False, False, True]
    squashed = image_info_from_api("x:1", dict(raw, RootFS={"Layers": ["sha256:1"]}), history)
    assert [layer.created_by for layer in squashed.layers] == [""]     # counts disagree: no wrong pairing


def test_an_interrupt_names_its_stage_and_removes_everything(tmp_path):
    from slimmer.errors import Interrupted
    docker = fake()
    real_load = docker.load_image           # the slim image is loaded, not built (docs/BUILD.md)

    def interrupted_load(*args, **kwargs):
        real_load(*args, **kwargs)
        raise KeyboardInterrupt
    docker.load_image = interrupted_load
    with pytest.raises(Interrupted) as raised:
        build(docker, tmp_path)
    assert raised.value.stage == "build" and raised.value.exit_code == 130
    assert set(raised.value.timings) >= {"inspect_s", "trace_s", "keep_s", "total_s"}
    assert raised.value.removed == {"containers": 0, "images": 1}     # the work tag
    assert docker.tags == {} and docker.ledger == {"containers": [], "tracked_images": []}


def test_without_artifacts_dir_the_temporary_one_is_removed_after_success(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    outcome, _ = build(fake(), tmp_path, artifacts_dir=None)
    assert outcome.failures == [] and outcome.report.artifacts is None
    assert not [p for p in os.listdir(tmp_path) if p.startswith("slimmer-artifacts-")]
    failed, _ = build(fake(), tmp_path, artifacts_dir=None, repair=False)
    kept = [p for p in os.listdir(tmp_path) if p.startswith("slimmer-artifacts-")]
    assert failed.failures and len(kept) == 1 and kept[0] in failed.failures[-1]   # named, to investigate


def test_a_reached_path_the_user_excluded_is_a_warning_not_a_repair(tmp_path):
    """The scanner reads /opt/plugins/0.txt in the slim image; the user excluded /opt/plugins/0.txt
    and another file the app needs: no repair round, the excluded path warns, the probe fails."""
    docker = fake()
    outcome, events = build(docker, tmp_path, keep=KeepOptions(exclude=("/opt/plugins/0.txt",)))
    assert docker.builds == 1 and not [e for e in events if isinstance(e, Repaired)]
    checks = {c["name"]: c for c in outcome.report.verify["checks"]}
    assert "--exclude-path removed" in checks["file /opt/plugins/0.txt"]["warning"]
    assert checks["file /opt/plugins/0.txt"]["passed"]
    assert outcome.failures and "status 1, the original gave 0" in outcome.failures[0]
