"""Merging layers into one filesystem (overlayfs semantics, as Docker's layer tars encode them):
  1. layers apply bottom (index 0) to top, in manifest.json's "Layers" order,
     whatever order the layer tars came in the stream;
  2. within a layer, deletions apply first, to the lower layers only:
     `DIR/.wh.NAME` deletes DIR/NAME and everything under it, and
     `DIR/.wh..wh..opq` hides every lower-layer child of DIR;
  3. then the layer's entries apply in tar order; an entry replaces the one
     at the same path, and a non-directory replacing a directory hides the
     whole lower subtree;
  4. a path whose parent directory has no entry in any layer gets an
     implicit parent (directory, 0755, root:root);
  5. paths are normalised inside the image root: "../x", "/x" and "./x" all
     become "/x", so a crafted layer can never name a path outside "/"
     (layer.normalise).
"""
from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import Callable, Iterable

from ..model import EntryType, FsEntry, ImageIndex
from .layer import LayerFiles

# on_hidden(hidden_entry, by_layer, how): how is "overwritten", "whiteout", "opaque"
# or "replaced" (a lower subtree hidden by a non-directory at its root).
HiddenCallback = Callable[[FsEntry, int, str], None]


class MergedTree:
    """The merged filesystem while layers are applied; see the module docstring."""

    def __init__(self, on_hidden: HiddenCallback | None = None):
        self.entries: dict[str, FsEntry] = {}
        self._kids: dict[str, set[str]] = {}
        self._on_hidden = on_hidden

    def apply(self, layer: LayerFiles) -> None:
        for path in layer.whiteouts:
            self._remove(path, layer.index, "whiteout")
        for directory in layer.opaque_dirs:
            for child in list(self._kids.get(directory, ())):
                self._remove(child, layer.index, "opaque")
        for entry in layer.entries:
            self._put(entry)

    def _put(self, entry: FsEntry) -> None:
        path = entry.path
        old = self.entries.get(path)
        if old is not None:
            if old.type is EntryType.DIR and entry.type is not EntryType.DIR:
                for child in list(self._kids.get(path, ())):
                    self._remove(child, entry.layer, "replaced")
            if self._on_hidden:
                self._on_hidden(old, entry.layer, "overwritten")
            if old.layer != entry.layer:
                # remember who wrote it before: a COPY'd file a later RUN chmod'ed is still the app's
                entry = replace(entry, earlier_layers=old.earlier_layers + (old.layer,))
        elif path != "/":
            self._ensure_parent(path, entry.layer)
        self.entries[path] = entry

    def _ensure_parent(self, path: str, layer: int) -> None:
        while path != "/":
            parent = posixpath.dirname(path)
            kids = self._kids.get(parent)
            if kids is None:
                kids = self._kids[parent] = set()
            kids.add(path)
            if parent in self.entries:
                return
            self.entries[parent] = FsEntry(path=parent, type=EntryType.DIR, mode=0o755, uid=0, gid=0,
                                           size=0, link_target=None, layer=layer)
            path = parent

    def _remove(self, path: str, by_layer: int, how: str) -> None:
        if path not in self.entries:
            return
        stack = [path]
        while stack:
            current = stack.pop()
            entry = self.entries.pop(current, None)
            if entry is not None and self._on_hidden:
                self._on_hidden(entry, by_layer, how)
            stack.extend(self._kids.pop(current, ()))
        parent_kids = self._kids.get(posixpath.dirname(path))
        if parent_kids is not None:
            parent_kids.discard(path)

    def index(self) -> ImageIndex:
        if "/" not in self.entries:
            self.entries["/"] = FsEntry(path="/", type=EntryType.DIR, mode=0o755, uid=0, gid=0,
                                        size=0, link_target=None, layer=0)
        return ImageIndex(entries=self.entries, contents={})


def merge_layers(layers: Iterable[LayerFiles], on_hidden: HiddenCallback | None = None) -> ImageIndex:
    """Apply LAYERS bottom first; ON_HIDDEN hears of every entry version a layer hides."""
    tree = MergedTree(on_hidden)
    ordered = sorted(layers, key=lambda item: item.index)
    for layer in ordered:
        tree.apply(layer)
    index = tree.index()
    for layer in ordered:   # captured bytes of the versions that survived the merge
        for path, data in layer.contents.items():
            entry = index.entries.get(path)
            if entry is not None and entry.layer == layer.index and entry.type is EntryType.FILE:
                index.contents[path] = data
    return index
