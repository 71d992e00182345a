"""The `slim` command line. The only module that prints and picks exit codes."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import traceback

from . import __version__
from .errors import ExitCode, Interrupted, SlimError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return ExitCode.BAD_INPUT
    _sigterm_raises_keyboard_interrupt()
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("slim: interrupted; temporary containers and images were removed", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except SlimError as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"slim: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug: say so, keep the traceback behind --debug
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"slim: internal error: {type(exc).__name__}: {exc}\n"
              "  next step: rerun with --debug and report the traceback", file=sys.stderr)
        return ExitCode.FAILED


def _sigterm_raises_keyboard_interrupt() -> None:
    """SIGTERM (CI cancelling a job) cleans up exactly like Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:   # not the main thread (tests calling main())
        pass


class _Parser(argparse.ArgumentParser):
    """argparse that exits with ExitCode.BAD_INPUT (2) and a next step."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_INPUT, f"slim: error: {message}\n  next step: slim {self.prog.split()[-1]} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slim", description="Make container images small without breaking them.")
    parser.add_argument("--version", action="version", version=f"slimmer {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    add_build_parser(commands)
    add_xray_parser(commands)
    add_compare_parser(commands)
    add_lint_parser(commands)
    add_sensor_parser(commands)
    return parser


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--debug", action="store_true", help="show tracebacks")


# --- slim build ----------------------------------------------------------------

def add_build_parser(commands) -> None:
    sub = commands.add_parser("build", help="slim an image: trace, keep, rebuild, verify")
    sub.add_argument("image", help="the image to slim, e.g. app:1.0")
    sub.add_argument("--tag", help="tag of the slim image (default REPO:TAG-slim)")
    sub.add_argument("--http-probe", action="append", default=[], metavar="[METHOD ]PATH",
                     help="HTTP probe, e.g. '/api/health' or 'POST /login' (repeatable)")
    sub.add_argument("--probe-file", help="TOML probe file (see probes/)")
    sub.add_argument("--exec-probe", action="append", default=[], metavar="CMD",
                     help="command run inside the container under the sensor (repeatable)")
    sub.add_argument("--include-path", action="append", default=[], metavar="PATH",
                     help="keep this path (globs allowed; repeatable)")
    sub.add_argument("--exclude-path", action="append", default=[], metavar="PATH",
                     help="never keep this path (globs allowed; repeatable)")
    sub.add_argument("--keep-rule", action="append", default=[], metavar="NAME=on|off",
                     help="switch a keep rule on or off (repeatable)")
    sub.add_argument("--continue-after", default=None,
                     help="probes | exit | timeout=SECONDS | signal")
    sub.add_argument("--run", action="append", default=[], metavar="ARGS",
                     help="run the image with these CMD arguments (repeatable; union of traces)")
    sub.add_argument("--max-size", type=int, metavar="BYTES", help="fail when the slim image is larger")
    sub.add_argument("--min-ratio", type=float, metavar="R", help="fail when original/slim is below R")
    sub.add_argument("--artifacts", metavar="DIR", help="artifacts directory (default: a temp dir kept for you)")
    sub.add_argument("--report", metavar="FILE", help="write the JSON report here")
    sub.add_argument("--html", metavar="FILE", help="write an HTML before/after picture")
    sub.add_argument("--no-verify", action="store_true", help="skip replaying probes on the slim image")
    sub.add_argument("--json", action="store_true", help="print the JSON report to stdout")
    _common(sub)
    sub.set_defaults(handler=run_build)


def run_build(args) -> int:
    from .pipeline import BuildRequest, build_slim_image  # noqa: deferred, keeps --help fast
    from . import report as report_mod
    raise SlimError("slim build is not implemented yet", None, "see issue 4")


# --- slim xray / compare / lint -------------------------------------------------

def add_xray_parser(commands) -> None:
    sub = commands.add_parser("xray", help="analyse an image's layers (like dive)")
    sub.add_argument("image")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--html", metavar="FILE")
    sub.add_argument("--ci", action="store_true", help="evaluate CI rules; exit 1 when one fails")
    sub.add_argument("--max-reclaimable", type=int, metavar="BYTES")
    sub.add_argument("--min-efficiency", type=float, metavar="R")
    _common(sub)
    sub.set_defaults(handler=run_xray)


def run_xray(args) -> int:
    raise SlimError("slim xray is not implemented yet", None, "see issue 7")


def add_compare_parser(commands) -> None:
    sub = commands.add_parser("compare", help="compare two images: size, layers, files, top dirs")
    sub.add_argument("image_a")
    sub.add_argument("image_b")
    sub.add_argument("--json", action="store_true")
    _common(sub)
    sub.set_defaults(handler=run_compare)


def run_compare(args) -> int:
    raise SlimError("slim compare is not implemented yet", None, "see issue 7")


def add_lint_parser(commands) -> None:
    sub = commands.add_parser("lint", help="check a Dockerfile for layer and cache mistakes")
    sub.add_argument("dockerfile")
    sub.add_argument("--image", help="attach xray byte figures from this image")
    sub.add_argument("--json", action="store_true")
    _common(sub)
    sub.set_defaults(handler=run_lint)


def run_lint(args) -> int:
    raise SlimError("slim lint is not implemented yet", None, "see issue 7")


# --- slim sensor -------------------------------------------------------------------

def add_sensor_parser(commands) -> None:
    sub = commands.add_parser("sensor", help="about the tracing sensor binary")
    sub.add_argument("--path", action="store_true", help="print the sensor binary's path")
    _common(sub)
    sub.set_defaults(handler=run_sensor)


def run_sensor(args) -> int:
    from .sensor import sensor_path
    print(sensor_path())
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
