"""Which file contents are captured while a layer streams by (the keep rules read them).

  1. every script ("#!") up to CAPTURE_MAX, and the small files of CAPTURED_CONTENT
     (loader configuration, Python RECORD files, OS package databases, the NSS modules
     whose exports the keep rule `data` looks at);
  2. interpreted sources (SOURCE_SUFFIXES), which the keep rule `imports` scans, and
     the files its resolvers read (RESOLVER_FILES: Node's package.json, a venv's
     pyvenv.cfg, Python's .pth files): read here, once, instead of one Docker API read
     each later (0.1-0.35 s apiece: 7 s for node-express's 58 package.json files,
     minutes for a Python app); a file over SOURCE_MAX (a generated table) and those
     past SOURCE_BUDGET bytes of one `docker save` read are read on demand instead,
     so memory stays bounded.
"""
from __future__ import annotations

CAPTURE_MAX = 4 << 20     # dpkg's status file: 300 kB on node-express, a few MB on big images
CAPTURED_CONTENT = (
    lambda p: p == "/etc/ld.so.conf" or p.startswith("/etc/ld.so.conf.d/"),
    lambda p: p == "/etc/nsswitch.conf" or (p.startswith("/etc/ld-musl-") and p.endswith(".path")),
    lambda p: p.rsplit("/", 1)[-1].startswith("libnss_") and ".so" in p,
    lambda p: p.endswith(("/RECORD", "/top_level.txt", "/installed-files.txt", "/entry_points.txt"))
    and (".dist-info/" in p or ".egg-info/" in p),
    # OS package databases (keep rules os-packages and package-metadata)
    lambda p: p in ("/var/lib/dpkg/status", "/lib/apk/db/installed", "/usr/lib/apk/db/installed")
    or (p.startswith("/var/lib/dpkg/info/") and p.endswith(".list")),
)
SOURCE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".rb", ".pm", ".pl")
RESOLVER_FILES = ("/package.json", "/pyvenv.cfg", ".pth")
SOURCE_MAX = 512 << 10
SOURCE_BUDGET = 192 << 20


def is_source(path: str) -> bool:
    """A file rule 2 captures while the budget lasts."""
    return path.endswith(SOURCE_SUFFIXES) or path.endswith(RESOLVER_FILES)


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
