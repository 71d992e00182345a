"""Run-context values (slimmer/runcontext.py): docker run's flags and the probe
file's [run] keys, parsed, checked and merged. No Docker.

Every error names its culprit and never shows an env value.
"""
from __future__ import annotations

import os

import pytest

from slimmer import runcontext as rc
from slimmer.errors import BadInput, ExitCode
from slimmer.model import Mount, RunSpec

SECRET = "s3cr3t-value-never-shown"
ENVIRON = {"FROM_SLIM": "inherited", "EMPTY": ""}


# --- --env ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("KEY=value", ("KEY", "value")),
    ("KEY=", ("KEY", "")),
    ("KEY=a=b=c", ("KEY", "a=b=c")),
    ("KEY= spaced value ", ("KEY", " spaced value ")),
    ("FROM_SLIM", ("FROM_SLIM", "inherited")),
    ("EMPTY", ("EMPTY", "")),
    ("UNSET_IN_SLIM", None),                 # docker run skips it
    ("lower.case-key=1", ("lower.case-key", "1")),
])
def test_env(text, expected):
    assert rc.parse_env(text, ENVIRON) == expected


@pytest.mark.parametrize("text, words", [
    (f"={SECRET}", "no variable name"),
    (f"A KEY={SECRET}", "contains whitespace"),
    ("", "no variable name"),
])
def test_env_errors_never_show_the_value(text, words):
    with pytest.raises(BadInput) as error:
        rc.parse_env(text, ENVIRON)
    assert words in error.value.message and "--env" in error.value.message
    assert SECRET not in error.value.message
    assert error.value.exit_code == ExitCode.BAD_INPUT


# --- --env-file -----------------------------------------------------------------------

ENV_FILE_CASES = [
    # (file text, expected pairs)
    ("A=1\nB=two words\n", (("A", "1"), ("B", "two words"))),
    ("# comment\n\n   \nA=1\n  # indented comment\n", (("A", "1"),)),
    ("A='quoted'\nB=\"dq\"\n", (("A", "'quoted'"), ("B", '"dq"'))),   # taken as written
    ("A=$HOME\n", (("A", "$HOME"),)),                                   # no expansion
    ("  A=1\n", (("A", "1"),)),                                         # leading space ignored
    ("A=trailing  \n", (("A", "trailing  "),)),                         # value kept as written
    ("FROM_SLIM\nUNSET_IN_SLIM\n", (("FROM_SLIM", "inherited"),)),      # KEY alone
    ("A=1\nA=2\n", (("A", "1"), ("A", "2"))),                           # merged later, by key
    ("\ufeffA=1\r\nB=2\r\n", (("A", "1"), ("B", "2"))),                 # BOM, CRLF
    ("A=x#not-a-comment\n", (("A", "x#not-a-comment"),)),
    ("", ()),
]


@pytest.mark.parametrize("text, expected", ENV_FILE_CASES)
def test_env_file(tmp_path, text, expected):
    path = tmp_path / "app.env"
    path.write_text(text, encoding="utf-8", newline="")
    assert rc.read_env_file(str(path), ENVIRON) == expected


@pytest.mark.parametrize("text, line, words", [
    (f"A=1\n={SECRET}\n", 2, "no variable name"),
    (f"# c\nBAD KEY={SECRET}\n", 2, "contains whitespace"),
])
def test_env_file_errors_name_the_line_not_the_value(tmp_path, text, line, words):
    path = tmp_path / "app.env"
    path.write_text(text)
    with pytest.raises(BadInput) as error:
        rc.read_env_file(str(path), ENVIRON)
    assert f"line {line}" in error.value.message and words in error.value.message
    assert str(path) in error.value.message
    assert SECRET not in error.value.message


def test_missing_env_file_names_it(tmp_path):
    with pytest.raises(BadInput) as error:
        rc.read_env_file(str(tmp_path / "nope.env"))
    assert "nope.env" in error.value.message and "No such file" in error.value.message


def test_env_file_relative_to_base_dir(tmp_path):
    (tmp_path / "app.env").write_text("A=1\n")
    assert rc.read_env_file("app.env", {}, base_dir=str(tmp_path)) == (("A", "1"),)


# --- --network, --network-alias, --add-host ------------------------------------------------

@pytest.mark.parametrize("name", ["appnet", "my_net.1", "app-net", "bridge", "a1b2c3d4e5f6"])
def test_network(name):
    assert rc.parse_network(name) == name


@pytest.mark.parametrize("name, words", [
    ("host", "not supported"),
    ("none", "not supported"),
    ("container:db", "not supported"),
    ("bad name", "not a network name"),
    ("-dash", "not a network name"),
    ("", "not a network name"),
])
def test_network_errors(name, words):
    with pytest.raises(BadInput) as error:
        rc.parse_network(name)
    assert words in error.value.message and "--network" in error.value.message


@pytest.mark.parametrize("name, ok", [("api", True), ("api.internal", True), ("my_app", True),
                                      ("bad alias", False), ("-x", False), ("x-", False)])
def test_network_alias(name, ok):
    if ok:
        assert rc.parse_network_alias(name) == name
    else:
        with pytest.raises(BadInput, match="--network-alias"):
            rc.parse_network_alias(name)


@pytest.mark.parametrize("text, expected", [
    ("db.local:10.0.0.5", ("db.local", "10.0.0.5")),
    ("db=10.0.0.5", ("db", "10.0.0.5")),
    ("api:host-gateway", ("api", "host-gateway")),
    ("v6:::1", ("v6", "::1")),
    ("v6:[2001:db8::1]", ("v6", "2001:db8::1")),
    ("v6=2001:DB8::1", ("v6", "2001:db8::1")),
])
def test_add_host(text, expected):
    assert rc.parse_add_host(text) == expected


@pytest.mark.parametrize("text, words", [
    ("db", "expected NAME:IP"),
    ("db:", "expected NAME:IP"),
    (":10.0.0.1", "expected NAME:IP"),
    ("db:10.0.0.300", "not an IP address"),
    ("db:example.com", "not an IP address"),
    ("bad name:10.0.0.1", "not a host name"),
])
def test_add_host_errors(text, words):
    with pytest.raises(BadInput) as error:
        rc.parse_add_host(text)
    assert words in error.value.message and "--add-host" in error.value.message


# --- --volume, --tmpfs -----------------------------------------------------------------------

def test_volume_forms(tmp_path, monkeypatch):
    (tmp_path / "config").mkdir()
    monkeypatch.chdir(tmp_path)
    cases = [
        (f"{tmp_path}/config:/etc/app", Mount("/etc/app", str(tmp_path / "config"), "bind")),
        (f"{tmp_path}/config:/etc/app:ro", Mount("/etc/app", str(tmp_path / "config"), "bind", True)),
        ("./config:/etc/app:rw", Mount("/etc/app", str(tmp_path / "config"), "bind")),
        ("config/../config:/etc/app/", Mount("/etc/app", str(tmp_path / "config"), "bind")),
        ("appdata:/var/lib/app", Mount("/var/lib/app", "appdata", "volume")),
        ("config:/etc/app", Mount("/etc/app", "config", "volume")),   # a bare name is a volume, as in docker
        ("appdata:/var/lib/app:ro", Mount("/var/lib/app", "appdata", "volume", True)),
        ("/var/cache/app", Mount("/var/cache/app", "", "volume")),          # anonymous volume
        ("appdata://var//lib/./app", Mount("/var/lib/app", "appdata", "volume")),
    ]
    for text, expected in cases:
        assert rc.parse_volume(text) == expected, text


def test_volume_relative_to_base_dir(tmp_path):
    (tmp_path / "conf").mkdir()
    assert rc.parse_volume("./conf:/etc/app", base_dir=str(tmp_path)).source == str(tmp_path / "conf")


@pytest.mark.parametrize("text, words", [
    ("a:b:c:d", "expected SRC:DST"),
    ("appdata::/x", "expected SRC:DST"),
    ("appdata:/x:", "expected SRC:DST"),
    ("appdata:relative/dst", "must be absolute"),
    ("relative", "must be absolute"),
    ("appdata:/x:rx", "unknown mode"),
    ("appdata:ro", "target is missing"),
    ("appdata:/", "cannot mount over /"),
    ("bad$name:/x", "not a volume name or a host path"),
    ("/no/such/host/dir-slimmer:/x", "host path does not exist"),
])
def test_volume_errors_name_the_flag_and_value(text, words):
    with pytest.raises(BadInput) as error:
        rc.parse_volume(text)
    assert words in error.value.message and "--volume" in error.value.message
    assert error.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("text, expected", [
    ("/run", Mount("/run", "", "tmpfs")),
    ("/tmp:size=64m,mode=1777", Mount("/tmp", "", "tmpfs", options="size=64m,mode=1777")),
    ("/cache:ro,noexec", Mount("/cache", "", "tmpfs", True, options="ro,noexec")),
])
def test_tmpfs(text, expected):
    assert rc.parse_tmpfs(text) == expected


@pytest.mark.parametrize("text, words", [("run", "must be absolute"), ("/tmp:sise=1m", "unknown tmpfs option"),
                                         ("/", "cannot mount over /")])
def test_tmpfs_errors(text, words):
    with pytest.raises(BadInput, match=words):
        rc.parse_tmpfs(text)


# --- --user, --entrypoint, --cmd, --workdir -------------------------------------------------------

@pytest.mark.parametrize("text, ok", [("app", True), ("1000", True), ("1000:1000", True), ("app:staff", True),
                                      ("www-data", True), ("a:b:c", False), ("app:", False), (":0", False),
                                      ("", False), ("has space", False)])
def test_user(text, ok):
    if ok:
        assert rc.parse_user(text) == text
    else:
        with pytest.raises(BadInput, match="--user"):
            rc.parse_user(text)


@pytest.mark.parametrize("value, expected", [
    ("/usr/bin/tini", ("/usr/bin/tini",)),
    ("/bin/my app", ("/bin/my app",)),      # docker run: one executable, never split
    ("", ()),                               # clears the image's ENTRYPOINT
    (["tini", "--"], ("tini", "--")),       # the probe file's exec form
    ([], ()),
])
def test_entrypoint(value, expected):
    assert rc.parse_entrypoint(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("serve --port 80", ("serve", "--port", "80")),
    ("echo 'two words' \"x y\"", ("echo", "two words", "x y")),
    ("", ()),
    (["a b", "c"], ("a b", "c")),
])
def test_cmd(value, expected):
    assert rc.parse_cmd(value) == expected


def test_cmd_unbalanced_quote():
    with pytest.raises(BadInput, match="--cmd"):
        rc.parse_cmd("echo 'oops")


@pytest.mark.parametrize("path, expected", [("/srv/app", "/srv/app"), ("/srv/app/", "/srv/app"),
                                            ("/", "/"), ("/a/./b/../c", "/a/c")])
def test_workdir(path, expected):
    assert rc.parse_workdir(path) == expected


def test_relative_workdir_is_refused():
    with pytest.raises(BadInput) as error:
        rc.parse_workdir("srv/app")
    assert "--workdir" in error.value.message and "absolute" in error.value.message


# --- the flags together -----------------------------------------------------------------------------

def test_run_from_flags(tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("A=from-file\nB=from-file\n")
    (tmp_path / "conf").mkdir()
    flags = rc.RunFlags(env=("B=from-flag", "FROM_SLIM", "UNSET_IN_SLIM"), env_files=(str(env_file),),
                        networks=("appnet", "backnet", "appnet"), network_aliases=("api",),
                        hosts=("db:10.0.0.5",), volumes=("./conf:/etc/app:ro",), tmpfs=("/run",),
                        user="1000:1000", entrypoint="", cmd="serve --port 80", workdir="/srv")
    run = rc.run_from_flags(flags, ENVIRON, base_dir=str(tmp_path))
    assert run.env == (("A", "from-file"), ("B", "from-flag"), ("FROM_SLIM", "inherited"))
    assert run.networks == ("appnet", "backnet")
    assert run.network_aliases == ("api",)
    assert run.hosts == (("db", "10.0.0.5"),)
    assert run.mounts == (Mount("/etc/app", str(tmp_path / "conf"), "bind", True), Mount("/run", "", "tmpfs"))
    assert (run.user, run.entrypoint, run.command, run.workdir) == ("1000:1000", (), ("serve", "--port", "80"), "/srv")


def test_no_flags_change_nothing():
    assert rc.run_from_flags(rc.RunFlags(), {}) == RunSpec()


# --- the probe file's [run] table --------------------------------------------------------------------

def test_run_table(tmp_path):
    (tmp_path / "app.env").write_text("A=file\nB=file\n")
    (tmp_path / "conf").mkdir()
    run = rc.parse_run_table({
        "env_file": "app.env", "env": {"B": "table", "N": 3},
        "network": "appnet", "network_aliases": ["api", "web"],
        "hosts": {"db.local": "10.0.0.5"}, "volumes": ["./conf:/etc/app:ro", "data:/data"],
        "tmpfs": "/run", "user": "app", "entrypoint": ["tini", "--"], "command": ["serve", "-v"],
        "workdir": "/srv", "continue_after": "probes",
    }, base_dir=str(tmp_path), environ={})
    assert run.env == (("A", "file"), ("B", "table"), ("N", "3"))
    assert run.networks == ("appnet",) and run.network_aliases == ("api", "web")
    assert run.hosts == (("db.local", "10.0.0.5"),)
    assert run.mounts == (Mount("/etc/app", str(tmp_path / "conf"), "bind", True), Mount("/data", "data", "volume"),
                          Mount("/run", "", "tmpfs"))
    assert (run.user, run.entrypoint, run.command, run.workdir) == ("app", ("tini", "--"), ("serve", "-v"), "/srv")
    assert run.continue_after == "auto"    # the probe file's own key, not parsed here


@pytest.mark.parametrize("table, key, words", [
    ({"env": ["A=1"]}, "env", "wrong type"),
    ({"env": {"A": True}}, "env", "bool value"),
    ({"env": {"A B": "1"}}, "env", "whitespace"),
    ({"env_file": "missing.env"}, "env_file", "missing.env"),
    ({"network": 3}, "network", "wrong type"),
    ({"network": ["ok", 1]}, "network", "not a list of strings"),
    ({"network": "host"}, "network", "not supported"),
    ({"network_aliases": ["bad alias"]}, "network_aliases", "not a host name"),
    ({"hosts": ["db"]}, "hosts", "expected NAME:IP"),
    ({"volumes": ["x:y"]}, "volumes", "must be absolute"),
    ({"tmpfs": ["/t:bogus"]}, "tmpfs", "unknown tmpfs option"),
    ({"user": 1000}, "user", "wrong type"),
    ({"user": "a:b:c"}, "user", "USER[:GROUP]"),
    ({"command": []}, "command", "empty list"),
    ({"command": "serve --port 80"}, "command", "wrong type"),      # a list, as before
    ({"workdir": "rel"}, "workdir", "absolute"),
])
def test_run_table_errors_carry_the_key(tmp_path, table, key, words):
    with pytest.raises(rc.RunKeyError) as error:
        rc.parse_run_table(table, base_dir=str(tmp_path), environ={})
    assert error.value.key == key
    assert words in error.value.message, error.value.message
    assert error.value.exit_code == ExitCode.BAD_INPUT


# --- merging: flags over the probe file -------------------------------------------------------------

MERGE_CASES = [
    # (field, file's value, flags' value, merged)
    ("env", (("A", "file"), ("B", "file")), (("B", "flag"), ("C", "flag")),
     (("A", "file"), ("B", "flag"), ("C", "flag"))),
    ("hosts", (("db", "10.0.0.1"), ("cache", "10.0.0.2")), (("db", "10.0.0.9"),),
     (("cache", "10.0.0.2"), ("db", "10.0.0.9"))),
    ("mounts", (Mount("/data", "a", "volume"), Mount("/run", kind="tmpfs")), (Mount("/data", "b", "volume"),),
     (Mount("/data", "b", "volume"), Mount("/run", kind="tmpfs"))),
    ("networks", ("filenet",), ("flagnet",), ("flagnet",)),
    ("networks", ("filenet",), (), ("filenet",)),
    ("network_aliases", ("a",), ("b",), ("b",)),
    ("user", "file", "flag", "flag"),
    ("user", "file", None, "file"),
    ("entrypoint", ("file",), (), ()),              # --entrypoint "" clears the file's
    ("entrypoint", ("file",), None, ("file",)),
    ("command", ("file",), ("flag", "x"), ("flag", "x")),
    ("command", ("file",), None, ("file",)),
    ("workdir", "/file", "/flag", "/flag"),
    ("continue_after", "probes", "auto", "probes"),
    ("continue_after", "probes", "exit", "exit"),
]


@pytest.mark.parametrize("field, base, override, merged", MERGE_CASES)
def test_merge_flags_over_file(field, base, override, merged):
    result = rc.merge_run(RunSpec(**{field: base}), RunSpec(**{field: override}))
    assert getattr(result, field) == merged


def test_merge_keeps_the_rest():
    base = RunSpec(env=(("A", "1"),), user="app", networks=("n",))
    assert rc.merge_run(base, RunSpec()) == base


@pytest.mark.parametrize("run, words", [
    (RunSpec(network_aliases=("api",)), "needs a user-defined network"),
    (RunSpec(network_aliases=("api",), networks=("bridge",)), "needs a user-defined network"),
    (RunSpec(mounts=(Mount("/x", "a", "volume"), Mount("/x", kind="tmpfs"))), "two mounts share a target"),
])
def test_check_run(run, words):
    with pytest.raises(BadInput, match=words):
        rc.check_run(run)


def test_check_run_accepts_aliases_on_a_user_network():
    run = RunSpec(network_aliases=("api",), networks=("appnet",))
    assert rc.check_run(run) is run


def test_describe_masks_env_values():
    run = RunSpec(env=(("APP_TOKEN", SECRET),), networks=("appnet",), network_aliases=("api",),
                  mounts=(Mount("/data", "vol", "volume", True),), user="app", entrypoint=())
    text = "\n".join(rc.describe(run))
    assert SECRET not in text
    assert "APP_TOKEN=***" in text and "appnet" in text and "vol -> /data (read-only)" in text
    assert "entrypoint (cleared)" in text


def test_env_flag_reads_slims_own_environment(monkeypatch):
    monkeypatch.setenv("SLIMMER_TEST_FROM_ENV", "yes")
    assert rc.parse_env("SLIMMER_TEST_FROM_ENV") == ("SLIMMER_TEST_FROM_ENV", "yes")
    monkeypatch.delenv("SLIMMER_TEST_FROM_ENV")
    assert rc.parse_env("SLIMMER_TEST_FROM_ENV") is None
    assert "SLIMMER_TEST_FROM_ENV" not in os.environ


# --- through the probe file: the error names the file, the line and the key ---------------------------

def test_probe_file_run_keys(tmp_path):
    from slimmer.probefile import load_probe_file
    (tmp_path / "app.env").write_text(f"APP_TOKEN={SECRET}\n")
    path = tmp_path / "probes.toml"
    path.write_text('[run]\ncontinue_after = "probes"\nenv_file = "app.env"\nnetwork = "appnet"\n'
                    'network_aliases = ["api"]\nhosts = ["db:10.0.0.5"]\ntmpfs = ["/run"]\nworkdir = "/srv"\n')
    run = load_probe_file(str(path)).run
    assert run.env == (("APP_TOKEN", SECRET),) and run.continue_after == "probes"
    assert run.networks == ("appnet",) and run.network_aliases == ("api",) and run.workdir == "/srv"


@pytest.mark.parametrize("text, line, key", [
    ('[run]\ncontinue_after = "probes"\nvolumes = ["data:relative"]\n', 3, "volumes"),
    (f'[run]\nenv = {{A = "{SECRET}", B = true}}\n', 2, "env"),
    ('[[probe]]\ntype = "http"\n\n[run]\nnetwork = "host"\n', 5, "network"),
    ('[run]\nenv_file = "missing.env"\n', 2, "env_file"),
    ('[run]\nnetwork_alias = "api"\n', 2, "network_alias"),      # a typo: unknown field
])
def test_probe_file_run_errors(tmp_path, text, line, key):
    from slimmer.probefile import load_probe_file
    path = tmp_path / "probes.toml"
    path.write_text(text)
    with pytest.raises(BadInput) as error:
        load_probe_file(str(path))
    assert f"{path}, line {line}, field '{key}'" in error.value.message
    assert SECRET not in error.value.message


# --- the pipeline's side: mounts before the keep stage, networks, volumes, the lifecycle ----------------

from slimmer import pipeline  # noqa: E402
from slimmer.model import TraceLog, TracedPath  # noqa: E402


def traced(*paths: str) -> TraceLog:
    return TraceLog(version=1, paths={path: TracedPath(path, frozenset({"openat"}), False) for path in paths})


def test_reads_under_bind_and_tmpfs_mounts_are_not_image_files():
    run = RunSpec(mounts=(Mount("/etc/app", "/host/conf", "bind", True), Mount("/run", kind="tmpfs"),
                          Mount("/var/lib/app", "appdata", "volume"), Mount("/cache", kind="volume")))
    trace = traced("/etc/app/app.conf", "/etc/app/sub/x", "/etc/apparmor.d/y", "/run/app.pid",
                   "/var/lib/app/db", "/cache/item", "/usr/bin/python3")
    paths = pipeline.without_mounted_paths(trace, (run,)).paths
    assert set(paths) == {"/etc/app", "/run", "/etc/apparmor.d/y", "/var/lib/app/db", "/cache/item",
                          "/usr/bin/python3"}
    assert paths["/etc/app"].syscalls == frozenset({"mount"})      # the mount point is kept, nothing under it
    assert pipeline.without_mounted_paths(trace, (RunSpec(),)) is trace


class FakeRunDocker:
    def __init__(self, networks=(), volumes=()):
        self.networks, self.volumes = set(networks), set(volumes)
        self.created: list[str] = []
        self.removed = 0

    def network_exists(self, name):
        return name in self.networks

    def volume_exists(self, name):
        return name in self.volumes

    def create_volume(self, name):
        self.created.append(name)

    def remove_volumes(self):
        self.removed += 1
        return len(self.created)


def test_unknown_network_is_bad_input_naming_it():
    docker = FakeRunDocker(networks={"appnet"})
    pipeline.check_networks(docker, (RunSpec(networks=("appnet", "bridge")),))
    with pytest.raises(BadInput) as error:
        pipeline.check_networks(docker, (RunSpec(networks=("appnet", "typo-net")),))
    assert "unknown network: typo-net" in error.value.message and error.value.exit_code == ExitCode.BAD_INPUT


def test_only_missing_named_volumes_are_created():
    docker = FakeRunDocker(volumes={"existing"})
    run = RunSpec(mounts=(Mount("/a", "existing", "volume"), Mount("/b", "fresh", "volume"), Mount("/c", kind="volume"),
                          Mount("/d", "/host", "bind")))
    assert pipeline.create_missing_volumes(docker, (run, run), lambda event: None) == ["fresh"]
    assert docker.created == ["fresh"]


class FakeDependencies:
    def __init__(self, fail_up: bool = False):
        self.calls: list[str] = []
        self.fail_up = fail_up
        self.service = type("Service", (), {"name": "app", "compose_file": "c.yaml"})()

    def up(self):
        self.calls.append("up")
        if self.fail_up:
            raise pipeline.SlimError("the dependency cache is not ready")

    def down(self):
        self.calls.append("down")

    def down_after(self, failure):
        self.calls.append(f"down after {type(failure).__name__}")


@pytest.mark.parametrize("fail_up, body_raises, expected", [
    (False, None, ["up", "down"]),
    (False, KeyboardInterrupt, ["up", "down after KeyboardInterrupt"]),
    (False, pipeline.SlimError, ["up", "down after SlimError"]),
    (True, None, ["up", "down after SlimError"]),
])
def test_dependencies_and_volumes_go_away_whatever_happens(fail_up, body_raises, expected):
    docker = FakeRunDocker(networks={"net"})
    dependencies = FakeDependencies(fail_up)
    run = RunSpec(networks=("net",), mounts=(Mount("/data", "fresh", "volume"),))
    raised = None
    try:
        with pipeline.run_context_resources(docker, (run,), dependencies, lambda event: None, pipeline._Timer()):
            if body_raises is not None:
                raise body_raises("boom")
    except BaseException as exc:   # noqa: B036  (KeyboardInterrupt is one of the cases)
        raised = exc
    assert (raised is not None) == (fail_up or body_raises is not None)
    assert dependencies.calls == expected
    assert docker.removed == (0 if fail_up else 1)     # up failed before any volume was made
