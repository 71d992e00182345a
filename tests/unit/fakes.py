"""An in-memory Docker for unit tests of the orchestration (slimmer.dockerport.DockerPort).

FakeDocker holds one original image (layers made with tests/unit/imagetar.py) and
one batch app: a function from the files present in the container's image to
(exit code, stdout, paths the app touches). Containers of the original see every
file of the image; containers of a slim image see only the paths of the keep.list
the build read, so a keep set that misses a file changes what the app does, as in
a real slim image. Traced containers return a sensor log (format v1) of the
touched paths; `ledger` says what is still alive, so tests can assert cleanup.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from dataclasses import dataclass, field
from typing import Callable

from slimmer import sensor
from slimmer.errors import BadInput, DaemonFailed, SlimError
from tests.unit import imagetar

class _Output(io.RawIOBase):
    """A collect container's stdout: blocks until the keep list is complete (as the sensor
    would while its stdin is open), then yields the tar; close() ends a waiting read."""

    stderr = b""

    def __init__(self):
        super().__init__()
        self._data = io.BytesIO()
        self._ready = threading.Event()

    def publish(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self._ready.set()

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        self._ready.wait()
        data = self._data.read(len(target))
        target[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._ready.set()
        super().close()

    def interrupt(self) -> None:
        self.close()


App = Callable[[set[str]], tuple[int, bytes, list[str]]]   # present paths -> (exit, stdout, touched)


@dataclass
class _Container:
    image: str
    traced: bool
    argv: list[str]
    env: list[str]
    started: bool = False
    result: tuple[int, bytes, list[str]] | None = None
    collect: bool = False                 # build.py's collect container: copies the keep.list
    keep: set[str] = field(default_factory=set)


@dataclass
class FakeDocker:
    layers: list
    created_by: list[str]
    config: dict
    app: App
    reference: str = "demo/app:1.0"
    session: str = "fakesession1"
    fail_on: str | None = None            # a method name that raises DaemonFailed (mid-run daemon failure)
    containers: dict[str, _Container] = field(default_factory=dict)
    created: list[_Container] = field(default_factory=list)      # every container ever created
    images: dict[str, set[str]] = field(default_factory=dict)   # slim image id -> paths it holds
    tracked: list[str] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    builds: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, str] = field(default_factory=dict)   # tag docker load gave -> image id
    imported: dict[str, tuple[str, set[str]]] = field(default_factory=dict)   # id -> (diff_id, paths)
    reuses_layers: bool = True            # False: a config-only docker load is refused (needs the layer's bytes)
    refuse: str | None = None             # a method the daemon refuses with an API error (a SlimError)
    collect_failure: tuple[int, bytes] | None = None    # the collect step's (exit code, stderr) when it fails

    def __post_init__(self):
        self.archive = imagetar.save_archive(self.layers, created_by=self.created_by)
        self.image_id = "sha256:" + "a" * 64
        self.files: dict[str, bytes] = {}
        for layer in self.layers:
            for item in layer:
                name = "/" + item.info.name.lstrip("/")
                if item.info.isfile():
                    self.files[name] = item.data
        self.original_paths = {"/" + i.info.name.strip("/") for layer in self.layers for i in layer}

    def _check(self, method: str) -> None:
        if self.fail_on == method:
            raise DaemonFailed("the Docker daemon failed during the run", "connection reset by peer",
                               "retry; if it happens again, check the daemon's log (journalctl -u docker)")

    # --- images ---------------------------------------------------------------

    def inspect_image(self, reference: str) -> dict:
        self._check("inspect_image")
        if reference in self.loaded:
            return {"Id": self.loaded[reference], "RepoTags": [reference]}
        if reference in self.images:             # a slim image, by ID
            return {"Id": reference, "RepoTags": [t for t, i in {**self.loaded, **self.tags}.items() if i == reference]}
        if reference in self.imported:
            return {"Id": reference, "RepoTags": [], "RootFS": {"Type": "layers",
                                                                "Layers": [self.imported[reference][0]]}}
        if reference not in (self.reference, self.image_id):
            raise BadInput("image not found", reference, "build or pull it first")
        diff_ids = [f"sha256:{i:064x}" for i in range(1, len(self.layers) + 1)]
        return {"Id": self.image_id, "RepoTags": [self.reference], "Size": len(self.archive),
                "Os": "linux", "Architecture": "amd64", "Config": self.config,
                "RootFS": {"Type": "layers", "Layers": diff_ids}}

    def image_history(self, image_id: str) -> list[dict]:
        return [{"CreatedBy": text, "Size": 1} for text in reversed(self.created_by)]

    def image_size(self, image_id: str) -> int:
        """The content size (docs/BUILD.md): the bytes of the regular files the image holds."""
        return sum(len(self.files.get(path, b"")) for path in self.images[image_id])

    def export_image(self, image_id: str):
        return io.BytesIO(self.archive)

    def file_reader(self, image_id: str):
        files = self.files

        class Reader:
            def __call__(self, path: str) -> bytes | None:
                return files.get(path)

            def close(self) -> None:
                pass
        return Reader()

    def build(self, context_dir: str, tag: str, on_step=None) -> str:
        self._check("build")
        self.builds += 1
        with open(os.path.join(context_dir, "keep.list"), encoding="utf-8") as handle:
            kept = {sensor.unescape_path(line) for line in handle.read().split("\n") if line}
        image_id = f"sha256:{self.builds:064x}"
        self.images[image_id] = kept
        if on_step:
            from slimmer.events import BuildStep
            on_step(BuildStep(1, 1, "FROM scratch"))
        return image_id

    def import_layer(self, layer) -> str:
        """docker import of the layer build.py streams: an untagged image of its paths."""
        self._check("build")          # building the slim image, whichever way
        if self.refuse == "import_layer":
            raise SlimError("Docker failed while importing the slim layer", "docker import: not supported",
                            "check the daemon log (journalctl -u docker) and retry")
        data = b"".join(layer)
        diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
        image_id = f"sha256:{len(self.imported) + 1:064x}".replace("sha256:0", "sha256:e", 1)
        self.imported[image_id] = (diff_id, self._layer_paths(data))
        self.track_image(image_id)
        return image_id

    @staticmethod
    def _layer_paths(data: bytes) -> set[str]:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as layer:
            return {"/" + member.name.strip("/") for member in layer}

    def load_image(self, archive) -> list[str]:
        """docker load of the archive build.py streams: the slim image holds its layer's paths
        (a config-only archive: the imported layer with that diff_id, as Docker 20.10 does)."""
        self._check("build")
        self.builds += 1
        outer = tarfile.open(fileobj=io.BytesIO(b"".join(archive)), mode="r:")
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        image_id = f"sha256:{self.builds:064x}"
        if manifest["Layers"][0] in outer.getnames():
            self.images[image_id] = self._layer_paths(outer.extractfile(manifest["Layers"][0]).read())
        else:
            diff_id = json.load(outer.extractfile(manifest["Config"]))["rootfs"]["diff_ids"][0]
            paths = [paths for known, paths in self.imported.values() if known == diff_id]
            if not paths or not self.reuses_layers:
                raise SlimError("Docker refused to load the slim image", f"layer {diff_id} missing",
                                "check the daemon log")
            self.images[image_id] = set(paths[0])
        for tag in manifest["RepoTags"]:
            self.loaded[tag] = image_id
        return list(manifest["RepoTags"])

    def remove_intermediate(self, keep) -> None:
        pass

    def remove_image(self, image_id: str) -> None:
        if self.imported.pop(image_id, None) is not None:
            return                    # build.py's imported layer image, not a slim image
        self.removed_images.append(image_id)
        self.images.pop(image_id, None)
        self.tags.pop(image_id, None)

    def track_image(self, image_id: str) -> None:
        if image_id not in self.tracked:
            self.tracked.append(image_id)

    def untrack_image(self, image_id: str) -> None:
        if image_id in self.tracked:
            self.tracked.remove(image_id)

    # --- containers -------------------------------------------------------------

    def is_local(self) -> bool:
        return True

    def storage(self) -> tuple[str, str]:
        return "", ""                 # no layer store: the image is read through export_image

    def create_container(self, image: str, *, command=None, entrypoint=None, user=None, run=None,
                         ports=(), name_hint="run", extra_labels=None, stop_signal=None,
                         log_driver=None, healthcheck=True, stdin=False) -> str:
        self._check("create_container")
        container_id = f"c{len(self.containers) + 1:063x}"
        traced = bool(entrypoint) and entrypoint[0] == sensor.SENSOR_IN_CONTAINER
        collect = traced and list(command or [])[:1] == ["collect"]
        env = [f"{k}={v}" for k, v in (run.env if run else ())]
        self.containers[container_id] = _Container(image, traced and not collect,
                                                   list(entrypoint or []) + list(command or []), env,
                                                   collect=collect)
        self.created.append(self.containers[container_id])
        return container_id

    def _present(self, container: _Container) -> set[str]:
        return self.original_paths if container.image == self.image_id else self.images[container.image]

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        container = self.containers[container_id]
        if container.collect:
            with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
                assert tar.getnames() == [".slimmer", ".slimmer/sensor"], tar.getnames()

    def get_archive(self, container_id: str, path: str):
        container = self.containers[container_id]
        if path != sensor.LOG_DIR or not container.traced or container.result is None:
            return None
        code, _, touched = container.result
        log = "#slimmer-sensor-log\t1\n" + "".join(f"P\topenat\tr\t{sensor.escape_path(p)}\n" for p in touched)
        log += f"E\t{code}\n"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            data = log.encode()
            info = tarfile.TarInfo("log/trace.1.log")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        buffer.seek(0)
        return tarfile.open(fileobj=buffer, mode="r")

    def attach_output(self, container_id: str, stdin: bool = False):
        """The collect container's stdout: `sensor collect - -`'s tar (names relative to /),
        once send_input gave it the keep list."""
        container = self.containers[container_id]
        output = _Output()
        received: list[bytes] = []

        def send_input(data: bytes, end: bool = True) -> None:
            assert stdin and container.collect and container.argv[-2:] == ["-", "-"], container.argv
            if output.closed:
                raise BrokenPipeError("the attach connection is closed")
            received.append(data)
            container.keep = {sensor.unescape_path(line) for line in b"".join(received).decode().split("\n") if line}
            if not end:
                return
            buffer = io.BytesIO()
            if self.collect_failure:
                output.stderr = self.collect_failure[1]
                buffer.write(tarfile.TarInfo("bin/").tobuf())        # the stream breaks off after a header
            else:
                with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for path in sorted(container.keep):
                        info = tarfile.TarInfo(path.lstrip("/"))
                        data = self.files.get(path)
                        if data is None:
                            info.type = tarfile.DIRTYPE
                        else:
                            info.size = len(data)
                        tar.addfile(info, io.BytesIO(data) if data is not None else None)
            output.publish(buffer.getvalue())
        output.send_input = send_input
        return output

    def start(self, container_id: str) -> None:
        container = self.containers[container_id]
        container.started = True
        if container.collect:
            container.result = (self.collect_failure or (0,))[0], b"", []
            return
        container.result = self.app(self._present(container))

    def host_port(self, container_id: str, port: int) -> int | None:
        return None

    def container_ip(self, container_id: str) -> str | None:
        return None

    def container_pid(self, container_id: str) -> int:
        return 0

    def is_running(self, container_id: str) -> bool:
        return False

    def exit_code(self, container_id: str) -> int | None:
        result = self.containers[container_id].result
        return result[0] if result else None

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        self._check("wait")
        return self.containers[container_id].result[0]

    def stop(self, container_id: str, timeout: int = 10) -> None:
        pass

    def logs(self, container_id: str, tail="all") -> str:
        result = self.containers[container_id].result
        return result[1].decode() if result else ""

    def stdout(self, container_id: str) -> bytes:
        result = self.containers[container_id].result
        return result[1] if result else b""

    def exec_run(self, container_id: str, argv, user=None, environment=None, workdir=None):
        return 0, b""

    def remove_container(self, container_id: str) -> None:
        self.containers.pop(container_id, None)

    def cleanup(self, settle_s: float = 0.0) -> dict:
        removed = {"containers": len(self.containers), "images": len(self.tracked)}
        self.containers.clear()
        for tag in self.tracked:
            self.remove_image(tag)
        self.tracked.clear()
        return removed

    def tag_image(self, image_id: str, tag: str) -> None:
        self.tags[tag] = image_id

    @property
    def ledger(self) -> dict:
        return {"containers": list(self.containers), "tracked_images": list(self.tracked)}
