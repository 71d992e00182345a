"""The `slim` command line. The only module that prints and picks exit codes."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback

from . import __version__, units
from .errors import BadInput, ExitCode, Interrupted, SlimError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return ExitCode.BAD_INPUT
    _sigterm_raises_keyboard_interrupt()
    try:
        return int(args.handler(args))
    except Interrupted as exc:
        removed = exc.removed
        print(f"slim: interrupted during {exc.stage}; removed {removed.get('containers', 0)} container(s) and "
              f"{removed.get('images', 0)} image(s) this run created", file=sys.stderr)
        return ExitCode.INTERRUPTED
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
    """SIGTERM (CI cancelling a job) and SIGHUP (a closed terminal) clean up exactly like Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGHUP, handler)
    except ValueError:   # not the main thread (tests calling main())
        pass


class _Parser(argparse.ArgumentParser):
    """argparse that exits with ExitCode.BAD_INPUT (2) and a next step."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_INPUT, f"slim: error: {message}\n  next step: {self.prog} --help\n")


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
    sub.add_argument("--crawl-depth", type=int, metavar="N",
                     help="follow links up to N levels from / (default 3; probe file: crawl = {depth = N})")
    sub.add_argument("--crawl-pages", type=int, metavar="N", help="crawl at most N pages per port (default 50)")
    sub.add_argument("--crawl-seconds", type=float, metavar="S", help="stop crawling a port after S seconds (default 30)")
    sub.add_argument("--no-crawl", action="store_true", help="skip the default GET / and crawl: run only the explicit probes")
    sub.add_argument("--max-size", type=units.size_argument, metavar="SIZE",
                     help="fail when the slim image is larger: 80MB, 1.5GiB, 500kB or bytes")
    sub.add_argument("--min-ratio", type=units.factor_argument, metavar="R",
                     help="fail when original/slim is below R: 3 or 3x")
    sub.add_argument("--artifacts", metavar="DIR", help="artifacts directory (default: a temp dir kept for you)")
    sub.add_argument("--report", metavar="FILE", help="write the JSON report here")
    sub.add_argument("--html", metavar="FILE", help="write an HTML before/after picture")
    sub.add_argument("--no-verify", action="store_true", help="skip replaying probes on the slim image")
    sub.add_argument("--rebuild", action="store_true",
                     help="build the slim image afresh even when an earlier build from the same inputs "
                          "(original, keep list, config) still exists; by default that image is reused")
    sub.add_argument("--no-repair", action="store_true",
                     help="fail when the slim app reaches a removed file, instead of keeping it and rebuilding")
    sub.add_argument("--json", action="store_true", help="print the JSON report to stdout")
    sub.add_argument("--quiet", "-q", action="store_true",
                     help="no progress and no summary: print only the slim image's tag (and errors); "
                          "progress bars appear only on a terminal outside CI, NO_COLOR turns colour off")
    _add_run_context_flags(sub)
    _common(sub)
    sub.set_defaults(handler=run_build)


def _add_run_context_flags(sub) -> None:
    """docker run's flags (and Compose's service), for the traced run, exec probes and
    verification alike; never baked into the slim image (docs/RUN-CONTEXT.md)."""
    group = sub.add_argument_group(
        "run context", "how the app runs, as with docker run; applied to the traced run, exec probes and "
        "verification alike, never baked into the slim image; flags override the probe file's [run] "
        "(docs/RUN-CONTEXT.md)")
    group.add_argument("--env", action="append", default=[], metavar="KEY[=VALUE]",
                       help="set an environment variable; KEY alone takes slim's own value "
                            "(e.g. --env APP_TOKEN=s3cret, --env HOME; repeatable; values never printed)")
    group.add_argument("--env-file", action="append", default=[], metavar="FILE",
                       help="read KEY=VALUE lines, docker's env-file syntax (e.g. --env-file app.env; repeatable)")
    group.add_argument("--network", action="append", default=[], metavar="NAME",
                       help="attach to this existing network (e.g. --network appnet; repeatable)")
    group.add_argument("--network-alias", action="append", default=[], metavar="NAME",
                       help="the app's name on its networks (e.g. --network-alias api; repeatable)")
    group.add_argument("--add-host", action="append", default=[], metavar="NAME:IP",
                       help="an /etc/hosts entry (e.g. --add-host db.local:10.0.0.5, "
                            "--add-host api:host-gateway; repeatable)")
    group.add_argument("--volume", action="append", default=[], metavar="SRC:DST[:ro]",
                       help="bind a host path or mount a named volume (e.g. --volume ./conf:/etc/app:ro, "
                            "--volume appdata:/var/lib/app; repeatable)")
    group.add_argument("--tmpfs", action="append", default=[], metavar="DST[:OPTIONS]",
                       help="a tmpfs mount (e.g. --tmpfs /run, --tmpfs /tmp:size=64m; repeatable)")
    group.add_argument("--user", metavar="USER[:GROUP]", help="run as this user (e.g. --user 1000:1000)")
    group.add_argument("--entrypoint", metavar="CMD",
                       help="replace ENTRYPOINT with one executable; drops the image's CMD unless --cmd "
                            "is given (e.g. --entrypoint /usr/local/bin/start; \"\" clears it)")
    group.add_argument("--cmd", metavar="ARGS",
                       help="replace CMD, split like a shell (e.g. --cmd \"serve --port 8080\"); "
                            "the probe file's [run] command")
    group.add_argument("--workdir", metavar="DIR", help="working directory, absolute (e.g. --workdir /srv/app)")
    group.add_argument("--compose-file", metavar="FILE",
                       help="run IMAGE as --service of this Compose file, its dependencies started "
                            "by the Compose CLI (e.g. --compose-file compose.yaml --service app)")
    group.add_argument("--service", "--target-compose-svc", dest="service", metavar="NAME",
                       help="the Compose service IMAGE runs as (with --compose-file)")


def run_context_from_flags(args, plan_run):
    """The probe file's [run] with the run-context flags over it; the compose target or None."""
    from . import runcontext
    from .compose import ComposeTarget
    flags = runcontext.RunFlags(
        env=tuple(args.env), env_files=tuple(args.env_file), networks=tuple(args.network),
        network_aliases=tuple(args.network_alias), hosts=tuple(args.add_host), volumes=tuple(args.volume),
        tmpfs=tuple(args.tmpfs), user=args.user, entrypoint=args.entrypoint, cmd=args.cmd, workdir=args.workdir)
    run = runcontext.merge_run(plan_run, runcontext.run_from_flags(flags))
    if bool(args.compose_file) != bool(args.service):
        given, missing = ("--compose-file", "--service") if args.compose_file else ("--service", "--compose-file")
        raise BadInput(f"{given} needs {missing}", args.compose_file or args.service,
                       "e.g. --compose-file compose.yaml --service app")
    target = ComposeTarget(args.compose_file, args.service) if args.compose_file else None
    return run, target


def run_build(args) -> int:
    import shlex
    from dataclasses import replace as dc_replace
    from .errors import BadInput
    from .model import ExecProbe, KeepOptions
    from .pipeline import BuildRequest, build_slim_image
    from . import probe as probing
    from .progress import BuildProgress
    from .report import render_summary, unfinished_report

    plan = probing.load_probe_file(args.probe_file) if args.probe_file else probing.ProbePlan()
    extra = [probing.parse_http_flag(text) for text in args.http_probe]
    extra += [ExecProbe(argv=tuple(shlex.split(text))) for text in args.exec_probe]
    plan = dc_replace(plan, probes=plan.probes + tuple(extra))
    run, compose_target = run_context_from_flags(args, plan.run)
    plan = dc_replace(plan, run=run)
    if args.continue_after:
        probing.parse_continue_after(args.continue_after)
        plan = dc_replace(plan, run=dc_replace(plan.run, continue_after=args.continue_after))
    plan = dc_replace(plan, crawl=plan.crawl and not args.no_crawl, crawl_limits=probing.crawl_limits_from_flags(
        plan.crawl_limits, args.crawl_depth, args.crawl_pages, args.crawl_seconds))
    runs = tuple(dc_replace(plan.run, command=tuple(shlex.split(text))) for text in args.run)
    rules = {}
    for item in args.keep_rule:
        name, _, value = item.partition("=")
        from .keep import RULES
        if value not in ("on", "off") or name not in RULES:
            raise BadInput("bad --keep-rule", item,
                           f"use NAME=on or NAME=off with NAME one of: {', '.join(sorted(RULES))}")
        rules[name] = value == "on"
    if args.min_ratio is not None and args.min_ratio <= 0:
        raise BadInput("--min-ratio must be positive", args.min_ratio, "e.g. --min-ratio 3")
    request = BuildRequest(
        image=args.image, plan=plan, runs=runs, tag=args.tag,
        keep=KeepOptions(include=tuple(args.include_path), exclude=tuple(args.exclude_path), rules=rules),
        artifacts_dir=args.artifacts, verify=not args.no_verify, repair=not args.no_repair,
        reuse=not args.rebuild, max_size=args.max_size, min_ratio=args.min_ratio, compose=compose_target)
    progress = BuildProgress(quiet=args.json or args.quiet)
    try:
        outcome = build_slim_image(request, emit=progress)
    except SlimError as exc:
        # CI uploads the report with `if: always()`: it exists after a failure or an interrupt too
        failed_report = args.report or (os.path.join(args.artifacts, "slim.report.json") if args.artifacts else None)
        if failed_report:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(failed_report)), exist_ok=True)
                _write_output(failed_report, json.dumps(unfinished_report(args.image, exc), indent=2),
                              "--report FILE")
            except (OSError, SlimError) as write_error:   # never hide why the build failed
                print(f"slim: warning: the report was not written: {write_error}", file=sys.stderr)
        raise
    finally:
        progress.close()
    doc = outcome.report
    report_path = args.report or (os.path.join(doc.artifacts, "slim.report.json") if doc.artifacts else None)
    if report_path:
        _write_output(report_path, doc.to_json(), "--report FILE")
    if args.html:
        _write_build_html(args.html, doc)
    if args.json:
        print(doc.to_json())
    elif args.quiet:
        if not outcome.failures and doc.slim:
            print(doc.slim.image)
    else:
        print(render_summary(doc))
        print(f"report    {report_path}" if report_path else
              "report    not written (give --report FILE or --artifacts DIR to keep it)")
    if outcome.failures:
        for failure in outcome.failures:
            print(f"slim: error: {failure}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def _write_output(path: str, text: str, flag: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as exc:
        raise SlimError("cannot write the report", f"{path}: {exc.strerror}",
                        f"free some space or write it elsewhere with {flag}") from exc


def _write_build_html(path: str, doc) -> None:
    from .html import render_build_report
    _write_output(path, render_build_report(doc), "--html FILE")


# --- slim xray / compare / lint -------------------------------------------------

def add_xray_parser(commands) -> None:
    from . import xray
    sub = commands.add_parser("xray", help="analyse an image's layers (like dive; docs/XRAY.md)")
    sub.add_argument("image", help="an image reference; read without Docker: docker-archive:FILE.tar (a docker "
                                   "save file), oci:DIR[:REF] or an OCI layout DIR, oci-archive:FILE.tar")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--html", metavar="FILE",
                     help="write a self-contained HTML page: layers, findings, each layer's file tree")
    sub.add_argument("--tree", metavar="LAYER",
                     help="print the files LAYER added (+), modified (~) and removed (-) as a tree; "
                          "LAYER is an index, -1 for the top layer, or all; with --unmodified, the whole "
                          "filesystem at LAYER with those marks")
    sub.add_argument("--unmodified", action="store_true",
                     help="show the whole filesystem at the layer, as dive does (its ^U): the unmodified paths "
                          "too, the layer's changes marked; with --tree LAYER|all, --json (the layers --tree "
                          "selects, else all: each layer's files) and --html (a 'changed files only' toggle)")
    sub.add_argument("--tree-depth", type=int, default=0, metavar="N",
                     help="with --unmodified, list N directory levels in --tree and --json (like tree -L; 0: all, "
                          "the default)")
    sub.add_argument("--tree-limit", type=int, default=1000, metavar="N",
                     help="changed paths listed per layer in --json and --html, biggest first (0: all; default "
                          "1000); --unmodified's whole filesystem is not cut by it")
    sub.add_argument("--read", choices=("auto", "store", "save"), default="auto",
                     help="how to read an image of the daemon: store (Docker's layer store, overlay2, as root on "
                          "the daemon's host), save (docker save), auto (the store when readable, else docker "
                          "save; the default)")
    sub.add_argument("--ci", action="store_true", help="evaluate CI rules; exit 1 when one fails")
    sub.add_argument("--ci-config", metavar="FILE",
                     help="CI rules file: .slim-ci.toml or dive's .dive-ci (default: both, in the current directory)")
    sub.add_argument("--max-reclaimable", "--highest-wasted-bytes", "--highestWastedBytes", dest="max_reclaimable",
                     type=xray.rule_flag("max_reclaimable"), metavar="BYTES", help="fail above this many reclaimable bytes (e.g. 20MB, 1.5GiB; or disabled)")
    sub.add_argument("--min-efficiency", "--lowest-efficiency", "--lowestEfficiency", dest="min_efficiency",
                     type=xray.rule_flag("min_efficiency"), metavar="R", help="fail below this efficiency (0.95 or 95%%)")
    sub.add_argument("--max-user-wasted", "--highest-user-wasted-percent", "--highestUserWastedPercent",
                     dest="max_user_wasted_ratio", type=xray.rule_flag("max_user_wasted_ratio"), metavar="R",
                     help="fail when reclaimable bytes exceed this share of the bytes above the base layer (0.1 or 10%%)")
    sub.add_argument("--max-size", dest="max_size", type=xray.rule_flag("max_size"), metavar="BYTES", help="fail above this image size (e.g. 80MB)")
    sub.add_argument("--max-layer-ratio", dest="max_layer_ratio", type=xray.rule_flag("max_layer_ratio"), metavar="R",
                     help="fail when the largest layer is more than this share of the image")
    _common(sub)
    sub.set_defaults(handler=run_xray)


def run_xray(args) -> int:
    from . import xray
    from .xray import full_trees, render_full_tree
    if args.tree_limit < 0:
        raise BadInput("--tree-limit must be 0 or more", args.tree_limit, "e.g. --tree-limit 5000, or 0 for all")
    if args.tree_depth < 0:
        raise BadInput("--tree-depth must be 0 or more", args.tree_depth, "e.g. --tree-depth 3, or 0 for all levels")
    if args.tree_depth and not args.unmodified:
        raise BadInput("--tree-depth cuts the whole-filesystem view, which was not asked for", args.tree_depth,
                       "add --unmodified (--tree LAYER --unmodified --tree-depth N); the changes-only tree is "
                       "never cut")
    if args.unmodified and args.tree is None and not args.json and not args.html:
        raise BadInput("--unmodified shows the whole filesystem in a file tree, and none was asked for",
                       "--unmodified", "add --tree LAYER (an index, -1 for the top layer, or all), --json or "
                                       "--html FILE, e.g. slim xray IMAGE --tree -1 --unmodified")
    rules = dict(xray.load_ci_rules(".", args.ci_config))
    for name in xray.RULES:
        value = getattr(args, name, None)
        if value is not None:
            rules[name] = None if value == xray.DISABLED else value
    if args.ci and all(value is None for value in rules.values()):
        rules = {**xray.DEFAULT_RULES, **rules}      # a rule switched off stays off
    docker = None
    if xray.needs_docker(args.image):
        from .docker_api import Docker
        docker = Docker()
    report = xray.xray_image(docker, args.image, read=args.read)
    results = xray.evaluate_rules(report, rules) if (args.ci or rules) else []
    layers = report.layers
    if args.tree is not None and args.tree != "all":
        layers = [xray.select_layer(report, args.tree)]
    wanted = {layer.index for layer in layers}
    full = {}                   # the whole filesystem of the layers asked for, built only now (--unmodified)
    if args.unmodified and (args.json or args.html):
        full = {layer.index: rows for layer, rows in full_trees(report.layers, wanted)}
    if args.html:
        from .html import render_xray_html
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(render_xray_html(report, tree_limit=args.tree_limit, full=full))
    if args.json:
        data = xray.to_json(report, results, tree_limit=args.tree_limit, full=full, depth=args.tree_depth)
        del full
        chunks: list[str] = []                  # streamed in 64k pieces: --unmodified's JSON can be MBs
        for chunk in json.JSONEncoder(indent=2).iterencode(data):
            chunks.append(chunk)
            if len(chunks) >= 8192:
                sys.stdout.write("".join(chunks))
                chunks.clear()
        sys.stdout.write("".join(chunks) + "\n")
    elif args.tree is not None:
        if args.unmodified:                     # one layer at a time: --tree all can be long
            trees = (render_full_tree(layer, rows, args.tree_depth)
                     for layer, rows in full_trees(report.layers, wanted))
        else:
            trees = (xray.render_tree(layer) for layer in layers)
        for position, tree in enumerate(trees):
            print(("\n" if position else "") + tree)
        if results:
            print("\nCI rules:\n" + "\n".join(f"  {r.message}" for r in results))
    else:
        print(xray.render_text(report, results))
    failed = [result for result in results if not result.passed]
    if failed:
        if args.json:      # stdout is for machines: the reasons go to stderr, once
            for result in failed:
                print(f"slim: CI rule failed: {result.message}", file=sys.stderr)
        else:              # the reasons are on stdout already
            print(f"slim: CI failed: {', '.join(r.name for r in failed)} (see CI rules above)", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def add_compare_parser(commands) -> None:
    sub = commands.add_parser("compare", help="compare two images: size, layers, files, top dirs")
    sub.add_argument("image_a")
    sub.add_argument("image_b")
    sub.add_argument("--json", action="store_true")
    _common(sub)
    sub.set_defaults(handler=run_compare)


def run_compare(args) -> int:
    from . import compare, xray
    from .docker_api import Docker
    docker = Docker()
    first = xray.xray_image(docker, args.image_a, duplicates=False)
    second = xray.xray_image(docker, args.image_b, duplicates=False)
    comparison = compare.compare(first, second)
    if args.json:
        print(json.dumps(compare.to_json(comparison), indent=2))
    else:
        print(compare.render_text(comparison))
    return ExitCode.OK


def add_lint_parser(commands) -> None:
    sub = commands.add_parser("lint", help="check a Dockerfile for layer and cache mistakes (docs/LINT.md)")
    sub.add_argument("dockerfile", help="path of the Dockerfile, or - for stdin")
    sub.add_argument("--image", help="attach xray byte figures from this image")
    sub.add_argument("--format", choices=("text", "json", "sarif", "github"), default=None,
                     help="output format (default text; github: workflow annotations)")
    sub.add_argument("--json", action="store_true", help="same as --format json")
    sub.add_argument("--ignore", action="append", default=[], metavar="RULE",
                     help="skip a rule, by slimmer id or hadolint code (repeatable)")
    sub.add_argument("--failure-threshold", default=None, metavar="LEVEL",
                     choices=("error", "warning", "info", "style", "none"),
                     help="exit 1 when a finding is at LEVEL or above: error|warning|info|style|none "
                          "(default: the configuration's, else info)")
    config = sub.add_mutually_exclusive_group()
    config.add_argument("--config", metavar="FILE",
                        help="lint configuration: .hadolint.yaml (hadolint's keys) or .slim-lint.toml (default: the "
                             "first of those in the Dockerfile's directory, then the current one, then the user's: "
                             "~/.config/slim-lint.toml, ~/.config/hadolint.yaml, ~/.hadolint.yaml, as hadolint "
                             "looks; HADOLINT_* environment variables apply over it)")
    config.add_argument("--no-config", action="store_true", help="read no configuration file")
    _common(sub)
    sub.set_defaults(handler=run_lint)


def run_lint(args) -> int:
    from . import lint
    if args.json and args.format not in (None, "json"):
        raise BadInput("--json and --format disagree", f"--format {args.format}", "use one of them")
    lint.check_rule_names(args.ignore)
    path = "-" if args.dockerfile == "-" else args.dockerfile
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("cannot read the Dockerfile", f"{path}: {getattr(exc, 'strerror', None) or exc}",
                       "pass the path of a Dockerfile, e.g. slim lint ./Dockerfile") from exc
    config_path = None if args.no_config else (args.config or lint.find_config(path))
    config = lint.load_config(config_path) if config_path else lint.LintConfig()
    config, env_format = lint.with_environment(config, os.environ)
    output = "json" if args.json else (args.format or env_format or "text")
    findings = lint.lint_dockerfile(text, "Dockerfile" if path == "-" else path, ignore=args.ignore, config=config)
    if args.image:
        from .docker_api import Docker
        from .xray import xray_image
        findings = lint.attach_image_figures(findings, text, xray_image(Docker(), args.image, duplicates=False))
    if output == "json":
        print(json.dumps(lint.to_json(findings, path), indent=2))
    elif output == "sarif":
        from .sarif import lint_log
        print(json.dumps(lint_log(findings, "Dockerfile" if path == "-" else path), indent=2))
    elif output == "github":
        if findings:
            print(lint.render_github(findings, path))
    else:
        print(lint.render_text(findings, path))
    threshold = args.failure_threshold or config.failure_threshold or "info"
    if config.no_fail:
        return ExitCode.OK
    return ExitCode.FAILED if lint.fails(findings, threshold) else ExitCode.OK


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
