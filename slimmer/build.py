"""Stage: build. The slim image from exactly the generated artifacts directory.

Two ways give the same image (docs/BUILD.md has the measurements and the decision):

load (the default): no builder at all.
  1. the collect step of the Dockerfile runs as one container of the original
     image, by ID, as user 0, no network, with the sensor copied in through the
     API; it runs `sensor collect - -`, which reads keep.list on its stdin and
     writes the same entries the Dockerfile's collect step copies as one tar stream
     on its stdout (nothing is written inside the container: on overlay2 every
     created file costs the daemon's filesystem about a millisecond). The pipeline
     starts this container while the keep stage runs (prestart_collect), so the
     daemon's container start (about 0.3 s) is not the build's (slimmer/collect.py);
     and, where it cannot change the result (early_layer), feeds it each path as
     the keeper keeps it, so the layer is collected and applied during the keep
     stage and the build only completes it (slimmer/early.py);
  2. that stream is read from the attached container (log driver none, no
     HEALTHCHECK) and passes through block by block (slimmer/layertar.py) into the
     slim image's single layer tar, with generated/ laid over it the way
     `COPY generated/ /` does (owner root, the artifacts' modes), its sha256 (the
     diff_id) and content size computed on the way; the tar streams straight into
     `docker import`, so the daemon applies the layer while it is collected;
  3. a `docker load` of the config alone (manifest.json and image-config.json with
     that diff_id) tags the image TAG: the daemon finds the imported layer by its
     chain ID and reads no layer bytes; the imported image is removed (its layer
     stays, held by TAG). A daemon that does not reuse the layer gets it spooled
     (in memory up to 64 MB) and loaded whole;
  4. the collect container is removed while the image loads, also on failure or
     Ctrl-C (it is in the adapter's ledger from its creation: the session's
     cleanup removes it too).
builder: `docker build` of the artifacts directory with the legacy builder (no
  cache; its intermediate images are removed). Used when SLIMMER_BUILD=builder,
  and as the fallback when the daemon refuses a step of the load way.

reuse: the inputs of a build (the original's ID, keep.list, generated/, the image
  config, the sensor) have a digest, build_key; the layer cache records which image a
  build from those inputs made. A second build from the same inputs, while that image
  still exists, tags it and builds nothing: the image ID is the digest of its config,
  which names its layer's digest, so an image of that ID is exactly what was built.
  Such an image may carry the user's tag of an earlier run: BuiltImage.reused says it
  must never be removed by ID.

The Dockerfile stays the reproducible artifact: `docker build ARTIFACTS_DIR`
(legacy builder or BuildKit) gives an image with the same files and config
(tests/integration/test_dockerfile_build.py).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import tarfile
import tempfile
from typing import BinaryIO, Iterator

from .dockerfile import GENERATED_DIR, SLIM_CONFIG_NAME
from .dockerport import DockerPort
from .errors import DaemonFailed, SlimError
from .events import BuildStep, Emit, Note, ignore
from .collect import CollectContainer, PrestartedCollect, Refused
from .early import EARLY_ENV, EarlyLayer
from .layertar import LayerTar, batched, write_layer
from .model import Artifacts, BuiltImage

BUILD_ENV = "SLIMMER_BUILD"          # "load" (default) or "builder"
_CHUNK = 1 << 20
_SPOOL_IN_MEMORY = 64 << 20          # a layer tar up to this size never touches the disk


def build_slim_image(docker: DockerPort, artifacts: Artifacts, tag: str, emit: Emit = ignore,
                     cache=None, reuse: bool = True, collect: "PrestartedCollect | None" = None,
                     early: "EarlyLayer | None" = None) -> BuiltImage:
    """Build the slim image from ARTIFACTS and tag it TAG (see the module docstring). With
    CACHE (an imagefs.LayerCache) the build is recorded there, and with REUSE the image an
    earlier build from the same inputs made is tagged instead, when it still exists.
    COLLECT: the collect container started ahead (prestart_collect); EARLY: the layer
    started during the keep stage from it (early_layer). The caller discards both when the
    build did not take them."""
    way = build_way()
    key = build_key(artifacts) if cache is not None else None
    if key is not None and reuse:
        reused = reuse_built_image(docker, cache, key, tag, emit)
        if reused is not None:
            return reused
    built = None
    if way == "load":
        try:
            built = load_slim_image(docker, artifacts, tag, emit, None if early else collect, early)
        except Refused as refused:
            emit(Note("build", f"the daemon refused the builder-less build ({refused.reason}); "
                               "building with docker build instead"))
    built = built or build_with_builder(docker, artifacts, tag, emit)
    if key is not None:
        cache.put_built_image(key, {"id": built.id, "size_bytes": built.size_bytes})
        cache.put_built_image(_original_key(artifacts), {"id": built.id})
    return built


def early_layer(docker: DockerPort, collect: "PrestartedCollect | None", original_id: str, excludes: bool,
                cache=None, reuse: bool = True) -> "EarlyLayer | None":
    """The layer started while the keep stage runs (slimmer/early.py), where it cannot
    change the result: the load way (COLLECT started), no --exclude-path (EXCLUDES), and,
    with REUSE, no image left of CACHE's last build of the same original (a build from
    the same inputs would reuse it: the early layer would be applied for nothing)."""
    if collect is None or excludes or os.environ.get(EARLY_ENV, "on").strip().lower() in ("0", "off", "no"):
        return None
    if reuse and cache is not None:
        last = (cache.built_image(_original_key_of(original_id)) or {}).get("id")
        if isinstance(last, str) and last.startswith("sha256:"):
            try:
                if docker.inspect_image(last)["Id"] == last:
                    return None
            except SlimError:
                pass                   # removed since
    return EarlyLayer(docker, collect)


def _original_key(artifacts: Artifacts) -> str:
    with open(os.path.join(artifacts.directory, SLIM_CONFIG_NAME), encoding="utf-8") as handle:
        return _original_key_of(json.load(handle)["original"]["id"])


def _original_key_of(original_id: str) -> str:
    """The layer cache's key of the last build of the original ORIGINAL_ID."""
    return "sha256:" + hashlib.sha256(b"slimmer last build of\0" + original_id.encode("ascii", "replace")).hexdigest()


# --- reuse ------------------------------------------------------------------------------

_KEY_VERSION = b"slimmer build inputs 1\0"


def build_key(artifacts: Artifacts) -> str:
    """The digest of everything the build reads: image-config.json (the original's ID and
    config), keep.list, the sensor that collects, and generated/ (paths, modes, bytes)."""
    digest = hashlib.sha256(_KEY_VERSION)

    def add(name: str, path: str) -> None:
        info = os.lstat(path)
        digest.update(f"{name}\0{info.st_mode:o}\0".encode("utf-8", "surrogateescape"))
        if os.path.islink(path):
            digest.update(os.readlink(path).encode("utf-8", "surrogateescape"))
        elif os.path.isfile(path):
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(_CHUNK), b""):
                    digest.update(block)
        digest.update(b"\0")

    add("image-config.json", os.path.join(artifacts.directory, SLIM_CONFIG_NAME))
    add("keep.list", artifacts.keep_list)
    add("sensor", artifacts.sensor)
    generated = os.path.join(artifacts.directory, GENERATED_DIR)
    for root, dirs, files in os.walk(generated):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            add(os.path.relpath(path, generated), path)
    return "sha256:" + digest.hexdigest()


def reuse_built_image(docker: DockerPort, cache, key: str, tag: str, emit: Emit) -> BuiltImage | None:
    """The image an earlier build from inputs KEY made, tagged TAG, when it still exists."""
    record = cache.built_image(key)
    image_id = (record or {}).get("id")
    if not isinstance(image_id, str) or not image_id.startswith("sha256:"):
        return None
    try:
        found = docker.inspect_image(image_id)["Id"]
    except SlimError:
        return None                    # removed since: build it again
    if found != image_id:
        return None
    emit(BuildStep(1, 1, f"reuse {image_id[:19]}: built earlier from the same inputs "
                         f"(original, keep list, config, sensor)"))
    docker.tag_image(image_id, tag)
    return BuiltImage(tag=tag, id=image_id, size_bytes=int(record.get("size_bytes") or docker.image_size(image_id)),
                      reused=True)


def build_with_builder(docker: DockerPort, artifacts: Artifacts, tag: str, emit: Emit = ignore) -> BuiltImage:
    """`docker build` of the artifacts directory (legacy builder).

    1. the build uses no cache, so its intermediate images are its own;
    2. the collect stage's image (the original plus a copy of the kept files)
       is removed afterwards; the slim image is the only thing left behind;
    3. each builder step reaches EMIT as a BuildStep event.
    """
    check_original(docker, artifacts)
    image_id = ""
    try:
        image_id = docker.build(artifacts.directory, tag, on_step=lambda step: emit(step))
    finally:
        docker.remove_intermediate(keep=[image_id] if image_id else [])
    return BuiltImage(tag=tag, id=image_id, size_bytes=docker.image_size(image_id))


def check_original(docker: DockerPort, artifacts: Artifacts) -> None:
    """The Dockerfile's FROM name must still be the image that was slimmed (its ID is pinned
    in image-config.json and in the Dockerfile's comment): a tag moved since would make the
    builder collect from another image."""
    path = os.path.join(artifacts.directory, SLIM_CONFIG_NAME)
    if not os.path.isfile(path):
        return                      # an artifacts directory from before image-config.json
    with open(path, encoding="utf-8") as handle:
        original = json.load(handle)["original"]
    if original["from"] == original["id"]:
        return
    now = docker.inspect_image(original["from"])["Id"]
    if now != original["id"]:
        raise SlimError("the Dockerfile's original now names another image",
                        f"{original['from']} is {now}, was {original['id']} when slimmed",
                        f"tag it back (docker tag {original['id']} {original['from']}) or run slim build again")


# --- the load way -------------------------------------------------------------------

def load_slim_image(docker: DockerPort, artifacts: Artifacts, tag: str, emit: Emit = ignore,
                    prestarted: "PrestartedCollect | None" = None, early: "EarlyLayer | None" = None) -> BuiltImage:
    """The slim image without a builder: streamed (the default), or spooled where the daemon
    does not reuse an imported layer for a config-only `docker load` (see _load_streamed).
    PRESTARTED: the collect container started ahead, used by the streamed way; EARLY: the
    layer started during the keep stage, finished here when it is usable."""
    with open(os.path.join(artifacts.directory, SLIM_CONFIG_NAME), encoding="utf-8") as handle:
        slim_config = json.load(handle)
    try:
        return _load_streamed(docker, artifacts, slim_config, tag, emit, prestarted, early)
    except _LayerNotReused as refused:
        emit(Note("build", f"the daemon did not reuse the imported layer ({refused}); loading it whole"))
    return _load_spooled(docker, artifacts, slim_config, tag, emit)


class _LayerNotReused(Exception):
    """A config-only docker load was refused (an image store that wants every layer's bytes)."""


def _load_streamed(docker: DockerPort, artifacts: Artifacts, slim_config: dict, tag: str,
                   emit: Emit, prestarted: "PrestartedCollect | None" = None,
                   early: "EarlyLayer | None" = None) -> BuiltImage:
    """1. the collect container's tar streams through the layer filter straight into
          `docker import` (no spool: the daemon applies the layer while it is collected);
          with EARLY that import began during the keep stage and is completed here;
       2. a `docker load` of the config alone (manifest.json and the config naming the
          imported layer's diff_id) gives the slim image its config and TAG: the daemon
          finds the layer by its chain ID and reads no layer bytes;
       3. the imported image (the layer under a default config) is removed; the layer
          stays, held by the slim image."""
    original_id = slim_config["original"]["id"]
    generated_dir = os.path.join(artifacts.directory, GENERATED_DIR)
    taken = early.finish(artifacts.keep_list, generated_dir) if early is not None else None
    if taken is not None:
        emit(BuildStep(1, 2, f"complete the layer collected from a container of {original_id[:19]} "
                             f"since the keep stage began"))
        started, layer, run_import = taken
    else:
        if early is not None:
            emit(Note("build", "the layer started during the keep stage was not usable; collecting it now"))
        emit(BuildStep(1, 2, f"collect the kept files from a container of {original_id[:19]} into a layer"))
        layer = LayerTar(generated_dir)
        started = prestarted.take() if prestarted is not None else None
        run_import = None
    with started or CollectContainer(docker, original_id, artifacts.sensor) as collect:
        if run_import is None:
            collect.feed(artifacts)
            run_import = lambda: docker.import_layer(batched(layer.blocks(collect.output)))  # noqa: E731
        try:
            imported = run_import()
        except DaemonFailed:
            raise
        except SlimError as exc:
            collect.check_exit()         # a failed collect step explains a broken stream best
            if layer.failed is exc:
                raise                    # the stream, not the daemon
            raise Refused(f"docker import: {exc.value}") from exc
        try:
            collect.check_exit()
            emit(BuildStep(2, 2, f"docker load {tag} (the config; the layer is in place)"))
            diff_id = docker.inspect_image(imported)["RootFS"]["Layers"][0]
            try:
                loaded = docker.load_image(save_archive(image_config(slim_config, diff_id), None, tag))
            except DaemonFailed:
                raise
            except SlimError as exc:
                raise _LayerNotReused(str(exc.value)) from exc
        finally:
            docker.remove_image(imported)
            docker.untrack_image(imported)
    return _loaded(docker, tag, loaded, layer.content_bytes)


def _load_spooled(docker: DockerPort, artifacts: Artifacts, slim_config: dict, tag: str,
                  emit: Emit) -> BuiltImage:
    """The layer spooled (in memory up to 64 MB), then one `docker load` with its bytes."""
    original_id = slim_config["original"]["id"]
    emit(BuildStep(1, 2, f"collect the kept files from a container of {original_id[:19]}"))
    layer = LayerTar(os.path.join(artifacts.directory, GENERATED_DIR))
    with _spool() as spool:
        with CollectContainer(docker, original_id, artifacts.sensor) as collect:
            collect.feed(artifacts)
            try:
                for block in layer.blocks(collect.output):
                    spool.write(block)
            except SlimError:
                collect.check_exit()
                raise
            collect.check_exit()
        emit(BuildStep(2, 2, f"docker load {tag}"))
        try:
            loaded = docker.load_image(save_archive(image_config(slim_config, layer.diff_id), spool, tag))
        except DaemonFailed:
            raise
        except SlimError as exc:
            raise Refused(f"docker load: {exc.value}") from exc
    return _loaded(docker, tag, loaded, layer.content_bytes)


def _loaded(docker: DockerPort, tag: str, loaded: list[str], content_bytes: int) -> BuiltImage:
    image_id = docker.inspect_image(tag)["Id"]
    if tag not in loaded and image_id not in loaded:
        raise SlimError("docker load did not load the slim image", f"{tag}: daemon said {loaded}",
                        "check the daemon log; SLIMMER_BUILD=builder uses the builder instead")
    return BuiltImage(tag=tag, id=image_id, size_bytes=content_bytes)


def build_way() -> str:
    """"load" (the default) or "builder", as SLIMMER_BUILD says."""
    way = os.environ.get(BUILD_ENV, "load").strip().lower() or "load"
    if way not in ("load", "builder"):
        raise SlimError(f"unknown {BUILD_ENV} value", way, f"set {BUILD_ENV}=load (the default) or builder")
    return way


def prestart_collect(docker: DockerPort, original_id: str, sensor_path: str) -> PrestartedCollect | None:
    """The collect container of the load way, started now; None for the builder way."""
    if build_way() != "load":
        return None
    return PrestartedCollect(docker, original_id, sensor_path)


def _spool() -> BinaryIO:
    """Where the layer tar waits for its size and digest (docker load needs both first)."""
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)


# --- the image -----------------------------------------------------------------------

def image_config(slim_config: dict, diff_id: str) -> dict:
    """The slim image's config JSON: image-config.json's, with the layer and a history entry."""
    original = slim_config["original"]
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "architecture": slim_config["architecture"], "os": slim_config["os"], "created": created,
        "config": slim_config["config"],
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": (
            f"COPY --from=collect /.slimmer/root/ / # slimmer {slim_config['slimmer_version']}: "
            f"the kept files of {original['reference']} ({original['id']})"),
            "comment": "slimmer: collected and loaded without a builder"}],
    }


def save_archive(config: dict, layer: BinaryIO | None, tag: str) -> Iterator[bytes]:
    """A docker-save archive (Docker's own format: manifest.json, <hex>.json, <hex>/layer.tar)
    of one image, as chunks for `docker load`. LAYER None: the layer is left out (the
    daemon has it already, found by its chain ID)."""
    config_bytes = json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_dir = config["rootfs"]["diff_ids"][0][len("sha256:"):]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag],
                            "Layers": [f"{layer_dir}/layer.tar"]}]).encode("utf-8")
    yield from _member(config_name, config_bytes)
    if layer is not None:
        layer.seek(0, os.SEEK_END)
        layer_size = layer.tell()
        layer.seek(0)
        yield from _member(f"{layer_dir}/layer.tar", layer_size, layer)
    yield from _member("manifest.json", manifest)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _member(name: str, data: bytes | int, stream: BinaryIO | None = None) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.size = data if isinstance(data, int) else len(data)
    info.mode = 0o644
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    if stream is None:
        yield data
    else:
        remaining = info.size
        while remaining:
            block = stream.read(min(_CHUNK, remaining))
            if not block:
                raise SlimError("the slim layer's spool file ended early", name, "report it")
            remaining -= len(block)
            yield block
    padding = -info.size % tarfile.BLOCKSIZE
    if padding:
        yield b"\0" * padding


__all__ = ["build_slim_image", "build_with_builder", "load_slim_image", "write_layer", "BuildStep"]
