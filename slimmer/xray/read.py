"""Reading an image for xray: one streaming pass over its `docker save`, and one call for the CLI and lint.

  1. an image reference is inspected (config, labels, and each layer's
     instruction from `docker history`) and its `docker save` streamed once; that
     one pass gives every layer's files, sizes and content hashes;
  2. `docker-archive:FILE.tar` (plain or gzip-compressed) is read from the file,
     no Docker needed; each layer's instruction comes from the archive's config
     history, read by slimmer.history.instruction;
  3. without exactly one instruction per layer, every layer's is "".
"""
from __future__ import annotations

import os
import re
from typing import BinaryIO

from ..errors import BadInput
from ..history import instruction
from ..imagefs import SavedImage, read_saved_image
from ..model import ImageInfo
from .analyse import analyse
from .report import XrayReport

ARCHIVE_PREFIX = "docker-archive:"
BASE_LABEL = "org.opencontainers.image.base.name"


def read_image(stream: BinaryIO, *, duplicates: bool = True) -> SavedImage:
    """One streaming pass over a `docker save` stream, with content hashes when DUPLICATES."""
    return read_saved_image(stream, hashes=duplicates, elf=False)


def layer_instructions(saved: SavedImage, info: ImageInfo | None = None) -> list[str]:
    """The instruction that made each layer: ImageInfo's when known, else the config history's."""
    if info is not None and len(info.layers) == len(saved.layers) and any(l.created_by for l in info.layers):
        return [layer.created_by for layer in info.layers]
    made_layer = [instruction(h.get("created_by") or "") for h in saved.history() if not h.get("empty_layer")]
    if len(made_layer) != len(saved.layers):
        return [""] * len(saved.layers)
    return made_layer


def xray_image(docker, reference: str, *, duplicates: bool = True) -> XrayReport:
    """Inspect REFERENCE, stream its `docker save` once and analyse it (docker: a docker_api.Docker).

    A `docker-archive:FILE.tar` reference is read from the file: no Docker needed."""
    if reference.startswith(ARCHIVE_PREFIX):
        return xray_archive(reference[len(ARCHIVE_PREFIX):], duplicates=duplicates, reference=reference)
    from ..inspect import inspect_image
    info = inspect_image(docker, reference, content_size=False)   # the one docker save below gives the sizes
    with docker.export_image(info.id) as stream:
        saved = read_image(stream, duplicates=duplicates)
    return analyse(saved.layers, layer_instructions(saved, info), image=reference, image_id=info.id,
                   base_image=dict(info.config.labels).get(BASE_LABEL, ""))


def xray_archive(path: str, *, duplicates: bool = True, reference: str | None = None) -> XrayReport:
    """The xray report of a `docker save` archive (plain or gzip-compressed) at PATH."""
    import gzip
    hint = "pass a file written by docker save IMAGE -o FILE.tar, e.g. slim xray docker-archive:app.tar"
    if not path:
        raise BadInput("docker-archive: needs a path", reference, hint)
    try:
        handle = open(path, "rb", buffering=1 << 20)
    except OSError as exc:
        raise BadInput("cannot read the image archive", f"{path}: {exc.strerror}", hint) from exc
    with handle:
        stream = gzip.GzipFile(fileobj=handle) if handle.peek(2)[:2] == b"\x1f\x8b" else handle
        saved = read_image(stream, duplicates=duplicates)
    config_hex = os.path.basename(saved.config_name).removesuffix(".json")
    image_id = f"sha256:{config_hex}" if re.fullmatch(r"[0-9a-f]{64}", config_hex) else ""
    labels = (saved.config.get("config") or {}).get("Labels") or {}
    return analyse(saved.layers, layer_instructions(saved), image=reference or ARCHIVE_PREFIX + path,
                   image_id=image_id, base_image=labels.get(BASE_LABEL, ""))
