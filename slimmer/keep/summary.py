"""What the report says about a keep set: bytes by reason, what was removed by directory."""
from __future__ import annotations

import posixpath

from ..model import EntryType, ImageIndex, KeepSet
from .core import file_bytes
from .packagedb import PackageMetadataRule


def removed_by_top_dir(index: ImageIndex, keep_set: KeepSet, depth: int = 2) -> list[tuple[str, int, int]]:
    """(directory, bytes, files) of regular files of the image that the keep set
    drops, grouped by the first `depth` components of their directory, largest first."""
    groups: dict[str, list[int]] = {}
    for path, entry in index.entries.items():
        if entry.type is not EntryType.FILE or path in keep_set:
            continue
        parts = posixpath.dirname(path).strip("/").split("/")
        directory = "/" + "/".join(p for p in parts[:depth] if p)
        totals = groups.setdefault(directory, [0, 0])
        totals[0] += entry.size
        totals[1] += 1
    return sorted(((d, b, f) for d, (b, f) in groups.items()), key=lambda row: (-row[1], row[0]))


def keep_summary(keep_set: KeepSet, index: ImageIndex) -> dict:
    """{files, bytes, by_reason: {reason: {files, bytes}}}: `files` counts kept
    paths (files, dirs, symlinks), `bytes` the content of kept regular files."""
    by_reason: dict[str, dict[str, int]] = {}
    files = total = 0
    for path, kept in keep_set.kept.items():
        size = file_bytes(index.get(path))
        files += 1
        total += size
        row = by_reason.setdefault(kept.reason.value, {"files": 0, "bytes": 0})
        row["files"] += 1
        row["bytes"] += size
    for data in keep_set.generated.values():
        files += 1
        total += len(data)
        row = by_reason.setdefault(PackageMetadataRule.generated_reason, {"files": 0, "bytes": 0})
        row["files"] += 1
        row["bytes"] += len(data)
    return {"files": files, "bytes": total, "by_reason": dict(sorted(by_reason.items()))}
