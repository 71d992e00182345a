"""`slim lint --image`: xray's byte evidence on the findings, for every rule whose bytes xray can see.

  1. the final stage's RUN/COPY/ADD made the image's top layers, in order; a finding about
     one of them is about that layer (the image must have at least as many layers);
  2. what is measured, per rule:
       cache-not-removed      the cache bytes this layer wrote for the finding's package manager
                              (apt lists and archives, pip, npm, yarn, apk, yum/dnf), whether or not
                              a later layer deletes them: they ship in this layer
       apt-update-alone       the apt lists this layer wrote
       remove-in-later-layer  the bytes of earlier layers this cleanup hides: still shipped
       consecutive-runs       a cleanup RUN: as remove-in-later-layer; otherwise the layer's bytes
       copy-before-install    the bytes the COPY brought in, and the bytes of the install layer that
                              every code change rebuilds
       toolchain-final-stage  the base image's bytes (the layers below the final stage's own)
       unpinned-from, untrusted-registry   the base image's bytes
       any other rule about a layer-making instruction: the bytes of its layer;
  3. a finding gets `bytes` and `layer` (the layer measured; None for base-image bytes) and
     its message ends with the figure in brackets.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

from ..textfmt import human_size
from .layers import INSTALLERS
from .parse import LAYER_MAKING, final_stage, parse_dockerfile
from .rule import Finding

if TYPE_CHECKING:
    from ..xray import LayerReport, XrayReport

# the cache kinds (slimmer.xray.CACHE_KINDS) of each package manager's finding, by hadolint code
CACHE_KINDS_BY_CODE = {"DL3009": ("apt lists", "apt archives"), "DL3042": ("pip cache",),
                       "DL3060": ("yarn cache",), "DL3019": ("apk cache",), "DL3032": ("dnf/yum cache",),
                       "DL3040": ("dnf/yum cache",)}
_BASE_RULES = ("toolchain-final-stage", "unpinned-from", "untrusted-registry")


def written_cache_bytes(layer: LayerReport, kinds: Sequence[str]) -> int:
    """Bytes of the cache KINDS this layer wrote (added or modified paths)."""
    from ..xray import cache_kind
    return sum(c.bytes for c in layer.changes if c.change != "removed" and cache_kind(c.path) in kinds)


def attach_image_figures(findings: Sequence[Finding], text: str, report: XrayReport) -> list[Finding]:
    """FINDINGS with xray's bytes from REPORT (the image TEXT builds); see the module docstring."""
    instructions = parse_dockerfile(text)
    if not instructions:
        return list(findings)
    final = final_stage(instructions)
    makers = [i for i in instructions if i.stage == final and i.keyword in LAYER_MAKING]
    layers = list(report.layers)[-len(makers):] if makers and len(makers) <= len(report.layers) else []
    layer_of = {instruction.line: layer for instruction, layer in zip(makers, layers)}
    base_layers = list(report.layers)[:len(report.layers) - len(layers)] if layers or not makers else []
    base_bytes = sum(layer.size_bytes for layer in base_layers)
    final_from = next((i.line for i in instructions if i.keyword == "FROM" and i.stage == final), None)
    attached = []
    for finding in findings:
        layer = layer_of.get(finding.anchor)
        if finding.id in _BASE_RULES and finding.anchor == final_from and base_layers:
            figure = (None, base_bytes, f"the base image's {len(base_layers)} layer"
                                        f"{'s' if len(base_layers) != 1 else ''}: {human_size(base_bytes)} of "
                                        f"the image's {human_size(report.size_bytes)}")
        elif layer is None:
            attached.append(finding)
            continue
        else:
            figure = _layer_figure(finding, layer, layer_of, makers)
        index, nbytes, what = figure
        attached.append(replace(finding, bytes=nbytes, layer=index, message=f"{finding.message} [{what}]"))
    return attached


def _layer_figure(finding: Finding, layer: LayerReport, layer_of, makers) -> tuple[int, int, str]:
    where = f"layer {layer.index}"
    if finding.id == "cache-not-removed":
        kinds = CACHE_KINDS_BY_CODE.get(finding.code or "", ("npm cache",))
        nbytes = written_cache_bytes(layer, kinds)
        return layer.index, nbytes, f"{where}: {human_size(nbytes)} of {' and '.join(kinds)} shipped in it"
    if finding.id == "apt-update-alone":
        nbytes = written_cache_bytes(layer, ("apt lists",))
        return layer.index, nbytes, f"{where}: {human_size(nbytes)} of apt lists"
    if finding.id == "remove-in-later-layer" or (finding.id == "consecutive-runs" and layer.deleted.bytes):
        nbytes = layer.deleted.bytes
        return layer.index, nbytes, (f"{where}: this cleanup in a later layer still ships {human_size(nbytes)} "
                                     f"({layer.deleted.count} files) in earlier layers")
    if finding.id == "copy-before-install":
        install = next((i for i in makers if i.line > finding.anchor and i.keyword == "RUN"
                        and INSTALLERS.search(i.command)), None)
        rebuilt = layer_of.get(install.line) if install is not None else None
        tail = (f"; the install's layer {rebuilt.index}, {human_size(rebuilt.size_bytes)}, is rebuilt on every "
                f"code change" if rebuilt is not None else "")
        return layer.index, layer.size_bytes, (f"{where}: {human_size(layer.size_bytes)} copied from the build "
                                               f"context{tail}")
    return layer.index, layer.size_bytes, f"{where}: {human_size(layer.size_bytes)} in this layer"
