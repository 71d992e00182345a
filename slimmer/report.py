"""Stage: report. The JSON report (its own schema, apart from internal types)
and the human summary.

Schema version 1, the keys CI steps may rely on:
  original.{image, id, size_bytes}, slim.{image, id, size_bytes},
  reduction.{ratio, bytes_saved, percent}, probes[], verify.{passed, failed, checks[]},
  keep.{files, bytes, by_reason}, removed.top_dirs[], traced.{paths, present_bytes},
  gates[], timings.{<stage>_s, total_s}, artifacts, dockerfile
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = 1


@dataclass
class ImageFigures:
    image: str
    id: str
    size_bytes: int


@dataclass
class ProbeEntry:
    name: str
    kind: str
    ok: bool
    status: int | None
    digest: str | None
    stable: bool
    elapsed_s: float
    error: str | None = None


@dataclass
class CheckEntry:
    name: str
    passed: bool
    original_status: int | None
    slim_status: int | None
    reason: str = ""


@dataclass
class GateEntry:
    name: str
    passed: bool
    value: float
    threshold: float
    message: str


@dataclass
class ReportDoc:
    schema_version: int
    slimmer_version: str
    original: ImageFigures
    slim: ImageFigures | None
    reduction: dict
    probes: list[ProbeEntry]
    verify: dict
    keep: dict
    removed: dict
    traced: dict
    gates: list[GateEntry]
    timings: dict
    artifacts: str
    dockerfile: str
    status: str = "ok"          # ok | failed
    error: str | None = None
    by_top_dir: dict = field(default_factory=dict)   # {"original": {"/usr": bytes}, "slim": {...}}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)


def reduction(original_bytes: int, slim_bytes: int | None) -> dict:
    if not slim_bytes:
        return {"ratio": None, "bytes_saved": None, "percent": None}
    return {
        "ratio": round(original_bytes / slim_bytes, 2),
        "bytes_saved": original_bytes - slim_bytes,
        "percent": round(100.0 * (original_bytes - slim_bytes) / original_bytes, 1) if original_bytes else 0.0,
    }


def probe_entries(results) -> list[ProbeEntry]:
    return [ProbeEntry(name=r.name, kind=r.kind, ok=r.ok, status=r.status, digest=r.digest,
                       stable=r.stable, elapsed_s=round(r.elapsed_s, 3), error=r.error) for r in results]


def verify_section(verification) -> dict:
    if verification is None:
        return {"ran": False, "passed": None, "failed": None, "checks": []}
    checks = [CheckEntry(name=c.name, passed=c.passed,
                         original_status=c.original.status if c.original else None,
                         slim_status=c.slim.status if c.slim else None, reason=c.reason)
              for c in verification.checks]
    return {
        "ran": True,
        "passed": sum(c.passed for c in checks),
        "failed": sum(not c.passed for c in checks),
        "checks": [asdict(c) for c in checks],
    }


def human_size(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000.0
    return f"{size:.1f} GB"


def render_summary(doc: ReportDoc) -> str:
    lines = []
    slim_size = doc.slim.size_bytes if doc.slim else None
    ratio = doc.reduction.get("ratio")
    lines.append(f"original  {doc.original.image:<40} {human_size(doc.original.size_bytes):>10}")
    if doc.slim:
        lines.append(f"slim      {doc.slim.image:<40} {human_size(slim_size):>10}"
                     f"   {ratio}x smaller ({doc.reduction.get('percent')}% less)")
    keep = doc.keep
    if keep:
        lines.append(f"kept      {keep.get('files', 0)} files, {human_size(keep.get('bytes', 0))}")
        for reason, figures in sorted(keep.get("by_reason", {}).items(), key=lambda kv: -kv[1].get("bytes", 0)):
            lines.append(f"            {reason:<12} {figures.get('files', 0):>6} files {human_size(figures.get('bytes', 0)):>10}")
    top = doc.removed.get("top_dirs") or []
    if top:
        lines.append("removed   (largest directories)")
        for item in top[:10]:
            lines.append(f"            {item['path']:<40} {human_size(item['bytes']):>10} {item['files']:>6} files")
    if doc.probes:
        lines.append(f"probes    {sum(p.ok for p in doc.probes)}/{len(doc.probes)} passed on the original")
    verify = doc.verify
    if verify.get("ran"):
        lines.append(f"verify    {verify['passed']} passed, {verify['failed']} failed on the slim image")
        for check in verify["checks"]:
            mark = "ok  " if check["passed"] else "FAIL"
            reason = f"  ({check['reason']})" if check["reason"] else ""
            lines.append(f"            {mark} {check['name']}{reason}")
    else:
        lines.append("verify    skipped (--no-verify)")
    for gate in doc.gates:
        lines.append(f"gate      {'ok  ' if gate.passed else 'FAIL'} {gate.message}")
    timings = doc.timings
    if timings:
        parts = ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in timings.items() if k != "total_s")
        lines.append(f"time      {timings.get('total_s', 0):.1f}s ({parts})")
    if doc.artifacts:
        lines.append(f"artifacts {doc.artifacts} (rebuild: docker build {doc.artifacts})")
    return "\n".join(lines)
