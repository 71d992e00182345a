"""Reading a merged index: a directory's children, a walk, bytes per top-level directory."""
from __future__ import annotations

from typing import Iterable

from ..model import EntryType, FsEntry, ImageIndex
from .layer import normalise


def children(index: ImageIndex, directory: str) -> list[FsEntry]:
    """The entries directly inside DIRECTORY, sorted by path (ImageIndex.children)."""
    return [index.entries[path] for path in index.children(normalise(directory))]


def walk(index: ImageIndex, top: str = "/") -> Iterable[FsEntry]:
    """Every entry under TOP (TOP included), parents before children."""
    stack = [normalise(top)]
    while stack:
        path = stack.pop()
        entry = index.get(path)
        if entry is None:
            continue
        yield entry
        if entry.type is EntryType.DIR:
            stack.extend(reversed([kid.path for kid in children(index, path)]))


def bytes_by_top_dir(index: ImageIndex, only: Iterable[str] | None = None) -> dict[str, int]:
    """Content bytes per top-level directory ("/usr": ...); files at the root count as "/".
    ONLY: count just these paths (the slim image's keep set).

    Hardlinks are not counted again: their content belongs to the first name.
    """
    totals: dict[str, int] = {}
    entries = index.entries.values() if only is None else (index.get(path) for path in only)
    for entry in entries:
        if entry is None or entry.type is not EntryType.FILE:
            continue
        parts = entry.path.split("/", 2)
        top = "/" + parts[1] if len(parts) > 2 else "/"
        totals[top] = totals.get(top, 0) + entry.size
    return totals
