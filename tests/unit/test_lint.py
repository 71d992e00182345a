"""lint: a positive and a negative Dockerfile per rule, plus parsing and image figures."""
from __future__ import annotations

import io

import pytest

from imagetar import file, save_archive, whiteout
from slimmer.lint import attach_image_figures, lint_dockerfile, parse_dockerfile
from slimmer.xray import analyse, layer_instructions, read_image

HEAD = "FROM debian:bookworm-slim\n"
TAIL = "USER app\n"

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
        HEAD + "ADD tool.tar.gz /opt/\n" + TAIL),
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
}


@pytest.mark.parametrize("rule", CASES)
def test_rule_fires(rule):
    positive, line, _ = CASES[rule]
    findings = [f for f in lint_dockerfile(positive) if f.id == rule]
    assert [f.line for f in findings] == [line]
    assert findings[0].why and findings[0].message


@pytest.mark.parametrize("rule", CASES)
def test_rule_stays_quiet(rule):
    _, _, negative = CASES[rule]
    assert [f for f in lint_dockerfile(negative) if f.id == rule] == []


MORE_POSITIVES = {
    "FROM without a tag": ("unpinned-from", "FROM ubuntu\n" + TAIL),
    "git clone unpinned": ("outside-state", HEAD + "RUN git clone https://github.com/a/b /b && make -C /b\n" + TAIL),
    "apt-get upgrade": ("outside-state", HEAD + "RUN apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/*\n" + TAIL),
    "pip without --no-cache-dir": ("cache-not-removed", HEAD + "RUN pip install flask\n" + TAIL),
    "npm without cache clean": ("cache-not-removed", HEAD + "RUN npm ci\n" + TAIL),
    "apk without --no-cache": ("cache-not-removed", "FROM alpine:3.19\nRUN apk add curl\n" + TAIL),
    "apt lists removed in a later RUN": ("remove-in-later-layer", HEAD + "RUN apt-get update && apt-get install -y curl\n"
                                         "RUN rm -rf /var/lib/apt/lists/*\n" + TAIL),
    "cleanup RUN right after": ("consecutive-runs", HEAD + "RUN make build\nRUN rm -rf /src/build-cache\n" + TAIL),
    "USER root at the end": ("no-user", HEAD + "USER app\nRUN id\nUSER root\n"),
}


@pytest.mark.parametrize("rule,text", MORE_POSITIVES.values(), ids=MORE_POSITIVES.keys())
def test_more_positives(rule, text):
    assert rule in {f.id for f in lint_dockerfile(text)}


def test_clean_dockerfile_has_no_findings():
    text = ("FROM debian:bookworm-slim AS build\n"
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends gcc \\\n"
            " && rm -rf /var/lib/apt/lists/*\n"
            "WORKDIR /src\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
            "FROM debian:bookworm-slim\nCOPY --from=build /src/app /app\nUSER 1000\nCMD [\"/app\"]\n")
    assert lint_dockerfile(text) == []


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
    assert figures[("consecutive-runs", 3)] == (2, 0)
    # the apt lists are gone from the final filesystem, so no cache bytes are left in layer 1
    assert figures[("cache-not-removed", 2)] == (1, 0)
    assert "[layer 2: 3.0 kB deleted here but still shipped in earlier layers]" in \
        next(f.message for f in findings if f.id == "remove-in-later-layer")
