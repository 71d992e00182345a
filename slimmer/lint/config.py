"""`slim lint`'s configuration file: hadolint's `.hadolint.yaml`, or slimmer's `.slim-lint.toml`.

  1. which file: `--config FILE`; else the first of .slim-lint.toml, .hadolint.yaml and
     .hadolint.yml in the Dockerfile's directory, then in the current directory, then
     the user's own, in hadolint's order: $XDG_CONFIG_HOME (default ~/.config)/
     slim-lint.toml, $XDG_CONFIG_HOME/hadolint.yaml, ~/.config/hadolint.yaml,
     ~/.hadolint/hadolint.yaml, ~/hadolint/config.yaml, ~/.hadolint.yaml (each .yml too);
     `--no-config` reads none;
  2. the keys are hadolint's, in both files (TOML writes the same keys; `ignore`,
     `failure_threshold` and `trusted-registries` are read as `ignored`,
     `failure-threshold` and `trustedRegistries`):
       ignored: [DL3008, no-user]                 rules off, by hadolint code or slimmer id
       failure-threshold: warning                 as --failure-threshold
       override: {error: [DL3015], style: [...]}  a rule's severity (error, warning, info, style)
       trustedRegistries: [docker.io, "*.corp.example"]
                                                  FROM only from these registries (untrusted-registry,
                                                  hadolint's DL3026); an image with no registry is docker.io's
       no-fail: true                              exit 0 whatever is found
       disable-ignore-pragma: true                inline `# hadolint ignore=` comments are not honoured
     hadolint's other keys (format, no-color, strict-labels, label-schema, verbose) are read
     and not used; any other key is an error, so a typo does not silently keep a rule on;
  3. hadolint's environment variables come over the file (with_environment):
     HADOLINT_IGNORE=DL3008,DL3015 (adds to `ignored`), HADOLINT_FAILURE_THRESHOLD,
     HADOLINT_OVERRIDE_ERROR/_WARNING/_INFO/_STYLE, HADOLINT_TRUSTED_REGISTRIES,
     HADOLINT_NOFAIL and HADOLINT_DISABLE_IGNORE_PRAGMA (1, true or yes),
     HADOLINT_FORMAT (tty or text, json, sarif; when --format is not given);
  4. flags win: --ignore adds to `ignored`, --failure-threshold replaces `failure-threshold`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import BadInput
from .parse import rule_key
from .rule import SEVERITIES

CONFIG_NAMES = (".slim-lint.toml", ".hadolint.yaml", ".hadolint.yml")
_UNUSED_HADOLINT_KEYS = {"format", "no-color", "strict-labels", "label-schema", "verbose"}
_ALIASES = {"ignore": "ignored", "trusted-registries": "trustedRegistries", "trustedregistries": "trustedRegistries",
            "failure_threshold": "failure-threshold", "no_fail": "no-fail",
            "disable_ignore_pragma": "disable-ignore-pragma"}
_KEYS = {"ignored", "failure-threshold", "override", "trustedRegistries", "no-fail", "disable-ignore-pragma"}
_EXAMPLE = "e.g. ignored: [DL3008] and failure-threshold: warning (docs/LINT.md, Configuration file)"


@dataclass(frozen=True)
class LintConfig:
    path: str | None = None
    ignored: tuple[str, ...] = ()
    failure_threshold: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)     # rule id or code -> severity
    trusted_registries: tuple[str, ...] = ()
    no_fail: bool = False
    disable_ignore_pragma: bool = False


def find_config(dockerfile: str | None, cwd: str = ".", environ: Mapping[str, str] | None = None) -> str | None:
    """The configuration file for DOCKERFILE (rule 1), or None."""
    places = []
    if dockerfile and dockerfile != "-":
        places.append(os.path.dirname(os.path.abspath(dockerfile)))
    places.append(os.path.abspath(cwd))
    candidates = [os.path.join(directory, name) for directory in dict.fromkeys(places) for name in CONFIG_NAMES]
    candidates += user_config_files(os.environ if environ is None else environ)
    return next((candidate for candidate in candidates if os.path.isfile(candidate)), None)


def user_config_files(environ: Mapping[str, str]) -> list[str]:
    """The user's own configuration files, in hadolint's order (rule 1)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    xdg = environ.get("XDG_CONFIG_HOME", "")
    config_home = xdg if os.path.isabs(xdg) else os.path.join(home, ".config")
    stems = [os.path.join(config_home, "hadolint"), os.path.join(home, ".config", "hadolint"),
             os.path.join(home, ".hadolint", "hadolint"), os.path.join(home, "hadolint", "config"),
             os.path.join(home, ".hadolint")]
    files = [os.path.join(config_home, "slim-lint.toml")]
    files += [stem + extension for stem in dict.fromkeys(stems) for extension in (".yaml", ".yml")]
    return files


_TRUE = {"1", "true", "yes", "on"}
_FORMATS = {"tty": "text", "text": "text", "json": "json", "sarif": "sarif"}


def with_environment(config: LintConfig, environ: Mapping[str, str]) -> tuple[LintConfig, str | None]:
    """CONFIG with hadolint's environment variables over it (rule 3), and the output format
    HADOLINT_FORMAT asks for (None: not set)."""
    from .runner import THRESHOLDS, check_rule_names

    def listed(name: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in environ.get(name, "").split(",") if item.strip())

    ignored = listed("HADOLINT_IGNORE")
    check_rule_names(ignored)
    threshold = environ.get("HADOLINT_FAILURE_THRESHOLD", "").strip().lower() or None
    if threshold is not None and threshold not in THRESHOLDS:
        raise BadInput("unknown HADOLINT_FAILURE_THRESHOLD", threshold, f"use one of: {', '.join(THRESHOLDS)}")
    overrides = dict(config.overrides)
    for level in SEVERITIES:
        rules = listed(f"HADOLINT_OVERRIDE_{level.upper()}")
        check_rule_names(rules)
        overrides.update({rule_key(rule): level for rule in rules})
    output = environ.get("HADOLINT_FORMAT", "").strip().lower() or None
    if output is not None and output not in _FORMATS:
        raise BadInput("HADOLINT_FORMAT names a format slim lint does not write", output,
                       "use tty, json or sarif (or slim lint --format github)")

    def flag(name: str, current: bool) -> bool:
        value = environ.get(name)
        return current if value is None else value.strip().lower() in _TRUE

    return (LintConfig(path=config.path, ignored=config.ignored + ignored,
                       failure_threshold=threshold or config.failure_threshold, overrides=overrides,
                       trusted_registries=listed("HADOLINT_TRUSTED_REGISTRIES") or config.trusted_registries,
                       no_fail=flag("HADOLINT_NOFAIL", config.no_fail),
                       disable_ignore_pragma=flag("HADOLINT_DISABLE_IGNORE_PRAGMA", config.disable_ignore_pragma)),
            _FORMATS.get(output) if output else None)


def load_config(path: str) -> LintConfig:
    """The configuration in PATH (.toml: slimmer's; otherwise YAML: hadolint's)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise BadInput("cannot read the lint configuration file", f"{path}: {exc.strerror}",
                       "pass an existing .hadolint.yaml or .slim-lint.toml") from exc
    data = _toml(raw, path) if path.endswith(".toml") else _yaml(raw, path)
    if data is None:
        return LintConfig(path=path)
    if not isinstance(data, dict):
        raise BadInput("the lint configuration is not a mapping of keys", path, _EXAMPLE)
    return _config(data, path)


def _toml(raw: bytes, path: str):
    try:
        import tomllib
    except ModuleNotFoundError:   # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput("cannot read the lint configuration file", f"{path}: {exc}", _EXAMPLE) from exc
    return data.get("lint", data) if isinstance(data.get("lint"), dict) else data


def _yaml(raw: bytes, path: str):
    import yaml
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput("cannot read the lint configuration file", f"{path}: {exc}", _EXAMPLE) from exc


def _config(data: dict, path: str) -> LintConfig:
    from .runner import THRESHOLDS, check_rule_names
    values: dict[str, object] = {}
    for key, value in data.items():
        name = _ALIASES.get(str(key), _ALIASES.get(str(key).lower(), str(key)))
        if name in _UNUSED_HADOLINT_KEYS:
            continue
        if name not in _KEYS:
            raise BadInput("unknown key in the lint configuration", f"{path}: {key}",
                           f"known keys: {', '.join(sorted(_KEYS))}")
        values[name] = value

    def names(key: str, value) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise BadInput("a lint configuration key needs a list of names", f"{path}: {key}: {value!r}", _EXAMPLE)
        return tuple(value)

    ignored = names("ignored", values.get("ignored"))
    check_rule_names(ignored)
    threshold = values.get("failure-threshold")
    if threshold is not None and threshold not in THRESHOLDS:
        raise BadInput("unknown failure-threshold in the lint configuration", f"{path}: {threshold}",
                       f"use one of: {', '.join(THRESHOLDS)}")
    overrides: dict[str, str] = {}
    override = values.get("override") or {}
    if not isinstance(override, dict):
        raise BadInput("override needs severity lists", f"{path}: override: {override!r}",
                       "e.g. override: {error: [DL3015], info: [DL3008]}")
    for level, rules in override.items():
        if level not in SEVERITIES:
            raise BadInput("unknown severity under override", f"{path}: {level}", f"use: {', '.join(SEVERITIES)}")
        listed = names(f"override.{level}", rules)
        check_rule_names(listed)
        overrides.update({rule_key(rule): level for rule in listed})
    registries = names("trustedRegistries", values.get("trustedRegistries"))
    flags = {}
    for key in ("no-fail", "disable-ignore-pragma"):
        value = values.get(key, False)
        if not isinstance(value, bool):
            raise BadInput(f"{key} needs true or false", f"{path}: {key}: {value!r}", f"e.g. {key}: true")
        flags[key] = value
    return LintConfig(path=path, ignored=ignored, failure_threshold=threshold, overrides=overrides,
                      trusted_registries=registries, no_fail=flags["no-fail"],
                      disable_ignore_pragma=flags["disable-ignore-pragma"])


def registry_of(image: str) -> str:
    """'ghcr.io/org/app:1' -> 'ghcr.io'; 'python:3.12', 'library/python' -> 'docker.io'."""
    first, slash, _ = image.partition("/")
    if slash and (re.search(r"[.:]", first) or first == "localhost"):
        return first.lower()
    return "docker.io"
