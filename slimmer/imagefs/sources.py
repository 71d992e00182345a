"""Which file contents are captured while a layer streams by (the keep rules read them).

  1. every script ("#!") up to CAPTURE_MAX, and the small files of CAPTURED_CONTENT
     (loader configuration, Python RECORD files, OS package databases);
  2. interpreted sources (SOURCE_SUFFIXES), which the keep rule `imports` scans:
     read here, once, instead of one Docker API read each later (0.1-0.35 s apiece:
     minutes for a Python app); a source over SOURCE_MAX (a generated table) and the
     sources past SOURCE_BUDGET bytes of one `docker save` read are read on demand
     instead, so memory stays bounded.
"""
from __future__ import annotations

CAPTURE_MAX = 4 << 20     # dpkg's status file: 300 kB on node-express, a few MB on big images
CAPTURED_CONTENT = (
    lambda p: p == "/etc/ld.so.conf" or p.startswith("/etc/ld.so.conf.d/"),
    lambda p: p == "/etc/nsswitch.conf" or (p.startswith("/etc/ld-musl-") and p.endswith(".path")),
    lambda p: p.endswith(("/RECORD", "/top_level.txt", "/installed-files.txt", "/entry_points.txt"))
    and (".dist-info/" in p or ".egg-info/" in p),
    # OS package databases (keep rules os-packages and package-metadata)
    lambda p: p in ("/var/lib/dpkg/status", "/lib/apk/db/installed", "/usr/lib/apk/db/installed")
    or (p.startswith("/var/lib/dpkg/info/") and p.endswith(".list")),
)
SOURCE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".rb", ".pm", ".pl")
SOURCE_MAX = 512 << 10
SOURCE_BUDGET = 192 << 20


def wanted(path: str) -> bool:
    """A small file the keep rules read, whatever its first bytes (rule 1)."""
    return any(rule(path) for rule in CAPTURED_CONTENT)


class SourceBudget:
    """Bytes of interpreted sources one read may still capture (rule 2)."""

    def __init__(self, total: int = SOURCE_BUDGET):
        self.left = total

    def take(self, size: int) -> bool:
        if size > SOURCE_MAX or size > self.left:
            return False
        self.left -= size
        return True
