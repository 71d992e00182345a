"""Stage: report. The JSON report (its own schema, apart from internal types)
and the human summary.

Schema version 1, the keys CI steps may rely on:
  original.{image, id, size_bytes}, slim.{image, id, size_bytes},
  reduction.{ratio, bytes_saved, percent}, probes[], verify.{passed, failed, checks[]},
  keep.{files, bytes, by_reason}, removed.{top_dirs[], files, bytes, list}, traced.{paths, present_bytes},
  gates[], timings.{<stage>_s, total_s}, artifacts, dockerfile
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace

from . import __version__, textfmt
from .model import EntryType, ImageIndex, KeepSet, TraceLog

SCHEMA_VERSION = 1


@dataclass
class ImageFigures:
    image: str
    id: str
    size_bytes: int


@dataclass
class SlimFigures(ImageFigures):
    reused: bool = False            # an earlier build's image from the same inputs (build.py), not rebuilt


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
    warning: str = ""


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
    slim: SlimFigures | None
    reduction: dict
    probes: list[ProbeEntry]
    verify: dict
    keep: dict
    removed: dict
    traced: dict
    gates: list[GateEntry]
    timings: dict
    artifacts: str | None          # None: a temporary directory, removed after a successful run
    dockerfile: str | None
    status: str = "ok"          # ok | failed
    error: str | None = None
    by_top_dir: dict = field(default_factory=dict)   # {"original": {"/usr": bytes}, "slim": {...}}
    run_context: dict = field(default_factory=dict)  # names only: env values are masked (KEY=***)
    # the original filesystem, kept and removed, for the HTML page (filesystem_tree); not in the JSON
    tree: dict | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> str:
        data = asdict(replace(self, tree=None))
        del data["tree"]
        return json.dumps(data, indent=2, sort_keys=False)


def unfinished_report(image: str, error) -> dict:
    """The report of a run that ended early: status "interrupted" or "failed", the stage
    it ended in, the timings so far and the error. Same schema version, fewer keys."""
    from .errors import Interrupted
    return {
        "schema_version": SCHEMA_VERSION,
        "slimmer_version": __version__,
        "status": "interrupted" if isinstance(error, Interrupted) else "failed",
        "stage": getattr(error, "stage", "") or None,
        "error": error.message,
        "exit_code": int(error.exit_code),
        "original": {"image": image},
        "slim": None,
        "timings": getattr(error, "timings", {}) or {},
        "removed_by_cleanup": getattr(error, "removed", {}) or {},
        "session": getattr(error, "session", None),   # the label value slimmer.session=... of what it created
    }


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
                         slim_status=c.slim.status if c.slim else None, reason=c.reason,
                         warning=c.warning)
              for c in verification.checks]
    return {
        "ran": True,
        "passed": sum(c.passed for c in checks),
        "failed": sum(not c.passed for c in checks),
        "warnings": sum(bool(c.warning) for c in checks),
        "checks": [asdict(c) for c in checks],
        "repaired": [{"round": r, "path": p, "probe": probe} for r, p, probe in verification.repairs],
        "reached_removed": [{"path": p, "probe": probe} for p, probe in verification.reached_removed],
    }


def human_size(size: float | None) -> str:
    return "-" if size is None else textfmt.human_size(size)


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
            mark = ("warn" if check.get("warning") else "ok  ") if check["passed"] else "FAIL"
            note = check["reason"] or check.get("warning", "")
            reason = f"  ({note})" if note else ""
            lines.append(f"            {mark} {check['name']}{reason}")
        for repair in verify.get("repaired", []):
            lines.append(f"            repaired (round {repair['round']}) {repair['path']}  <- {repair['probe']}")
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


# --- building the report from the pipeline's results ------------------------------------

def make_report(image, built, index: ImageIndex, trace: TraceLog, keep_set: KeepSet, runs, verification,
                gates: list[GateEntry], timings: dict, artifacts, failures: list[str]) -> ReportDoc:
    from .keep import keep_summary, removed_by_top_dir
    from .imagefs import bytes_by_top_dir
    removed = removed_by_top_dir(index, keep_set)
    removed_list = write_removed_list(artifacts.directory, index, keep_set) if artifacts.directory else None
    gone = list(removed_files(index, keep_set))
    return ReportDoc(
        schema_version=SCHEMA_VERSION,
        slimmer_version=__version__,
        original=ImageFigures(image.reference, image.id, image.size_bytes),
        slim=SlimFigures(built.tag, built.id, built.size_bytes, built.reused),
        reduction=reduction(image.size_bytes, built.size_bytes),
        probes=probe_entries([r for _, traced in runs for r in traced.results]),
        verify=verify_section(verification),
        keep=keep_summary(keep_set, index),
        removed={"top_dirs": [{"path": d, "bytes": b, "files": f} for d, b, f in removed],
                 "files": len(gone), "bytes": sum(size for _, size in gone),
                 "list": os.path.basename(removed_list) if removed_list else None},
        traced=traced_figures(trace, index),
        gates=gates,
        timings=timings,
        artifacts=artifacts.directory,
        dockerfile=artifacts.dockerfile,
        status="failed" if failures else "ok",
        error="\n".join(failures) or None,
        by_top_dir={"original": bytes_by_top_dir(index), "slim": kept_bytes_by_top_dir(keep_set, index)},
        run_context=run_context_section([run for run, _ in runs]),
        tree=filesystem_tree(index, keep_set),
    )


def run_context_section(runs) -> dict:
    """What the runs were given, names only: never an env value."""
    first = runs[0] if runs else None
    if first is None:
        return {}
    return {
        "env": list(first.masked_env()),
        "networks": list(first.networks),
        "network_aliases": list(first.network_aliases),
        "hosts": [name for name, _ in first.hosts],
        "mounts": [{"target": m.target, "kind": m.kind, "read_only": m.read_only} for m in first.mounts],
        "user": first.user,
        "entrypoint_overridden": first.entrypoint is not None,
        "command_overridden": [run.command is not None for run in runs],
        "workdir": first.workdir,
    }


def kept_bytes_by_top_dir(keep_set: KeepSet, index: ImageIndex) -> dict[str, int]:
    """The slim image's bytes per top-level directory, largest first."""
    from .imagefs import bytes_by_top_dir
    sizes = bytes_by_top_dir(index, only=keep_set.paths())
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


# --- what was removed, and the whole original filesystem for the HTML page ----------------

REMOVED_LIST = "removed.list"
REMOVED = "removed"


def _kept_file_paths(index: ImageIndex, keep_set: KeepSet) -> dict[str, str]:
    """Regular files of the original whose content the slim image holds -> why.

    1. A kept path keeps its reason.
    2. A kept hardlink keeps the content of the file it names (the same inode).
    3. A generated file (the trimmed package database) replaces the original's.
    """
    from .keep.packagedb import PackageMetadataRule
    kept: dict[str, str] = {}
    for path, item in keep_set.kept.items():
        entry = index.get(path)
        if entry is None:
            continue
        if entry.type is EntryType.FILE:
            kept[path] = item.reason.value
        elif entry.type is EntryType.HARDLINK and entry.link_target:
            kept.setdefault(entry.link_target, item.reason.value)
    for path in keep_set.generated:
        kept[path] = PackageMetadataRule.generated_reason
    return kept


def removed_files(index: ImageIndex, keep_set: KeepSet):
    """(path, size) of every regular file of the original that the slim image lacks, by path."""
    kept = _kept_file_paths(index, keep_set)
    for path in sorted(index.entries):
        entry = index.entries[path]
        if entry.type is EntryType.FILE and path not in kept:
            yield path, entry.size


def write_removed_list(directory: str, index: ImageIndex, keep_set: KeepSet) -> str:
    """ARTIFACTS/removed.list: one line per removed regular file, `SIZE<TAB>PATH`, by path
    (paths escaped as in keep.list). Returns its path."""
    from .sensor import escape_path
    path = os.path.join(directory, REMOVED_LIST)
    with open(path, "wb") as out:
        for removed, size in removed_files(index, keep_set):
            out.write(f"{size}\t{escape_path(removed)}\n".encode("utf-8", "surrogateescape"))
    return path


def filesystem_tree(index: ImageIndex, keep_set: KeepSet) -> dict:
    """The original image's regular files as a tree, compact for embedding in the HTML page:
    {"reasons": ["removed", "traced", ...], "root": ["", [child, ...]]} where a directory is
    [name, [children]] and a file is [name, size, i], reasons[i] saying why it was kept
    (i == 0: removed). Symlinks, empty directories and special files carry no bytes: left out."""
    kept = _kept_file_paths(index, keep_set)
    reasons = [REMOVED]
    reason_index = {REMOVED: 0}
    root: dict = {}
    for path, entry in index.entries.items():
        if entry.type is not EntryType.FILE:
            continue
        *parents, name = path.strip("/").split("/")
        node = root
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):    # a file and a directory of one name cannot both exist
                break
        else:
            reason = kept.get(path, REMOVED)
            if reason not in reason_index:
                reason_index[reason] = len(reasons)
                reasons.append(reason)
            node[name] = [name, entry.size, reason_index[reason]]

    def encode(name: str, node: dict) -> list:
        return [name, [encode(key, value) if isinstance(value, dict) else value
                       for key, value in sorted(node.items())]]
    return {"reasons": reasons, "root": encode("", root)}


def traced_figures(trace: TraceLog, index: ImageIndex) -> dict:
    """Traced paths, and the bytes of the real files they name (through symlinks, each once)."""
    from .keep import resolve
    real_paths = {resolve(index, path).path for path in trace.paths}
    present = [index.get(path) for path in real_paths if path is not None]
    files = [entry for entry in present if entry is not None and entry.type is EntryType.FILE]
    return {"paths": len(trace.paths), "present_files": len(files),
            "present_bytes": sum(entry.size for entry in files)}


def evaluate_gates(original_bytes: int, slim_bytes: int, max_size: int | None,
                   min_ratio: float | None) -> list[GateEntry]:
    gates = []
    if max_size is not None:
        ok = slim_bytes <= max_size
        gates.append(GateEntry(
            "max_size", ok, slim_bytes, max_size,
            f"slim image size {slim_bytes} bytes {'<=' if ok else '>'} --max-size {max_size} bytes"))
    if min_ratio is not None:
        ratio = original_bytes / slim_bytes if slim_bytes else float("inf")
        ok = ratio >= min_ratio
        gates.append(GateEntry(
            "min_ratio", ok, round(ratio, 2), min_ratio,
            f"reduction ratio {ratio:.2f} {'>=' if ok else '<'} --min-ratio {min_ratio}"))
    return gates
