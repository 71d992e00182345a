"""`slim lint`: layer and build-cache mistakes in a Dockerfile (pure).

Rules (id: what it catches, and why it costs):
  1. copy-before-install: the whole build context is copied before the
     dependency install, so every code change busts the install layer's cache;
  2. apt-update-alone: `apt-get update` in a RUN without the install, so a
     cached update layer feeds stale package lists to a later install;
  3. cache-not-removed: a package manager's cache is not removed in the RUN
     that created it (a later RUN cannot take the bytes back);
  4. remove-in-later-layer: files removed in a later RUN than the one that
     added them still ship in the earlier layer;
  5. add-remote-url: ADD of a URL (no cache check, no checksum, keeps the
     download in a layer);
  6. unpinned-from: FROM without a tag, or with :latest;
  7. consecutive-runs: adjacent RUNs of the same package manager, or a
     cleanup RUN after the RUN whose mess it cleans, belong in one layer;
  8. outside-state: RUN steps whose result depends on the outside world the
     cache does not notice (curl | sh, git clone without a pinned ref,
     apt-get upgrade);
  9. no-user: the final stage runs as root.
With an image (`--image`), attach_image_figures adds xray's byte figures to the
findings of the final stage, matching its layer-making instructions to the
image's top layers.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from typing import Sequence

from .xray import XrayReport, human_bytes

LAYER_MAKING = ("RUN", "COPY", "ADD")


@dataclass(frozen=True)
class Instruction:
    line: int                  # first line of the instruction, 1-based
    keyword: str               # upper case: RUN, COPY, FROM ...
    args: str                  # the text after the keyword, continuation lines joined
    stage: int                 # 0-based build stage (one per FROM)
    exec_form: bool            # RUN/CMD/ENTRYPOINT written as a JSON array

    @property
    def command(self) -> str:
        """The shell text of a RUN (exec form joined with spaces), flags like --mount stripped."""
        text = self.args
        if self.exec_form:
            try:
                import json
                return " ".join(json.loads(text))
            except ValueError:
                return text
        while text.startswith("--"):
            _, _, text = text.partition(" ")
            text = text.lstrip()
        return text


@dataclass(frozen=True)
class Finding:
    id: str
    line: int
    message: str
    why: str
    bytes: int | None = None   # from an image, with --image
    layer: int | None = None


WHY = {
    "copy-before-install": "every code change busts the cache of the dependency install that follows",
    "apt-update-alone": "a cached update layer gives a later install stale package lists",
    "cache-not-removed": "cache files removed in a later RUN still ship in this layer",
    "remove-in-later-layer": "layers are diffs: deleting in a later layer does not take the bytes back",
    "add-remote-url": "ADD downloads on every build without a checksum and keeps the file in a layer",
    "unpinned-from": "an unpinned base image changes under you; builds stop being reproducible",
    "consecutive-runs": "steps that belong together should share one layer, so cleanup takes bytes back",
    "outside-state": "the build cache does not notice when the outside world changes",
    "no-user": "the container runs as root",
}


# --- parsing -----------------------------------------------------------------------------------

def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their first line number; continuation lines and comments handled."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines:                               # parser directives ("# escape=`") come first
        directive = re.match(r"#\s*(\w+)\s*=\s*(\S+)", raw.strip())
        if not directive:
            break
        if directive.group(1).lower() == "escape":
            escape = directive.group(2)[0]
    instructions: list[Instruction] = []
    stage = -1
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):    # comments inside a continuation are dropped
            continue
        if not pending:
            start = number
        body = raw.rstrip()
        if body.endswith(escape):
            pending.append(body[:-1])
            continue
        pending.append(body)
        joined = " ".join(part.strip() for part in pending if part.strip())
        pending = []
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        args = args.strip()
        instructions.append(Instruction(start, keyword, args, max(stage, 0),
                                        exec_form=args.startswith("[") and args.endswith("]")))
    if pending:
        joined = " ".join(part.strip() for part in pending if part.strip())
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip(), max(stage, 0),
                                        exec_form=args.strip().startswith("[")))
    return instructions


def _segments(command: str) -> list[str]:
    """Shell command split at &&, ||, ;, | and newlines (good enough for Dockerfile RUN lines)."""
    return [part.strip() for part in re.split(r"&&|\|\||;|\||\n", command) if part.strip()]


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=False)
    except ValueError:
        return segment.split()


# --- rules -----------------------------------------------------------------------------------------

INSTALLERS = re.compile(
    r"\b(pip3?\s+install|python3?\s+-m\s+pip\s+install|npm\s+(?:install|ci|i)\b|yarn(?:\s+install)?\b|"
    r"pnpm\s+install|bundle\s+install|composer\s+install|go\s+mod\s+download|mvn\b|gradle\b|cargo\s+build|"
    r"poetry\s+install|pipenv\s+install)")
APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:[-\w=]+\s+)*install\b")
APT_UPDATE = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*update\b")
MANAGERS = {"apt": re.compile(r"\bapt(?:-get)?\b"), "apk": re.compile(r"\bapk\b"),
            "yum/dnf": re.compile(r"\b(?:yum|dnf|microdnf)\b"), "pip": re.compile(r"\bpip3?\b"),
            "npm": re.compile(r"\bnpm\b")}
CLEANUP = re.compile(r"^\s*(?:rm\b|apt-get\s+(?:clean|autoremove|purge)|apk\s+del|yum\s+clean|dnf\s+clean|"
                     r"npm\s+cache\s+clean|pip3?\s+cache\s+purge)")
# what a command leaves behind, for remove-in-later-layer
CREATES = ((APT_UPDATE, "/var/lib/apt/lists"), (APT_INSTALL, "/var/cache/apt"),
           (re.compile(r"\bpip3?\s+install"), "/root/.cache/pip"), (re.compile(r"\bnpm\s+(?:install|ci)"), "/root/.npm"))


def lint_dockerfile(text: str, path: str = "Dockerfile") -> list[Finding]:
    """Every finding in TEXT (a Dockerfile), ordered by line."""
    instructions = parse_dockerfile(text)
    findings: list[Finding] = []
    stage_names = {m.group(1).lower() for i in instructions if i.keyword == "FROM"
                   for m in [re.search(r"\bAS\s+(\S+)", i.args, re.I)] if m}
    for rule in (_copy_before_install, _apt_update_alone, _cache_not_removed, _remove_in_later_layer,
                 _add_remote_url, _consecutive_runs, _outside_state, _no_user):
        findings.extend(rule(instructions))
    findings.extend(_unpinned_from(instructions, stage_names))
    findings.sort(key=lambda f: (f.line, f.id))
    return findings


def _finding(rule: str, line: int, message: str) -> Finding:
    return Finding(rule, line, message, WHY[rule])


def _copies_whole_context(instruction: Instruction) -> bool:
    if instruction.keyword not in ("COPY", "ADD"):
        return False
    words = [w for w in _words(instruction.args) if not w.startswith("--")]
    if instruction.exec_form:
        import json
        try:
            words = json.loads(instruction.args)
        except ValueError:
            pass
    sources = words[:-1]
    return any(source in (".", "./", "*", "./*") for source in sources) and "--from" not in instruction.args


def _copy_before_install(instructions):
    copied: dict[int, Instruction] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            continue
        if _copies_whole_context(instruction):
            copied.setdefault(instruction.stage, instruction)
        elif instruction.keyword == "RUN" and instruction.stage in copied:
            match = INSTALLERS.search(instruction.command)
            if match:
                copy = copied.pop(instruction.stage)
                yield _finding("copy-before-install", copy.line,
                               f"line {copy.line} copies the whole build context before the dependency install "
                               f"at line {instruction.line} ({match.group(0).strip()}); copy the dependency "
                               f"manifests first, install, then copy the rest")


def _apt_update_alone(instructions):
    for instruction in instructions:
        if instruction.keyword == "RUN" and APT_UPDATE.search(instruction.command) \
                and not APT_INSTALL.search(instruction.command):
            yield _finding("apt-update-alone", instruction.line,
                           "apt-get update without apt-get install in the same RUN; "
                           "use RUN apt-get update && apt-get install -y ...")


def _cache_not_removed(instructions):
    for instruction in instructions:
        if instruction.keyword != "RUN" or "type=cache" in instruction.args:
            continue
        command = instruction.command
        missing = []
        if APT_INSTALL.search(command) and not re.search(r"rm\s+(?:-\w+\s+)*/var/lib/apt/lists", command):
            missing.append("apt lists (add && rm -rf /var/lib/apt/lists/*)")
        if re.search(r"\bpip3?\s+install|-m\s+pip\s+install", command) and "--no-cache-dir" not in command \
                and not re.search(r"rm\s+(?:-\w+\s+)*\S*\.cache/pip|pip3?\s+cache\s+purge", command):
            missing.append("pip cache (use pip install --no-cache-dir)")
        if re.search(r"\bnpm\s+(?:install|ci|i)\b", command) and not re.search(
                r"npm\s+cache\s+clean|rm\s+(?:-\w+\s+)*\S*\.npm", command):
            missing.append("npm cache (add && npm cache clean --force)")
        if re.search(r"\bapk\s+(?:-\S+\s+)*add\b", command) and "--no-cache" not in command \
                and "/var/cache/apk" not in command:
            missing.append("apk cache (use apk add --no-cache)")
        if re.search(r"\b(?:yum|dnf)\s+(?:-\S+\s+)*install\b", command) and not re.search(
                r"(?:yum|dnf)\s+clean\s+all|rm\s+(?:-\w+\s+)*/var/cache/(?:yum|dnf)", command):
            missing.append("yum/dnf cache (add && yum clean all)")
        if missing:
            yield _finding("cache-not-removed", instruction.line,
                           "package cache not removed in the RUN that created it: " + "; ".join(missing))


def _removed_paths(command: str) -> list[str]:
    paths = []
    for segment in _segments(command):
        words = _words(segment)
        if words and words[0] == "rm":
            paths.extend(w for w in words[1:] if not w.startswith("-"))
    return paths


def _stem(path: str) -> str:
    """'/var/lib/apt/lists/*' -> '/var/lib/apt/lists'; '/tmp/x.tgz' stays."""
    return re.sub(r"/?\*.*$", "", path).rstrip("/") or "/"


def _remove_in_later_layer(instructions):
    for position, instruction in enumerate(instructions):
        if instruction.keyword != "RUN":
            continue
        for removed in _removed_paths(instruction.command):
            stem = _stem(removed)
            if stem in ("/", "") or not stem.startswith("/"):
                continue
            for earlier in reversed(instructions[:position]):
                if earlier.stage != instruction.stage:
                    break
                if earlier.keyword not in LAYER_MAKING or earlier is instruction:
                    continue
                if _adds(earlier, stem):
                    yield _finding("remove-in-later-layer", instruction.line,
                                   f"{removed} is removed here, but line {earlier.line} ({earlier.keyword}) added it "
                                   f"in an earlier layer; remove it in that same step")
                    break


def _adds(instruction: Instruction, stem: str) -> bool:
    if instruction.keyword == "RUN":
        command = instruction.command
        if any(p.search(command) and (path == stem or path.startswith(stem + "/") or stem.startswith(path + "/"))
               for p, path in CREATES):
            return True
        if stem in _removed_paths(command) or any(_stem(r) == stem for r in _removed_paths(command)):
            return False          # the same RUN removes it: not an add
        return re.search(re.escape(stem) + r"(?![\w.-])", command) is not None
    words = [w for w in _words(instruction.args) if not w.startswith("--")]
    destination = words[-1].rstrip("/") if words else ""
    return bool(destination) and (stem == destination or stem.startswith(destination + "/"))


def _add_remote_url(instructions):
    for instruction in instructions:
        if instruction.keyword == "ADD":
            url = next((w for w in _words(instruction.args) if re.match(r"(?:https?|ftp)://", w)), None)
            if url and not url.endswith(".git"):
                yield _finding("add-remote-url", instruction.line,
                               f"ADD of a remote URL ({url}); download with curl in a RUN that verifies a checksum "
                               f"and removes the archive, or COPY a vendored file")


def _unpinned_from(instructions, stage_names):
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        words = [w for w in instruction.args.split() if not w.startswith("--")]
        if not words:
            continue
        image = words[0]
        if image.lower() == "scratch" or image.lower() in stage_names or "$" in image or "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        if ":" not in last:
            yield _finding("unpinned-from", instruction.line,
                           f"FROM {image} has no tag (means :latest); pin a version, e.g. {image}:1.2 or a digest")
        elif last.endswith(":latest"):
            yield _finding("unpinned-from", instruction.line,
                           f"FROM {image} uses :latest; pin a version or a digest")


def _managers(command: str) -> set[str]:
    return {name for name, pattern in MANAGERS.items() if pattern.search(command)}


def _consecutive_runs(instructions):
    for previous, current in zip(instructions, instructions[1:]):
        if previous.keyword != "RUN" or current.keyword != "RUN" or previous.stage != current.stage:
            continue
        shared = _managers(previous.command) & _managers(current.command)
        cleanup = all(CLEANUP.match(seg) for seg in _segments(current.command))
        if shared:
            yield _finding("consecutive-runs", current.line,
                           f"RUN at line {previous.line} and RUN at line {current.line} both use "
                           f"{', '.join(sorted(shared))}; join them with && into one RUN")
        elif cleanup:
            yield _finding("consecutive-runs", current.line,
                           f"the cleanup RUN at line {current.line} belongs in the RUN at line {previous.line}; "
                           f"join them with && so the bytes never reach a layer")


def _outside_state(instructions):
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        command = instruction.command
        if re.search(r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b", command):
            yield _finding("outside-state", instruction.line,
                           "pipes a download into a shell (curl | sh): the script can change without the cache "
                           "noticing; download a pinned version and verify its checksum")
        if re.search(r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:dist-)?upgrade\b|\bapk\s+upgrade\b|"
                     r"\b(?:yum|dnf)\s+(?:-\S+\s+)*(?:update|upgrade)\s*(?:-y\s*)?(?:$|&&|;)", command):
            yield _finding("outside-state", instruction.line,
                           "upgrades packages in a cached layer: the result depends on when the cache was made; "
                           "rebuild the base image instead, or pin package versions")
        for segment in _segments(command):
            words = _words(segment)
            if len(words) >= 2 and words[0] == "git" and words[1] == "clone":
                pinned = any(w in ("-b", "--branch") or w.startswith("--branch=") for w in words) or \
                    re.search(r"git\s+(?:-C\s+\S+\s+)?(?:checkout|reset\s+--hard)\s+\S+", command)
                if not pinned:
                    yield _finding("outside-state", instruction.line,
                                   "git clone without a pinned ref: the cache keeps whatever the branch was; "
                                   "clone a tag (--branch v1.2) or check out a commit")


def _no_user(instructions):
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        return
    final_stage = froms[-1].stage
    users = [i for i in instructions if i.keyword == "USER" and i.stage == final_stage]
    if not users:
        yield _finding("no-user", froms[-1].line,
                       "the final stage has no USER; add e.g. RUN useradd -r app and USER app")
    elif users[-1].args.split(":")[0].strip() in ("root", "0"):
        yield _finding("no-user", users[-1].line, f"the final stage runs as {users[-1].args}; switch to a non-root USER")


# --- figures from an image ---------------------------------------------------------------------

def attach_image_figures(findings: Sequence[Finding], text: str, report: XrayReport) -> list[Finding]:
    """Findings with xray's bytes of the layer each (final-stage) finding is about.

    The final stage's RUN/COPY/ADD instructions made the image's top layers, in order.
    """
    instructions = parse_dockerfile(text)
    if not instructions:
        return list(findings)
    final_stage = max(i.stage for i in instructions)
    makers = [i for i in instructions if i.stage == final_stage and i.keyword in LAYER_MAKING]
    layers = list(report.layers)[-len(makers):] if makers and len(makers) <= len(report.layers) else []
    layer_of = {instruction.line: layer for instruction, layer in zip(makers, layers)}
    attached = []
    for finding in findings:
        layer = layer_of.get(finding.line)
        if layer is None:
            attached.append(finding)
            continue
        if finding.id == "cache-not-removed":
            nbytes, what = sum(layer.caches.values()), "of package cache"
        elif finding.id == "remove-in-later-layer":
            nbytes, what = layer.deleted.bytes, "deleted here but still shipped in earlier layers"
        elif finding.id == "apt-update-alone":
            nbytes, what = layer.caches.get("apt lists", 0), "of apt lists"
        else:
            nbytes, what = layer.size_bytes, "in this layer"
        attached.append(replace(finding, bytes=nbytes, layer=layer.index,
                                message=f"{finding.message} [layer {layer.index}: {human_bytes(nbytes)} {what}]"))
    return attached


# --- output ------------------------------------------------------------------------------------------

def to_json(findings: Sequence[Finding], path: str) -> dict:
    return {"dockerfile": path, "count": len(findings),
            "findings": [{"id": f.id, "line": f.line, "message": f.message, "why": f.why, "bytes": f.bytes,
                          "layer": f.layer} for f in findings]}


def render_text(findings: Sequence[Finding], path: str) -> str:
    if not findings:
        return f"{path}: no findings"
    lines = [f"{path}:{f.line}: [{f.id}] {f.message}\n    why: {f.why}" for f in findings]
    lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}")
    return "\n".join(lines)
