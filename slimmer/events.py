"""Typed progress events: stages emit them, the CLI and the report read them.

Library code never prints (STYLE.md). A long stage takes an `emit` callable and
hands it one of the small frozen dataclasses below; cli.py turns them into bars
on a terminal and plain lines otherwise. Nobody parses free text.

  StageStarted   a pipeline stage begins (inspect, trace, keep, build, verify...)
  Note           a line worth showing (waiting for port 8080, stopping the app)
  ProbeDone      one probe finished: number, total so far, name, outcome
  CrawlPage      the crawler found a page (the probe total grows with it)
  BuildStep      the builder started step N of M
  Repaired       verification found removed files the slim app reached; rebuilding
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union


@dataclass(frozen=True)
class StageStarted:
    stage: str
    text: str


@dataclass(frozen=True)
class Note:
    stage: str
    text: str


@dataclass(frozen=True)
class ProbeDone:
    stage: str            # "trace" or "verify"
    number: int
    total: int            # grows while a crawl finds pages
    name: str
    ok: bool
    error: str | None = None
    warning: str | None = None   # verify: passed, but the answer differs from the original's


@dataclass(frozen=True)
class CrawlPage:
    stage: str
    port: int
    path: str


@dataclass(frozen=True)
class BuildStep:
    number: int
    total: int
    instruction: str


@dataclass(frozen=True)
class Repaired:
    round: int
    paths: tuple[str, ...]


Event = Union[StageStarted, Note, ProbeDone, CrawlPage, BuildStep, Repaired]
Emit = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default sink: a caller that does not watch progress."""


def for_stage(emit: Emit, stage: str) -> Callable[[str], None]:
    """A `note(text)` function for one stage: emit(Note(stage, text))."""
    return lambda text: emit(Note(stage, text))
