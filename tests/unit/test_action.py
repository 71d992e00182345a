"""The GitHub Action (action.yml) and the step it runs (slimmer.ci_summary): inputs to
`slim build` arguments, outputs in GitHub's file format, the Markdown step summary."""
from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from slimmer import ci_summary
from slimmer.textfmt import human_size

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_REPORT = os.path.join(REPO, "tests", "unit", "golden", "report.json")

OK_REPORT = {
    "status": "ok", "error": None, "artifacts": None,
    "original": {"image": "shop/web:1.4", "id": "sha256:aa", "size_bytes": 126_100_000},
    "slim": {"image": "shop/web:1.4-slim", "id": "sha256:bb", "size_bytes": 36_400_000},
    "reduction": {"ratio": 3.46, "bytes_saved": 89_700_000, "percent": 71.1},
    "keep": {"files": 2665, "bytes": 36_400_000, "by_reason": {}},
    "removed": {"files": 3220, "bytes": 87_900_000, "list": "removed.list",
                "top_dirs": [{"path": "/usr/lib", "bytes": 52_800_000, "files": 1776},
                             {"path": "/usr/bin", "bytes": 21_600_000, "files": 257}]},
    "verify": {"ran": True, "passed": 5, "failed": 0, "warnings": 1, "checks": []},
    "gates": [{"name": "max_size", "passed": True, "value": 36_400_000, "threshold": 80_000_000,
               "message": "slim image size 36400000 bytes <= --max-size 80000000 bytes"}],
}
FAILED_REPORT = dict(OK_REPORT, status="failed", error="verification failed: GET /about: status 500 | expected 200",
                     verify={"ran": True, "passed": 4, "failed": 1, "checks": [
                         {"name": "GET /about", "passed": False, "reason": "status 500, expected 200"}]},
                     gates=[{"name": "min_ratio", "passed": False, "value": 3.46, "threshold": 5.0,
                             "message": "reduction ratio 3.46 < --min-ratio 5.0"}])
# what slim writes when it stops before building (report.unfinished_report)
EARLY_REPORT = {"schema_version": 1, "status": "failed", "stage": "inspect", "exit_code": 2,
                "error": "image not found: nope:1", "original": {"image": "nope:1"}, "slim": None, "timings": {}}


def parse_outputs(text: str) -> dict[str, str]:
    """GitHub's reader of the output file: name=value and name<<DELIMITER ... DELIMITER."""
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_inputs_become_slim_build_arguments():
    env = {"INPUT_IMAGE": "myapp:1.0", "INPUT_TAG": "myapp:slim", "INPUT_PROBE_FILE": "probes/myapp.toml",
           "INPUT_MIN_RATIO": "3", "INPUT_MAX_SIZE": "80MB", "INPUT_REPORT": "out/slim.json",
           "INPUT_ARGS": "--http-probe '/api/items?q=a b' --html slim.html"}
    assert ci_summary.slim_arguments(env) == [
        "build", "myapp:1.0", "--tag", "myapp:slim", "--probe-file", "probes/myapp.toml", "--min-ratio", "3",
        "--max-size", "80MB", "--report", "out/slim.json", "--http-probe", "/api/items?q=a b", "--html", "slim.html"]


def test_empty_inputs_are_left_out_and_the_report_is_always_asked_for():
    env = {"INPUT_IMAGE": " myapp:1.0 ", "INPUT_TAG": "", "INPUT_ARGS": "", "INPUT_REPORT": ""}
    assert ci_summary.slim_arguments(env) == ["build", "myapp:1.0", "--report", "slim.report.json"]


def test_outputs_are_name_value_lines(tmp_path):
    out, summary = tmp_path / "output", tmp_path / "summary"
    out.write_text("earlier=step\n")                     # the runner's file is shared: append, never truncate
    report = tmp_path / "slim.report.json"
    report.write_text(json.dumps(OK_REPORT))
    values = ci_summary.publish(str(report), 0, {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    text = out.read_text()
    assert text.startswith("earlier=step\n") and text.endswith("\n")
    assert all(re.fullmatch(r"[a-z-]+=[^\n]*", line) for line in text.splitlines())
    assert parse_outputs(text) == {"earlier": "step", "original-size": "126100000", "slim-size": "36400000",
                                   "ratio": "3.46", "slim-image": "shop/web:1.4-slim", "status": "ok",
                                   "report": str(report)}
    assert values["slim-image"] == "shop/web:1.4-slim"


def test_a_value_with_a_line_break_uses_a_delimiter():
    text = ci_summary.format_outputs({"status": "failed", "note": "two\nlines"})
    lines = text.splitlines()
    assert lines[0] == "status=failed" and lines[1].startswith("note<<ghadelimiter_")
    assert parse_outputs(text) == {"status": "failed", "note": "two\nlines"}


def test_summary_table_of_a_verified_build(tmp_path):
    summary = ci_summary.markdown_summary(OK_REPORT, 0)
    lines = summary.splitlines()
    assert lines[0] == "### slimmer: `shop/web:1.4` → `shop/web:1.4-slim`: passed"
    assert "| size | 126.1 MB | 36.4 MB | 3.46x (71.1% less) |" in lines
    assert "| files | | 2665 kept (36.4 MB) | 3220 removed (87.9 MB) |" in lines
    assert "| verification | ✅ pass | 5 probe(s) replayed alike, 0 failed, 1 warning(s) |" in lines
    assert "| max_size | ✅ pass | slim image size 36400000 bytes <= --max-size 80000000 bytes |" in lines
    assert "| `/usr/lib` | 52.8 MB | 1776 |" in lines
    assert lines[-1] == "exit code 0"
    _assert_tables_well_formed(summary)


def test_summary_of_a_failed_build_names_each_failure_and_keeps_the_table_intact(tmp_path):
    out, summary_file = tmp_path / "output", tmp_path / "summary"
    report = tmp_path / "r.json"
    report.write_text(json.dumps(FAILED_REPORT))
    values = ci_summary.publish(str(report), 1, {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary_file)})
    summary = summary_file.read_text()
    assert ": FAILED" in summary.splitlines()[0]
    assert "| ↳ GET /about | ❌ fail | status 500, expected 200 |" in summary
    assert "| min_ratio | ❌ fail | reduction ratio 3.46 < --min-ratio 5.0 |" in summary
    assert "status 500 | expected 200" in summary.split("**error**")[1]          # in a code block, as is
    assert values["slim-image"] == "" and values["status"] == "failed"          # nothing to push
    _assert_tables_well_formed(summary)


def test_a_build_that_stopped_early_still_gets_outputs_and_a_summary(tmp_path):
    out, summary_file = tmp_path / "output", tmp_path / "summary"
    report = tmp_path / "r.json"
    report.write_text(json.dumps(EARLY_REPORT))
    ci_summary.publish(str(report), 2, {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary_file)})
    assert parse_outputs(out.read_text()) == {"original-size": "", "slim-size": "", "ratio": "", "slim-image": "",
                                              "status": "failed", "report": str(report)}
    summary = summary_file.read_text()
    assert "`nope:1` → `no slim image`: FAILED" in summary and "image not found: nope:1" in summary
    missing = tmp_path / "missing.json"
    ci_summary.publish(str(missing), 1, {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary_file)})
    assert "exited 1 without writing its report" in summary_file.read_text()


def test_the_golden_report_summarises(tmp_path):
    """The summary reads the real report schema (the golden file of tests/unit/test_pipeline.py)."""
    with open(GOLDEN_REPORT) as handle:
        report = json.load(handle)
    summary = ci_summary.markdown_summary(report, 0)
    assert f"| size | {human_size(report['original']['size_bytes'])} | {human_size(report['slim']['size_bytes'])} |" \
        in summary
    _assert_tables_well_formed(summary)


def test_run_passes_the_exit_code_through_after_writing_outputs(tmp_path, capsys):
    report = tmp_path / "slim.report.json"
    out, summary = tmp_path / "output", tmp_path / "summary"
    seen = []

    def slim(argv):                        # stands in for the real `slim`: it writes the report and fails
        seen.append(list(argv))
        report.write_text(json.dumps(FAILED_REPORT))
        return 1
    env = {"INPUT_IMAGE": "shop/web:1.4", "INPUT_MIN_RATIO": "5", "INPUT_REPORT": str(report),
           "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    assert ci_summary.run(env, slim=slim) == 1
    assert seen == [["build", "shop/web:1.4", "--min-ratio", "5", "--report", str(report)]]
    assert parse_outputs(out.read_text())["status"] == "failed"
    assert "FAILED" in summary.read_text()
    assert capsys.readouterr().out.startswith("slim build shop/web:1.4 --min-ratio 5 --report ")


def test_run_without_an_image_is_bad_input(capsys):
    assert ci_summary.run({}, slim=lambda argv: pytest.fail("slim must not run")) == 2
    assert "needs an image" in capsys.readouterr().err


def test_action_yml_declares_the_inputs_and_maps_every_output():
    with open(os.path.join(REPO, "action.yml")) as handle:
        action = yaml.safe_load(handle)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"image", "tag", "probe-file", "args", "min-ratio", "max-size", "report"}
    assert action["inputs"]["image"]["required"] is True
    assert action["inputs"]["report"]["default"] == ci_summary.DEFAULT_REPORT
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "slim")
    assert "slimmer.ci_summary run" in step["run"]
    # every input reaches the step under the name ci_summary reads
    for name in action["inputs"]:
        key = "INPUT_" + name.upper().replace("-", "_")
        assert step["env"][key] == "${{ inputs.%s }}" % name
    for name, output in action["outputs"].items():
        assert name in ci_summary.OUTPUTS
        assert output["value"] == "${{ steps.slim.outputs.%s }}" % name
    assert {"original-size", "slim-size", "ratio", "slim-image"} <= set(action["outputs"])
    assert all(step.get("shell") == "bash" for step in action["runs"]["steps"])


def _assert_tables_well_formed(markdown: str) -> None:
    """Every row of a table has as many cells as its header: no stray pipe broke one."""
    columns = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            columns = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line)) - 1
        columns = columns or cells
        assert cells == columns, line
