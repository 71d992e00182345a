"""xray's findings: plain-word advice, each tied to the layer that can act on it, biggest first.

  deleted-later, overwritten-later  a layer hides bytes an earlier layer added
  cache-left                        a package-manager cache left in the image
  big-layer                         one layer is most of the image
  duplicates                        identical files, ranked by wasted bytes
Each needs at least finding_min_bytes (1 MB by default). Advice goes where the
user can act:
  a. an imported base layer (a rootfs ADDed by the base image, or a layer
     with no instruction) is context, never a finding: no "clean it in the
     same RUN" for caches it holds, no "layer 0 is 90% of the image";
  b. caches left by a RUN: clean them in that RUN; by a COPY/ADD: keep them
     out of the build context;
  c. duplicates skip files that are identical by nature and nobody can
     deduplicate (package changelogs and copyright files, man pages, a
     database's catalog files: analyse.DUPLICATE_NOISE).
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ..textfmt import human_size
from .render import shorten
from .report import Duplicate, Finding, LayerReport

MB = 1_000_000


def findings_of(layers: Sequence[LayerReport], hidden: Mapping[tuple[int, int, str], list[int]],
                duplicates: Sequence[Duplicate], size: int, min_bytes: int,
                big_layer_ratio: float) -> tuple[Finding, ...]:
    """The findings of an analysis; HIDDEN maps (by layer, from layer, how) to [count, bytes]."""
    by_index = {layer.index: layer for layer in layers}
    found: list[Finding] = []
    for (by_layer, from_layer, how), (count, nbytes) in hidden.items():
        if nbytes < max(min_bytes, 1) or by_layer == from_layer:
            continue
        verb = "overwrites" if how == "overwritten" else "deletes"
        found.append(Finding(
            "overwritten-later" if how == "overwritten" else "deleted-later", by_layer, nbytes,
            f"{layer_name(by_index, by_layer)} {verb} {human_size(nbytes)} ({count} files) that "
            f"layer {from_layer} added: the bytes still ship in layer {from_layer}; "
            f"remove them in the step that creates them"))
    for layer in layers:
        if layer.imported:
            continue                  # rule a: the base image's caches are context
        for kind, nbytes in sorted(layer.caches.items()):
            if nbytes >= max(min_bytes, 1):
                advice = "clean it in the same RUN" if layer.kind == "RUN" else \
                    "keep it out of the build context (.dockerignore) or copy only what the app needs"
                found.append(Finding("cache-left", layer.index, nbytes,
                                     f"{kind} left in {layer_name(by_index, layer.index)}: "
                                     f"{human_size(nbytes)}; {advice}"))
    if len(layers) > 1 and size:
        for layer in layers:
            if layer.imported:
                continue
            share = layer.size_bytes / size
            if share >= big_layer_ratio and layer.size_bytes >= min_bytes:
                found.append(Finding("big-layer", layer.index, layer.size_bytes,
                                     f"{layer_name(by_index, layer.index)} is {share:.0%} of the image "
                                     f"({human_size(layer.size_bytes)})"))
    for duplicate in duplicates:
        if duplicate.wasted_bytes >= max(min_bytes, 1):
            found.append(Finding("duplicates", None, duplicate.wasted_bytes,
                                 f"{len(duplicate.paths)} identical copies of {human_size(duplicate.size_bytes)}"
                                 f" ({', '.join(duplicate.paths[:3])}{', ...' if len(duplicate.paths) > 3 else ''})"
                                 f" waste {human_size(duplicate.wasted_bytes)}"))
    found.sort(key=lambda f: (-f.bytes, f.layer if f.layer is not None else -1, f.id))
    return tuple(found)


def layer_name(by_index: Mapping[int, LayerReport], index: int) -> str:
    layer = by_index.get(index)
    text = layer.created_by if layer else ""
    return f"layer {index} ({shorten(text, 60)})" if text else f"layer {index}"
