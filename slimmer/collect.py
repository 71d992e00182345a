"""The collect step of the generated Dockerfile, run as one container of the original
(build.py's load way): `sensor collect - -` reads keep.list on its stdin and writes the
kept files as one tar on its stdout, nothing written inside the container.

  1. CollectContainer: created by image ID, as user 0, no network, no HEALTHCHECK, log
     driver none; the sensor copied in through the API; attached (stdout, stderr, stdin)
     before the start so nothing is lost; feed() sends keep.list and closes stdin;
  2. PrestartedCollect: the same, created and started on a thread while the keep stage
     runs, so the daemon's container start (0.25-0.6 s here) overlaps slimmer's own work;
     discard() removes it, after its thread ended, when the build did not take it;
  3. Refused: the daemon refused a step (an API error, not a failing collect): build.py
     then builds with the builder.
"""
from __future__ import annotations

import io
import os
import tarfile
import threading
from typing import BinaryIO

from . import sensor as sensor_stage
from .dockerport import DockerPort
from .errors import DaemonFailed, SlimError
from .model import Artifacts, RunSpec

COLLECT_TIMEOUT_S = 1800


class Refused(Exception):
    """The daemon refused a step of the load way (an API error, not a failing collect)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CollectContainer:
    """The Dockerfile's collect step as a container whose stdout is the collected tree as a
    tar (`sensor collect - -`: the keep list on stdin, nothing written inside the
    container), attached before the start so nothing is lost. The list arrives by feed(),
    so the container can be created and started before it exists (PrestartedCollect).

    Leaving the `with` closes the output first (the daemon holds a container whose output
    is still being sent, and its removal waits), then removes the container on a thread
    that is joined before the build returns, so the removal overlaps the image's load."""

    def __init__(self, docker: DockerPort, original_id: str, sensor_path: str):
        self.docker = docker
        self.directory = ""                  # the artifacts directory, named in a failure
        try:
            self.container = docker.create_container(
                original_id, entrypoint=[sensor_stage.SENSOR_IN_CONTAINER], command=["collect", "-", "-"],
                user="0:0", run=RunSpec(networks=("none",)), name_hint="collect", log_driver="none",
                healthcheck=False, stdin=True)
        except DaemonFailed:
            raise
        except SlimError as exc:
            raise Refused(f"creating the collect container: {exc.value}") from exc
        self.output: BinaryIO | None = None
        self.removal: threading.Thread | None = None
        try:
            docker.put_archive(self.container, "/", sensor_tar(sensor_path))
            try:
                self.output = docker.attach_output(self.container, stdin=True)
            except DaemonFailed:
                raise
            except SlimError as exc:
                raise Refused(f"attaching to the collect container: {exc.value}") from exc
            docker.start(self.container)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "CollectContainer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def feed(self, artifacts: Artifacts) -> None:
        """The keep list to the waiting sensor: from here on the output is the layer tar."""
        self.directory = artifacts.directory
        with open(artifacts.keep_list, "rb") as handle:
            keep_list = handle.read()
        try:
            self.output.send_input(keep_list)
        except OSError as exc:
            self.check_exit()                # a collect step that died explains it best
            raise SlimError("cannot send the keep list to the collect container", str(exc),
                            "check the daemon log and retry") from exc

    def check_exit(self) -> None:
        """Wait for the collect step's end; a non-zero exit is a SlimError with the sensor's
        own message. The output is closed first: the sensor must not wait on a stream
        nobody reads any more."""
        self.output.close()
        code = self.docker.wait(self.container, timeout=COLLECT_TIMEOUT_S)
        if code != 0:
            stderr = getattr(self.output, "stderr", b"").decode("utf-8", "replace").strip()
            raise SlimError("the collect step failed in a container of the original",
                            f"sensor collect exited {code}: "
                            f"{(stderr or self.docker.logs(self.container, tail=20).strip())[-1500:]}",
                            f"rebuild by hand to see more: docker build {self.directory or 'ARTIFACTS_DIR'}")
        self.removal = threading.Thread(target=self.docker.remove_container, args=(self.container,),
                                        name="slimmer-collect-rm")
        self.removal.start()

    def close(self) -> None:
        if self.output is not None:
            self.output.close()
        if self.removal is None:
            self.docker.remove_container(self.container)
        else:
            self.removal.join()


class PrestartedCollect:
    """A CollectContainer created and started on a thread while the keep stage runs: the
    daemon's container start (a third of a second) overlaps the keep set's computation.
    take() hands it to the build (or raises what its start raised); discard() removes it
    when the build did not take it (an image reused, a failure, Ctrl-C), after the thread
    ended, so no container is created behind the cleanup's back."""

    def __init__(self, docker: DockerPort, original_id: str, sensor_path: str):
        self.collect: CollectContainer | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, args=(docker, original_id, sensor_path),
                                       name="slimmer-collect-start")
        self.thread.start()

    def _start(self, docker: DockerPort, original_id: str, sensor_path: str) -> None:
        try:
            self.collect = CollectContainer(docker, original_id, sensor_path)
        except BaseException as exc:  # raised again by take(), in the build's thread
            self.error = exc

    def take(self) -> CollectContainer:
        self.thread.join()
        collect, self.collect = self.collect, None
        if collect is None:
            raise self.error or SlimError("the collect container was taken twice", "", "report it")
        return collect

    def discard(self) -> None:
        self.thread.join()
        collect, self.collect = self.collect, None
        if collect is not None:
            collect.close()


def sensor_tar(sensor_path: str) -> bytes:
    """/.slimmer/sensor, as `COPY sensor keep.list /.slimmer/` puts it (the list comes on stdin)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(".slimmer")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        info = tar.gettarinfo(sensor_path, arcname=".slimmer/" + os.path.basename(sensor_stage.SENSOR_IN_CONTAINER))
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        with open(sensor_path, "rb") as handle:
            tar.addfile(info, handle)
    return buffer.getvalue()
