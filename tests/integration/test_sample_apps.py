"""Every sample app image passes its independent functional check (tests/apps.py)."""
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tests.apps import SAMPLE_APPS, check_app, http_request, labelled_containers, run_app

pytestmark = pytest.mark.docker

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(SAMPLE_APPS))
def test_original_image_passes_its_check(name, sample_images, no_leftover_containers):
    check_app(name, sample_images[name])


def test_failed_check_names_the_app_and_shows_its_logs(sample_images, no_leftover_containers):
    """Judging the wrong image fails with the app, the image and the container's logs:
    the batch image exits at once, so static-scratch's server never becomes ready."""
    with pytest.raises(AssertionError) as failure:
        check_app("static-scratch", sample_images["batch-job"])
    message = str(failure.value)
    assert "static-scratch" in message and sample_images["batch-job"] in message
    assert "exited with code 0" in message
    assert "sum=41.60" in message, "the container's last log lines are missing"


def test_batch_variants_give_different_results(sample_images, no_leftover_containers):
    with run_app(sample_images["batch-job"], "batch-job") as default_run:
        assert default_run.exit_code == 0
    with run_app(sample_images["batch-job"], "batch-job", command=["count"]) as count_run:
        assert count_run.exit_code == 0
    assert default_run.stdout != count_run.stdout
    assert count_run.result_file == count_run.stdout


@pytest.mark.parametrize("name", sorted(SAMPLE_APPS))
def test_image_exposes_exactly_the_ports_the_check_uses(name, sample_images, docker_engine):
    """slimmer's default probing starts from EXPOSE, so `docker run -d -P` must publish
    every port the check talks to (and a batch image exposes none)."""
    exposed = docker_engine.images.get(sample_images[name]).attrs["Config"].get("ExposedPorts") or {}
    assert sorted(exposed) == sorted(f"{port}/tcp" for port in SAMPLE_APPS[name].ports)


@pytest.mark.parametrize("name", sorted(SAMPLE_APPS))
def test_probe_file_expectations_hold_on_the_original_image(name, sample_images, no_leftover_containers):
    """probes/NAME.toml is replayed here by hand (not by slimmer's probe module), so a
    stale probe file is caught against the original image before slimmer uses it."""
    probe_file = REPO_ROOT / SAMPLE_APPS[name].probe_file
    spec = tomllib.loads(probe_file.read_text())
    probes = spec.get("probe", [])
    if SAMPLE_APPS[name].kind == "batch":
        assert spec["run"]["continue_after"] == "exit" and not probes
        return
    assert probes, f"{probe_file} has no probes"
    with run_app(sample_images[name], name) as app:
        for probe in probes:
            where = f"{probe_file.name}: {probe}"
            if probe["type"] == "http":
                port = None if probe.get("port", "auto") == "auto" else int(probe["port"])
                scheme = probe.get("scheme", "http")
                assert (scheme == "https") == (port in SAMPLE_APPS[name].https_ports), (
                    f"{where}: scheme {scheme} does not match tests/apps.py's https_ports")
                method = probe.get("method", "GET")
                if method == "GET" and "body" not in probe:
                    response = app.get(probe["path"], port)
                else:   # POST /add (flaky-answers): the same method and body as slimmer sends
                    response = http_request(method, app.url(probe["path"], port), probe.get("headers"),
                                            probe.get("body", "").encode() or None)
                assert response.status == probe.get("expect_status", 200), f"{where}: {response.status}"
                assert probe.get("expect_body", "") in response.text, f"{where}: {response.text[:300]!r}"
            elif probe["type"] == "exec":
                code, output = app.container.exec_run(probe["argv"])
                text = output.decode("utf-8", "replace")
                assert code == probe.get("expect_exit", 0), f"{where}: exit {code}: {text[-500:]}"
                assert probe.get("expect_output", "") in text, f"{where}: {text[-500:]!r}"
            elif probe["type"] == "wait":
                if "port" in probe:
                    assert app.host_port(int(probe["port"]))
                if "log" in probe:
                    assert re.search(probe["log"], app.logs(500)), f"{where}: log line not found"
            else:
                raise AssertionError(f"{where}: unknown probe type")


def test_no_test_container_remains(sample_images):
    """Runs last in this module: nothing labelled slimmer.test=1 is left behind."""
    leftovers = labelled_containers()
    assert not leftovers, f"containers labelled slimmer.test=1 remain: {[c.name for c in leftovers]}"
