"""Rendering the pipeline's typed events (events.py) for a person or a CI log.

On a terminal: a tqdm bar per probe run (trace, verify) and one for the build
steps, with other events as lines above the bars. Otherwise (CI logs, pipes):
plain lines only, one per event that matters, no carriage returns.
"""
from __future__ import annotations

import sys

from .events import BuildStep, CrawlPage, Event, Note, ProbeDone, Repaired, StageStarted


class BuildProgress:
    def __init__(self, quiet: bool, stream=None, tty: bool | None = None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
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
            self.bar.write(f"[{event.stage}] probe {event.number}/{event.total} {event.name}: {outcome}",
                           file=self.stream)

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
            self.bar = tqdm(total=total, desc=desc, file=self.stream, leave=False, unit=unit)
            self.bar_kind = kind

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.bar_kind = None
