"""Stage: verify. Run the slim image as the original was run, replay the same
probes, and compare.

A probe passes on the slim image when:
  1. it meets its own expectations (expected status/body/exit code/output);
  2. its status (HTTP status or exit code) equals the original's;
  3. its body (or stdout) digest equals the original's, unless the original
     answered differently on two runs of the same probe (then status only);
  4. "connect" and "wait" probes pass when the port accepts / the wait ends.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from . import probe as probing
from .docker_api import Docker
from .errors import AppFailed, SlimError
from .model import (BuiltImage, ExecProbe, HttpProbe, ImageInfo, ProbeCheck, ProbeResult,
                    RunSpec, Verification, WaitProbe)
from .trace import APP_START_TIMEOUT_S, AppRun

Event = Callable[[str], None]


def compare(original: ProbeResult, slim: ProbeResult) -> ProbeCheck:
    if not slim.ok:
        return ProbeCheck(original.name, False, original, slim, slim.error or "failed")
    if original.kind in ("connect", "wait"):
        return ProbeCheck(original.name, True, original, slim)
    if original.status != slim.status:
        return ProbeCheck(original.name, False, original, slim,
                          f"status {slim.status}, the original gave {original.status}")
    if original.stable and original.digest != slim.digest:
        what = "output" if original.kind in ("exec", "run") else "body"
        return ProbeCheck(original.name, False, original, slim, f"{what} differs from the original's")
    return ProbeCheck(original.name, True, original, slim)


def verify_image(docker: Docker, original_image: ImageInfo, slim: BuiltImage, run: RunSpec,
                 original_results: tuple[ProbeResult, ...], on_event: Event = lambda _: None) -> Verification:
    """Replay ORIGINAL_RESULTS' probes against the slim image."""
    slim_info = replace(original_image, id=slim.id, reference=slim.tag)
    app = AppRun(docker, slim_info, slim.id, run, traced=False, on_event=on_event, name_hint="verify")
    checks: list[ProbeCheck] = []
    try:
        app.start()
        run_result = next((r for r in original_results if r.kind == "run"), None)
        if run_result is None:
            app.wait_ports()
            _wait_discovered_ports(app, original_results)
        replays = [r for r in original_results if r.kind != "run"]
        for number, original in enumerate(replays, 1):
            slim_result = _replay(app, original)
            checks.append(compare(original, slim_result))
            on_event(f"probe {number}/{len(replays)} {original.name}: "
                     + ("ok" if checks[-1].passed else f"FAILED ({checks[-1].reason})"))
        if run_result is not None:
            code = app.wait_exit()
            stdout = docker.api.logs(app.container_id, stdout=True, stderr=False)
            slim_result = ProbeResult(name=run_result.name, kind="run", ok=True, status=code,
                                      digest=probing.digest(stdout))
            checks.append(compare(run_result, slim_result))
        elif not app.alive():
            code = docker.exit_code(app.container_id)
            checks.append(ProbeCheck("app keeps running", False, original_results[0] if original_results else
                                     ProbeResult("app", "run", True),
                                     None, f"the slim app exited with code {code}"))
        logs = app.last_logs(40)
    except AppFailed as exc:
        logs = app.last_logs(40)
        failed = ProbeResult(name="start", kind="run", ok=False, error=f"{exc.what}: {exc.value}")
        checks.append(ProbeCheck("slim image starts", False, failed, failed, f"{exc.what}: {exc.value}"))
    finally:
        app.remove()
    return Verification(checks=tuple(checks), slim_logs=logs)


def _wait_discovered_ports(app: AppRun, original_results: tuple[ProbeResult, ...]) -> None:
    """Ports the original listened on without EXPOSE: wait for them too before replaying."""
    for port in sorted({r.port for r in original_results if r.port and r.port not in app.endpoints}):
        app.on_event(f"waiting for port {port} to accept connections")
        probing.wait_for_port(app.http_endpoint(port), app.alive, APP_START_TIMEOUT_S)


def _replay(app: AppRun, original: ProbeResult) -> ProbeResult:
    probe = original.probe
    if isinstance(probe, HttpProbe):
        endpoint = app.http_endpoint(probe.port)
        return probing.http_probe(probe, endpoint)[0]
    if isinstance(probe, ExecProbe):
        return app.exec_probe(probe)[0]
    if isinstance(probe, WaitProbe):
        return app.wait_probe(probe)
    raise SlimError("cannot replay a probe", original.name, "report this as a bug")
