"""A pip user's slimmer: the wheel built from a clean clone carries the sensor,
installs without make or a compiler, and slims a sample app.

The clone is of the committed main branch, so this tests what a user gets from
`git clone` + `python -m build`, not the developer's working tree.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tests.slimtest import REPO

pytestmark = pytest.mark.docker

SENSOR_IN_WHEEL = "slimmer/sensor/bin/slim-sensor"


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{argv[:3]} exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(sdist, wheel) built by `python -m build` from a clean clone of the repository."""
    work = tmp_path_factory.mktemp("wheel")
    clone = work / "clone"
    run(["git", "clone", "--quiet", "--no-hardlinks", REPO, str(clone)])
    assert not (clone / SENSOR_IN_WHEEL).exists(), "a clean clone has no compiled sensor"
    run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(clone)], timeout=900)
    built = sorted(os.listdir(work / "dist"))
    assert len(built) == 2, built
    sdist = next(work / "dist" / name for name in built if name.endswith(".tar.gz"))
    wheel = next(work / "dist" / name for name in built if name.endswith(".whl"))
    return sdist, wheel


def test_the_wheel_is_a_linux_x86_64_platform_wheel_with_the_static_sensor(dist):
    _, wheel = dist
    assert wheel.name.startswith("slimmer-") and "-py3-none-manylinux_2_17_x86_64" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo(SENSOR_IN_WHEEL)
        assert info.external_attr >> 16 & 0o111, "the sensor must be executable once installed"
        binary = archive.read(SENSOR_IN_WHEEL)
        assert binary[:4] == b"\x7fELF" and binary[18] == 62     # EM_X86_64
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        wheel_file = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/WHEEL"))).decode()
        names = archive.namelist()
    assert "Root-Is-Purelib: false" in wheel_file
    assert b"PT_INTERP" not in binary and b"/lib64/ld-linux" not in binary, "the sensor must be static"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: Apache-2.0" in metadata
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    runtime = {r.split(">")[0].split(";")[0].strip() for r in requires if "extra ==" not in r}
    assert runtime == {"docker", "requests", "urllib3", "tqdm", "pyyaml", "tomli"} | (
        runtime & {"zstandard"}), runtime
    assert any(r.startswith("pyelftools") and 'extra == "test"' in r for r in requires)


def test_the_sdist_has_the_sensor_sources_and_no_binary(dist):
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"setup.py", "LICENSE", "slimmer/sensor/Makefile", "slimmer/sensor/main.c"} <= names
    assert not any(name.startswith("slimmer/sensor/bin") for name in names)


def test_installed_wheel_slims_a_sample_app_without_make(dist, tmp_path, sample_images, ledger):
    _, wheel = dist
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    # Only the venv on PATH: no make, no gcc. Binary wheels only: nothing may compile.
    bare = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    bare["PATH"] = str(venv / "bin")
    run([str(venv / "bin" / "pip"), "install", "--quiet", "--only-binary", ":all:", str(wheel)],
        env=bare, cwd=tmp_path, timeout=600)

    sensor = run([str(venv / "bin" / "slim"), "sensor", "--path"], env=bare, cwd=tmp_path).stdout.strip()
    assert sensor.startswith(str(venv / "lib")) and sensor.endswith("site-packages/" + SENSOR_IN_WHEEL), sensor
    assert os.access(sensor, os.X_OK)

    tag = ledger.image("slimmer-test/wheel-batch-job:slim")
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [str(venv / "bin" / "slim"), "build", sample_images["batch-job"], "--tag", tag,
         "--probe-file", os.path.join(REPO, "probes", "batch-job.toml"),
         "--artifacts", str(tmp_path / "artifacts"), "--report", str(report_path)],
        env=bare, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(report_path.read_text())
    assert report["status"] == "ok"
    assert report["slim"]["image"] == tag
    assert report["verify"]["passed"] >= 1 and report["verify"]["failed"] == 0
    assert 0 < report["slim"]["size_bytes"] < report["original"]["size_bytes"]
    # the sensor the artifacts carry is the installed wheel's
    with open(sensor, "rb") as installed, open(tmp_path / "artifacts" / "sensor", "rb") as shipped:
        assert installed.read() == shipped.read()
