"""The one module that talks to the Docker SDK.

Everything slimmer creates (containers, images, volumes) carries the label
`slimmer.session=<session id>`, is registered in the adapter's ledger and is
removed by `cleanup()`, also after a failure or Ctrl-C.
"""
from __future__ import annotations

import functools
import io
import os
import re
import tarfile
import threading
import time
import uuid
from typing import BinaryIO, Callable, Iterable, Iterator

import docker
import docker.errors
import requests

from . import imagefs
from .errors import BadInput, DaemonFailed, DockerUnavailable, SlimError
from .events import BuildStep
from .model import RunSpec

SESSION_LABEL = "slimmer.session"

# docker/distribution reference grammar, simplified: [host[:port]/]name[:tag][@digest]
_REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def check_reference(reference: str) -> str:
    """Return the reference unchanged, or raise BadInput when it cannot be an image."""
    if re.fullmatch(r"(sha256:)?[0-9a-f]{12,64}", reference):
        return reference
    if not reference or not _REFERENCE.match(reference):
        raise BadInput(
            "malformed image reference", repr(reference),
            "use NAME[:TAG] or an image id, e.g. myapp:1.0 (lowercase name)")
    return reference


class StreamReader(io.RawIOBase):
    """A file-like object over an iterator of byte chunks (docker save, get_archive).

    With prefetch, a thread pulls chunks from the daemon while the caller parses
    the previous ones (the socket read releases the GIL), so `docker save` and
    tar parsing overlap instead of taking turns; at most `prefetch` chunks wait.

    close() ends the HTTP stream (on_close) and the prefetch thread: a reader that
    stops early (an error, Ctrl-C) must not leave the daemon writing into a
    connection nobody reads, holding the container or image busy for minutes.
    """

    def __init__(self, chunks: Iterable[bytes], prefetch: int = 0, on_close: Callable[[], None] | None = None):
        self._stop = threading.Event()
        self._on_close = on_close
        self._chunks = iter(chunks) if not prefetch else self._prefetched(chunks, prefetch)
        self._buffer = memoryview(b"")

    def _prefetched(self, chunks: Iterable[bytes], depth: int) -> Iterator[bytes]:
        import queue
        pending: queue.Queue = queue.Queue(maxsize=depth)
        done = object()

        def hand_over(item) -> bool:
            while not self._stop.is_set():
                try:
                    pending.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def pump():
            try:
                for chunk in chunks:
                    if not hand_over(chunk):
                        return
                hand_over(done)
            except BaseException as exc:  # handed to the reader, raised there
                hand_over(exc)

        threading.Thread(target=pump, daemon=True, name="slimmer-stream").start()
        while True:
            item = pending.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            if self._on_close is not None:
                try:
                    self._on_close()
                except Exception:  # already gone: nothing more to end
                    pass
        super().close()


class ClosingTarFile(tarfile.TarFile):
    """A streamed tar whose close() also ends the HTTP stream it reads (StreamReader)."""

    source: BinaryIO | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.source is not None:
                self.source.close()


def _stream(api, url: str, params: dict | None = None):
    """A streamed GET whose response the caller can close: (response, chunk iterator)."""
    response = api._get(url, params=params, stream=True)
    api._raise_for_status(response)
    return response, response.iter_content(1 << 20, False)


def _translate_errors(cls):
    """docker-py's own choke point, here: every public method of the adapter raises
    slimmer's errors only. Method bodies translate what they expect (not found,
    API errors with a value); anything else from the SDK or the transport becomes
    DaemonFailed here, so no SDK exception ever leaves this module."""
    def wrap(method):
        @functools.wraps(method)
        def translated(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except SlimError:
                raise
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise DaemonFailed("the Docker daemon failed during the run", str(exc).splitlines()[0][:300] if str(exc)
                                   else type(exc).__name__,
                                   "retry; if it happens again, check the daemon's log (journalctl -u docker)") from exc
        return translated

    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("_") and not isinstance(member, type):
            setattr(cls, name, wrap(member))
    return cls


@_translate_errors
class Docker:
    """A Docker client with a ledger of what this session created."""

    def __init__(self, client: docker.DockerClient | None = None):
        self.session = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._containers: list[str] = []
        self._images: list[str] = []
        self._volumes: list[str] = []
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        """The SDK client, connected (and the daemon pinged) on first use."""
        if self._client is None:
            try:
                client = docker.from_env(timeout=300)
                client.ping()
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise _unavailable(exc) from exc
            self._client = client
        return self._client

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    @property
    def labels(self) -> dict[str, str]:
        """This session's label, plus SLIMMER_LABELS="k=v,k2=v2" from the environment (a CI
        job or a test suite marks everything its runs create, to find it and only it)."""
        extra = dict(item.split("=", 1) for item in os.environ.get("SLIMMER_LABELS", "").split(",") if "=" in item)
        return dict(extra, **{SESSION_LABEL: self.session})

    def is_local(self) -> bool:
        """True when the daemon runs on this host (unix socket), so /proc is shared."""
        return self.api.base_url.startswith("http+docker://localhost") or \
            self.api.base_url.startswith("http+unix://")

    # --- images ---------------------------------------------------------------

    def inspect_image(self, reference: str) -> dict:
        check_reference(reference)
        try:
            return self.api.inspect_image(reference)
        except docker.errors.ImageNotFound as exc:
            raise BadInput(
                "image not found", reference,
                f"build or pull it first (docker pull {reference}); list local images with docker images") from exc
        except docker.errors.APIError as exc:
            raise _api_error("inspecting the image", reference, exc) from exc

    def image_size(self, image_id: str) -> int:
        """The image's content size (imagefs.content_size, docs/BUILD.md): the same on every
        image store. Free when this process has read the image's layers, else one
        `docker save` read for its tar headers. Never the API's Size (compressed on the
        containerd store, disk usage on overlay2)."""
        raw = self.inspect_image(image_id)
        size = imagefs.known_content_size((raw.get("RootFS") or {}).get("Layers") or ())
        if size is None:
            with self.export_image(raw["Id"]) as stream:
                size = imagefs.saved_content_size(stream)
        return size

    def image_history(self, image_id: str) -> list[dict]:
        try:
            return self.api.history(image_id)
        except docker.errors.APIError as exc:
            raise _api_error("reading the image history", image_id, exc) from exc

    def export_image(self, image_id: str) -> BinaryIO:
        """`docker save` of one image as a readable stream (a tar of layer tars)."""
        try:
            response, chunks = _stream(self.api, self.api._url("/images/{0}/get", image_id))
        except docker.errors.APIError as exc:
            raise _api_error("exporting the image", image_id, exc) from exc
        return io.BufferedReader(StreamReader(chunks, prefetch=16, on_close=response.close), buffer_size=1 << 20)

    def load_image(self, archive: Iterable[bytes]) -> list[str]:
        """`docker load` of a docker-save archive streamed from ARCHIVE's chunks; what the
        daemon says it loaded ("Loaded image: app:1", "Loaded image ID: sha256:...")."""
        loaded: list[str] = []
        try:
            for message in self.api.load_image(archive):
                if isinstance(message, dict) and (message.get("error") or message.get("errorDetail")):
                    detail = message.get("error") or (message.get("errorDetail") or {}).get("message")
                    raise SlimError("Docker refused to load the slim image", str(detail).strip()[:300],
                                    "check the daemon log; SLIMMER_BUILD=builder uses the builder instead")
                text = (message.get("stream") or "") if isinstance(message, dict) else ""
                for line in text.splitlines():
                    for prefix in ("Loaded image: ", "Loaded image ID: "):
                        if line.startswith(prefix):
                            loaded.append(line[len(prefix):].strip())
        except docker.errors.APIError as exc:
            raise _api_error("loading the slim image", "docker load", exc) from exc
        return loaded

    def remove_image(self, image_id: str) -> None:
        try:
            self.api.remove_image(image_id, force=False, noprune=False)
        except docker.errors.NotFound:
            pass

    def track_image(self, image_id: str) -> None:
        """Remove IMAGE_ID (an id or a tag) at cleanup unless untracked before."""
        with self._lock:
            if image_id not in self._images:
                self._images.append(image_id)

    def tag_image(self, image_id: str, tag: str) -> None:
        repository, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
        try:
            self.api.tag(image_id, repository, version, force=True)
        except docker.errors.APIError as exc:
            raise _api_error("tagging the slim image", tag, exc) from exc

    def untrack_image(self, image_id: str) -> None:
        with self._lock:
            if image_id in self._images:
                self._images.remove(image_id)

    # --- containers -------------------------------------------------------------

    def create_container(self, image: str, *, command=None, entrypoint=None, user=None,
                         run: RunSpec | None = None, ports: Iterable[int] = (),
                         name_hint: str = "run", extra_labels: dict | None = None,
                         stop_signal: str | None = None) -> str:
        """Create (not start) a container of IMAGE with this session's label. RUN is the
        user's run context (see docs/RUN-CONTEXT.md): env, workdir, extra hosts, mounts,
        and networks: the first one at create time, the others connected before the
        start, each with the aliases (user-defined networks only take aliases)."""
        run = run or RunSpec()
        port_bindings = {f"{port}/tcp": ("127.0.0.1", None) for port in ports}
        binds, anonymous, tmpfs = _mount_options(run.mounts)
        networks = list(run.networks)
        host_config = self.api.create_host_config(
            port_bindings=port_bindings or None, network_mode=networks[0] if networks else None,
            extra_hosts=[f"{name}:{address}" for name, address in run.hosts] or None,
            binds=binds or None, tmpfs=tmpfs or None)
        networking_config = self.api.create_networking_config(
            {networks[0]: self._endpoint(networks[0], run)}) if networks else None
        labels = dict(self.labels, **(extra_labels or {}))
        try:
            created = self.api.create_container(
                image, command=command, entrypoint=entrypoint, user=user or "",
                environment=[f"{k}={v}" for k, v in run.env] or None, working_dir=run.workdir or None,
                ports=[f"{p}/tcp" for p in ports] or None, host_config=host_config,
                volumes=anonymous or None, networking_config=networking_config,
                labels=labels, name=f"slimmer-{self.session}-{name_hint}-{uuid.uuid4().hex[:6]}",
                stop_signal=stop_signal or None, detach=True)
        except docker.errors.ImageNotFound as exc:
            raise BadInput("image not found", image, "build or pull it first") from exc
        except docker.errors.APIError as exc:
            raise _api_error("creating a container", image, exc) from exc
        container_id = created["Id"]
        with self._lock:
            self._containers.append(container_id)
        for network in networks[1:]:
            try:
                self.api.connect_container_to_network(
                    container_id, network, aliases=self._endpoint(network, run).get("Aliases"))
            except docker.errors.APIError as exc:
                raise _api_error("connecting the container to a network", network, exc) from exc
        return container_id

    def _endpoint(self, network: str, run: RunSpec) -> dict:
        aliases = list(run.network_aliases) if network not in _DEFAULT_NETWORKS else []
        return self.api.create_endpoint_config(aliases=aliases) if aliases else {}

    # --- networks and volumes ------------------------------------------------------

    def network_exists(self, name: str) -> bool:
        try:
            self.api.inspect_network(name)
            return True
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            raise _api_error("looking up a network", name, exc) from exc

    def volume_exists(self, name: str) -> bool:
        try:
            self.api.inspect_volume(name)
            return True
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            raise _api_error("looking up a volume", name, exc) from exc

    def create_volume(self, name: str) -> None:
        """A named volume for this run (labelled, in the ledger): removed by remove_volumes()."""
        try:
            self.api.create_volume(name, labels=self.labels)
        except docker.errors.APIError as exc:
            raise _api_error("creating a volume", name, exc) from exc
        with self._lock:
            self._volumes.append(name)

    def remove_volumes(self) -> int:
        """Remove the volumes create_volume() made (their containers must be gone)."""
        with self._lock:
            volumes, self._volumes = list(self._volumes), []
        removed = 0
        for name in volumes:
            try:
                self.api.remove_volume(name, force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                with self._lock:
                    self._volumes.append(name)    # still in use: the next call retries
        return removed

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        try:
            self.api.put_archive(container_id, path, tar_bytes)
        except docker.errors.APIError as exc:
            raise _api_error("copying files into the container", path, exc) from exc

    def get_archive(self, container_id: str, path: str) -> tarfile.TarFile | None:
        """The tar of PATH in the container (streamed), or None when PATH does not exist."""
        try:
            response, chunks = _stream(self.api, self.api._url("/containers/{0}/archive", container_id),
                                       {"path": path})
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise _api_error("copying files out of the container", path, exc) from exc
        stream = io.BufferedReader(StreamReader(chunks, on_close=response.close), buffer_size=1 << 20)
        archive = ClosingTarFile.open(fileobj=stream, mode="r|")
        archive.source = stream
        return archive

    def start(self, container_id: str) -> None:
        try:
            self.api.start(container_id)
        except docker.errors.APIError as exc:
            raise _api_error("starting the container", container_id[:12], exc) from exc

    def inspect_container(self, container_id: str) -> dict:
        return self.api.inspect_container(container_id)

    def host_port(self, container_id: str, port: int) -> int | None:
        info = self.inspect_container(container_id)
        bindings = (info.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in bindings.get(f"{port}/tcp") or ():
            if binding.get("HostPort"):
                return int(binding["HostPort"])
        return None

    def container_ip(self, container_id: str) -> str | None:
        info = self.inspect_container(container_id)
        return ((info.get("NetworkSettings") or {}).get("IPAddress")) or None

    def container_pid(self, container_id: str) -> int:
        return int(self.inspect_container(container_id)["State"].get("Pid") or 0)

    def is_running(self, container_id: str) -> bool:
        return bool(self.inspect_container(container_id)["State"].get("Running"))

    def exit_code(self, container_id: str) -> int | None:
        state = self.inspect_container(container_id)["State"]
        return None if state.get("Running") else int(state.get("ExitCode", 0))

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        try:
            return int(self.api.wait(container_id, timeout=timeout)["StatusCode"])
        except requests.exceptions.ReadTimeout as exc:
            raise TimeoutError(f"container {container_id[:12]} still running after {timeout}s") from exc

    def kill(self, container_id: str, signal: str | int) -> None:
        try:
            self.api.kill(container_id, signal=signal)
        except docker.errors.APIError:
            pass   # already stopped

    def stop(self, container_id: str, timeout: int = 10) -> None:
        try:
            self.api.stop(container_id, timeout=timeout)
        except docker.errors.APIError:
            pass

    def logs(self, container_id: str, tail: int | str = "all") -> str:
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=tail)
        except docker.errors.APIError:
            return ""
        return raw.decode("utf-8", "replace")

    def stdout(self, container_id: str) -> bytes:
        """Everything the container wrote to stdout (a batch app's output)."""
        try:
            return self.api.logs(container_id, stdout=True, stderr=False)
        except docker.errors.APIError:
            return b""

    def exec_run(self, container_id: str, argv: list[str], user: str | None = None,
                 environment: dict | None = None, workdir: str | None = None) -> tuple[int, bytes]:
        try:
            exec_id = self.api.exec_create(container_id, argv, user=user or "",
                                           environment=environment, workdir=workdir)
            output = self.api.exec_start(exec_id)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            raise _api_error("running a command in the container", " ".join(argv), exc) from exc
        return (int(code) if code is not None else -1), output

    def remove_container(self, container_id: str) -> None:
        try:
            self.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            pass
        with self._lock:
            if container_id in self._containers:
                self._containers.remove(container_id)

    def file_reader(self, image_id: str) -> "ImageFileReader":
        return ImageFileReader(self, image_id)

    # --- build -------------------------------------------------------------------

    def build(self, context_dir: str, tag: str, on_step: Callable[[BuildStep], None] | None = None) -> str:
        """docker build of CONTEXT_DIR/Dockerfile (legacy builder); returns the image id.

        Intermediate images of this build are removed afterwards; the cache is not
        used so that removing them never touches another build's images. The
        builder's "Step N/M : INSTRUCTION" lines reach ON_STEP as BuildStep events.
        """
        image_id = None
        intermediate: list[str] = []
        after_from = False
        try:
            for event in self.api.build(path=context_dir, tag=tag, rm=True, forcerm=True,
                                        nocache=True, decode=True, labels=None):
                if "stream" in event:
                    line = event["stream"]
                    step = re.match(r"Step (\d+)/(\d+) : ((\w+).*)", line.strip())
                    if step:
                        after_from = step.group(4).upper() == "FROM"
                        if on_step:
                            on_step(BuildStep(int(step.group(1)), int(step.group(2)), step.group(3)))
                    match = re.match(r"\s*---> ([0-9a-f]{12})\s*$", line)
                    # The id printed after a FROM step is an existing image (the original!)
                    if match and not after_from:
                        intermediate.append(match.group(1))
                if "aux" in event and "ID" in event["aux"]:
                    image_id = event["aux"]["ID"]
                if "error" in event:
                    raise SlimError("docker build of the generated Dockerfile failed",
                                    event["error"].strip(),
                                    f"rebuild by hand to see more: docker build {context_dir}")
        except docker.errors.APIError as exc:
            raise _api_error("building the slim image", context_dir, exc) from exc
        finally:
            self._intermediate_images = intermediate
        if image_id is None:
            image_id = self.api.inspect_image(tag)["Id"]
        return image_id

    def remove_intermediate(self, keep: Iterable[str]) -> None:
        """Remove the images a build left behind, except KEEP (ids or prefixes)."""
        keep = [k.replace("sha256:", "") for k in keep]
        for short_id in reversed(getattr(self, "_intermediate_images", [])):
            if any(k.startswith(short_id) for k in keep):
                continue
            try:
                if self.api.inspect_image(short_id).get("RepoTags"):
                    continue   # a tagged image is never ours to remove
                self.api.remove_image(short_id, force=False, noprune=False)
            except docker.errors.APIError:
                pass   # a parent of the slim image, or already gone

    # --- cleanup -------------------------------------------------------------------

    def cleanup(self, settle_s: float = 0.0) -> dict:
        """Remove what this session created: the ledger, and every container carrying
        this session's label (a signal can land between the daemon creating a
        container and the ledger hearing of it). SETTLE_S (after an interrupt): look
        for the label again once that long has passed, for a create request that was
        still in flight; a removal the daemon refused (busy) is tried again then too.
        Returns what was removed: {"containers": N, "images": N}."""
        with self._lock:
            containers, self._containers = list(self._containers), []
            images, self._images = list(self._images), []
        removed = {"containers": 0, "images": 0}
        if self._client is None and not containers and not images:
            return removed             # never connected: nothing can exist
        refused = self._remove_containers(containers + self._labelled(), removed)
        if settle_s > 0:
            time.sleep(settle_s)
            self._remove_containers(refused + [c for c in self._labelled() if c not in refused], removed)
        for image_id in images:
            try:
                self.api.remove_image(image_id, force=True)
                removed["images"] += 1
            except docker.errors.APIError:
                pass
        return removed

    def _labelled(self) -> list[str]:
        try:
            return [c["Id"] for c in self.api.containers(all=True, filters={"label": f"{SESSION_LABEL}={self.session}"})]
        except docker.errors.APIError:
            return []

    def _remove_containers(self, containers: Iterable[str], removed: dict) -> list[str]:
        refused = []
        for container_id in dict.fromkeys(containers):
            try:
                self.api.remove_container(container_id, force=True, v=True)
                removed["containers"] += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                refused.append(container_id)
        return refused


_DEFAULT_NETWORKS = {"bridge", "default"}


def _mount_options(mounts) -> tuple[list[str], list[str], dict[str, str]]:
    """RunSpec mounts as docker run would pass them: binds ("SRC:DST:MODE", host paths
    and named volumes; a missing host directory is created, as with -v), anonymous
    volumes (container paths) and tmpfs mounts ({DST: OPTIONS})."""
    binds: list[str] = []
    anonymous: list[str] = []
    tmpfs: dict[str, str] = {}
    for mount in mounts:
        if mount.kind == "tmpfs":
            options = [option for option in mount.options.split(",") if option]
            if mount.read_only and "ro" not in options:
                options.append("ro")
            tmpfs[mount.target] = ",".join(options)
        elif mount.source:
            binds.append(f"{mount.source}:{mount.target}:{'ro' if mount.read_only else 'rw'}")
        else:
            anonymous.append(mount.target)
    return binds, anonymous, tmpfs


def _unavailable(exc: Exception) -> DockerUnavailable:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return DockerUnavailable(
            "permission denied on the Docker socket", text.splitlines()[0][:300],
            "run as root, add your user to the docker group, or set DOCKER_HOST")
    return DockerUnavailable(
        "cannot reach the Docker daemon", text.splitlines()[0][:300] if text else type(exc).__name__,
        "is the Docker daemon running? start dockerd or set DOCKER_HOST")


def _api_error(doing: str, value: object, exc: docker.errors.APIError) -> SlimError:
    explanation = getattr(exc, "explanation", None) or str(exc)
    return SlimError(f"Docker failed while {doing}", f"{value}: {explanation}",
                     "check the daemon log (journalctl -u docker) and retry")


def chunks_of(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block


class ImageFileReader:
    """Reads single files of an image through a created, never started container.

    The container is the pristine image (nothing ran in it); it is created on
    the first read and removed by close() (or the session's cleanup).
    """

    MAX_BYTES = 16 << 20

    def __init__(self, docker: Docker, image_id: str):
        self.docker = docker
        self.image_id = image_id
        self.container_id: str | None = None

    def __call__(self, path: str) -> bytes | None:
        if self.container_id is None:
            self.container_id = self.docker.create_container(
                self.image_id, entrypoint=["/nonexistent"], command=[], name_hint="read")
        archive = self.docker.get_archive(self.container_id, path)
        if archive is None:
            return None
        try:
            for member in archive:
                if member.isfile() and member.size <= self.MAX_BYTES:
                    return archive.extractfile(member).read()
                return None
            return None
        finally:
            archive.close()

    def close(self) -> None:
        if self.container_id is not None:
            self.docker.remove_container(self.container_id)
            self.container_id = None
