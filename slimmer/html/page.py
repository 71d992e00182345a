"""What every page shares: the frame, the base style and the KPI boxes."""
from __future__ import annotations

from html import escape

STYLE = """
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


def page(title: str, body: str, style: str = "") -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}{style}</style></head>\n<body>\n{body}\n</body></html>\n")


def kpi(label: str, value: str) -> str:
    return f'<div class="kpi">{escape(label)}<b>{escape(value)}</b></div>'

