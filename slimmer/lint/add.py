"""ADD rules: ADD does more than COPY, and only some of it is wanted.

  add-remote-url  ADD of an http(s)/ftp URL without --checksum, or with one in the final stage
                  (the download ships in a layer); a git repository URL is not a download
  add-local-file  DL3020: ADD of a local file that is not a tar archive to extract (use COPY)
"""
from __future__ import annotations

import re

from .parse import final_stage, sources
from .rule import Rule, finding

ADD_REMOTE_URL = Rule(
    "add-remote-url", (), "warning",
    "ADD of a URL downloads without a checksum unless --checksum is given, and in the final stage the "
    "download ships in a layer",
    "RUN curl -fsSLO URL && echo 'SHA256  file' | sha256sum -c && ... && rm file; or ADD --checksum= in a "
    "build stage")
ADD_LOCAL_FILE = Rule(
    "add-local-file", ("DL3020",), "error",
    "ADD of a local file or directory does what COPY does, plus archive extraction you did not ask for",
    "COPY file /dest (keep ADD for local tar archives it should extract)")
RULES = (ADD_REMOTE_URL, ADD_LOCAL_FILE)


def add_remote_url(instructions):
    final = final_stage(instructions)
    for instruction in instructions:
        if instruction.keyword != "ADD":
            continue
        url = next((w for w in sources(instruction) if re.match(r"(?:https?|ftp)://", w)), None)
        if not url or url.endswith(".git") or "/.git#" in url:
            continue
        checksum = instruction.flag("checksum") is not None
        if checksum and instruction.stage != final:
            continue
        problem = "ships the download in the final image" if checksum else "has no checksum"
        yield finding(ADD_REMOTE_URL, instruction,
                      f"ADD of a remote URL ({url}) {problem}; download with curl in a RUN that verifies a "
                      f"checksum and removes the archive, or ADD --checksum= in a build stage", at=url)


_ARCHIVE = re.compile(r"\.(?:tar|tar\.(?:gz|bz2|xz|lz|lzma|Z|zst)|tgz|tbz2?|tb2|txz|tlz|tZ|tpz|tzst)$")


def add_local_file(instructions):
    for instruction in instructions:
        if instruction.keyword != "ADD":
            continue
        local = [s for s in sources(instruction)
                 if not re.match(r"(?:https?|ftp|git)://|git@", s) and not s.startswith("<<") and "$" not in s
                 and not _ARCHIVE.search(s)]
        if local:
            yield finding(ADD_LOCAL_FILE, instruction,
                          f"ADD of {', '.join(local)}: not an archive to extract; use COPY", at=local[0])


CHECKS = (add_remote_url, add_local_file)
