"""Self-contained HTML pictures (inline CSS, no scripts, no external assets).

render_xray_html(report): a bar per layer, sized by its bytes, with the
instruction that made it and the part of it that later layers hide.
render_build_html(before, after, ...): size by top-level directory before and
after `slim build`; inputs are plain {"/usr": bytes, ...} dicts so the build
pipeline can pass imagefs.bytes_by_top_dir(index) of each image.
"""
from __future__ import annotations

from html import escape
from typing import Mapping

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


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


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


def render_build_html(before: Mapping[str, int], after: Mapping[str, int], *,
                      before_title: str = "original", after_title: str = "slim",
                      before_size: int | None = None, after_size: int | None = None) -> str:
    """Before/after size by top-level directory ({"/usr": bytes, ...} for each image)."""
    before_size = sum(before.values()) if before_size is None else before_size
    after_size = sum(after.values()) if after_size is None else after_size
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
    ratio = f"{before_size / after_size:.1f}x smaller" if after_size else "n/a"
    body = (
        f"<h1>slim build: {escape(before_title)} &rarr; {escape(after_title)}</h1>"
        f"<div class=\"kpis\">{_kpi(before_title, human_bytes(before_size))}"
        f"{_kpi(after_title, human_bytes(after_size))}{_kpi('reduction', ratio)}</div>"
        f"<h2>Size by top-level directory</h2><p class=\"legend\"><span class=\"before\"></span>"
        f"{escape(before_title)}<span class=\"after\"></span>{escape(after_title)}</p>"
        + "\n".join(rows))
    return _page(f"slim build {before_title}", body)
