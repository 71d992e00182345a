"""Stage: build. The slim image from exactly the generated artifacts directory.

Two ways give the same image (docs/BUILD.md has the measurements and the decision):

load (the default): no builder at all.
  1. the collect step of the Dockerfile runs as one container of the original
     image, by ID (`sensor collect keep.list /.slimmer/root` as user 0, no
     network), with the sensor and keep.list copied in through the API;
  2. the collected tree streams out (`get_archive`) and is rewritten on the fly
     into the slim image's single layer tar, with generated/ laid over it the
     way `COPY generated/ /` does (owner root, the artifacts' modes); the tar
     is spooled to an unnamed temporary file while its sha256 (the diff_id) and
     content size are computed;
  3. a docker-save archive (manifest.json, the config from image-config.json
     with that diff_id, the layer) streams into `docker load` under TAG;
  4. the collect container is removed, also on failure or Ctrl-C (and it is in
     the adapter's ledger from its creation: the session's cleanup removes it too).
builder: `docker build` of the artifacts directory with the legacy builder (no
  cache; its intermediate images are removed). Used when SLIMMER_BUILD=builder,
  and as the fallback when the daemon refuses a step of the load way.

The Dockerfile stays the reproducible artifact: `docker build ARTIFACTS_DIR`
(legacy builder or BuildKit) gives an image with the same files and config
(tests/integration/test_dockerfile_build.py).
"""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import posixpath
import tarfile
import tempfile
import threading
from typing import BinaryIO, Iterator

from . import sensor as sensor_stage
from .dockerfile import GENERATED_DIR, SLIM_CONFIG_NAME
from .dockerport import DockerPort
from .errors import DaemonFailed, SlimError
from .events import BuildStep, Emit, Note, ignore
from .model import Artifacts, BuiltImage, RunSpec

BUILD_ENV = "SLIMMER_BUILD"          # "load" (default) or "builder"
COLLECT_ROOT = "/.slimmer/root"
COLLECT_TIMEOUT_S = 1800
_CHUNK = 1 << 20
_SPOOL_IN_MEMORY = 64 << 20          # a layer tar up to this size never touches the disk


def build_slim_image(docker: DockerPort, artifacts: Artifacts, tag: str, emit: Emit = ignore) -> BuiltImage:
    """Build the slim image from ARTIFACTS and tag it TAG (see the module docstring)."""
    way = os.environ.get(BUILD_ENV, "load").strip().lower() or "load"
    if way not in ("load", "builder"):
        raise SlimError(f"unknown {BUILD_ENV} value", way, f"set {BUILD_ENV}=load (the default) or builder")
    if way == "load":
        try:
            return load_slim_image(docker, artifacts, tag, emit)
        except Refused as refused:
            emit(Note("build", f"the daemon refused the builder-less build ({refused.reason}); "
                               "building with docker build instead"))
    return build_with_builder(docker, artifacts, tag, emit)


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


class Refused(Exception):
    """The daemon refused a step of the load way (an API error, not a failing collect)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- the load way -------------------------------------------------------------------

def load_slim_image(docker: DockerPort, artifacts: Artifacts, tag: str, emit: Emit = ignore) -> BuiltImage:
    with open(os.path.join(artifacts.directory, SLIM_CONFIG_NAME), encoding="utf-8") as handle:
        slim_config = json.load(handle)
    original_id = slim_config["original"]["id"]
    emit(BuildStep(1, 3, f"collect the kept files in a container of {original_id[:19]}"))
    container = _collect(docker, original_id, artifacts)
    removal = threading.Thread(target=docker.remove_container, args=(container,), name="slimmer-collect-rm")
    try:
        emit(BuildStep(2, 3, "stream the collected files into the slim layer"))
        with _spool() as layer:
            collected = _archive(docker, container)
            try:
                diff_id, content_bytes = write_layer(collected, layer,
                                                     os.path.join(artifacts.directory, GENERATED_DIR))
            finally:
                collected.close()     # also when interrupted (a tar's `with` does not close then): see _archive
            removal.start()          # the collected files are out: the container goes while the image loads
            emit(BuildStep(3, 3, f"docker load {tag}"))
            config = image_config(slim_config, diff_id)
            try:
                loaded = docker.load_image(save_archive(config, layer, tag))
            except DaemonFailed:
                raise
            except SlimError as exc:
                raise Refused(f"docker load: {exc.value}") from exc
    finally:
        if removal.ident is not None:
            removal.join()
        else:
            docker.remove_container(container)
    image_id = docker.inspect_image(tag)["Id"]
    if tag not in loaded and image_id not in loaded:
        raise SlimError("docker load did not load the slim image", f"{tag}: daemon said {loaded}",
                        "check the daemon log; SLIMMER_BUILD=builder uses the builder instead")
    return BuiltImage(tag=tag, id=image_id, size_bytes=content_bytes)


def _collect(docker: DockerPort, original_id: str, artifacts: Artifacts) -> str:
    """The Dockerfile's collect stage as a container; returns it (stopped, collected)."""
    try:
        container = docker.create_container(
            original_id, entrypoint=[sensor_stage.SENSOR_IN_CONTAINER],
            command=["collect", "/.slimmer/keep.list", COLLECT_ROOT], user="0:0",
            run=RunSpec(networks=("none",)), name_hint="collect")
    except DaemonFailed:
        raise
    except SlimError as exc:
        raise Refused(f"creating the collect container: {exc.value}") from exc
    try:
        docker.put_archive(container, "/", _inputs_tar(artifacts))
        docker.start(container)
        code = docker.wait(container, timeout=COLLECT_TIMEOUT_S)
        if code != 0:
            raise SlimError("the collect step failed in a container of the original",
                            f"sensor collect exited {code}: {docker.logs(container, tail=20).strip()[-1500:]}",
                            f"rebuild by hand to see more: docker build {artifacts.directory}")
    except BaseException:
        docker.remove_container(container)
        raise
    return container


def _inputs_tar(artifacts: Artifacts) -> bytes:
    """/.slimmer/{sensor,keep.list}, as `COPY sensor keep.list /.slimmer/` puts them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(".slimmer")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        for source in (artifacts.sensor, artifacts.keep_list):
            info = tar.gettarinfo(source, arcname=".slimmer/" + os.path.basename(source))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(source, "rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def _archive(docker: DockerPort, container: str) -> tarfile.TarFile:
    """The collected tree as a tar stream. Close it before removing the container: the
    daemon holds a container whose archive is still being sent, and its removal waits."""
    try:
        archive = docker.get_archive(container, COLLECT_ROOT)
    except DaemonFailed:
        raise
    except SlimError as exc:
        raise Refused(f"copying the collected files out: {exc.value}") from exc
    if archive is None:
        raise SlimError("the collect step left no files", COLLECT_ROOT,
                        "report it: sensor collect always creates its destination")
    return archive


# --- the layer tar ------------------------------------------------------------------

class _HashingWriter(io.RawIOBase):
    def __init__(self, target: BinaryIO):
        self.target = target
        self.sha256 = hashlib.sha256()
        self.position = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def write(self, data) -> int:
        self.sha256.update(data)
        self.target.write(data)
        self.position += len(data)
        return len(data)


def write_layer(collected: tarfile.TarFile, out: BinaryIO, generated_dir: str) -> tuple[str, int]:
    """The slim layer tar from the collected tree: (diff_id, content size).

    1. members are renamed from "root/PATH" to "PATH" (hardlink targets too); the
       root directory itself is not an entry, as in a layer COPY makes;
    2. everything else of a member is kept: mode (setuid too), owner, mtime,
       PAX records (extended attributes such as file capabilities);
    3. generated files replace collected ones at the same path, and the
       directories above them get generated/'s metadata (owner root), the way
       `COPY generated/ /` lays them over the collected root.
    """
    generated = _generated_entries(generated_dir)
    writer = _HashingWriter(out)
    content = 0
    with tarfile.open(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for member in collected:
            name = _strip_root(member.name)
            if name is None:
                continue
            if name in generated:
                info, _ = generated[name]
                if info.isdir() and member.isdir():
                    layer.addfile(generated.pop(name)[0])   # in place: its children follow
                continue                                    # a generated file: written below
            member.name = name
            if member.islnk():
                member.linkname = _strip_root(member.linkname) or member.linkname
            member.pax_headers = {key: value for key, value in member.pax_headers.items()
                                  if key not in ("path", "linkpath")}
            if member.isreg():
                content += member.size
                layer.addfile(member, collected.extractfile(member))
            else:
                layer.addfile(member)
        for name in sorted(generated):
            info, source = generated[name]
            if info.isreg():
                content += info.size
                with open(source, "rb") as handle:
                    layer.addfile(info, handle)
            else:
                layer.addfile(info)
    out.flush()
    return "sha256:" + writer.sha256.hexdigest(), content


def _strip_root(name: str) -> str | None:
    """"root/usr/bin" -> "usr/bin"; the root directory itself -> None."""
    path = posixpath.normpath(name.lstrip("/"))
    head, _, rest = path.partition("/")
    if head != posixpath.basename(COLLECT_ROOT) or not rest:
        return None
    return rest


def _generated_entries(directory: str) -> dict[str, tuple[tarfile.TarInfo, str]]:
    """Layer entries for generated/ (name -> (TarInfo, source path)): owner root, modes and
    mtimes from the artifacts directory, as COPY gives them."""
    entries: dict[str, tuple[tarfile.TarInfo, str]] = {}
    if not os.path.isdir(directory):
        return entries
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            source = os.path.join(root, name)
            relative = os.path.relpath(source, directory)
            info = tarfile.TarInfo(relative)
            stat = os.lstat(source)
            info.mode = stat.st_mode & 0o7777
            info.mtime = int(stat.st_mtime)
            info.uid = info.gid = 0
            if os.path.isdir(source):
                info.type = tarfile.DIRTYPE
            else:
                info.size = stat.st_size
            entries[relative] = (info, source)
    return entries


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


def save_archive(config: dict, layer: BinaryIO, tag: str) -> Iterator[bytes]:
    """A docker-save archive (Docker's own format: manifest.json, <hex>.json, <hex>/layer.tar)
    of one image, as chunks for `docker load`."""
    config_bytes = json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_dir = config["rootfs"]["diff_ids"][0][len("sha256:"):]
    layer.seek(0, os.SEEK_END)
    layer_size = layer.tell()
    layer.seek(0)
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag],
                            "Layers": [f"{layer_dir}/layer.tar"]}]).encode("utf-8")
    yield from _member(config_name, config_bytes)
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


__all__ = ["build_slim_image", "build_with_builder", "load_slim_image", "BuildStep"]
