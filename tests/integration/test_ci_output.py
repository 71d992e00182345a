"""What `slim build` writes into a CI log: plain lines, no carriage returns, no colour;
`--quiet` prints the slim tag only; the report exists on a failure too."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tty

import pytest

from tests.slimtest import REPO

pytestmark = pytest.mark.docker

SLIM = [sys.executable, "-m", "slimmer.cli"]


def _env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "NO_COLOR", "TERM")}
    env.update(extra)
    return env


def _build_args(image, tag, tmp_path, *extra):
    return [*SLIM, "build", image, "--tag", tag, "--probe-file", os.path.join(REPO, "probes", "batch-job.toml"),
            "--artifacts", str(tmp_path / "artifacts"), "--report", str(tmp_path / "report.json"), *extra]


def test_a_redirected_build_log_has_one_plain_line_per_event(sample_images, tmp_path, ledger):
    tag = ledger.image("slimmer-test/ci-log:slim")
    log = tmp_path / "build.log"
    with open(log, "wb") as out:
        proc = subprocess.run(_build_args(sample_images["batch-job"], tag, tmp_path), stdout=out,
                              stderr=subprocess.STDOUT, cwd=REPO, env=_env(), timeout=900)
    text = log.read_bytes().decode()
    assert proc.returncode == 0, text[-4000:]
    assert "\r" not in text and "\033" not in text
    lines = text.splitlines()
    for expected in ("[inspect] inspecting", "[trace] ", "[build] step 1/", "[verify] "):
        assert any(line.startswith(expected) for line in lines), (expected, text[-3000:])
    steps = [line for line in lines if line.startswith("[build] step ")]
    total = int(steps[0].split("/")[1].split(":")[0])
    assert len(steps) == total, steps          # each build step once, none repeated by a redraw
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "ok"


def test_a_terminal_in_ci_gets_plain_lines_too(sample_images, tmp_path, ledger):
    """CI runners that allocate a pseudo-terminal (CI=true) must not get bars."""
    tag = ledger.image("slimmer-test/ci-pty:slim")
    master, slave = pty.openpty()
    tty.setraw(slave)                      # no \n -> \r\n translation by the terminal itself
    try:
        proc = subprocess.Popen(_build_args(sample_images["batch-job"], tag, tmp_path), stdout=slave,
                                stderr=slave, stdin=subprocess.DEVNULL, cwd=REPO,
                                env=_env(CI="true", TERM="xterm-256color"))
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:                # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        returncode = proc.wait(timeout=900)
    finally:
        os.close(master)
    text = b"".join(chunks).decode()
    assert returncode == 0, text[-4000:]
    assert "\r" not in text and "\033" not in text, text[-2000:]
    assert "[build] step 1/" in text


def test_quiet_prints_only_the_slim_tag(sample_images, tmp_path, ledger):
    tag = ledger.image("slimmer-test/ci-quiet:slim")
    proc = subprocess.run(_build_args(sample_images["batch-job"], tag, tmp_path, "--quiet"), capture_output=True,
                          text=True, cwd=REPO, env=_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == f"{tag}\n" and proc.stderr == ""
    assert json.loads((tmp_path / "report.json").read_text())["slim"]["image"] == tag


def test_the_report_is_written_when_the_build_fails_early(docker_client, tmp_path):
    """No --report: the failed run's report still lands in the artifacts directory."""
    artifacts = tmp_path / "artifacts"
    proc = subprocess.run([*SLIM, "build", "slimmer-test/no-such-image:never", "--artifacts", str(artifacts)],
                          capture_output=True, text=True, cwd=REPO, env=_env(), timeout=300)
    assert proc.returncode == 2, proc.stderr
    report = json.loads((artifacts / "slim.report.json").read_text())
    assert report["status"] == "failed" and report["exit_code"] == 2
    assert "slimmer-test/no-such-image:never" in report["error"]


def test_the_github_action_step_on_a_sample_app(sample_images, tmp_path, ledger, docker_client):
    """What action.yml's step runs, with the inputs and files a GitHub runner gives it."""
    tag = ledger.image("slimmer-test/ci-action:slim")
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    env = _env(CI="true", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary),
               INPUT_IMAGE=sample_images["batch-job"], INPUT_TAG=tag,
               INPUT_PROBE_FILE=os.path.join(REPO, "probes", "batch-job.toml"), INPUT_MIN_RATIO="2",
               INPUT_MAX_SIZE="40MB", INPUT_REPORT=str(tmp_path / "slim.report.json"),
               INPUT_ARGS=f"--artifacts '{tmp_path / 'art'}'")
    proc = subprocess.run([sys.executable, "-m", "slimmer.ci_summary", "run"], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "\r" not in proc.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    report = json.loads((tmp_path / "slim.report.json").read_text())
    assert values["slim-image"] == tag and values["status"] == "ok"
    assert int(values["original-size"]) == report["original"]["size_bytes"]
    assert int(values["slim-size"]) == report["slim"]["size_bytes"]
    assert docker_client.images.get(tag).id == report["slim"]["id"]
    assert float(values["ratio"]) >= 2
    text = summary.read_text()
    assert f"→ `{tag}`: passed" in text and "| max_size | ✅ pass |" in text and "| min_ratio | ✅ pass |" in text
