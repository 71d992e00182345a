"""Rendering the pipeline's typed events (events.py) for a person or a CI log.

On a terminal: a tqdm bar per probe run (trace, verify) and one for the build
steps, with other events as lines above the bars. Otherwise (CI logs, pipes):
plain lines only, one per event (stage, probe, crawl page, build step), no
carriage returns. `--quiet` shows none of them.

Who gets bars and colour (decide_output):
  1. Bars only when the stream is a terminal, CI is not set (CI=true is set by
     GitHub Actions, GitLab, CircleCI, Travis, Buildkite...) and TERM is not "dumb":
     a CI runner that allocates a pseudo-terminal still gets a readable log.
  2. Colour only where bars are drawn, and never when NO_COLOR is set to anything
     non-empty (no-color.org).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Mapping

from .events import BuildStep, CrawlPage, Event, Note, ProbeDone, Repaired, StageStarted

_RED, _YELLOW, _RESET = "\033[31m", "\033[33m", "\033[0m"
# no rate: "51781 step/s" for cached Dockerfile steps says nothing
_BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit}s |{bar}| {elapsed}{postfix}"


@dataclass(frozen=True)
class OutputMode:
    bars: bool
    colour: bool


def in_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def decide_output(stream, env: Mapping[str, str] | None = None) -> OutputMode:
    env = os.environ if env is None else env
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):     # a closed or fake stream
        terminal = False
    bars = terminal and not in_ci(env) and env.get("TERM", "") != "dumb"
    return OutputMode(bars=bars, colour=bars and not env.get("NO_COLOR"))


class BuildProgress:
    def __init__(self, quiet: bool, stream=None, tty: bool | None = None, colour: bool | None = None,
                 env: Mapping[str, str] | None = None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        mode = decide_output(self.stream, env)
        self.tty = mode.bars if tty is None else tty        # tty: draw bars
        self.colour = (mode.colour if colour is None else colour) and self.tty
        self.bar = None
        self.bar_kind = None

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, ProbeDone):
            self._probe(event)
        elif isinstance(event, CrawlPage):
            if self.tty:
                self._open_bar(f"{event.stage} probes", f"[{event.stage}] probes", "probe", total=1)
                self.bar.set_postfix_str(f"crawl :{event.port} {event.path}"[:60])
            else:
                self.line(f"[{event.stage}] crawl found :{event.port} {event.path}")
        elif isinstance(event, BuildStep):
            self._build_step(event)
        elif isinstance(event, Repaired):
            self.line(f"[verify] the slim app reached {len(event.paths)} removed file(s); repair round "
                      f"{event.round}: keeping {', '.join(event.paths[:5])}"
                      + (f" and {len(event.paths) - 5} more" if len(event.paths) > 5 else ""))
        elif isinstance(event, (StageStarted, Note)):
            self.line(f"[{event.stage}] {event.text}")

    def line(self, text: str) -> None:
        self.close()
        print(text, file=self.stream, flush=True)

    def _probe(self, event: ProbeDone) -> None:
        outcome = "ok" if event.ok else f"FAILED ({event.error})"
        if event.ok and event.warning:
            outcome = f"ok, warning: {event.warning}"
        if not self.tty:
            self.line(f"[{event.stage}] probe {event.number}/{event.total} {event.name}: {outcome}")
            return
        self._open_bar(f"{event.stage} probes", f"[{event.stage}] probes", "probe", total=event.total)
        if self.bar.total != event.total:
            self.bar.total = event.total
        self.bar.update(event.number - self.bar.n)
        self.bar.set_postfix_str(event.name[:60])
        if not event.ok or event.warning:
            outcome = self._paint(outcome, _RED if not event.ok else _YELLOW)
            self.bar.write(f"[{event.stage}] probe {event.number}/{event.total} {event.name}: {outcome}",
                           file=self.stream)

    def _paint(self, text: str, colour: str) -> str:
        return f"{colour}{text}{_RESET}" if self.colour else text

    def _build_step(self, step: BuildStep) -> None:
        if not self.tty:
            self.line(f"[build] step {step.number}/{step.total}: {step.instruction[:100]}")
            return
        self._open_bar("build", "[build]", "step", total=step.total)
        self.bar.set_postfix_str(step.instruction[:50])
        self.bar.update(step.number - self.bar.n)

    def _open_bar(self, kind: str, desc: str, unit: str, total: int) -> None:
        from tqdm import tqdm
        if self.bar_kind != kind:
            self.close()
        if self.bar is None:
            self.bar = tqdm(total=total, desc=desc, file=self.stream, leave=False, unit=unit,
                            bar_format=_BAR_FORMAT, colour="green" if self.colour else None)
            self.bar_kind = kind

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.bar_kind = None
