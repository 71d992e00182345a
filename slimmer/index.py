"""Stage: index. Every file of the image, merged across its layers (slimmer.imagefs), read
while the app is traced (a thread: Indexer), from the first of:

  1. the layer cache (~/.cache/slimmer), when it holds every layer and the config: no read;
  2. Docker's layer store (slimmer/layerstore.py), when the daemon is on this host
     and its overlay2 store is readable (root): the image assembled as `docker save`
     would give it, each layer's sha256 checked against its diff_id, without the daemon's
     save (which writes the whole image to a temporary directory before sending it: 2.8 s
     instead of 6.7 s for postgres here);
  3. `docker save`, whenever 2 cannot be used or fails on the way (StoreUnusable).

SLIMMER_READ=save skips 2 (the tests compare both ways).
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace

from . import imagefs
from .layerstore import StoreUnusable, locate_image, saved_image_stream, store_root
from .dockerport import DockerPort
from .errors import SlimError
from .model import EntryType

READ_ENV = "SLIMMER_READ"      # "auto" (default) or "save"


def stored_image(docker: DockerPort, image):
    """IMAGE in Docker's layer store (layerstore.StoredImage), or None: SLIMMER_READ=save, or
    the store cannot be read (StoreUnusable)."""
    if os.environ.get(READ_ENV, "auto").strip().lower() == "save":
        return None
    try:
        root, driver = store_root(docker, image.id)
        return locate_image(root, image.id, driver)
    except StoreUnusable:
        return None


def read_index(docker: DockerPort, image) -> imagefs.IndexRead:
    """The index of IMAGE (an inspect.ImageInfo), the first way that works (module docstring)."""
    digests = [layer.digest for layer in image.layers]
    cache = imagefs.default_cache()
    stored = stored_image(docker, image)
    if stored is not None:
        try:
            read = imagefs.index_image_cached(digests, lambda: saved_image_stream(stored, image.repo_tags),
                                              cache, image_id=image.id)
            return replace(read, source="layer store") if read.save_read else read
        except StoreUnusable:
            pass                       # a layer changed or went missing on the way: docker save
    return imagefs.index_image_cached(digests, lambda: docker.export_image(image.id), cache, image_id=image.id)


class Indexer:
    """read_index on a thread, started at once: the image is read while the app is traced."""

    def __init__(self, docker: DockerPort, image, timer):
        self.box: dict = {}
        self.thread = threading.Thread(target=self._run, args=(docker, image, timer), daemon=True,
                                       name="slimmer-index")
        self.thread.start()

    def _run(self, docker: DockerPort, image, timer) -> None:
        try:
            with timer.stage("index"):
                self.box["read"] = read_index(docker, image)
        except SlimError as exc:
            self.box["error"] = exc
        except Exception as exc:  # surfaced in the main thread with what failed
            self.box["error"] = SlimError("reading the image's layers failed", f"{type(exc).__name__}: {exc}",
                                          "rerun with --debug and report it")

    def result(self) -> imagefs.IndexRead:
        self.thread.join()
        if "error" in self.box:
            raise self.box["error"]
        return self.box["read"]


class StoreFileReader:
    """A file of the image read straight from the layer that last wrote it, in Docker's layer
    store (the keep stage's on-demand reads: otherwise one container archive request each,
    0.1-0.6 s); FALLBACK (docker_api's ImageFileReader) for what the store cannot give: a
    path the index does not hold as a file, or a file whose size is not the index's."""

    MAX_BYTES = 16 << 20

    def __init__(self, stored, index, fallback):
        self.diff_dirs = [layer.diff_dir for layer in stored.layers]
        self.index = index
        self.fallback = fallback

    def __call__(self, path: str) -> bytes | None:
        entry = self.index.get(path)
        if entry is None or entry.size > self.MAX_BYTES:
            return self.fallback(path)
        # a hardlink's name is a name of the same file in its layer's directory
        if entry.type not in (EntryType.FILE, EntryType.HARDLINK) or not 0 <= entry.layer < len(self.diff_dirs):
            return self.fallback(path)
        try:
            with open(os.path.join(self.diff_dirs[entry.layer], path.lstrip("/")), "rb") as handle:
                data = handle.read(self.MAX_BYTES + 1)
        except OSError:
            return self.fallback(path)
        return data if len(data) == entry.size else self.fallback(path)

    def close(self) -> None:
        self.fallback.close()


def file_reader(docker: DockerPort, image, index):
    """What the keep stage reads files of IMAGE with: from the layer store when it is
    readable (StoreFileReader), else through a container (docker.file_reader)."""
    fallback = docker.file_reader(image.id)
    stored = stored_image(docker, image)
    return fallback if stored is None else StoreFileReader(stored, index, fallback)
