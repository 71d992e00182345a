"""lint: a positive and a negative Dockerfile per rule, plus parsing, ignores, thresholds,
output formats (text, JSON, GitHub, SARIF) and image figures."""
from __future__ import annotations

import io
import json
import os

import pytest

from imagetar import file, save_archive, whiteout
from slimmer.cli import main
from slimmer.errors import BadInput
from slimmer.lint import (RULES, DockerfileError, attach_image_figures, check_rule_names, fails,
                          is_secret_name, lint_dockerfile, parse_dockerfile, render_github, render_text,
                          shell_commands, to_json, toolchain_image)
from slimmer.sarif import lint_log
from slimmer.xray import analyse, layer_instructions, read_image

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
HEAD = "FROM debian:bookworm-slim\n"
TAIL = "USER app\n"
APT_CLEAN = " && rm -rf /var/lib/apt/lists/*"

# rule id -> (Dockerfile that must trigger it at LINE, line, Dockerfile that must not trigger it)
CASES = {
    "copy-before-install": (
        HEAD + "WORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n" + TAIL, 3,
        HEAD + "WORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
        "COPY . .\n" + TAIL),
    "apt-update-alone": (
        HEAD + "RUN apt-get update\nRUN echo done\n" + TAIL, 2,
        HEAD + "RUN apt-get update && apt-get install -y --no-install-recommends curl "
        "&& rm -rf /var/lib/apt/lists/*\n" + TAIL),
    "cache-not-removed": (
        HEAD + "RUN apt-get update && apt-get install -y curl\n" + TAIL, 2,
        HEAD + "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n" + TAIL),
    "remove-in-later-layer": (
        HEAD + "RUN curl -o /tmp/big.tgz https://example.com/big.tgz && tar -C /opt -xzf /tmp/big.tgz\n"
        "RUN echo unrelated\nRUN rm -f /tmp/big.tgz\n" + TAIL, 4,
        HEAD + "RUN curl -o /tmp/big.tgz https://example.com/big.tgz && tar -C /opt -xzf /tmp/big.tgz "
        "&& rm -f /tmp/big.tgz\nRUN rm -f /etc/motd\n" + TAIL),
    "add-remote-url": (
        HEAD + "ADD https://example.com/tool.tar.gz /opt/\n" + TAIL, 2,
        "FROM debian:bookworm-slim AS fetch\n"
        "ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d "
        "https://example.com/tool.tar.gz /opt/\n" + HEAD + "ADD tool.tar.gz /opt/\n" + TAIL),
    "unpinned-from": (
        "FROM python:latest\n" + TAIL, 1,
        "FROM python:3.11-slim AS base\nFROM base\nFROM scratch\n" + TAIL),
    "consecutive-runs": (
        HEAD + "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
        "RUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n" + TAIL, 3,
        HEAD + "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
        "RUN useradd -r app\n" + TAIL),
    "outside-state": (
        HEAD + "RUN curl -fsSL https://get.example.com | sh\n" + TAIL, 2,
        HEAD + "RUN git clone --branch v1.2.3 https://github.com/a/b /b\n" + TAIL),
    "no-user": (
        HEAD + "RUN echo hi\n", 1,
        HEAD + "RUN echo hi\n" + TAIL),
    # the rules hadolint users know (issue 18)
    "no-install-recommends": (
        HEAD + "RUN apt-get update && apt-get install -y curl=7.88.1-10" + APT_CLEAN + "\n" + TAIL, 2,
        HEAD + "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10" + APT_CLEAN
        + "\n" + TAIL),
    "apt-unpinned": (
        HEAD + "RUN apt-get update \\\n && apt-get install -y --no-install-recommends ca-certificates=20230311 "
        "curl" + APT_CLEAN + "\n" + TAIL, 3,
        HEAD + "RUN apt-get update && apt-get install -y --no-install-recommends -t bookworm-backports "
        "-o Dpkg::Options::=--force-confold curl=7.88.1-10 git/bookworm-backports ./tool.deb \"$EXTRA\" "
        "2>/dev/null" + APT_CLEAN + "\n" + TAIL),
    "pip-unpinned": (
        HEAD + "RUN pip install --no-cache-dir flask==3.0.2 \\\n    gunicorn\n" + TAIL, 3,
        HEAD + "RUN pip install --no-cache-dir flask==3.0.2 'requests>=2.31' -r requirements.txt . "
        "&& python3 -m pip install --no-cache-dir --index-url https://pypi.example/simple gunicorn==21.2.0 "
        "&& pip install --no-cache-dir -c constraints.txt celery\n" + TAIL),
    "secret-in-env": (
        HEAD + "ENV APP_ENV=prod DB_PASSWORD=hunter2\n" + TAIL, 2,
        HEAD + "ARG GITHUB_TOKEN\nENV TOKENIZERS_PARALLELISM=false POSTGRES_PASSWORD_FILE=/run/secrets/pg "
        "MYSQL_ALLOW_EMPTY_PASSWORD=yes API_TOKEN=${API_TOKEN} AWS_ACCESS_KEY_ID=AKIAEXAMPLE GPG_KEY=A035C8C1\n"
        + TAIL),
    "toolchain-final-stage": (
        "FROM golang:1.22\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n"
        "RUN go build -o /app\n" + TAIL, 1,
        "FROM golang:1.22 AS build\nRUN go build -o /app\nFROM gcr.io/distroless/static-debian12:nonroot\n"
        "COPY --from=build /app /app\n" + TAIL),
    "shell-form-cmd": (
        HEAD + TAIL + "CMD python3 app.py\n", 3,
        HEAD + TAIL + 'ENTRYPOINT ["/usr/bin/tini", "--"]\nCMD ["python3", "app.py"]\n'),
    "maintainer": (
        HEAD + "MAINTAINER ops@example.com\n" + TAIL, 2,
        HEAD + 'LABEL org.opencontainers.image.authors="ops@example.com"\n' + TAIL),
    "cd-in-run": (
        HEAD + "RUN cd /src && make\n" + TAIL, 2,
        HEAD + "WORKDIR /src\nRUN make && echo \"then cd /x\" && abcd --cd\n" + TAIL),
    "sudo": (
        HEAD + "RUN make && sudo make install\n" + TAIL, 2,
        HEAD + "RUN useradd -G sudo app && echo 'sudo is not used'\n" + TAIL),
    "add-local-file": (
        HEAD + "ADD app.py /app/\n" + TAIL, 2,
        HEAD + "ADD vendor.tar.gz rootfs.tar.xz /opt/\nCOPY app.py /app/\n" + TAIL),
    "invalid-expose": (
        HEAD + TAIL + "EXPOSE 8080 70000/tcp\n", 3,
        HEAD + TAIL + "EXPOSE 80 443/tcp 53/udp 8000-8010 ${PORT}\n"),
    "pipefail": (
        HEAD + "RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /opt\n" + TAIL, 2,
        HEAD + 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN curl -fsSL https://example.com/t.tgz | tar -xz\n'
        "RUN test -f /x || echo 'a|b'\n" + TAIL),
    "apt-no-yes": (
        HEAD + "RUN apt-get update && apt-get install --no-install-recommends curl=7.88.1-10" + APT_CLEAN + "\n"
        + TAIL, 2,
        HEAD + "RUN apt-get update && apt-get -qqy install --no-install-recommends curl=7.88.1-10 "
        "&& apt-get install --yes --no-install-recommends git=1:2.39.2-1" + APT_CLEAN + "\n" + TAIL),
    "unknown-from-stage": (
        "FROM debian:bookworm-slim AS build\nRUN make\n" + HEAD + "COPY --from=biuld /out /out\n" + TAIL, 4,
        "FROM debian:bookworm-slim AS build\nRUN make\n" + HEAD + "COPY --from=build /out /out\n"
        "COPY --from=0 /etc/x /etc/x\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx\n"
        "COPY --from=ghcr.io/org/tool /tool /tool\nCOPY --from=$STAGE /y /y\n" + TAIL),
    "copy-from-own-stage": (
        "FROM debian:bookworm-slim AS build\nCOPY --from=build /a /b\n" + TAIL, 2,
        "FROM debian:bookworm-slim AS build\nFROM debian:bookworm-slim\nCOPY --from=build /a /b\n" + TAIL),
    "duplicate-stage-name": (
        "FROM debian:bookworm-slim AS build\nFROM debian:bookworm-slim AS Build\n" + TAIL, 2,
        "FROM debian:bookworm-slim AS build\nFROM debian:bookworm-slim AS test\n" + HEAD + TAIL),
    "relative-workdir": (
        HEAD + "WORKDIR app\n" + TAIL, 2,
        HEAD + "WORKDIR /app\nWORKDIR $HOME/app\n" + TAIL),
}


def test_every_rule_has_a_case():
    """untrusted-registry runs only with a configured list: its cases are in test_lint_config.py."""
    assert set(CASES) | {"untrusted-registry"} == set(RULES)


@pytest.mark.parametrize("rule", CASES)
def test_rule_fires(rule):
    positive, line, _ = CASES[rule]
    findings = [f for f in lint_dockerfile(positive) if f.id == rule]
    assert [f.line for f in findings] == [line]
    finding = findings[0]
    assert finding.why and finding.message
    assert finding.severity == RULES[rule].severity
    assert finding.code is None or finding.code in RULES[rule].codes


@pytest.mark.parametrize("rule", CASES)
def test_rule_stays_quiet(rule):
    _, _, negative = CASES[rule]
    assert [f for f in lint_dockerfile(negative) if f.id == rule] == []


# rule -> hadolint code and severity as a user would read them in the output
CODES = {
    "no-install-recommends": ("DL3015", "info"), "apt-unpinned": ("DL3008", "warning"),
    "pip-unpinned": ("DL3013", "warning"), "secret-in-env": (None, "error"),
    "toolchain-final-stage": (None, "warning"), "shell-form-cmd": ("DL3025", "warning"),
    "maintainer": ("DL4000", "error"), "cd-in-run": ("DL3003", "warning"), "sudo": ("DL3004", "error"),
    "add-local-file": ("DL3020", "error"), "invalid-expose": ("DL3011", "error"), "pipefail": ("DL4006", "warning"),
    "apt-no-yes": ("DL3014", "warning"), "unknown-from-stage": ("DL3022", "warning"),
    "copy-from-own-stage": ("DL3023", "error"), "duplicate-stage-name": ("DL3024", "error"),
    "relative-workdir": ("DL3000", "error"), "unpinned-from": ("DL3007", "warning"),
    "consecutive-runs": ("DL3059", "info"), "cache-not-removed": ("DL3009", "warning"),
}


@pytest.mark.parametrize("rule", CODES)
def test_hadolint_code_and_severity(rule):
    positive = CASES[rule][0]
    [finding] = [f for f in lint_dockerfile(positive) if f.id == rule]
    assert (finding.code, finding.severity) == CODES[rule]


MORE_POSITIVES = {
    "FROM without a tag": ("unpinned-from", "FROM ubuntu\n" + TAIL),
    "git clone unpinned": ("outside-state", HEAD + "RUN git clone https://github.com/a/b /b && make -C /b\n" + TAIL),
    "apt-get upgrade": ("outside-state", HEAD + "RUN apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/*\n" + TAIL),
    "pip without --no-cache-dir": ("cache-not-removed", HEAD + "RUN pip install flask\n" + TAIL),
    "npm without cache clean": ("cache-not-removed", HEAD + "RUN npm ci\n" + TAIL),
    "apk without --no-cache": ("cache-not-removed", "FROM alpine:3.19\nRUN apk add curl\n" + TAIL),
    "yarn without cache clean": ("cache-not-removed", "FROM node:20-slim\nRUN yarn install --frozen-lockfile\n" + TAIL),
    "apt lists removed in a later RUN": ("remove-in-later-layer", HEAD + "RUN apt-get update && apt-get install -y curl\n"
                                         "RUN rm -rf /var/lib/apt/lists/*\n" + TAIL),
    "cleanup RUN right after": ("consecutive-runs", HEAD + "RUN make build\nRUN rm -rf /src/build-cache\n" + TAIL),
    "USER root at the end": ("no-user", HEAD + "USER app\nRUN id\nUSER root\n"),
    "ADD of a URL with a checksum in the final stage": (
        "add-remote-url", HEAD + "ADD --checksum=sha256:abc https://example.com/t.tgz /opt/\n" + TAIL),
    "ARG with a secret default": ("secret-in-env", HEAD + "ARG NPM_TOKEN=npm_abcdef\n" + TAIL),
    "legacy ENV form": ("secret-in-env", HEAD + "ENV SECRET_KEY_BASE s3cr3t value\n" + TAIL),
    "node full image, single stage": ("toolchain-final-stage", "FROM node:20\nCOPY . /app\n" + TAIL),
    "final stage FROM a toolchain stage": ("toolchain-final-stage",
                                           "FROM maven:3.9-eclipse-temurin-17 AS build\nRUN mvn package\n"
                                           "FROM build\n" + TAIL),
    "toolchain base through a global ARG": ("toolchain-final-stage", "ARG GO=golang:1.22\nFROM ${GO}\n" + TAIL),
    "pipe inside a heredoc": ("pipefail", HEAD + "RUN <<EOF\nset -e\ncurl -fsSL https://x/y | tar -xz\nEOF\n" + TAIL),
    "sudo in a heredoc": ("sudo", HEAD + "RUN <<EOF\nsudo apt-get update\nEOF\n" + TAIL),
    "python -m pip unpinned": ("pip-unpinned", HEAD + "RUN python3 -m pip install --no-cache-dir 'uvicorn[standard]'\n" + TAIL),
    "apt install without -y": ("apt-no-yes", HEAD + "RUN apt update && apt install --no-install-recommends "
                               "curl=7.88.1-10" + APT_CLEAN + "\n" + TAIL),
    "stage index not defined yet": ("unknown-from-stage", HEAD + "COPY --from=1 /a /b\n" + TAIL),
    "EXPOSE range backwards": ("invalid-expose", HEAD + "EXPOSE 9000-8000\n" + TAIL),
    "EXPOSE unknown protocol": ("invalid-expose", HEAD + "EXPOSE 80/http\n" + TAIL),
    "cd in a subshell": ("cd-in-run", HEAD + "RUN (cd /src; make)\n" + TAIL),
}


@pytest.mark.parametrize("rule,text", MORE_POSITIVES.values(), ids=MORE_POSITIVES.keys())
def test_more_positives(rule, text):
    assert rule in {f.id for f in lint_dockerfile(text)}


MORE_NEGATIVES = {
    "node slim image": ("toolchain-final-stage", "FROM node:20-slim\nCOPY . /app\n" + TAIL),
    "JRE image": ("toolchain-final-stage", "FROM eclipse-temurin:17-jre\nCOPY app.jar /app.jar\n" + TAIL),
    "heredoc fed to python": ("pipefail", HEAD + "RUN python3 <<EOF\nprint('a' | 'b')\nEOF\n" + TAIL),
    "set -o pipefail in the RUN": ("pipefail", HEAD + "RUN set -eux -o pipefail; curl -fsSL https://x/y | tar -xz\n"
                                   + TAIL),
    "pipefail shell inherited from the parent stage": (
        "pipefail", "FROM debian:bookworm-slim AS base\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"
        "FROM base\nRUN a | b\n" + TAIL),
    "pwsh shell": ("pipefail", "FROM mcr.microsoft.com/powershell:7.4-debian-12\nSHELL [\"pwsh\", \"-Command\"]\n"
                   "RUN Get-ChildItem | Select-Object Name\n" + TAIL),
    "exec-form RUN": ("pipefail", HEAD + 'RUN ["sh", "-c", "a | b"]\n' + TAIL),
    "apt recommends off in apt.conf": (
        "no-install-recommends", HEAD + "RUN echo 'APT::Install-Recommends \"false\";' > "
        "/etc/apt/apt.conf.d/00norec\nRUN apt-get update && apt-get install -y curl=1" + APT_CLEAN + "\n" + TAIL),
    "ADD of a git repository": ("add-local-file", HEAD + "ADD https://github.com/a/b.git /src\n" + TAIL),
    "COPY heredoc": ("add-local-file", HEAD + "ADD <<EOF /etc/motd\nhello\nEOF\n" + TAIL),
    "pinned FROM through a global ARG": ("unpinned-from", "ARG PY=3.12\nFROM python:${PY}-slim\n" + TAIL),
    "numeric uid": ("no-user", HEAD + "USER 10001:10001\n"),
}


@pytest.mark.parametrize("rule,text", MORE_NEGATIVES.values(), ids=MORE_NEGATIVES.keys())
def test_more_negatives(rule, text):
    assert rule not in {f.id for f in lint_dockerfile(text)}


def test_clean_dockerfile_has_no_findings():
    text = ("FROM debian:bookworm-slim AS build\n"
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 \\\n"
            " && rm -rf /var/lib/apt/lists/*\n"
            "WORKDIR /src\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
            "FROM debian:bookworm-slim\nCOPY --from=build /src/app /app\nUSER 1000\nCMD [\"/app\"]\n")
    assert lint_dockerfile(text) == []


MODERN = """\
# syntax=docker/dockerfile:1.7
ARG PYTHON_VERSION=3.12
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache/pip \\
    --mount=type=bind,source=requirements.txt,target=requirements.txt \\
    pip install --prefix=/install -r requirements.txt
COPY . .
RUN <<EOF
set -eu
python -m compileall -q /src
EOF

FROM python:${PYTHON_VERSION}-slim
ARG GITHUB_TOKEN
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\
    --mount=type=cache,target=/var/lib/apt,sharing=locked \\
    --mount=type=secret,id=token \\
    apt-get update && apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1 \\
    && curl -fsSL https://example.com/tool.tgz | tar -xz -C /opt
COPY --from=build /install /usr/local
COPY --link --chmod=755 <<-EOT /usr/local/bin/entry
	#!/bin/sh
	exec python -m app "$@"
	EOT
COPY --from=build --link /src /app
WORKDIR /app
USER 1000:1000
EXPOSE 8000/tcp
HEALTHCHECK --interval=30s CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://localhost:8000/')"]
ENTRYPOINT ["/usr/local/bin/entry"]
"""


def test_modern_buildkit_dockerfile_has_no_findings():
    assert lint_dockerfile(MODERN) == []


def test_heredocs_are_folded_into_their_instruction():
    parsed = parse_dockerfile(MODERN)
    keywords = [i.keyword for i in parsed]
    assert keywords == ["ARG", "FROM", "WORKDIR", "RUN", "COPY", "RUN", "FROM", "ARG", "ENV", "SHELL", "RUN", "COPY",
                        "COPY", "COPY", "WORKDIR", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT"]
    script = parsed[5]
    assert (script.line, script.command) == (9, "set -eu\npython -m compileall -q /src")
    entry = parsed[12]
    assert entry.heredocs == (("EOT", '#!/bin/sh\nexec python -m app "$@"'),)
    assert (entry.line, entry.stage, parsed[13].line) == (24, 1, 28)
    assert parsed[0].stage == -1     # ARG before FROM belongs to no stage


def test_parser_joins_continuations_skips_comments_and_tracks_stages():
    text = ("# syntax=docker/dockerfile:1\n# escape=\\\nFROM a:1 AS one\n\n# comment\nRUN echo a \\\n"
            "  # inside\n  && echo b\nCMD [\"x\", \"y\"]\nfrom b:2\nrun echo c\n")
    parsed = [(i.line, i.keyword, i.args, i.stage, i.exec_form) for i in parse_dockerfile(text)]
    assert parsed == [(3, "FROM", "a:1 AS one", 0, False), (6, "RUN", "echo a && echo b", 0, False),
                      (9, "CMD", '["x", "y"]', 0, True), (10, "FROM", "b:2", 1, False),
                      (11, "RUN", "echo c", 1, False)]


def test_backtick_escape_directive():
    text = "# escape=`\nFROM a:1\nRUN echo a `\n  && echo b\nUSER x\n"
    assert [i.args for i in parse_dockerfile(text)][1] == "echo a && echo b"


PARSE_ERRORS = {
    "unknown instruction FROMM": ("FROMM debian:12\nRUN echo\n", 1, 1, "did you mean FROM?"),
    "unknown instruction RUNN": ("FROM debian:12\n  RUNN echo hi\n", 2, 3, "did you mean RUN?"),
    "unknown instruction in ONBUILD": ("FROM debian:12\nONBUILD RUNN make\n", 2, 9, "did you mean RUN?"),
    "RUN before FROM": ("RUN echo\nFROM debian:12\n", 1, 1, "only ARG may come before FROM"),
    "RUN needs arguments": ("FROM debian:12\nRUN\n", 2, 1, "e.g. RUN make"),
    "file ends in a continuation": ("FROM debian:12\nRUN echo a \\\n", 2, 1, "remove the trailing \\"),
    "heredoc not terminated": ("FROM debian:12\nRUN <<EOF\necho a\n", 2, 1, "a line holding only EOF"),
}


@pytest.mark.parametrize("text,line,column,hint", PARSE_ERRORS.values(), ids=PARSE_ERRORS.keys())
def test_parse_errors_name_line_and_column(text, line, column, hint):
    with pytest.raises(DockerfileError) as raised:
        lint_dockerfile(text, "app/Dockerfile")
    error = raised.value
    assert (error.line, error.column, error.exit_code) == (line, column, 2)
    assert error.message.startswith(f"app/Dockerfile:{line}:{column}: ")
    assert hint in error.message


def test_columns_point_at_the_offending_word():
    text = HEAD + "RUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl" + APT_CLEAN + "\n" \
        + TAIL + "EXPOSE 80 99999\nWORKDIR  app\n"
    where = {f.id: (f.line, f.column, f.anchor) for f in lint_dockerfile(text)}
    assert where["apt-unpinned"] == (3, 48, 2)
    assert where["invalid-expose"] == (5, 11, 5)
    assert where["relative-workdir"] == (6, 10, 6)


def test_shell_commands_respect_quotes_operators_and_assignments():
    assert shell_commands("DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b' 2>/dev/null && "
                          "(cd /x; make) | tee log || echo \"x|y\"") == [
        ["apt-get", "install", "-y", "a b"], ["cd", "/x"], ["make"], ["tee", "log"], ["echo", "x|y"]]


@pytest.mark.parametrize("name,secret", [
    ("DB_PASSWORD", True), ("GITHUB_TOKEN", True), ("API_KEY", True), ("aws_secret_access_key", True),
    ("MYSQL_ROOT_PASSWD", True), ("TOKENIZERS_PARALLELISM", False), ("POSTGRES_PASSWORD_FILE", False),
    ("AWS_ACCESS_KEY_ID", False), ("GPG_KEY", False), ("PATH", False)])
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


@pytest.mark.parametrize("image,toolchain", [
    ("golang:1.22-alpine", "golang"), ("gcc:13", "gcc"), ("docker.io/library/maven:3.9", "maven"),
    ("node:20", "node"), ("node", "node"), ("node:20-slim", None), ("python:3.12-slim", None),
    ("mcr.microsoft.com/dotnet/sdk:8.0", "dotnet/sdk"), ("mcr.microsoft.com/dotnet/aspnet:8.0", None),
    ("openjdk:17-jdk-slim", "openjdk"), ("openjdk:17-jre", None), ("debian:bookworm-slim", None)])
def test_toolchain_images(image, toolchain):
    assert toolchain_image(image) == toolchain


# --- ignores and the failure threshold ---------------------------------------------------------------

PLANTED = (HEAD + "# hadolint ignore=DL3008,DL3015\n"
           "RUN apt-get update && apt-get install -y curl" + APT_CLEAN + "\n"
           "RUN apt-get update && apt-get install -y git" + APT_CLEAN + "\n"
           "# slim ignore=shell-form-cmd\nCMD run-me\nENTRYPOINT run-me-too\n" + TAIL)


def test_inline_ignore_covers_the_next_instruction_only():
    found = {(f.id, f.anchor) for f in lint_dockerfile(PLANTED)}
    assert ("apt-unpinned", 3) not in found and ("no-install-recommends", 3) not in found
    assert ("apt-unpinned", 4) in found and ("no-install-recommends", 4) in found
    assert ("shell-form-cmd", 6) not in found and ("shell-form-cmd", 7) in found


def test_slim_lint_and_global_ignores():
    text = "# slim-lint global ignore=no-user\n" + HEAD + "# slim-lint ignore=DL3003\nRUN cd /x && make\n" \
        "RUN cd /y && make\n"
    assert [(f.id, f.line) for f in lint_dockerfile(text)] == [("cd-in-run", 5)]


def test_ignore_argument_takes_ids_and_codes():
    ids = {f.id for f in lint_dockerfile(PLANTED, ignore=["dl3008", "shell-form-cmd", "DL3059"])}
    assert not ids & {"apt-unpinned", "shell-form-cmd", "consecutive-runs"}
    assert "no-install-recommends" in ids


def test_unknown_rule_names_are_bad_input():
    check_rule_names(["DL3008", "sc2086", "no-user"])
    with pytest.raises(BadInput, match="did you mean no-user"):
        check_rule_names(["no-usr"])


@pytest.mark.parametrize("severities,threshold,fail", [
    (["info"], "info", True), (["info"], "warning", False), (["style"], "info", False),
    (["style"], "style", True), (["warning", "info"], "error", False), (["error"], "error", True),
    (["error"], "none", False), ([], "style", False)])
def test_failure_threshold(severities, threshold, fail):
    from slimmer.lint import Finding
    findings = [Finding("no-user", 1, "m", "w", severity=s) for s in severities]
    assert fails(findings, threshold) is fail


# --- output formats ----------------------------------------------------------------------------------

def test_text_json_and_github_output():
    findings = lint_dockerfile(CASES["maintainer"][0])
    text = render_text(findings, "app/Dockerfile")
    assert "app/Dockerfile:2:1: error [maintainer DL4000] MAINTAINER is deprecated" in text
    data = to_json(findings, "app/Dockerfile")
    maintainer = next(f for f in data["findings"] if f["id"] == "maintainer")
    assert {k: maintainer[k] for k in ("code", "severity", "line", "column")} == \
        {"code": "DL4000", "severity": "error", "line": 2, "column": 1}
    assert maintainer["fix"] == RULES["maintainer"].fix
    github = render_github(findings, "app/Dockerfile").splitlines()
    assert github[0] == ("::error file=app/Dockerfile,line=2,col=1,title=maintainer DL4000::MAINTAINER is "
                         "deprecated; use LABEL org.opencontainers.image.authors=\"...\"")


SARIF_SAMPLE = (HEAD + "MAINTAINER ops@example.com\nRUN apt-get update && apt-get install -y curl\n"
                "CMD python3 app.py\n")


def test_sarif_log_structure():
    findings = lint_dockerfile(SARIF_SAMPLE)
    log = lint_log(findings, "sub dir/Dockerfile")
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "slimmer" and driver["version"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == list(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == len(findings)
    for result, finding in zip(run["results"], findings):
        assert result["ruleId"] == finding.id == rule_ids[result["ruleIndex"]]
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[finding.severity]
        assert result["message"]["text"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "sub%20dir/Dockerfile"
        assert physical["region"] == {"startLine": finding.line, "startColumn": finding.column}
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    assert lint_log(findings, "/abs/Dockerfile")["runs"][0]["results"][0]["locations"][0][
        "physicalLocation"]["artifactLocation"]["uri"] == "file:///abs/Dockerfile"


def test_sarif_golden():
    """The whole log, byte for byte; after a deliberate change, regenerate it with
    python -c "import test_lint; test_lint.write_golden()" from tests/unit and review the diff."""
    with open(os.path.join(GOLDEN, "lint.sarif"), encoding="utf-8") as handle:
        assert _golden_log() == handle.read()


# --- the command line, without Docker ----------------------------------------------------------------

def run_lint(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(["lint", *argv])
    except SystemExit as exited:
        code = exited.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_parse_error_exits_2_with_the_line(tmp_path, capsys):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM debian:12\nRUNN echo hi\n")
    code, out, err = run_lint(capsys, str(path))
    assert code == 2 and out == ""
    assert f"{path}:2:1: unknown instruction RUNN" in err and "did you mean RUN?" in err


def test_cli_formats_threshold_and_ignores(tmp_path, capsys):
    path = tmp_path / "Dockerfile"
    path.write_text(CASES["no-install-recommends"][0])      # one info finding
    code, out, _ = run_lint(capsys, str(path), "--json")
    assert code == 1 and [f["code"] for f in json.loads(out)["findings"]] == ["DL3015"]
    assert run_lint(capsys, str(path), "--failure-threshold", "warning")[0] == 0
    code, out, _ = run_lint(capsys, str(path), "--ignore", "DL3015", "--format", "sarif")
    assert code == 0 and json.loads(out)["runs"][0]["results"] == []
    code, out, _ = run_lint(capsys, str(path), "--format", "github")
    assert code == 1 and out.startswith("::notice file=")
    code, _, err = run_lint(capsys, str(path), "--failure-threshold", "fatal")
    assert code == 2 and "invalid choice" in err
    code, _, err = run_lint(capsys, str(path), "--ignore", "DL30O8")
    assert code == 2 and "unknown lint rule" in err


def test_cli_reads_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(CASES["maintainer"][0]))
    code, out, _ = run_lint(capsys, "-", "--format", "json")
    assert code == 1 and "maintainer" in {f["id"] for f in json.loads(out)["findings"]}


# --- figures from an image ------------------------------------------------------------------------------

def test_image_figures_are_attached_to_final_stage_findings():
    dockerfile = (HEAD + "RUN apt-get update && apt-get install -y curl\nRUN rm -rf /var/lib/apt/lists/*\n"
                  "USER app\n")
    layers = [[file("/bin/sh", b"s" * 100)],
              [file("/var/lib/apt/lists/x_Packages", b"p" * 3000), file("/usr/bin/curl", b"c" * 500)],
              [whiteout("/var/lib/apt/lists/x_Packages")]]
    saved = read_image(io.BytesIO(save_archive(layers)))
    report = analyse(saved.layers, layer_instructions(saved))
    findings = attach_image_figures(lint_dockerfile(dockerfile), dockerfile, report)
    figures = {(f.id, f.line): (f.layer, f.bytes) for f in findings}
    assert figures[("remove-in-later-layer", 3)] == (2, 3000)
    assert figures[("consecutive-runs", 3)] == (2, 3000)       # a cleanup RUN: what it hides still ships
    # the apt lists layer 1 wrote ship in it, though a later layer deletes them
    assert figures[("cache-not-removed", 2)] == (1, 3000)
    assert "[layer 2: this cleanup in a later layer still ships 3.0 kB (1 files) in earlier layers]" in \
        next(f.message for f in findings if f.id == "remove-in-later-layer")


def test_image_figures_for_caches_copies_and_the_base_image():
    dockerfile = ("FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install flask\n"
                  "RUN apt-get update\nUSER app\n")
    layers = [[file("/usr/local/bin/python3.12", b"P" * 7000)],            # the base image
              [file("/app/app.py", b"a" * 400), file("/app/static/x.css", b"c" * 600)],
              [file("/usr/local/lib/site-packages/flask/__init__.py", b"f" * 900),
               file("/root/.cache/pip/http/ab/cd", b"h" * 2500)],
              [file("/var/lib/apt/lists/deb_Packages", b"l" * 1200), file("/var/lib/apt/lists/lock")]]
    saved = read_image(io.BytesIO(save_archive(layers, created_by=["ADD rootfs /", "COPY . .", "RUN pip",
                                                                   "RUN apt-get update"])))
    report = analyse(saved.layers, layer_instructions(saved))
    findings = attach_image_figures(lint_dockerfile(dockerfile), dockerfile, report)
    by_rule = {(f.id, f.code): f for f in findings}
    pip = by_rule[("cache-not-removed", "DL3042")]
    assert (pip.layer, pip.bytes) == (2, 2500) and pip.message.endswith("[layer 2: 2.5 kB of pip cache shipped in it]")
    update = by_rule[("apt-update-alone", None)]
    assert (update.layer, update.bytes) == (3, 1200)
    copy = by_rule[("copy-before-install", None)]
    assert (copy.layer, copy.bytes) == (1, 1000)
    assert copy.message.endswith("[layer 1: 1.0 kB copied from the build context; the install's layer 2, 3.4 kB, "
                                 "is rebuilt on every code change]")
    toolchain = by_rule[("toolchain-final-stage", None)]
    assert (toolchain.layer, toolchain.bytes) == (None, 7000)
    assert toolchain.message.endswith("[the base image's 1 layer: 7.0 kB of the image's 12.6 kB]")
    pinned = by_rule[("pip-unpinned", "DL3013")]
    assert (pinned.layer, pinned.bytes) == (2, 3400)           # any other rule: its layer's bytes


def _golden_log() -> str:
    log = lint_log(lint_dockerfile(SARIF_SAMPLE), "Dockerfile")
    log["runs"][0]["tool"]["driver"]["version"] = log["runs"][0]["tool"]["driver"]["semanticVersion"] = "VERSION"
    return json.dumps(log, indent=2) + "\n"


def write_golden() -> None:
    with open(os.path.join(GOLDEN, "lint.sarif"), "w", encoding="utf-8") as handle:
        handle.write(_golden_log())
