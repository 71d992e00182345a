"""`slim lint`: layer, cache and correctness mistakes in a Dockerfile (pure).

Every rule has slimmer's own id, hadolint's code where hadolint has the same
check, a severity (error > warning > info > style), a why and a fix; RULES is
the catalogue (docs/LINT.md is written from it). One module per rule family,
each with its rules' catalogue entries and checks:

  layers.py    copy-before-install, remove-in-later-layer, consecutive-runs, outside-state
  apt.py       apt-update-alone, no-install-recommends, apt-unpinned, apt-no-yes
  caches.py    cache-not-removed (apt, pip, npm, yarn, apk, yum/dnf caches)
  pip.py       pip-unpinned
  add.py       add-remote-url, add-local-file
  stages.py    unpinned-from, toolchain-final-stage, unknown-from-stage, copy-from-own-stage,
               duplicate-stage-name
  shell.py     pipefail, cd-in-run, sudo
  metadata.py  no-user, shell-form-cmd, maintainer, invalid-expose, relative-workdir
  secrets.py   secret-in-env
  (stages.py's untrusted-registry runs when the configuration lists trusted registries)

and the machinery around them:

  parse.py      the Dockerfile parser: directives, continuations, heredocs, ignore comments,
                parse errors (DockerfileError)
  shelltext.py  reading the shell text of a RUN (commands, words, pipes)
  rule.py       Rule, Finding, and `finding`, which points a finding at the offending word
  rules.py      the families, the catalogue RULES in its published order, every check
  runner.py     lint_dockerfile (ignores), fails (--failure-threshold)
  evidence.py   attach_image_figures: xray's byte evidence on the findings (--image)
  config.py     the configuration file: .hadolint.yaml (hadolint's keys) or .slim-lint.toml
  render.py     text, JSON and GitHub annotations (SARIF is slimmer/sarif.py)
"""
from __future__ import annotations

from .apt import APT_INSTALL, APT_UPDATE
from .config import CONFIG_NAMES, LintConfig, find_config, load_config, user_config_files, with_environment
from .layers import CLEANUP, CREATES, INSTALLERS, MANAGERS
from .parse import (HEREDOC, INSTRUCTIONS, LAYER_MAKING, DockerfileError, Instruction,
                    parse_dockerfile)
from .render import render_github, render_text, to_json
from .rule import SEVERITIES, Finding, Rule
from .rules import RULES, WHY
from .evidence import attach_image_figures
from .runner import THRESHOLDS, check_rule_names, fails, lint_dockerfile
from .secrets import is_secret_name
from .shelltext import shell_commands
from .stages import toolchain_image

__all__ = [
    "APT_INSTALL", "APT_UPDATE", "CLEANUP", "CONFIG_NAMES", "LintConfig", "find_config", "load_config", "user_config_files", "with_environment", "CREATES", "HEREDOC", "INSTALLERS", "INSTRUCTIONS", "LAYER_MAKING",
    "MANAGERS", "RULES", "SEVERITIES", "THRESHOLDS", "WHY", "DockerfileError", "Finding", "Instruction", "Rule",
    "attach_image_figures", "check_rule_names", "fails", "is_secret_name", "lint_dockerfile", "parse_dockerfile",
    "render_github", "render_text", "shell_commands", "to_json", "toolchain_image",
]
