"""`slim lint --format sarif` against the SARIF 2.1.0 JSON schema (vendored: tests/data/sarif/SOURCES.md)."""
from __future__ import annotations

import json
import os

import jsonschema
import pytest

from slimmer.cli import main
from slimmer.lint import lint_dockerfile
from slimmer.sarif import lint_log

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "data", "sarif")
GOLDEN = os.path.join(HERE, "golden", "lint.sarif")
VALIDATORS = {"sarif-2.1.0.json": jsonschema.Draft202012Validator,
              "sarif-2.1.0-rtm.5.json": jsonschema.Draft4Validator}

# every rule's planted mistake in one file, so the live log has results of every level
DOCKERFILE = """\
FROM python:latest
MAINTAINER someone@example.com
ENV API_TOKEN=abc123
RUN apt-get update
RUN apt-get install curl && pip install flask
RUN cd /app && sudo make | tee log
ADD https://example.com/x.tgz /x.tgz
COPY . .
RUN pip install -r requirements.txt
EXPOSE 99999
WORKDIR app
CMD python app.py
"""


def validator(name: str):
    with open(os.path.join(SCHEMAS, name), encoding="utf-8") as handle:
        schema = json.load(handle)
    cls = VALIDATORS[name]
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def errors(log: dict, name: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(log)]


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_golden_sarif_is_valid(name):
    with open(GOLDEN, encoding="utf-8") as handle:
        log = json.load(handle)
    assert log["runs"][0]["results"], "the golden log should hold results"
    assert errors(log, name) == []


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_live_lint_run_sarif_is_valid(name, tmp_path, capsys, monkeypatch):
    (tmp_path / "sub dir").mkdir()
    path = tmp_path / "sub dir" / "Dockerfile"
    path.write_text(DOCKERFILE)
    monkeypatch.chdir(tmp_path)
    code = main(["lint", "--format", "sarif", "sub dir/Dockerfile"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    levels = {result["level"] for result in log["runs"][0]["results"]}
    assert levels == {"error", "warning", "note"}
    assert errors(log, name) == []
    assert errors(lint_log(lint_dockerfile(DOCKERFILE), str(path)), name) == []     # an absolute file:// URI


def test_the_schema_catches_a_broken_log():
    """The validation has teeth: a wrong level and a missing message are reported."""
    log = lint_log(lint_dockerfile(DOCKERFILE), "Dockerfile")
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["results"][1]["message"]
    for name in VALIDATORS:
        found = errors(log, name)
        assert any("results/0/level" in e for e in found) and any("results/1" in e for e in found), found


def test_sarif_with_image_evidence_is_valid():
    """--image adds bytes and layer to each result's properties (a layer of None for base-image bytes)."""
    from dataclasses import replace
    findings = [replace(f, bytes=1234, layer=None if n % 2 else 3) for n, f in enumerate(lint_dockerfile(DOCKERFILE))]
    log = lint_log(findings, "Dockerfile")
    assert {r["properties"]["bytes"] for r in log["runs"][0]["results"]} == {1234}
    for name in VALIDATORS:
        assert errors(log, name) == []
