"""Issue 12, verification that judges the app, on real images:

  - answers that change between runs (a clock in a JSON body, a counter changed
    by earlier POSTs, timings in an exec probe's output) keep the slim image and
    are reported as warnings;
  - a removed file the slim app reaches is found by tracing the verification,
    repaired (kept, rebuilt, verified again) and listed in the report; with
    --no-repair the build fails naming the file, and no slim image is left.
"""
from __future__ import annotations

import io
import subprocess

import pytest

from tests.slimtest import SlimRun, once_per_session

# A batch job that lists /opt/data (a directory listing traces the directory, not
# its entries, so the slim image keeps it empty) and prints /opt/plugins/<count>.txt:
# the slim app reaches a file the original run never opened.
SCANNER_DOCKERFILE = """\
FROM debian:bookworm-slim
RUN mkdir -p /opt/data /opt/plugins && touch /opt/data/a /opt/data/b /opt/data/c \\
 && for n in 0 1 2 3; do echo "plugin $n" > /opt/plugins/$n.txt; done
CMD ["/bin/sh", "-c", "n=$(ls /opt/data | wc -l); cat /opt/plugins/$n.txt"]
"""


EXEC_SCAN = "/bin/sh -c 'n=$(ls /opt/data | wc -l); cat /opt/plugins/$n.txt'"


@pytest.fixture(scope="module")
def scanner_image(docker_client, session_ledger):
    image, _ = docker_client.images.build(fileobj=io.BytesIO(SCANNER_DOCKERFILE.encode()),
                                          tag="slimmer-test/scanner:1", rm=True, forcerm=True,
                                          labels={"slimmer.test": "1"})
    session_ledger.image("slimmer-test/scanner:1")
    return "slimmer-test/scanner:1"


@pytest.fixture(scope="module")
def slimmed(sample_images, scanner_image, tmp_path_factory, docker_client):
    workdir = str(tmp_path_factory.mktemp("slim-verify"))
    runs = {
        "flaky": lambda: SlimRun(sample_images["flaky-answers"], "slimmer-test/flaky:verify", workdir, "flaky",
                                 "--probe-file", "probes/flaky-answers.toml"),
        "repair": lambda: SlimRun(scanner_image, "slimmer-test/scanner:repaired", workdir, "repair"),
        "no-repair": lambda: SlimRun(scanner_image, "slimmer-test/scanner:no-repair", workdir, "no-repair",
                                     "--no-repair"),
        # the scan as an exec probe beside a long-running app: the probe reaches the file
        "exec-repair": lambda: SlimRun(scanner_image, "slimmer-test/scanner:exec-repaired", workdir, "exec-repair",
                                       "--run", "/bin/sh -c 'trap \"exit 0\" TERM; while :; do sleep 0.2; done'",
                                       "--continue-after", "probes", "--exec-probe", EXEC_SCAN),
    }
    yield from once_per_session(lambda name: runs[name](), docker_client)


def _image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def test_changing_answers_keep_the_slim_image_with_warnings(slimmed):
    result = slimmed("flaky")
    assert result.proc.returncode == 0, result.explain()
    verify = result.report["verify"]
    assert verify["failed"] == 0, result.explain()
    assert _image_exists(result.tag)
    warned = {check["name"] for check in verify["checks"] if check["warning"]}
    # the clock in /status and the timings of the exec probe differ between the runs: warnings, not failures
    assert any("/status" in name for name in warned), verify["checks"]
    assert any(name.startswith("exec /app/bench") for name in warned), verify["checks"]
    # /stats after two POST /add answers what it answered on the original: same order, same number of runs
    stats = next(check for check in verify["checks"] if "/stats" in check["name"])
    assert stats["passed"] and stats["slim_status"] == 200
    assert "warn" in result.proc.stdout


def test_a_removed_file_the_slim_app_reaches_is_repaired(slimmed, docker_client):
    result = slimmed("repair")
    assert result.proc.returncode == 0, result.explain()
    verify = result.report["verify"]
    assert verify["repaired"] == [{"round": 1, "path": "/opt/plugins/0.txt", "probe": "the app while the probes ran"}]
    assert result.report["keep"]["by_reason"]["repaired"]["files"] == 1
    assert "repair round 1: keeping /opt/plugins/0.txt" in result.proc.stderr
    output = docker_client.containers.run(result.tag, remove=True)
    assert output == b"plugin 0\n"          # the slim image runs, with the repaired file
    with open(f"{result.artifacts}/keep.list") as handle:
        assert "/opt/plugins/0.txt" in handle.read().split("\n")


def test_no_repair_fails_naming_the_file_and_leaves_no_image(slimmed):
    result = slimmed("no-repair")
    assert result.proc.returncode == 1, result.explain()
    assert "the slim app reached /opt/plugins/0.txt, which the original image has and the slim image lacks" \
        in result.proc.stderr
    assert result.report["status"] == "failed"
    assert result.report["verify"]["reached_removed"] == [
        {"path": "/opt/plugins/0.txt", "probe": "the app while the probes ran"}]
    assert not _image_exists(result.tag)


def test_a_removed_file_an_exec_probe_reaches_is_repaired_in_its_name(slimmed):
    """The exec probe's sensor logs go to a directory of their own (exec-N/): the report names
    the probe that reached the file, not the app."""
    result = slimmed("exec-repair")
    verify = result.report["verify"]
    assert [entry["path"] for entry in verify["repaired"]] == ["/opt/plugins/0.txt"], result.explain()
    assert verify["repaired"][0]["probe"] == "exec " + " ".join(
        ["/bin/sh", "-c", "n=$(ls /opt/data | wc -l); cat /opt/plugins/$n.txt"]), verify["repaired"]
    with open(f"{result.artifacts}/keep.list") as handle:
        assert "/opt/plugins/0.txt" in handle.read().split("\n")
