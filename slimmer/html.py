"""Self-contained HTML pages: inline CSS and (build report only) inline script,
no external asset, nothing fetched. They open from a CI artifact, offline.

render_xray_html(report): a bar per layer, sized by its bytes, with the
instruction that made it and the part of it that later layers hide.
render_build_report(doc): the page of one `slim build` (a report.ReportDoc):
  1. the verdict and every gate (verification, --max-size, --min-ratio);
  2. before/after sizes, kept and removed bytes;
  3. a treemap of the original filesystem, kept files green and removed files
     red, drilling down into a directory on click (or with #/usr/lib in the URL);
     the data is doc.tree (report.filesystem_tree), embedded as JSON;
  4. kept bytes by reason; every probe on the original and on the slim image,
     with warnings; the paths verification repaired;
  5. the removed files, largest first, searchable (all of them: the same list
     as ARTIFACTS/removed.list); size by top-level directory before and after.
"""
from __future__ import annotations

import json
from html import escape

from .xray import XrayReport, human_bytes, shorten

_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d232a;background:#fff}
h1{font-size:20px;margin:0 0 4px} .sub{color:#59636e;margin:0 0 18px}
.kpis{display:flex;gap:14px;margin:0 0 20px;flex-wrap:wrap}
.kpi{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:130px}
.kpi b{display:block;font-size:20px}
.row{display:grid;grid-template-columns:60px 1fr 100px;gap:10px;align-items:center;margin:6px 0}
.track{background:#eef1f4;border-radius:4px;height:22px;position:relative;overflow:hidden}
.bar{background:#3b82f6;height:100%;display:flex}
.bar .hid{background:#ef4444;height:100%}
.label{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#333;white-space:nowrap;
 overflow:hidden;text-overflow:ellipsis;margin-top:2px}
.num{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px 0 12px;vertical-align:-1px}
.before{background:#94a3b8}.after{background:#22c55e}
.pair .track{height:14px;margin:2px 0}
ul.findings li{margin:4px 0}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
"""

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


def _page(title: str, body: str, style: str = "") -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}{style}</style></head>\n<body>\n{body}\n</body></html>\n")


def _kpi(label: str, value: str) -> str:
    return f'<div class="kpi">{escape(label)}<b>{escape(value)}</b></div>'


def render_xray_html(report: XrayReport) -> str:
    biggest = max((layer.size_bytes for layer in report.layers), default=0) or 1
    rows = []
    for layer in report.layers:
        width = 100 * layer.size_bytes / biggest
        # the part of this layer's bytes that later layers hide, drawn in red at the bar's end
        hidden = min(layer.size_bytes, layer.hidden_later.bytes)
        hidden_share = 100 * hidden / layer.size_bytes if layer.size_bytes else 0
        rows.append(
            f'<div class="row"><div class="num">#{layer.index}</div><div>'
            f'<div class="track"><div class="bar" style="width:{width:.2f}%">'
            f'<div style="flex:1"></div><div class="hid" style="width:{hidden_share:.2f}%"></div></div></div>'
            f'<div class="label" title="{escape(layer.created_by)}">{escape(shorten(layer.created_by, 140))}</div>'
            f'</div><div class="num">{escape(human_bytes(layer.size_bytes))}</div></div>')
    findings = "".join(f"<li>{escape(f.message)}</li>" for f in report.findings[:20]) or "<li>none</li>"
    largest = "".join(f"<tr><td class=\"num\">{escape(human_bytes(f.bytes))}</td><td>{escape(f.path)}</td>"
                      f"<td>layer {f.layer}</td></tr>" for f in report.largest_files[:10])
    body = (
        f"<h1>xray: {escape(report.image)}</h1><p class=\"sub\">{escape(report.image_id)}</p>"
        f"<div class=\"kpis\">{_kpi('size', human_bytes(report.size_bytes))}"
        f"{_kpi('layers', str(len(report.layers)))}{_kpi('files', str(report.file_count))}"
        f"{_kpi('reclaimable', human_bytes(report.reclaimable_bytes))}"
        f"{_kpi('efficiency', f'{report.efficiency:.1%}')}</div>"
        f"<h2>Layers</h2><p class=\"legend\"><span style=\"background:#3b82f6\"></span>bytes in the layer"
        f"<span style=\"background:#ef4444\"></span>hidden by a later layer (still shipped)</p>"
        + "\n".join(rows)
        + f"<h2>Findings</h2><ul class=\"findings\">{findings}</ul>"
        + (f"<h2>Largest files</h2><table>{largest}</table>" if largest else ""))
    return _page(f"xray {report.image}", body)


# --- the build report page ------------------------------------------------------------------

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
    return _page(f"slim build {doc.original.image}", body, _BUILD_STYLE)


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


# The treemap, the directory table and the removed-files list, drawn from #fs-data.
# Plain DOM, no library; everything stays on this page.
_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fs-data").textContent);
  var reasons = data.reasons;
  var MAX_DEPTH = 4, MIN_AREA = 36, HEADER = 15;

  function human(n) {
    var units = ["B", "kB", "MB", "GB"];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(n) < 1000 || i === units.length - 1) return i === 0 ? n.toFixed(0) + " B" : n.toFixed(1) + " " + units[i];
      n /= 1000;
    }
  }
  // [name, [children]] is a directory, [name, size, reason] a file
  function build(raw, parentPath) {
    var name = raw[0], path = parentPath === null ? "/" : (parentPath === "/" ? "/" + name : parentPath + "/" + name);
    if (raw.length === 3) {
      var kept = raw[2] !== 0;
      return {name: name, path: path, file: true, isKept: kept, size: raw[1], kept: kept ? raw[1] : 0,
              removed: kept ? 0 : raw[1], files: 1, removedFiles: kept ? 0 : 1, reason: reasons[raw[2]]};
    }
    var node = {name: name, path: path, file: false, size: 0, kept: 0, removed: 0, files: 0, removedFiles: 0, children: []};
    raw[1].forEach(function (child) {
      var c = build(child, path);
      node.children.push(c);
      node.size += c.size; node.kept += c.kept; node.removed += c.removed;
      node.files += c.files; node.removedFiles += c.removedFiles;
    });
    node.children.sort(function (a, b) { return b.size - a.size || (a.name < b.name ? -1 : 1); });
    return node;
  }
  var root = build(data.root, null);
  var byPath = {};
  (function index(node) { byPath[node.path] = node; (node.children || []).forEach(index); })(root);

  // squarified treemap (Bruls, Huizing, van Wijk): rows whose rectangles are as square as possible
  function worst(sizes, sum, side, scale) {
    var thickness = sum * scale / side, ratio = 0;
    sizes.forEach(function (s) { var len = s * scale / thickness; ratio = Math.max(ratio, len / thickness, thickness / len); });
    return ratio;
  }
  function squarify(items, x, y, w, h) {
    var out = [], total = 0, i = 0;
    items.forEach(function (it) { total += it.size; });
    while (i < items.length && w > 0 && h > 0 && total > 0) {
      var scale = w * h / total, side = Math.min(w, h), row = [], sum = 0, best = Infinity;
      while (i < items.length) {
        var sizes = row.map(function (r) { return r.size; }).concat([items[i].size]);
        var ratio = worst(sizes, sum + items[i].size, side, scale);
        if (row.length && ratio > best) break;
        row.push(items[i]); sum += items[i].size; best = ratio; i++;
      }
      var thick = sum * scale / side, offset = 0;
      row.forEach(function (it) {
        var len = it.size * scale / thick;
        if (w >= h) out.push([it, x, y + offset, thick, len]); else out.push([it, x + offset, y, len, thick]);
        offset += len;
      });
      if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
      total -= sum;
    }
    return out;
  }
  function box(parent, cls, x, y, w, h, title) {
    var el = document.createElement("div");
    el.className = cls;
    el.style.left = x + "px"; el.style.top = y + "px"; el.style.width = w + "px"; el.style.height = h + "px";
    if (title) el.title = title;
    parent.appendChild(el);
    return el;
  }
  function share(node) { return node.size ? Math.round(100 * node.kept / node.size) : 0; }
  function describe(node) {
    return node.path + "\n" + human(node.size) + " in the original: " + human(node.kept) + " kept, " +
      human(node.removed) + " removed" + (node.file ? (node.isKept ? " (kept: " + node.reason + ")" : "") :
      " (" + node.files + " files, " + node.removedFiles + " removed)");
  }
  // a directory too small or too deep to open: its kept and removed bytes as two parts
  function split(el, node, w, h) {
    var keptShare = node.size ? node.kept / node.size : 0;
    if (w >= h) {
      box(el, "part kept", 0, 0, w * keptShare, h);
      box(el, "part removed", w * keptShare, 0, w * (1 - keptShare), h);
    } else {
      box(el, "part kept", 0, 0, w, h * keptShare);
      box(el, "part removed", 0, h * keptShare, w, h * (1 - keptShare));
    }
  }
  function draw(parent, node, x, y, w, h, depth) {
    var items = node.children.filter(function (c) { return c.size > 0; });
    var area = w * h, total = node.size, shown = [], rest = null;
    items.forEach(function (c) {
      if (rest === null && c.size / total * area >= MIN_AREA) shown.push(c);
      else {
        rest = rest || {name: "(smaller entries)", path: node.path, file: false, size: 0, kept: 0, removed: 0,
                        files: 0, removedFiles: 0, children: [], other: true};
        rest.size += c.size; rest.kept += c.kept; rest.removed += c.removed;
        rest.files += c.files; rest.removedFiles += c.removedFiles;
      }
    });
    if (rest) shown.push(rest);
    squarify(shown, x, y, w, h).forEach(function (cell) {
      var c = cell[0], cx = cell[1], cy = cell[2], cw = cell[3], ch = cell[4];
      if (c.file) {
        var f = box(parent, "file " + (c.isKept ? "kept" : "removed"), cx, cy, cw, ch, describe(c));
        f.dataset.path = c.path;
        if (cw > 50 && ch > 16) {
          var name = document.createElement("span");
          name.className = "name";
          name.textContent = c.name + "  " + human(c.size);
          f.appendChild(name);
        }
        return;
      }
      var el = box(parent, "dir" + (c.other ? " other" : ""), cx, cy, cw, ch, describe(c));
      if (!c.other) el.dataset.path = c.path;
      var roomy = cw > 40 && ch > 34;
      if (roomy) {
        var label = document.createElement("span");
        label.className = "name";
        label.textContent = c.name + "  " + human(c.size);
        el.appendChild(label);
      }
      if (!c.other && depth < MAX_DEPTH && roomy && cw * ch > 4 * MIN_AREA) {
        draw(el, c, 1, HEADER, cw - 4, ch - HEADER - 3, depth + 1);
      } else if (roomy) {
        var inner = box(el, "part", 1, HEADER, cw - 4, ch - HEADER - 3);
        split(inner, c, cw - 4, ch - HEADER - 3);
      } else {
        split(el, c, cw - 2, ch - 2);
      }
    });
  }

  var treemap = document.getElementById("treemap");
  function crumbs(node) {
    var el = document.getElementById("crumbs");
    el.textContent = "";
    var parts = node.path === "/" ? [""] : node.path.split("/");
    var path = "";
    parts.forEach(function (part, i) {
      path = i === 0 ? "/" : (path === "/" ? "/" + part : path + "/" + part);
      var a = document.createElement("a");
      a.textContent = i === 0 ? "/ (root)" : part;
      a.dataset.path = path;
      a.href = "#" + encodeURI(path);
      el.appendChild(a);
      if (i < parts.length - 1) el.appendChild(document.createTextNode(" \u203a "));
    });
  }
  function table(node) {
    var body = document.querySelector("#dirtable tbody");
    body.textContent = "";
    node.children.slice(0, 200).forEach(function (c) {
      var tr = document.createElement("tr");
      tr.className = c.file ? "entry file" : "entry dir";
      tr.dataset.path = c.path;
      var name = document.createElement("td");
      if (c.file) name.textContent = c.name;
      else { var a = document.createElement("a"); a.href = "#" + encodeURI(c.path); a.textContent = c.name + "/"; name.appendChild(a); }
      tr.appendChild(name);
      [human(c.size), human(c.kept), human(c.removed)].forEach(function (text) {
        var td = document.createElement("td"); td.className = "num"; td.textContent = text; tr.appendChild(td);
      });
      var bar = document.createElement("td");
      bar.innerHTML = '<span class="share"><span style="width:' + share(c) + '%"></span></span> ' + share(c) + "%";
      tr.appendChild(bar);
      var files = document.createElement("td"); files.className = "num"; files.textContent = c.files; tr.appendChild(files);
      body.appendChild(tr);
    });
    document.getElementById("dirsummary").textContent = node.path + ": " + human(node.size) + " in " + node.files +
      " files; kept " + human(node.kept) + " (" + share(node) + "%), removed " + human(node.removed) + " in " +
      node.removedFiles + " files" + (node.children.length > 200 ? "; the 200 largest entries below" : "");
  }
  function show() {
    var wanted = decodeURI(location.hash.slice(1)) || "/";
    var node = byPath[wanted];
    if (!node || node.file) node = root;
    treemap.textContent = "";
    treemap.dataset.path = node.path;
    var w = treemap.clientWidth, h = treemap.clientHeight;
    if (node.size > 0) draw(treemap, node, 0, 0, w, h, 1);
    crumbs(node);
    table(node);
  }
  treemap.addEventListener("click", function (event) {
    var el = event.target.closest(".dir[data-path]");
    if (el) location.hash = encodeURI(el.dataset.path);
  });
  window.addEventListener("hashchange", show);
  window.addEventListener("resize", show);

  // every removed regular file, largest first; a filter and a "show all" button
  var removed = [];
  (function collect(node) {
    if (node.file) { if (!node.isKept) removed.push(node); return; }
    node.children.forEach(collect);
  })(root);
  removed.sort(function (a, b) { return b.size - a.size || (a.path < b.path ? -1 : 1); });
  var limit = 100;
  var search = document.getElementById("removed-search"), more = document.getElementById("removed-more");
  function listRemoved() {
    var needle = search.value.trim(), matches = needle ? removed.filter(function (f) { return f.path.indexOf(needle) >= 0; }) : removed;
    var body = document.querySelector("#removed tbody");
    body.textContent = "";
    matches.slice(0, limit).forEach(function (f) {
      var tr = document.createElement("tr");
      tr.className = "removed-file";
      var size = document.createElement("td"); size.className = "num"; size.textContent = human(f.size);
      var path = document.createElement("td"); path.className = "mono"; path.textContent = f.path;
      tr.appendChild(size); tr.appendChild(path); body.appendChild(tr);
    });
    var bytes = 0; matches.forEach(function (f) { bytes += f.size; });
    document.getElementById("removed-count").textContent = matches.length + " files, " + human(bytes) +
      (matches.length > limit ? "; showing the " + limit + " largest" : "");
    more.hidden = matches.length <= limit;
    more.textContent = "show all " + matches.length;
  }
  search.addEventListener("input", function () { limit = 100; listRemoved(); });
  more.addEventListener("click", function () { limit = Infinity; listRemoved(); });
  show();
  listRemoved();
})();
"""
