"""Issue 5: every sample app slimmed with NO probe flags (default probes, default
keep rules) passes its full independent functional check, which exercises what
the default probe never reaches: the lazy import, other time zones, the TLS
context, the orphan page, the CGI script calling tools, a PostgreSQL extension.

Each app is slimmed once per session (shared fixture); every slim image is
removed at the end.
"""
from __future__ import annotations

import io
import tarfile

import pytest

from tests.slimtest import SlimRun, once_per_session

APPS = ["python-flask", "node-express", "nginx-static", "entrypoint-script", "java-digest",
        "batch-job", "static-scratch", "postgres",
        "python-venv", "python-cli", "perl-job", "ruby-yaml", "cgi-chmod", "flaky-answers", "redis"]


@pytest.fixture(scope="session")
def slimmed_by_default(sample_images, tmp_path_factory, docker_client):
    """`slim build IMAGE --tag T --artifacts D --report R`, nothing else, once per app."""
    workdir = str(tmp_path_factory.mktemp("slim-defaults"))
    yield from once_per_session(
        lambda name: SlimRun(sample_images[name], f"slimmer-test/{name}:defaults", workdir, name), docker_client)


@pytest.mark.parametrize("name", APPS)
def test_default_slim_image_passes_the_full_functional_check(slimmed_by_default, name):
    from tests.apps import check_app
    result = slimmed_by_default(name)
    assert result.proc.returncode == 0, result.explain()
    assert result.report["verify"]["failed"] == 0, result.explain()
    check_app(name, result.tag)


def _file_in_image(docker_client, ledger, image: str, path: str) -> bytes:
    container = docker_client.containers.create(image, command=["/nonexistent"])
    ledger.container(container.id)
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        return archive.extractfile(archive.getmembers()[0]).read()


def test_postgres_runs_without_jit_when_llvm_is_left_out(slimmed_by_default):
    """llvmjit.so would pull in libLLVM (~100 MB): the plugin rule skips it, and the
    server answers a query that asks for JIT, without it."""
    from tests.apps import run_app
    result = slimmed_by_default("postgres")
    assert result.proc.returncode == 0, result.explain()
    with run_app(result.tag, "postgres") as app:
        answer = app.psql("SET jit_above_cost = 0", "SELECT pg_jit_available()",
                          "SELECT sum(x) FROM generate_series(1, 1000) x")
    assert answer.exit_code == 0, answer.output
    assert answer.output.split()[-2:] == ["f", "500500"], answer.output


def test_dpkg_status_lists_only_packages_left_in_the_slim_image(slimmed_by_default, docker_client, ledger):
    result = slimmed_by_default("postgres")
    assert result.proc.returncode == 0, result.explain()
    status = _file_in_image(docker_client, ledger, result.tag, "/var/lib/dpkg/status").decode()
    packages = {line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("Package:")}
    assert {"postgresql-15", "libc6", "tzdata", "libssl3"} <= packages, sorted(packages)
    # their files are gone from the slim image, so scanners must not report them
    assert not {"apt", "dpkg", "perl-base", "util-linux", "debian-archive-keyring"} & packages, sorted(packages)
    assert result.report["keep"]["by_reason"]["package-metadata"]["files"] == 1
