"""Containers: create (with the run context), copy in and out, attach, start, wait,
inspect, exec, logs, remove."""
from __future__ import annotations

import io
import tarfile
import uuid
from typing import BinaryIO, Iterable

import docker.errors
import requests

from ..errors import BadInput
from ..model import RunSpec
from .choke import api_error
from .streams import AttachedOutput, ClosingTarFile, StreamReader, open_stream


class Containers:
    """The container calls of docker_api.Docker (a Session)."""

    def create_container(self, image: str, *, command=None, entrypoint=None, user=None,
                         run: RunSpec | None = None, ports: Iterable[int] = (),
                         name_hint: str = "run", extra_labels: dict | None = None,
                         stop_signal: str | None = None, log_driver: str | None = None,
                         healthcheck: bool = True, stdin: bool = False) -> str:
        """Create (not start) a container of IMAGE with this session's label. RUN is the
        user's run context (see docs/RUN-CONTEXT.md): env, workdir, extra hosts, mounts,
        and networks: the first one at create time, the others connected before the
        start, each with the aliases (user-defined networks only take aliases).
        LOG_DRIVER "none": the daemon keeps no log of the output (attach_output still
        streams it). HEALTHCHECK False: the image's HEALTHCHECK does not run (a container
        that is not the app, like the collect step). STDIN True: the container's stdin is
        open, for attach_output(stdin=True), and closed after the first attach ends it."""
        run = run or RunSpec()
        port_bindings = {f"{port}/tcp": ("127.0.0.1", None) for port in ports}
        binds, anonymous, tmpfs = _mount_options(run.mounts)
        networks = list(run.networks)
        host_config = self.api.create_host_config(
            port_bindings=port_bindings or None, network_mode=networks[0] if networks else None,
            extra_hosts=[f"{name}:{address}" for name, address in run.hosts] or None,
            binds=binds or None, tmpfs=tmpfs or None,
            log_config={"Type": log_driver, "Config": {}} if log_driver else None)
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
                stop_signal=stop_signal or None, detach=not stdin, stdin_open=stdin,   # StdinOnce comes with an undetached config
                healthcheck=None if healthcheck else {"test": ["NONE"]})
        except docker.errors.ImageNotFound as exc:
            raise BadInput("image not found", image, "build or pull it first") from exc
        except docker.errors.APIError as exc:
            raise api_error("creating a container", image, exc) from exc
        container_id = created["Id"]
        with self._lock:
            self._containers.append(container_id)
        for network in networks[1:]:
            try:
                self.api.connect_container_to_network(
                    container_id, network, aliases=self._endpoint(network, run).get("Aliases"))
            except docker.errors.APIError as exc:
                raise api_error("connecting the container to a network", network, exc) from exc
        return container_id

    def _endpoint(self, network: str, run: RunSpec) -> dict:
        aliases = list(run.network_aliases) if network not in _DEFAULT_NETWORKS else []
        return self.api.create_endpoint_config(aliases=aliases) if aliases else {}

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        try:
            self.api.put_archive(container_id, path, tar_bytes)
        except docker.errors.APIError as exc:
            raise api_error("copying files into the container", path, exc) from exc

    def get_archive(self, container_id: str, path: str) -> tarfile.TarFile | None:
        """The tar of PATH in the container (streamed), or None when PATH does not exist."""
        try:
            response, chunks = open_stream(self.api, self.api._url("/containers/{0}/archive", container_id),
                                       {"path": path})
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise api_error("copying files out of the container", path, exc) from exc
        stream = io.BufferedReader(StreamReader(chunks, on_close=response.close), buffer_size=1 << 20)
        archive = ClosingTarFile.open(fileobj=stream, mode="r|")
        archive.source = stream
        return archive

    def attach_output(self, container_id: str, stdin: bool = False) -> BinaryIO:
        """The container's stdout as a readable stream, attached before the start so
        nothing is lost; its stderr is kept aside (the stream's `stderr`, last 64 kB).
        Ends when the container exits; close() ends the HTTP stream. STDIN True (a
        container created with stdin=True): the stream's send_input(DATA) writes DATA to
        the container's stdin and closes it."""
        params = {"stdout": 1, "stderr": 1, "stream": 1, **({"stdin": 1} if stdin else {})}
        try:
            socket = self.api.attach_socket(container_id, params=params)
        except docker.errors.APIError as exc:
            raise api_error("attaching to the container", container_id[:12], exc) from exc
        return AttachedOutput(socket)

    def start(self, container_id: str) -> None:
        try:
            self.api.start(container_id)
        except docker.errors.APIError as exc:
            raise api_error("starting the container", container_id[:12], exc) from exc

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
            raise api_error("running a command in the container", " ".join(argv), exc) from exc
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
