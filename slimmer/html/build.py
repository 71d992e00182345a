"""The page of one `slim build` (a report.ReportDoc): see slimmer.html's docstring, build report."""
from __future__ import annotations

import json
from html import escape

from ..textfmt import human_size as human_bytes
from .page import page
from .treemap import TREEMAP_SCRIPT as _SCRIPT

_BUILD_STYLE = """
h2{font-size:16px;margin:26px 0 8px}
.verdict{display:inline-block;font-weight:700;font-size:15px;padding:4px 12px;border-radius:4px;color:#fff;margin:0 8px 0 0}
.verdict.ok{background:#15803d}.verdict.failed{background:#b91c1c}
pre.error{background:#fef2f2;border:1px solid #fecaca;padding:8px 10px;white-space:pre-wrap;font-size:12px;max-width:1100px}
td.pass{color:#15803d;font-weight:600}td.fail{color:#b91c1c;font-weight:600}td.warn{color:#a16207;font-weight:600}
td.skip{color:#59636e}
.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f6f8fa;font-weight:600}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
#treemap{position:relative;width:100%;max-width:1100px;height:460px;background:#eef1f4;border:1px solid #d0d7de;
 overflow:hidden;user-select:none}
#treemap div{position:absolute;box-sizing:border-box;overflow:hidden}
#treemap .dir{border:1px solid #fff;background:#e5e7eb;cursor:zoom-in}
#treemap .name{position:absolute;left:3px;top:1px;right:3px;font-size:11px;line-height:14px;white-space:nowrap;
 overflow:hidden;text-overflow:ellipsis;color:#111827;pointer-events:none}
#treemap .kept{background:#4ade80;border:1px solid #f0fdf4}
#treemap .removed{background:#f87171;border:1px solid #fef2f2}
#treemap .part.kept,#treemap .part.removed{border:0}
.legend .kept{background:#4ade80}.legend .removed{background:#f87171}
#crumbs{margin:6px 0;font-size:14px}#crumbs a{cursor:pointer;color:#0969da;text-decoration:none}
#crumbs a:hover{text-decoration:underline}
#dirtable td a{cursor:pointer;color:#0969da}
.share{display:inline-block;width:90px;height:8px;background:#f87171;vertical-align:middle;border-radius:2px;overflow:hidden}
.share span{display:block;height:100%;background:#4ade80}
.reason .track{height:16px}.reason .bar{background:#4ade80}
.row.reason{grid-template-columns:120px 1fr 180px}
#removed-search{padding:4px 8px;width:320px;font:inherit}
.hint{color:#59636e;font-size:12px}
button{font:inherit;padding:2px 10px;margin:6px 0}
"""


def render_build_report(doc) -> str:
    """The page of one `slim build` from its report.ReportDoc (see the module docstring)."""
    slim_title = doc.slim.image if doc.slim else "slim"
    body = "\n".join([
        _verdict(doc),
        _kpis(doc),
        _gates(doc),
        _probes(doc),
        _repairs(doc),
        _treemap_section(doc),
        _reasons(doc),
        _removed_section(doc),
        _top_dirs(doc, slim_title),
        _footer(doc),
        _tree_data(doc),
        f"<script>{_SCRIPT}</script>",
    ])
    return page(f"slim build {doc.original.image}", body, _BUILD_STYLE)


def _verdict(doc) -> str:
    slim = doc.slim.image if doc.slim else "no slim image"
    passed = doc.status == "ok"
    label = "PASSED" if passed else "FAILED"
    detail = ("built, verified and within every gate" if passed
              else "the slim image was not tagged: see the failures below")
    error = f'<pre class="error" id="error">{escape(doc.error)}</pre>' if doc.error else ""
    return (f'<h1>slim build: {escape(doc.original.image)} &rarr; {escape(slim)}</h1>'
            f'<p class="sub"><span class="verdict {"ok" if passed else "failed"}" id="verdict">{label}</span>'
            f'{escape(detail)}</p>{error}')


def _kpis(doc) -> str:
    slim_size = doc.slim.size_bytes if doc.slim else None
    ratio, percent = doc.reduction.get("ratio"), doc.reduction.get("percent")
    removed = doc.removed or {}
    keep = doc.keep or {}
    probes_ok = sum(p.ok for p in doc.probes)
    items = [
        ("kpi-original", "original", human_bytes(doc.original.size_bytes)),
        ("kpi-slim", "slim", human_bytes(slim_size) if slim_size is not None else "-"),
        ("kpi-reduction", "reduction", f"{ratio}x ({percent}% less)" if ratio else "-"),
        ("kpi-kept", "kept", f"{keep.get('files', 0)} paths, {human_bytes(keep.get('bytes', 0))}"),
        ("kpi-removed", "removed", f"{removed.get('files', 0)} files, {human_bytes(removed.get('bytes') or 0)}"),
        ("kpi-probes", "probes on the original", f"{probes_ok}/{len(doc.probes)} ok"),
        ("kpi-time", "time", f"{doc.timings.get('total_s', 0):.1f} s"),
    ]
    cells = "".join(f'<div class="kpi" id="{key}">{escape(label)}<b>{escape(value)}</b></div>'
                    for key, label, value in items)
    return f'<div class="kpis">{cells}</div>'


def _gate_row(name: str, state: str, value: str, threshold: str, message: str) -> str:
    mark = {"pass": "pass", "fail": "FAIL", "skip": "skipped", "warn": "pass, with warnings"}[state]
    return (f'<tr class="gate" data-gate="{escape(name)}"><td>{escape(name)}</td><td class="{state}">{mark}</td>'
            f'<td class="num">{escape(value)}</td><td class="num">{escape(threshold)}</td>'
            f'<td>{escape(message)}</td></tr>')


def _gates(doc) -> str:
    verify = doc.verify or {}
    rows = []
    if verify.get("ran"):
        failed, warnings = verify.get("failed") or 0, verify.get("warnings") or 0
        state = "fail" if failed else ("warn" if warnings else "pass")
        detail = [f"{failed} check(s) failed on the slim image"] if failed else []
        if warnings:
            detail.append(f"{warnings} check(s) answered differently with the same status")
        rows.append(_gate_row("verification", state, f"{verify.get('passed', 0)} passed, {failed} failed",
                              "0 failed", "; ".join(detail) or "every probe replayed on the slim image alike"))
    else:
        rows.append(_gate_row("verification", "skip", "-", "-", "not run (--no-verify)"))
    for gate in doc.gates:
        if gate.name == "max_size":
            value, threshold = human_bytes(gate.value), f"max {human_bytes(gate.threshold)}"
        elif gate.name == "min_ratio":
            value, threshold = f"{gate.value:g}x", f"min {gate.threshold:g}x"
        else:
            value, threshold = f"{gate.value:g}", f"{gate.threshold:g}"
        rows.append(_gate_row(gate.name, "pass" if gate.passed else "fail", value, threshold, gate.message))
    note = "" if doc.gates else '<p class="hint">no size gate set (--max-size, --min-ratio)</p>'
    return (f'<h2>Gates</h2><table id="gates"><tr><th>gate</th><th>result</th><th>value</th><th>threshold</th>'
            f'<th>detail</th></tr>{"".join(rows)}</table>{note}')


def _treemap_section(doc) -> str:
    return ('<h2>What was kept of the original filesystem</h2>'
            '<p class="legend"><span class="kept"></span>kept in the slim image<span class="removed"></span>removed'
            ' &nbsp; <em class="hint">area: bytes of the original image\'s regular files; '
            'click a directory to open it</em></p>'
            '<div id="crumbs"></div><div id="treemap" role="img" aria-label="treemap of the original filesystem">'
            '</div><p id="dirsummary" class="hint"></p>'
            '<table id="dirtable"><thead><tr><th>name</th><th class="num">original</th><th class="num">kept</th>'
            '<th class="num">removed</th><th>kept share</th><th class="num">files</th></tr></thead>'
            '<tbody></tbody></table>')


def _reasons(doc) -> str:
    by_reason = (doc.keep or {}).get("by_reason", {})
    if not by_reason:
        return ""
    biggest = max((row.get("bytes", 0) for row in by_reason.values()), default=0) or 1
    rows = []
    for reason, row in sorted(by_reason.items(), key=lambda kv: (-kv[1].get("bytes", 0), kv[0])):
        size = row.get("bytes", 0)
        rows.append(f'<div class="row reason" data-reason="{escape(reason)}"><div>{escape(reason)}</div>'
                    f'<div class="track"><div class="bar" style="width:{100 * size / biggest:.2f}%"></div></div>'
                    f'<div class="num">{escape(human_bytes(size))} &middot; {row.get("files", 0)} paths</div></div>')
    return ('<h2>Kept bytes by reason</h2><p class="hint">each kept path counts once, under its strongest reason '
            '(docs/KEEP-RULES.md)</p><div id="reasons">' + "".join(rows) + "</div>")


def _status(value) -> str:
    return "-" if value is None else str(value)


def _probes(doc) -> str:
    """One row per probe: its result on the original and its replay on the slim image."""
    checks: dict[str, list[dict]] = {}
    for check in (doc.verify or {}).get("checks", []):
        checks.setdefault(check["name"], []).append(check)
    rows = []

    def row(name, kind, original_ok, original_status, elapsed, check, note):
        if check is None:
            slim_state, slim_text = ("skip", "not replayed")
        elif not check["passed"]:
            slim_state, slim_text = "fail", f"FAIL ({_status(check.get('slim_status'))})"
        elif check.get("warning"):
            slim_state, slim_text = "warn", f"ok ({_status(check.get('slim_status'))}), warning"
        else:
            slim_state, slim_text = "pass", f"ok ({_status(check.get('slim_status'))})"
        if check is not None:
            note = check.get("reason") or check.get("warning") or note
        original = (f"ok ({_status(original_status)})" if original_ok else f"FAIL ({_status(original_status)})")
        rows.append(f'<tr class="probe"><td class="num">{len(rows) + 1}</td><td class="mono">{escape(name)}</td>'
                    f'<td>{escape(kind)}</td><td class="{"pass" if original_ok else "fail"}">{escape(original)}</td>'
                    f'<td class="num">{escape(elapsed)}</td><td class="{slim_state}">{escape(slim_text)}</td>'
                    f'<td>{escape(note or "")}</td></tr>')
    for probe in doc.probes:
        queue = checks.get(probe.name) or []
        check = queue.pop(0) if queue else None
        row(probe.name, probe.kind, probe.ok, probe.status, f"{probe.elapsed_s:.2f} s", check, probe.error or "")
    for name, queue in checks.items():      # checks with no probe of their own: a removed file reached
        for check in queue:
            row(name, "check", True, check.get("original_status"), "-", check, "")
    if not rows:
        return '<h2>Probes</h2><p class="hint">no probe ran</p>'
    return ('<h2>Probes: the original, then the slim image</h2><table id="probes"><tr><th>#</th><th>probe</th>'
            '<th>kind</th><th>original</th><th class="num">time</th><th>slim image</th><th>detail</th></tr>'
            + "".join(rows) + "</table>")


def _repairs(doc) -> str:
    verify = doc.verify or {}
    repaired, reached = verify.get("repaired") or [], verify.get("reached_removed") or []
    if not repaired and not reached:
        return ""
    parts = ["<h2>Repaired by verification</h2>"]
    if repaired:
        parts.append('<p class="hint">removed files the slim app reached: kept (with what they need), the image '
                     'rebuilt and verified again</p><table id="repaired"><tr><th>round</th><th>path</th>'
                     '<th>reached by</th></tr>')
        parts += [f'<tr class="repair"><td class="num">{item["round"]}</td><td class="mono">{escape(item["path"])}'
                  f'</td><td class="mono">{escape(item["probe"])}</td></tr>' for item in repaired]
        parts.append("</table>")
    if reached:
        parts.append('<p>still missing in the slim image (--no-repair, or repair rounds used up):</p>'
                     '<table id="reached-removed"><tr><th>path</th><th>reached by</th></tr>')
        parts += [f'<tr><td class="mono">{escape(item["path"])}</td><td class="mono">{escape(item["probe"])}</td></tr>'
                  for item in reached]
        parts.append("</table>")
    return "".join(parts)


def _removed_section(doc) -> str:
    removed = doc.removed or {}
    where = ""
    if removed.get("list") and doc.artifacts:
        where = f' The same list: <span class="mono">{escape(doc.artifacts)}/{escape(removed["list"])}</span>.'
    return (f'<h2>Removed files</h2><p class="hint">{removed.get("files", 0)} regular files, '
            f'{escape(human_bytes(removed.get("bytes") or 0))}, largest first.{where}</p>'
            '<input id="removed-search" type="search" placeholder="filter by path, e.g. /usr/share/doc">'
            ' <span id="removed-count" class="hint"></span>'
            '<table id="removed"><thead><tr><th class="num">size</th><th>path</th></tr></thead><tbody></tbody></table>'
            '<button id="removed-more" type="button" hidden>show all</button>')


def _top_dirs(doc, slim_title: str) -> str:
    before = doc.by_top_dir.get("original", {}) if doc.by_top_dir else {}
    after = doc.by_top_dir.get("slim", {}) if doc.by_top_dir else {}
    if not before and not after:
        return ""
    dirs = sorted(set(before) | set(after), key=lambda d: (-before.get(d, 0), -after.get(d, 0), d))
    biggest = max([*before.values(), *after.values(), 1])
    rows = []
    for directory in dirs:
        old, new = before.get(directory, 0), after.get(directory, 0)
        rows.append(
            f'<div class="row pair"><div class="num">{escape(directory)}</div><div>'
            f'<div class="track"><div class="bar before" style="width:{100 * old / biggest:.2f}%"></div></div>'
            f'<div class="track"><div class="bar after" style="width:{100 * new / biggest:.2f}%"></div></div>'
            f'</div><div class="num">{escape(human_bytes(old))}<br>{escape(human_bytes(new))}</div></div>')
    return (f'<h2>Size by top-level directory</h2><p class="legend"><span class="before"></span>'
            f'{escape(doc.original.image)}<span class="after"></span>{escape(slim_title)}</p>'
            f'<div id="topdirs">{"".join(rows)}</div>')


def _footer(doc) -> str:
    timings = ", ".join(f"{key[:-2]} {value:.1f} s" for key, value in doc.timings.items() if key != "total_s")
    facts = [f"slimmer {doc.slimmer_version}", f"original {doc.original.id}"]
    if doc.slim:
        facts.append(f"slim {doc.slim.id}")
    if doc.artifacts:
        facts.append(f"artifacts {doc.artifacts} (docker build {doc.artifacts} rebuilds the slim image)")
    if timings:
        facts.append(f"time: {timings}")
    return '<h2>Run</h2><ul class="hint" id="facts">' + "".join(f"<li>{escape(f)}</li>" for f in facts) + "</ul>"


def _tree_data(doc) -> str:
    tree = doc.tree or {"reasons": ["removed"], "root": ["", []]}
    # "<" escaped: a file named </script> must not end the data block
    data = json.dumps(tree, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="fs-data">{data}</script>'


