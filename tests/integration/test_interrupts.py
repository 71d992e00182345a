"""Issue 14: an interrupt at any instant of a whole build (inspect, trace, probes, keep,
build, verify) exits 130 with one line saying what was removed, writes the report with
status "interrupted" and the stage, and leaves nothing this run created: no container
with its session label, no slim tag, no work tag. SIGINT, SIGTERM and SIGHUP alike.
"""
from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.slimtest import SlimProcess

IMAGE = "slimmer-sample/python-flask:latest"

# (marker in the progress log, the stage the interrupt must be reported in, signal)
POINTS = [
    ("[inspect] inspecting", ("inspect", "start", "trace"), signal.SIGINT),
    ("[trace] running " + IMAGE, ("trace",), signal.SIGTERM),
    ("[trace] waiting for port", ("trace",), signal.SIGINT),
    ("[trace] probe 1/", ("trace",), signal.SIGTERM),
    ("[keep] computing", ("keep", "dockerfile", "build"), signal.SIGINT),
    ("[build] building", ("build",), signal.SIGTERM),
    ("[build] step 2/", ("build",), signal.SIGHUP),
    ("[verify] replaying", ("verify",), signal.SIGINT),
    ("[verify] probe 2/", ("verify",), signal.SIGTERM),
]


def _exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def _containers(session: str) -> list[str]:
    return subprocess.run(["docker", "ps", "-aq", "--filter", f"label=slimmer.session={session}"],
                          capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("marker, stages, signum", POINTS,
                         ids=[f"{p[0].split(']')[0][1:]}-{p[0].split('] ')[1][:12].strip()}-{p[2].name}"
                              for p in POINTS])
def test_an_interrupt_anywhere_leaves_nothing_and_writes_the_report(sample_images, tmp_path, marker, stages,
                                                                    signum):
    tag = "slimmer-test/interrupt:slim"
    report = tmp_path / "report.json"
    # --rebuild: an earlier test's image from the same inputs would be reused, with no build step to land in
    run = SlimProcess("build", IMAGE, "--tag", tag, "--artifacts", str(tmp_path / "art"), "--report", str(report),
                      "--rebuild")
    reached = run.wait_for(marker, timeout=300)
    if reached:
        run.send_signal(signum)
    done = run.finish(300)
    assert reached, f"never reached {marker!r}:\n{done.stderr[-2000:]}"
    assert done.returncode == 130, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("slim: interrupted")]
    assert len(lines) == 1 and "removed" in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    doc = json.loads(report.read_text())
    assert doc["status"] == "interrupted" and doc["stage"] in stages, doc
    assert doc["exit_code"] == 130 and "total_s" in doc["timings"]
    session = doc["session"]
    assert session and not _containers(session)
    assert not _exists(tag) and not _exists(f"{tag}.unverified-{session}")
