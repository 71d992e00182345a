"""Self-contained HTML pages: inline CSS and (build report only) inline script,
no external asset, nothing fetched. They open from a CI artifact, offline.

  xray.py     render_xray_html(report): a bar per layer, sized by its bytes, with the
              instruction that made it and the part of it that later layers hide; the
              findings; each layer's file tree (collapsible, filterable, no script)
  build.py    render_build_report(doc): the page of one `slim build` (a report.ReportDoc):
                1. the verdict and every gate (verification, --max-size, --min-ratio);
                2. before/after sizes, kept and removed bytes;
                3. a treemap of the original filesystem, kept files green and removed
                   files red, drilling down into a directory on click (or with #/usr/lib
                   in the URL); the data is doc.tree (report.filesystem_tree), as JSON;
                4. kept bytes by reason; every probe on the original and on the slim
                   image, with warnings; the paths verification repaired;
                5. the removed files, largest first, searchable (all of them: the same
                   list as ARTIFACTS/removed.list); size by top-level directory
  treemap.py  the build report's script (treemap, directory table, removed files)
  page.py     the frame, the base style and the KPI boxes both pages share
"""
from __future__ import annotations

from .build import render_build_report
from .xray import render_xray_html

__all__ = ["render_build_report", "render_xray_html"]
