"""An image history entry's `created_by` as the Dockerfile instruction that made it.

The one place that reads Docker's history notation (inspect, xray, lint and the keep
rules' app layers all call it):
  1. whitespace is collapsed (the legacy builder pads `#(nop)  ENV`);
  2. build args come first as "|N A=1 B=2 /bin/sh -c ...": dropped;
  3. "/bin/sh -c #(nop) INSTR" (legacy builder metadata and COPY/ADD) -> "INSTR";
  4. "/bin/sh -c CMD" -> "RUN CMD"; BuildKit's "RUN /bin/sh -c CMD # buildkit" -> "RUN CMD";
  5. BuildKit's trailing "# buildkit" marker is dropped from every instruction.
"""
from __future__ import annotations

import re

_BUILDKIT = re.compile(r"\s*# buildkit$")


def instruction(created_by: str) -> str:
    text = " ".join(created_by.split())
    text = _BUILDKIT.sub("", text)
    if text.startswith("|"):
        _, _, rest = text.partition(" /bin/sh -c ")
        text = "/bin/sh -c " + rest if rest else text
    if text.startswith("/bin/sh -c #(nop) "):
        return text[len("/bin/sh -c #(nop) "):]
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c "):]
    if text.startswith("RUN /bin/sh -c "):
        return "RUN " + text[len("RUN /bin/sh -c "):]
    return text


def keyword(created_by: str) -> str:
    """'/bin/sh -c #(nop)  ENV A=b' -> 'ENV'; '' -> ''."""
    text = instruction(created_by)
    return text.split(" ", 1)[0].upper() if text else ""


def copy_destination(created_by: str) -> str | None:
    """The destination of a COPY/ADD instruction, None for any other instruction."""
    match = re.match(r"^(COPY|ADD)\b(.*)$", instruction(created_by))
    if not match:
        return None
    words = match.group(2).split()
    return words[-1] if words else ""
