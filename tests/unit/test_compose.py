"""Compose support (slimmer/compose.py) without Docker: the CLI's resolved config
(docker-compose 1.x YAML and Compose v2 JSON, as the CLIs print them) turned into
a RunSpec, and the dependency lifecycle driven through a fake CLI and daemon."""
from __future__ import annotations

import json
import textwrap

import pytest

from slimmer import compose
from slimmer.compose import CliResult, ComposeCli, ComposeDependencies, ComposeService
from slimmer.errors import BadInput, ExitCode, SlimError
from slimmer.model import Mount, RunSpec

PROJECT = "slimmer-0123456789ab"
SECRET = "s3cr3t-compose-value"

# docker-compose 1.29 `config` of sample-apps/service-counter/compose.yaml (YAML, env sorted)
V1_OUTPUT = textwrap.dedent(f"""\
    networks:
      backend: {{}}
    services:
      app:
        depends_on:
          cache:
            condition: service_healthy
        environment:
          APP_TOKEN: {SECRET}
          REDIS_HOST: cache
        image: slimmer-sample/service-counter:latest
        networks:
          backend:
            aliases:
            - counter
        ports:
        - 127.0.0.1::8080/tcp
      cache:
        healthcheck:
          interval: 1s
          test:
          - CMD
          - redis-cli
          - ping
        image: slimmer-sample/redis:latest
        networks:
          backend: null
    version: '3.9'
    """)

# Compose v2 `config --format json` of the same file
V2_OUTPUT = json.dumps({
    "name": PROJECT,
    "networks": {"backend": {"name": f"{PROJECT}_backend", "ipam": {}}},
    "services": {
        "app": {
            "depends_on": {"cache": {"condition": "service_healthy", "required": True}},
            "environment": {"APP_TOKEN": SECRET, "REDIS_HOST": "cache"},
            "image": "slimmer-sample/service-counter:latest",
            "networks": {"backend": {"aliases": ["counter"]}},
            "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080, "protocol": "tcp"}],
        },
        "cache": {
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "1s"},
            "image": "slimmer-sample/redis:latest",
            "networks": {"backend": None},
        },
    },
})


@pytest.mark.parametrize("output", [V1_OUTPUT, V2_OUTPUT], ids=["docker-compose-1.x-yaml", "compose-v2-json"])
def test_sample_compose_file_as_run_spec(output):
    service = compose.service_from_config(compose.parse_config_output(output), "app", PROJECT, "/x/compose.yaml")
    assert service.image == "slimmer-sample/service-counter:latest"
    assert dict(service.run.env) == {"APP_TOKEN": SECRET, "REDIS_HOST": "cache"}
    assert service.run.networks == (f"{PROJECT}_backend",)
    assert service.run.network_aliases == ("app", "counter")     # Compose names every service after itself
    assert service.dependencies == ("cache",)
    assert service.conditions == {"cache": "service_healthy"}
    assert (service.run.user, service.run.entrypoint, service.run.command, service.run.workdir) == (None,) * 4


def config(**app) -> dict:
    return {"services": {"app": app, "db": {"image": "db"}, "cache": {"image": "cache"}},
            "networks": {"front": {}, "named": {"name": "exact-name"}, "ext": {"external": True},
                         "oldext": {"external": {"name": "old-style"}}},
            "volumes": {"data": {}, "shared": {"external": True, "name": "shared-data"}}}


def spec(**app) -> RunSpec:
    return compose.service_from_config(config(**app), "app", PROJECT).run


FIELD_CASES = [
    # (app service keys, RunSpec field, expected value)
    ({}, "networks", (f"{PROJECT}_default",)),                      # no networks: the project's default
    ({"networks": ["front", "named", "ext", "oldext"]}, "networks",
     (f"{PROJECT}_front", "exact-name", "ext", "old-style")),
    ({"networks": {"front": {"aliases": ["a", "b"]}, "named": None}}, "network_aliases", ("app", "a", "b")),
    ({"network_mode": "bridge"}, "networks", ()),
    ({"environment": {"A": "1", "UNSET": None, "N": 3, "B": True}}, "env", (("A", "1"), ("N", "3"), ("B", "true"))),
    ({"environment": ["A=1", "B=x=y", "UNSET"]}, "env", (("A", "1"), ("B", "x=y"))),
    ({"extra_hosts": ["db:10.0.0.1", "v6:::1"]}, "hosts", (("db", "10.0.0.1"), ("v6", "::1"))),
    ({"extra_hosts": ["db=10.0.0.1"]}, "hosts", (("db", "10.0.0.1"),)),
    ({"extra_hosts": {"db": "10.0.0.1", "multi": ["10.0.0.2", "10.0.0.3"]}}, "hosts",
     (("db", "10.0.0.1"), ("multi", "10.0.0.2"), ("multi", "10.0.0.3"))),
    ({"volumes": ["data:/var/lib/data:rw", "/srv/conf:/etc/app:ro", "/anon", "shared:/shared"]}, "mounts",
     (Mount("/var/lib/data", f"{PROJECT}_data", "volume"), Mount("/etc/app", "/srv/conf", "bind", True),
      Mount("/anon", "", "volume"), Mount("/shared", "shared-data", "volume"))),
    ({"volumes": [{"type": "volume", "source": "data", "target": "/d", "read_only": True},
                  {"type": "bind", "source": "/srv/conf", "target": "/c", "bind": {"create_host_path": True}},
                  {"type": "volume", "target": "/anon"},
                  {"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1048576}}]}, "mounts",
     (Mount("/d", f"{PROJECT}_data", "volume", True), Mount("/c", "/srv/conf", "bind"), Mount("/anon", "", "volume"),
      Mount("/t", "", "tmpfs", options="size=1048576"))),
    ({"tmpfs": "/run"}, "mounts", (Mount("/run", "", "tmpfs"),)),
    ({"tmpfs": ["/run", "/tmp:size=64m"]}, "mounts", (Mount("/run", "", "tmpfs"), Mount("/tmp", "", "tmpfs", options="size=64m"))),
    ({"user": 1000}, "user", "1000"),
    ({"user": "app:staff"}, "user", "app:staff"),
    ({"working_dir": "/srv"}, "workdir", "/srv"),
    ({"entrypoint": "/bin/sh -c"}, "entrypoint", ("/bin/sh", "-c")),         # Compose splits strings
    ({"entrypoint": ["/bin/sh", "-c"]}, "entrypoint", ("/bin/sh", "-c")),
    ({"entrypoint": []}, "entrypoint", ()),
    ({"command": "python3 -c 'print(1)'"}, "command", ("python3", "-c", "print(1)")),
    ({"command": ["serve", "--port", "80"]}, "command", ("serve", "--port", "80")),
    ({"command": None}, "command", None),
]


@pytest.mark.parametrize("app, field_name, expected", FIELD_CASES)
def test_service_fields(app, field_name, expected):
    assert getattr(spec(image="app", **app), field_name) == expected


@pytest.mark.parametrize("app, words", [
    ({"network_mode": "host"}, "network_mode 'host' is not supported"),
    ({"network_mode": "service:db"}, "not supported"),
    ({"network_mode": "none"}, "not supported"),
    ({"extra_hosts": ["nocolon"]}, "expected NAME:IP"),
    ({"volumes": [{"type": "npipe", "source": "x", "target": "/x"}]}, "volume type 'npipe'"),
    ({"depends_on": ["ghost"]}, "depends_on names a service"),
])
def test_service_errors(app, words):
    with pytest.raises(BadInput) as error:
        spec(image="app", **app)
    assert words in error.value.message


def test_unknown_service_names_it_and_lists_the_services():
    with pytest.raises(BadInput) as error:
        compose.service_from_config(config(image="app"), "ap", PROJECT, "/x/compose.yaml")
    message = error.value.message
    assert "'ap'" in message and "/x/compose.yaml" in message
    assert "app, cache, db" in message
    assert error.value.exit_code == ExitCode.BAD_INPUT


def test_dependencies_transitively_in_start_order_with_the_strongest_condition():
    services = {
        "app": {"depends_on": {"api": {"condition": "service_started"}, "db": {"condition": "service_healthy"}}},
        "api": {"depends_on": ["db", "cache"]},
        "db": {"depends_on": {"migrate": {"condition": "service_completed_successfully"}}},
        "migrate": {},
        "cache": {"depends_on": ["app"]},      # a cycle back to the target: followed once
        "unrelated": {},
    }
    service = compose.service_from_config({"services": services}, "app", PROJECT)
    assert service.dependencies == ("migrate", "db", "cache", "api")
    assert service.conditions == {"api": "service_started", "db": "service_healthy",
                                  "migrate": "service_completed_successfully", "cache": "service_started"}


def test_build_only_service():
    service = compose.service_from_config({"services": {"app": {"build": {"context": "/src"}}}}, "app", PROJECT)
    assert service.builds and service.image is None


@pytest.mark.parametrize("text", ["", "[]", "services: 3", "{\"name\": \"x\"}"])
def test_config_without_services(text):
    with pytest.raises(BadInput, match="no services"):
        compose.parse_config_output(text, "c.yaml")


# --- finding the CLI ---------------------------------------------------------------------------

class FakeCli:
    """A Compose CLI: answers by the first words after the global options."""

    def __init__(self, answers: dict | None = None):
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv, timeout):
        argv = list(argv)
        self.calls.append(argv)
        for key, answer in self.answers.items():
            if " ".join(argv).find(key) >= 0:
                return answer(argv) if callable(answer) else answer
        return CliResult(0, "", "")


@pytest.mark.parametrize("on_path, answers, expected", [
    ({"docker", "docker-compose"}, {"docker compose version": CliResult(0, "2.24.6\n", "")},
     (("docker", "compose"), "2.24.6")),
    ({"docker", "docker-compose"}, {"docker compose version": CliResult(1, "", "unknown command"),
                                    "docker-compose version": CliResult(0, "1.29.2\n", "")},
     (("docker-compose",), "1.29.2")),
    ({"docker-compose"}, {"docker-compose version": CliResult(0, "1.29.2\n", "")}, (("docker-compose",), "1.29.2")),
])
def test_find_compose_cli(on_path, answers, expected):
    cli = compose.find_compose_cli(FakeCli(answers), which=lambda name: f"/usr/bin/{name}" if name in on_path else None)
    assert (cli.argv, cli.version) == expected


def test_no_compose_cli_is_bad_input_with_the_install_hint():
    with pytest.raises(BadInput) as error:
        compose.find_compose_cli(FakeCli({"version": CliResult(1, "", "no")}), which=lambda name: None)
    assert error.value.exit_code == ExitCode.BAD_INPUT
    assert "no Compose CLI" in error.value.message and "apt-get install docker-compose" in error.value.message


@pytest.mark.parametrize("version, words", [("1.29.2", ["docker-compose", "--ansi", "never"]),
                                            ("1.25.0", ["docker-compose", "--no-ansi"]),
                                            ("v2.24.6", ["docker", "compose", "--ansi", "never"])])
def test_every_command_names_the_project(version, words):
    argv = ("docker", "compose") if version.startswith("v2") else ("docker-compose",)
    command = ComposeCli(argv, version).command(PROJECT, "/x/c.yaml", "down")
    assert command[:len(words)] == words
    assert command[-5:] == ["-p", PROJECT, "-f", "/x/c.yaml", "down"]


def test_load_service_asks_the_cli_for_json_or_yaml(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text("services: {}\n")   # never read by slimmer: the fake CLI answers
    for cli, output, words in [(ComposeCli(("docker", "compose"), "2.24.6"), V2_OUTPUT, ["config", "--format", "json"]),
                               (ComposeCli(("docker-compose",), "1.29.2"), V1_OUTPUT, ["config"])]:
        fake = FakeCli({"config": CliResult(0, output, "")})
        service = compose.load_service(cli, str(path), "app", PROJECT, runner=fake)
        assert fake.calls[0][-len(words):] == words and str(path) in fake.calls[0]
        assert service.dependencies == ("cache",)


def test_load_service_errors(tmp_path):
    cli = ComposeCli(("docker-compose",), "1.29.2")
    with pytest.raises(BadInput, match="compose file not found"):
        compose.load_service(cli, str(tmp_path / "missing.yaml"), "app", PROJECT, runner=FakeCli())
    path = tmp_path / "compose.yaml"
    path.write_text("x")
    fake = FakeCli({"config": CliResult(1, "", "ERROR: yaml.scanner.ScannerError: line 3")})
    with pytest.raises(BadInput) as error:
        compose.load_service(cli, str(path), "app", PROJECT, runner=fake)
    assert "cannot read the compose file" in error.value.message and "line 3" in error.value.message


# --- running the dependencies -------------------------------------------------------------------

class FakeDocker:
    """Containers whose State follows a script: one state per inspection, the last one repeating."""

    def __init__(self, scripts: dict[str, list[dict]], logs: str = "redis: ready\n"):
        self.scripts = scripts
        self.seen: dict[str, int] = {}
        self.log_text = logs

    def inspect_container(self, container_id):
        states = self.scripts[container_id]
        index = min(self.seen.get(container_id, 0), len(states) - 1)
        self.seen[container_id] = self.seen.get(container_id, 0) + 1
        return {"State": states[index]}

    def logs(self, container_id, tail="all"):
        return self.log_text


RUNNING = {"Running": True}
STARTING = {"Running": True, "Health": {"Status": "starting"}}
HEALTHY = {"Running": True, "Health": {"Status": "healthy"}}
UNHEALTHY = {"Running": True, "Health": {"Status": "unhealthy", "Log": [{"Output": "Could not connect\n"}]}}
EXITED_1 = {"Running": False, "ExitCode": 1}
EXITED_0 = {"Running": False, "ExitCode": 0}


def target(dependencies=("cache",), conditions=None, image="slimmer-sample/service-counter:latest", builds=False):
    return ComposeService(project=PROJECT, compose_file="/x/compose.yaml", name="app", image=image,
                          run=RunSpec(env=(("APP_TOKEN", SECRET),)), dependencies=tuple(dependencies),
                          conditions=conditions or {d: "service_healthy" for d in dependencies}, builds=builds)


def dependencies(service, docker, answers=None, timeout_s=5.0):
    fake = FakeCli(dict({"ps": lambda argv: CliResult(0, f"id-{argv[-1]}\n", "")}, **(answers or {})))
    events: list[str] = []
    deps = ComposeDependencies(service, ComposeCli(("docker-compose",), "1.29.2"), docker, on_event=events.append,
                               timeout_s=timeout_s, runner=fake, poll_s=0.01)
    return deps, fake, events


def test_up_starts_only_the_dependencies_then_down_removes_the_project():
    deps, fake, events = dependencies(target(), FakeDocker({"id-cache": [STARTING, STARTING, HEALTHY]}))
    with deps:
        up = fake.calls[0]
        assert up[up.index("-p") + 1] == PROJECT
        assert up[-6:] == ["up", "-d", "--no-build", "--scale", "app=0", "app"]
    down = fake.calls[-1]
    assert down[down.index("-p") + 1] == PROJECT and down[-5:] == ["down", "-v", "--remove-orphans", "-t", "10"]
    assert any("waiting for cache: health starting" in event for event in events)
    assert not any(SECRET in " ".join(call) for call in fake.calls)
    assert not any(SECRET in event for event in events)


@pytest.mark.parametrize("states, condition, words", [
    ([STARTING, UNHEALTHY], "service_healthy", "unhealthy (healthcheck said: Could not connect)"),
    ([EXITED_1], "service_started", "exited with code 1"),
    ([RUNNING, EXITED_1], "service_completed_successfully", "exited with code 1"),
    ([STARTING], "service_healthy", "health starting after 0s"),     # the timeout
])
def test_a_dependency_that_never_gets_ready_fails_with_its_last_log_lines(states, condition, words):
    service = target(conditions={"cache": condition})
    deps, fake, _ = dependencies(service, FakeDocker({"id-cache": states}, logs="redis: out of memory\n"),
                                 timeout_s=0.05)
    with pytest.raises(SlimError) as error:
        with deps:
            pass
    assert error.value.exit_code == ExitCode.FAILED
    assert "the dependency cache is not ready" in error.value.message
    assert words in error.value.message
    assert "redis: out of memory" in error.value.message
    assert fake.calls[-1][-5:-3] == ["down", "-v"]      # removed all the same


@pytest.mark.parametrize("states, condition", [
    ([RUNNING], "service_started"),                 # no healthcheck: running is enough
    ([EXITED_0], "service_started"),                # a one-shot init job that succeeded
    ([RUNNING, RUNNING, EXITED_0], "service_completed_successfully"),
    ([HEALTHY], "service_started"),
])
def test_ready_dependencies(states, condition):
    deps, fake, _ = dependencies(target(conditions={"cache": condition}), FakeDocker({"id-cache": states}))
    deps.up()
    deps.down()
    assert [call[call.index("-f") + 2] for call in fake.calls].count("down") == 1


def test_up_failure_names_the_cli_and_shows_its_output_and_still_downs():
    deps, fake, _ = dependencies(target(), FakeDocker({"id-cache": [HEALTHY]}),
                                 answers={" up ": CliResult(1, "", "ERROR: pull access denied for slimmer-sample/redis")})
    with pytest.raises(SlimError) as error:
        try:
            deps.up()
        finally:
            deps.down()
    assert "docker-compose could not start the dependencies of app" in error.value.message
    assert "pull access denied" in error.value.message
    assert fake.calls[-1][-5] == "down"


def test_down_without_up_does_nothing_and_twice_runs_once():
    deps, fake, _ = dependencies(target(), FakeDocker({"id-cache": [HEALTHY]}))
    deps.down()
    assert fake.calls == []
    deps.up()
    deps.down()
    deps.down()
    assert sum(1 for call in fake.calls if "down" in call) == 1


def test_build_only_service_starts_its_dependencies_by_name():
    deps, fake, _ = dependencies(target(dependencies=("db", "cache"), image=None, builds=True),
                                 FakeDocker({"id-db": [HEALTHY], "id-cache": [HEALTHY]}))
    deps.up()
    assert fake.calls[0][-5:] == ["up", "-d", "--no-build", "db", "cache"]


def test_down_failure_is_reported_with_the_manual_command():
    deps, fake, _ = dependencies(target(), FakeDocker({"id-cache": [HEALTHY]}),
                                 answers={"down": CliResult(1, "", "network has active endpoints")})
    deps.up()
    with pytest.raises(SlimError) as error:
        deps.down()
    assert "active endpoints" in error.value.message and f"-p {PROJECT}" in error.value.message


def test_a_failure_inside_the_block_still_downs_and_a_failed_down_is_told_with_it():
    deps, fake, _ = dependencies(target(), FakeDocker({"id-cache": [HEALTHY]}),
                                 answers={"down": CliResult(1, "", "network has active endpoints")})
    with pytest.raises(SlimError) as error:
        with deps:
            raise SlimError("the app crashed", "exit code 3")
    assert "the app crashed" in error.value.message
    assert "also: docker-compose down failed" in error.value.message and "active endpoints" in error.value.message


def test_compose_failing_up_on_an_unhealthy_dependency_names_it_with_its_logs():
    """docker-compose 1.x waits for service_healthy itself and exits 1 when the dependency turns unhealthy."""
    deps, fake, _ = dependencies(target(), FakeDocker({"id-cache": [UNHEALTHY]}, logs="redis: bad config\n"),
                                 answers={" up ": CliResult(1, "", 'ERROR: for app  Container "x" is unhealthy.')})
    with pytest.raises(SlimError) as error:
        with deps:
            pass
    assert "the dependency cache is not ready" in error.value.message
    assert f"Compose project {PROJECT}" in error.value.message and "redis: bad config" in error.value.message
