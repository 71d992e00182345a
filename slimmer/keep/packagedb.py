"""The OS package database (dpkg, apk): rules "os-packages" and "package-metadata".

  1. Rule "os-packages" (OFF by default, reason `os-package`; the rule name is
     plural, the reason singular): every file of each dpkg
     (info/<pkg>[:arch].list) or apk (lib/apk/db/installed) package owning a
     kept non-directory path. It costs 20-184 MB per sample app and no sample
     app's check needs it (docs/KEEP-RULES.md).
  2. Rule "package-metadata" (on by default, reported as `package-metadata`):
     /var/lib/dpkg/status and apk's installed database are generated, trimmed
     to the packages that still own a non-directory path of the slim image
     (after excludes), so scanners inventory what is really there; they are
     returned in KeepSet.generated instead of being copied. dpkg's directory
     entries that are symlinks in a merged-/usr image (/lib -> usr/lib) do not
     make a package present.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from ..model import EntryType, ImageIndex, KeepReason
from .core import ancestors
from .rule import Rule, Stage

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_INFO = "/var/lib/dpkg/info"
APK_INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


class OsPackagesRule(Rule):
    """Keep every file of each OS package that owns a kept file (see the module docstring)."""

    name = "os-packages"
    stage = Stage.WIDEN
    reasons = (KeepReason.OS_PACKAGE,)
    default = False
    cost = "20-61 MB per small sample app, 184 MB on postgres; no check needs it"

    def apply(self) -> None:
        keeper = self.keeper
        db = package_db(keeper)
        owners = set()
        for path in list(keeper.kept):
            entry = keeper.index.get(path)
            if entry is not None and entry.type is not EntryType.DIR:
                owners.update(db.owners.get(path, ()))
        for package in sorted(owners):
            for real in db.files[package]:
                keeper.record(real, KeepReason.OS_PACKAGE, f"package {package}")


class PackageMetadataRule(Rule):
    """Generate the package database trimmed to the packages the slim image still holds."""

    name = "package-metadata"
    stage = Stage.GENERATE
    default = True
    generated_reason = "package-metadata"      # keep.by_reason's name for the generated files
    may_generate = (DPKG_STATUS, *APK_INSTALLED)
    cost = "30-75 kB per Debian image"

    def generate(self) -> dict[str, bytes]:
        keeper = self.keeper
        db = package_db(keeper)
        if not db.paragraphs:
            return {}
        present = {package for package, files in db.files.items()
                   if any(p in keeper.kept and keeper.index.get(p).type is not EntryType.DIR for p in files)}
        generated = {}
        for database, paragraphs in db.paragraphs.items():
            if keeper.excluded(database):
                continue
            kept = [text for package, text in paragraphs if package in present]
            generated[database] = "".join(text.rstrip("\n") + "\n\n" for text in kept).encode("utf-8")
            keeper.kept.pop(database, None)       # replaced by the trimmed copy
            for parent in ancestors(database):
                keeper.record(parent, KeepReason.PARENT, database)
        return generated


def package_db(keeper) -> "PackageDb":
    """The image's package database, read once per run whichever rule asks first."""
    return keeper.shared("packagedb", lambda: PackageDb.read(keeper.index, keeper.content))


@dataclass
class PackageDb:
    """Which package owns which real path, and the database files as paragraphs
    (package key, text) for trimming. dpkg: the status file and
    info/<package>[:arch].list; apk: lib/apk/db/installed (P:, F:, R:)."""

    files: dict[str, list[str]]
    owners: dict[str, set[str]]
    paragraphs: dict[str, list[tuple[str, str]]]

    @classmethod
    def read(cls, index: ImageIndex, content: Callable[[str], "bytes | None"]) -> "PackageDb":
        db = cls({}, {}, {})
        status = content(DPKG_STATUS) if DPKG_STATUS in index else None
        if status is not None:
            lists = {posixpath.basename(p)[:-len(".list")]: p for p in index.children(DPKG_INFO)
                     if p.endswith(".list")}
            paragraphs = []
            for text in _paragraphs(status.decode("utf-8", "surrogateescape")):
                fields = _dpkg_fields(text)
                name, arch = fields.get("Package", ""), fields.get("Architecture", "")
                key = f"{name}:{arch}" if f"{name}:{arch}" in lists else name
                paragraphs.append((key, text))
                if key in lists and key not in db.files:
                    listed = content(lists[key]) or b""
                    db.add(index, key, listed.decode("utf-8", "surrogateescape").splitlines())
            db.paragraphs[DPKG_STATUS] = paragraphs
        for installed in APK_INSTALLED:
            data = content(installed) if installed in index else None
            if data is None:
                continue
            paragraphs = []
            for text in _paragraphs(data.decode("utf-8", "surrogateescape")):
                name, directory, paths = "", "", []
                for line in text.splitlines():
                    tag, _, value = line.partition(":")
                    if tag == "P":
                        name = value
                    elif tag == "F":
                        directory = value
                        paths.append("/" + directory)
                    elif tag == "R":
                        paths.append(f"/{directory}/{value}" if directory else "/" + value)
                paragraphs.append((name, text))
                db.add(index, name, paths)
            db.paragraphs[installed] = paragraphs
        return db

    def add(self, index: ImageIndex, package: str, listed: Iterable[str]) -> None:
        files = self.files.setdefault(package, [])
        for path in listed:
            if not path.startswith("/") or path == "/.":
                continue
            real = index.resolve(path, follow_last=False).path
            entry = index.get(real) if real else None
            if entry is not None and entry.type is EntryType.SYMLINK:
                # merged /usr: dpkg's directory /lib is the image's symlink /lib -> usr/lib
                followed = index.resolve(path).path
                if followed is not None and index.get(followed).type is EntryType.DIR:
                    real = followed
            if real is not None and real != "/":
                files.append(real)
                self.owners.setdefault(real, set()).add(package)


def _paragraphs(text: str) -> list[str]:
    return [block.strip("\n") + "\n" for block in re.split(r"\n\s*\n", text) if block.strip()]


def _dpkg_fields(paragraph: str) -> dict[str, str]:
    fields = {}
    for line in paragraph.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields
