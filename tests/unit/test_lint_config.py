"""`slim lint`'s configuration file: hadolint's .hadolint.yaml and slimmer's .slim-lint.toml."""
from __future__ import annotations

import json

import pytest

from slimmer.cli import main
from slimmer.errors import BadInput
from slimmer.lint import LintConfig, find_config, lint_dockerfile, load_config

# hadolint's README, "Configure": every key it documents
HADOLINT_README = """\
failure-threshold: info
format: json
ignored:
- DL3000
- SC1010
label-schema:
  author: text
  contact: email
  created: rfc3339
  version: semver
  documentation: url
  git-revision: hash
  license: spdx
no-color: true
no-fail: false
override:
  error:
    - DL3001
    - DL3002
  warning:
    - DL3042
    - DL3033
  info:
    - DL3032
  style:
    - DL3015
strict-labels: true
disable-ignore-pragma: false
trustedRegistries:
  - docker.io
  - my-company.com:5000
  - "*.gcr.io"
"""
# one info finding (DL3015) and one warning (DL3008)
APT = "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nUSER app\n"


def run_lint(capsys, *argv):
    try:
        code = main(["lint", *argv])
    except SystemExit as exited:
        code = exited.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ids(findings):
    return sorted((f.code or f.id, f.severity) for f in findings)


def test_hadolint_readme_example_loads(tmp_path):
    path = tmp_path / ".hadolint.yaml"
    path.write_text(HADOLINT_README)
    config = load_config(str(path))
    assert config.ignored == ("DL3000", "SC1010")
    assert config.failure_threshold == "info"
    assert config.overrides == {"DL3001": "error", "DL3002": "error", "DL3042": "warning", "DL3033": "warning",
                                "DL3032": "info", "DL3015": "style"}
    assert config.trusted_registries == ("docker.io", "my-company.com:5000", "*.gcr.io")
    assert (config.no_fail, config.disable_ignore_pragma) == (False, False)


def test_ignored_and_override():
    assert ids(lint_dockerfile(APT)) == [("DL3008", "warning"), ("DL3015", "info")]
    config = LintConfig(ignored=("DL3008",), overrides={"DL3015": "error"})
    assert ids(lint_dockerfile(APT, config=config)) == [("DL3015", "error")]
    config = LintConfig(overrides={"apt-unpinned": "style"})          # by slimmer's id too
    assert ids(lint_dockerfile(APT, config=config)) == [("DL3008", "style"), ("DL3015", "info")]


@pytest.mark.parametrize("image,trusted,fires", [
    ("python:3.12", ("docker.io",), False),
    ("ghcr.io/org/app:1.0", ("docker.io",), True),
    ("ghcr.io/org/app:1.0", ("docker.io", "ghcr.io"), False),
    ("eu.gcr.io/proj/app:1", ("*.gcr.io",), False),
    ("my-company.com:5000/team/app:2", ("my-company.com:5000",), False),
    ("localhost/app:1", ("docker.io",), True),
    ("library/debian:12", ("docker.io",), False),
])
def test_trusted_registries(image, trusted, fires):
    dockerfile = f"FROM {image} AS base\nFROM base\nUSER app\n"        # FROM base: a stage, never a registry
    found = [f for f in lint_dockerfile(dockerfile, config=LintConfig(trusted_registries=trusted))
             if f.code == "DL3026"]
    assert bool(found) is fires
    if fires:
        assert found[0].id == "untrusted-registry" and found[0].severity == "error" and found[0].line == 1
        assert (found[0].column, image.split("/")[0] in found[0].message) == (6, True)
    assert not [f for f in lint_dockerfile(dockerfile) if f.code == "DL3026"]    # no list: no rule


def test_disable_ignore_pragma():
    dockerfile = "FROM debian:12\n# hadolint ignore=DL3015,DL3008\n" + APT.split("\n", 1)[1]
    assert lint_dockerfile(dockerfile) == []
    assert ids(lint_dockerfile(dockerfile, config=LintConfig(disable_ignore_pragma=True))) == \
        [("DL3008", "warning"), ("DL3015", "info")]


def test_found_next_to_the_dockerfile_then_in_the_cwd(tmp_path, monkeypatch):
    app, elsewhere = tmp_path / "app", tmp_path / "cwd"
    app.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HOME", str(tmp_path))            # no user file of the machine's own
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert find_config(str(app / "Dockerfile")) is None
    (elsewhere / ".hadolint.yml").write_text("ignored: [DL3008]\n")
    assert find_config(str(app / "Dockerfile")) == str(elsewhere / ".hadolint.yml")
    (app / ".hadolint.yaml").write_text("ignored: [DL3015]\n")
    assert find_config(str(app / "Dockerfile")) == str(app / ".hadolint.yaml")
    (app / ".slim-lint.toml").write_text('ignored = ["DL3015"]\n')
    assert find_config(str(app / "Dockerfile")) == str(app / ".slim-lint.toml")
    assert find_config("-") == str(elsewhere / ".hadolint.yml")


def test_cli_config_file_and_flags_that_override_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(APT)
    (tmp_path / ".hadolint.yaml").write_text("failure-threshold: error\nignored: [DL3008]\n")
    code, out, _ = run_lint(capsys, "Dockerfile", "--json")
    assert code == 0 and [f["code"] for f in json.loads(out)["findings"]] == ["DL3015"]
    assert run_lint(capsys, "Dockerfile", "--failure-threshold", "info")[0] == 1          # the flag wins
    code, out, _ = run_lint(capsys, "Dockerfile", "--json", "--ignore", "DL3015")          # adds to ignored
    assert json.loads(out)["findings"] == []
    code, out, _ = run_lint(capsys, "Dockerfile", "--json", "--no-config")
    assert code == 1 and len(json.loads(out)["findings"]) == 2
    (tmp_path / "strict.toml").write_text('failure_threshold = "style"\n[override]\nstyle = ["DL3015"]\n'
                                          'warning = ["no-install-recommends"]\n')
    code, out, _ = run_lint(capsys, "Dockerfile", "--json", "--config", "strict.toml")
    assert code == 1 and {f["code"]: f["severity"] for f in json.loads(out)["findings"]} == \
        {"DL3008": "warning", "DL3015": "style"}                      # a code's override beats its id's
    (tmp_path / "nofail.yaml").write_text("no-fail: true\n")
    assert run_lint(capsys, "Dockerfile", "--config", "nofail.yaml")[0] == 0


def test_slim_lint_toml_keys_and_lint_table(tmp_path):
    path = tmp_path / ".slim-lint.toml"
    path.write_text('[lint]\nignore = ["no-user"]\ntrusted-registries = ["docker.io"]\nno-fail = true\n')
    config = load_config(str(path))
    assert (config.ignored, config.trusted_registries, config.no_fail) == (("no-user",), ("docker.io",), True)


@pytest.mark.parametrize("name,text,message", [
    (".hadolint.yaml", "ignore_me: [DL3008]\n", "unknown key in the lint configuration"),
    (".hadolint.yaml", "ignored: [DL30O8]\n", "unknown lint rule"),
    (".hadolint.yaml", "ignored: DL3008: x: y\n", "cannot read the lint configuration file"),
    (".hadolint.yaml", "override:\n  fatal: [DL3008]\n", "unknown severity under override"),
    (".hadolint.yaml", "failure-threshold: high\n", "unknown failure-threshold"),
    (".hadolint.yaml", "no-fail: maybe\n", "no-fail needs true or false"),
    (".hadolint.yaml", "- DL3008\n", "not a mapping"),
    (".slim-lint.toml", "ignored = [\n", "cannot read the lint configuration file"),
])
def test_bad_configuration_is_an_error(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        load_config(str(path))


def test_cli_bad_configuration_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(APT)
    (tmp_path / ".hadolint.yaml").write_text("ignored: [DL30O8]\n")
    code, _, err = run_lint(capsys, "Dockerfile")
    assert code == 2 and "unknown lint rule: DL30O8" in err
    code, _, err = run_lint(capsys, "Dockerfile", "--config", "missing.yaml")
    assert code == 2 and "cannot read the lint configuration file: missing.yaml" in err


def test_the_users_own_file_in_hadolints_order(tmp_path, monkeypatch):
    """After the project's directories: $XDG_CONFIG_HOME, ~/.config, ~/.hadolint/, ~/hadolint/,
    ~/.hadolint.yaml, as hadolint looks; a project file still wins."""
    home, xdg, project = tmp_path / "home", tmp_path / "xdg", tmp_path / "project"
    for directory in (home, xdg, project):
        directory.mkdir()
    monkeypatch.chdir(project)
    environ = {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}
    dockerfile = str(project / "Dockerfile")
    assert find_config(dockerfile, environ=environ) is None
    order = [home / ".hadolint.yml", home / ".hadolint.yaml", home / "hadolint" / "config.yaml",
             home / ".hadolint" / "hadolint.yaml", home / ".config" / "hadolint.yml",
             xdg / "hadolint.yaml", xdg / "slim-lint.toml"]
    for path in order:                  # each one more important than the ones before
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ignored: [DL3008]\n")
        assert find_config(dockerfile, environ=environ) == str(path)
    (project / ".hadolint.yaml").write_text("ignored: [DL3015]\n")
    assert find_config(dockerfile, environ=environ) == str(project / ".hadolint.yaml")
    assert find_config(dockerfile, environ={"HOME": str(home)}) == str(project / ".hadolint.yaml")
    (project / ".hadolint.yaml").unlink()
    # without XDG_CONFIG_HOME the user's config home is ~/.config
    assert find_config(dockerfile, environ={"HOME": str(home)}) == str(home / ".config" / "hadolint.yml")


def test_hadolint_environment_variables(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "Dockerfile").write_text(APT)
    (tmp_path / ".hadolint.yaml").write_text("failure-threshold: error\n")
    assert run_lint(capsys, "Dockerfile")[0] == 0
    monkeypatch.setenv("HADOLINT_FAILURE_THRESHOLD", "warning")           # over the file
    assert run_lint(capsys, "Dockerfile")[0] == 1
    assert run_lint(capsys, "Dockerfile", "--failure-threshold", "error")[0] == 0     # the flag wins
    monkeypatch.setenv("HADOLINT_IGNORE", "DL3008")
    monkeypatch.setenv("HADOLINT_OVERRIDE_ERROR", "DL3015")
    monkeypatch.setenv("HADOLINT_FORMAT", "json")
    code, out, _ = run_lint(capsys, "Dockerfile")
    assert code == 1 and {f["code"]: f["severity"] for f in json.loads(out)["findings"]} == {"DL3015": "error"}
    monkeypatch.setenv("HADOLINT_NOFAIL", "yes")
    assert run_lint(capsys, "Dockerfile")[0] == 0
    monkeypatch.setenv("HADOLINT_FORMAT", "checkstyle")
    code, _, err = run_lint(capsys, "Dockerfile")
    assert code == 2 and "HADOLINT_FORMAT" in err and "checkstyle" in err
    monkeypatch.setenv("HADOLINT_FORMAT", "tty")
    monkeypatch.setenv("HADOLINT_IGNORE", "DL30O8")
    code, _, err = run_lint(capsys, "Dockerfile")
    assert code == 2 and "DL30O8" in err
