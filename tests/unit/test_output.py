"""Who gets progress bars and colour: a terminal outside CI; CI logs and pipes get plain lines."""
from __future__ import annotations

import io

import pytest

from slimmer.events import BuildStep, CrawlPage, Note, ProbeDone, StageStarted
from slimmer.progress import BuildProgress, decide_output


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("terminal, env, bars, colour", [
    (True, {}, True, True),
    (True, {"TERM": "xterm-256color"}, True, True),
    (True, {"NO_COLOR": "1"}, True, False),
    (True, {"NO_COLOR": ""}, True, True),                # no-color.org: only a non-empty value counts
    (True, {"CI": "true"}, False, False),                # GitHub Actions, GitLab
    (True, {"CI": "1"}, False, False),
    (True, {"CI": "false"}, True, True),
    (True, {"TERM": "dumb"}, False, False),
    (False, {}, False, False),                           # redirected to a file or a pipe
    (False, {"CI": "true", "NO_COLOR": "1"}, False, False),
])
def test_decide_output(terminal, env, bars, colour):
    stream = Terminal() if terminal else io.StringIO()
    mode = decide_output(stream, env)
    assert (mode.bars, mode.colour) == (bars, colour)


def _events():
    return [StageStarted("trace", "running app:1 under the sensor"),
            ProbeDone("trace", 1, 1, "GET / on port 80", True),
            CrawlPage("trace", 80, "/about.html"),
            ProbeDone("trace", 2, 2, "GET /about.html on port 80", False, "status 500, expected 200"),
            StageStarted("build", "building app:1-slim"),
            BuildStep(1, 2, "FROM app:1 AS original"), BuildStep(2, 2, "FROM scratch"),
            Note("verify", "replaying"),
            ProbeDone("verify", 1, 1, "GET / on port 80", True, warning="body differs")]


def test_a_terminal_in_ci_gets_one_plain_line_per_event():
    stream = Terminal()
    progress = BuildProgress(quiet=False, stream=stream, env={"CI": "true"})
    for event in _events():
        progress(event)
    progress.close()
    text = stream.getvalue()
    assert "\r" not in text and "\033" not in text
    assert text.splitlines() == [
        "[trace] running app:1 under the sensor",
        "[trace] probe 1/1 GET / on port 80: ok",
        "[trace] crawl found :80 /about.html",
        "[trace] probe 2/2 GET /about.html on port 80: FAILED (status 500, expected 200)",
        "[build] building app:1-slim",
        "[build] step 1/2: FROM app:1 AS original",
        "[build] step 2/2: FROM scratch",
        "[verify] replaying",
        "[verify] probe 1/1 GET / on port 80: ok, warning: body differs",
    ]


def test_a_terminal_gets_bars_with_units_and_coloured_failures():
    stream = Terminal()
    progress = BuildProgress(quiet=False, stream=stream, env={"TERM": "xterm"})
    for event in _events():
        progress(event)
    progress.close()
    text = stream.getvalue()
    assert "\r" in text                                   # bars redraw in place
    assert "\033[31mFAILED (status 500, expected 200)\033[0m" in text
    assert "\033[33mok, warning: body differs\033[0m" in text
    assert "/2 steps" in text and "/2 probes" in text and "/s" not in text      # counts, no rates


def test_no_color_keeps_bars_but_drops_every_escape_sequence_we_add():
    stream = Terminal()
    progress = BuildProgress(quiet=False, stream=stream, env={"NO_COLOR": "1"})
    for event in _events():
        progress(event)
    progress.close()
    text = stream.getvalue()
    assert "\r" in text
    assert "\033[31m" not in text and "\033[33m" not in text and "\033[32m" not in text
    assert "FAILED (status 500, expected 200)" in text


def test_quiet_prints_nothing():
    stream = Terminal()
    progress = BuildProgress(quiet=True, stream=stream, env={})
    for event in _events():
        progress(event)
    progress.close()
    assert stream.getvalue() == ""
