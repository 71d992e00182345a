"""Reading an image for xray: its layers' tar headers, then the content of the few files that need it.

  1. an image reference is inspected (config, labels, and each layer's
     instruction from `docker history`), then read from Docker's layer store
     (store.py: the tar-split of each layer, its files in the driver's diff
     directory) when that is readable here, else its `docker save` streamed once
     into a temporary file (layout.py's spool); `docker-archive:FILE.tar`,
     `oci-archive:FILE.tar`, `oci:DIR[:REF]` and an OCI layout DIR are read in
     place, no Docker needed; each layer's instruction then comes from the
     config history, read by slimmer.history.instruction;
  2. every layer is scanned by its tar headers (scan.py): file bytes are read
     only to hash the files whose sizes collide (analyse's duplicates);
  3. without exactly one instruction per layer, every layer's is "".
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import BinaryIO

from ..errors import BadInput
from ..history import instruction
from ..imagefs import SavedImage, read_saved_image
from ..model import ImageInfo
from .analyse import analyse
from .layout import (ARCHIVE_PREFIX, OCI_ARCHIVE_PREFIX, OCI_PREFIX, ImageLayout, from_oci_dir, from_tar,
                     needs_docker, open_archive, spool, split_oci_reference)
from .report import XrayReport
from .scan import HashStats, ScannedLayer, hash_files, scan_layer
from ..layerstore import StoreUnusable, store_root
from .store import store_layout

BASE_LABEL = "org.opencontainers.image.base.name"


def read_image(stream: BinaryIO, *, duplicates: bool = True) -> SavedImage:
    """A `docker save` stream read by slimmer.imagefs (content hashes of every file when DUPLICATES);
    the tests' way in, and the reference the header scan is compared with."""
    return read_saved_image(stream, hashes=duplicates, elf=False)


def layer_instructions(saved: SavedImage, info: ImageInfo | None = None) -> list[str]:
    """The instruction that made each layer: ImageInfo's when known, else the config history's."""
    if info is not None and len(info.layers) == len(saved.layers) and any(l.created_by for l in info.layers):
        return [layer.created_by for layer in info.layers]
    made_layer = [instruction(h.get("created_by") or "") for h in saved.history() if not h.get("empty_layer")]
    if len(made_layer) != len(saved.layers):
        return [""] * len(saved.layers)
    return made_layer


READ_WAYS = ("auto", "store", "save")
READ_STORE, READ_SAVE = "layer store", "docker save"     # XrayReport.read of an image of the daemon


def xray_image(docker, reference: str, *, duplicates: bool = True, read: str = "auto") -> XrayReport:
    """The xray report of REFERENCE (docker: a docker_api.Docker; None is enough for the forms
    read without Docker: docker-archive:FILE.tar, oci:DIR[:REF], oci-archive:FILE.tar, an OCI DIR).

    An image of the daemon is inspected, then read (READ) from Docker's layer store
    ("store", store.py), or its `docker save` streamed once into the spool ("save");
    "auto": the store when it can be read, else docker save. The report says which."""
    if not needs_docker(reference):
        return xray_file(reference, duplicates=duplicates)
    if read not in READ_WAYS:
        raise BadInput("unknown way to read the image", read, f"pick one of {', '.join(READ_WAYS)}")
    from ..inspect import inspect_image
    info = inspect_image(docker, reference, content_size=False)   # the layers read below give the sizes
    if read != "save":
        try:
            return _from_store(docker, info, reference, duplicates)
        except StoreUnusable:
            if read == "store":
                raise
    return _from_save(docker, info, reference, duplicates)


def _from_store(docker, info: ImageInfo, reference: str, duplicates: bool) -> XrayReport:
    """REFERENCE read from the layer store; StoreUnusable when it cannot be (layerstore.py, rule 4)."""
    root, driver = store_root(docker, info.id)
    layout = store_layout(root, info.id, info.repo_tags, driver)
    return _daemon_report(docker, info, layout, reference, duplicates, READ_STORE)


def _from_save(docker, info: ImageInfo, reference: str, duplicates: bool) -> XrayReport:
    """REFERENCE's `docker save` streamed once into the spool, then read from there."""
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(docker.export_image(info.id))
        layout = from_tar(spool(stream, stack), f"docker save {reference}", "")
        return _daemon_report(docker, info, layout, reference, duplicates, READ_SAVE)


def _daemon_report(docker, info: ImageInfo, layout: ImageLayout, reference: str, duplicates: bool,
                   read: str) -> XrayReport:
    from ..inspect import with_config_history
    # the config's empty_layer flags pair the history with the layers
    info = with_config_history(docker, info, (layout.config or {}).get("history"))
    report = _analysed(layout, reference, duplicates, info=info, image_id=info.id,
                       base_image=dict(info.config.labels).get(BASE_LABEL, ""))
    return replace(report, read=read)


def xray_file(reference: str, *, duplicates: bool = True) -> XrayReport:
    """docker-archive:FILE.tar, oci-archive:FILE.tar, oci:DIR[:REF] or an OCI layout DIR: no Docker."""
    with contextlib.ExitStack() as stack:
        if reference.startswith((ARCHIVE_PREFIX, OCI_ARCHIVE_PREFIX)):
            prefix = ARCHIVE_PREFIX if reference.startswith(ARCHIVE_PREFIX) else OCI_ARCHIVE_PREFIX
            path = reference[len(prefix):]
            if not path:
                raise BadInput(f"{prefix} needs a path", reference,
                               "pass a file written by docker save IMAGE -o FILE.tar, e.g. "
                               "slim xray docker-archive:app.tar")
            layout = from_tar(open_archive(path, stack, reference), path)
        else:
            text = reference[len(OCI_PREFIX):] if reference.startswith(OCI_PREFIX) else reference
            directory, ref = split_oci_reference(text)
            layout = from_oci_dir(directory, ref, stack)
        labels = (layout.config.get("config") or {}).get("Labels") or {}
        return _analysed(layout, reference, duplicates, image_id=layout.image_id,
                         base_image=labels.get(BASE_LABEL, ""))


def xray_archive(path: str, *, duplicates: bool = True, reference: str | None = None) -> XrayReport:
    """The xray report of a `docker save` archive (plain or gzip-compressed) at PATH."""
    report = xray_file(ARCHIVE_PREFIX + path, duplicates=duplicates)
    return report if reference is None else replace(report, image=reference)


def _analysed(layout: ImageLayout, reference: str, duplicates: bool, *, info: ImageInfo | None = None,
              image_id: str, base_image: str) -> XrayReport:
    """Scan each layer's headers as the analysis merges it (its entries freed after), then hash
    only the files whose sizes collide."""
    digests = list((layout.config.get("rootfs") or {}).get("diff_ids") or [])
    scanned: dict[int, ScannedLayer] = {}

    def layers():
        for index, blob in enumerate(layout.layers):
            layer = scan_layer(blob, index, digests[index] if index < len(digests) else "")
            scanned[index] = replace(layer, files=None)          # what hashing needs: the blob
            yield layer.files
    headers = SavedImage(config=layout.config, config_name=layout.config_name, repo_tags=layout.repo_tags,
                         layers=tuple(layout.layers))             # layer_instructions counts them
    stats = HashStats()
    hasher = (lambda wanted: hash_files(scanned, wanted, stats)) if duplicates else None
    report = analyse(layers(), layer_instructions(headers, info), image=reference, image_id=image_id,
                     base_image=base_image, content_hashes=hasher)
    return replace(report, hashed_files=stats.files, hashed_bytes=stats.bytes)
