"""The GitHub Action's step (action.yml): run `slim build` from the action's inputs, then
hand its report to the workflow.

    python -m slimmer.ci_summary run        # what action.yml runs
    python -m slimmer.ci_summary summarize REPORT [EXIT_CODE]   # outputs + summary of a report

1. Inputs come as INPUT_<NAME> environment variables, dashes as underscores
   (action.yml maps them: INPUT_PROBE_FILE): image, tag, probe-file, args (split
   like a shell), min-ratio, max-size, report.
2. The report is always asked for (--report, default slim.report.json): slim writes
   it on success, on failure and on interruption, so a later `if: always()` upload
   step finds it.
3. Outputs go to $GITHUB_OUTPUT as `name=value` lines (a value with a line break
   uses the `name<<DELIMITER` form): original-size and slim-size in bytes, ratio,
   slim-image, status, report. A value the report lacks (a build that failed
   early) is written empty.
4. A Markdown table goes to $GITHUB_STEP_SUMMARY: verdict, sizes, gates, probes,
   the largest removed directories, and the error when there is one.
5. The step exits with slim's exit code (0 ok, 1 failed, 2 bad input, 130
   interrupted), after the outputs and the summary are written.
Outside GitHub (no GITHUB_OUTPUT / GITHUB_STEP_SUMMARY) the summary goes to stdout.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from typing import Callable, Mapping, Sequence

from .textfmt import human_size

DEFAULT_REPORT = "slim.report.json"
OUTPUTS = ("original-size", "slim-size", "ratio", "slim-image", "status", "report")


def input_value(env: Mapping[str, str], name: str) -> str:
    """An action input as action.yml passes it: INPUT_<NAME>, upper case, dashes as underscores."""
    return env.get("INPUT_" + name.upper().replace("-", "_"), "").strip()


def slim_arguments(env: Mapping[str, str]) -> list[str]:
    """`slim build` arguments from the action's inputs."""
    image = input_value(env, "image")
    if not image:
        raise ValueError("the action needs an image: with: { image: myapp:1.0 }")
    argv = ["build", image]
    for flag, name in (("--tag", "tag"), ("--probe-file", "probe-file"), ("--min-ratio", "min-ratio"),
                       ("--max-size", "max-size")):
        value = input_value(env, name)
        if value:
            argv += [flag, value]
    argv += ["--report", report_path(env)]
    argv += shlex.split(input_value(env, "args"))
    return argv


def report_path(env: Mapping[str, str]) -> str:
    return input_value(env, "report") or DEFAULT_REPORT


def outputs(report: dict | None, report_file: str, exit_code: int) -> dict[str, str]:
    report = report or {}
    original, slim = report.get("original") or {}, report.get("slim") or {}
    ratio = (report.get("reduction") or {}).get("ratio")
    status = report.get("status") or ("ok" if exit_code == 0 else "failed")
    return {
        "original-size": _text(original.get("size_bytes")),
        "slim-size": _text(slim.get("size_bytes")),
        "ratio": _text(ratio),
        "slim-image": _text(slim.get("image")) if status == "ok" else "",
        "status": status,
        "report": report_file if report else "",
    }


def _text(value) -> str:
    return "" if value is None else str(value)


def format_outputs(values: Mapping[str, str]) -> str:
    """GitHub's output file format: name=value, or name<<DELIMITER for values with line breaks."""
    lines = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            lines += [f"{name}<<{delimiter}", value, delimiter]
        else:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    """Markdown table cell: no pipe or line break may escape it."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _size(value) -> str:
    return human_size(value) if isinstance(value, (int, float)) else "-"


def markdown_summary(report: dict | None, exit_code: int) -> str:
    """The step summary: what a reviewer needs without opening the report."""
    if not report:
        return (f"### slimmer: no report\n\n`slim build` exited {exit_code} without writing its report; "
                "see the step's log.\n")
    original, slim = report.get("original") or {}, report.get("slim") or {}
    status = report.get("status") or ("ok" if exit_code == 0 else "failed")
    mark = {"ok": "passed", "failed": "FAILED", "interrupted": "interrupted"}.get(status, status)
    target = slim.get("image") or "no slim image"
    lines = [f"### slimmer: `{_cell(original.get('image', '?'))}` → `{_cell(target)}`: {mark}", ""]
    reduction = report.get("reduction") or {}
    lines += ["| | original | slim | reduction |", "|---|---:|---:|---:|",
              f"| size | {_size(original.get('size_bytes'))} | {_size(slim.get('size_bytes'))} | "
              + (f"{reduction['ratio']}x ({reduction.get('percent')}% less)" if reduction.get("ratio") else "-")
              + " |"]
    keep, removed = report.get("keep") or {}, report.get("removed") or {}
    if keep:
        lines.append(f"| files | | {keep.get('files', 0)} kept ({_size(keep.get('bytes'))}) | "
                     f"{removed.get('files', '-')} removed ({_size(removed.get('bytes'))}) |")
    lines.append("")
    rows = _gate_rows(report)
    if rows:
        lines += ["| gate | result | detail |", "|---|---|---|"]
        lines += [f"| {_cell(name)} | {result} | {_cell(detail)} |" for name, result, detail in rows]
        lines.append("")
    top = removed.get("top_dirs") or []
    if top:
        lines += ["<details><summary>largest removed directories</summary>", "",
                  "| directory | bytes | files |", "|---|---:|---:|"]
        lines += [f"| `{_cell(item['path'])}` | {_size(item['bytes'])} | {item['files']} |" for item in top[:10]]
        lines += ["", "</details>", ""]
    if report.get("error"):
        lines += ["**error**", "", "```", str(report["error"]).replace("```", "'''"), "```", ""]
    lines.append(f"exit code {exit_code}" + (f"; artifacts `{_cell(report.get('artifacts'))}`"
                                              if report.get("artifacts") else ""))
    return "\n".join(lines) + "\n"


def _gate_rows(report: dict) -> list[tuple[str, str, str]]:
    rows = []
    verify = report.get("verify") or {}
    if verify.get("ran"):
        failed = verify.get("failed") or 0
        warnings = verify.get("warnings") or 0
        result = "❌ fail" if failed else "✅ pass"
        rows.append(("verification", result, f"{verify.get('passed', 0)} probe(s) replayed alike, {failed} failed"
                     + (f", {warnings} warning(s)" if warnings else "")))
        for check in verify.get("checks") or []:
            if not check.get("passed"):
                rows.append((f"↳ {check['name']}", "❌ fail", check.get("reason") or ""))
    elif verify:
        rows.append(("verification", "skipped", "--no-verify"))
    for gate in report.get("gates") or []:
        rows.append((gate["name"], "✅ pass" if gate["passed"] else "❌ fail", gate.get("message", "")))
    return rows


def read_report(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def publish(report_file: str, exit_code: int, env: Mapping[str, str], stdout=None) -> dict[str, str]:
    """Outputs to $GITHUB_OUTPUT and the summary to $GITHUB_STEP_SUMMARY (appending, as the runner expects)."""
    report = read_report(report_file)
    values = outputs(report, report_file, exit_code)
    summary = markdown_summary(report, exit_code)
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(format_outputs(values))
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(summary)
    else:
        print(summary, file=stdout or sys.stdout)
    return values


def run_slim(argv: Sequence[str]) -> int:
    """The real `slim`, from the same installation as this module; its output goes to the log."""
    return subprocess.run([sys.executable, "-m", "slimmer.cli", *argv]).returncode


def run(env: Mapping[str, str], slim: Callable[[Sequence[str]], int] = run_slim) -> int:
    try:
        argv = slim_arguments(env)
    except ValueError as exc:
        print(f"slimmer action: {exc}", file=sys.stderr)
        return 2
    print("slim " + " ".join(shlex.quote(arg) for arg in argv), flush=True)
    exit_code = slim(argv)
    publish(report_path(env), exit_code, env)
    return exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        return run(os.environ)
    if args[:1] == ["summarize"] and len(args) in (2, 3):
        exit_code = int(args[2]) if len(args) == 3 else 0
        publish(args[1], exit_code, os.environ)
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
