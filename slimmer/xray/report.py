"""The xray report: plain frozen dataclasses, apart from their JSON schema (render.to_json)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Change:
    count: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    change: str                  # "added", "modified" or "removed"; "" for an unmodified path (tree.full_tree)
    bytes: int                   # content bytes in this layer; for "removed", the bytes hidden under path
    type: str = "file"           # EntryType value: file, dir, symlink, hardlink, ...
    target: str | None = None    # a symlink's target as stored, a hardlink's other path (added, modified)


@dataclass(frozen=True)
class LayerReport:
    index: int
    digest: str
    size_bytes: int
    created_by: str
    added: Change
    modified: Change
    deleted: Change
    caches: Mapping[str, int] = field(default_factory=dict)   # cache kind -> bytes it left in the image
    hidden_later: Change = Change()   # this layer's file versions that later layers hide (still shipped)
    changes: tuple[FileChange, ...] = ()   # the layer's file tree: every added, modified, removed path
    dirs_added: tuple[str, ...] = ()   # directories new to the filesystem here (tree.full_tree's empty ones)
    imported: bool = False       # a base layer the user imported (analyse's rule a): context, not advice

    @property
    def kind(self) -> str:
        """The instruction's keyword (RUN, COPY, ADD, ...); "" when unknown."""
        return self.created_by.split(" ", 1)[0].upper() if self.created_by else ""

    def described(self, otherwise: str = "") -> str:
        """The instruction that made the layer; for an imported one without any, says so."""
        return self.created_by or ("(imported base layer)" if self.imported else otherwise)


@dataclass(frozen=True)
class SizedPath:
    path: str
    bytes: int
    layer: int | None = None     # the layer that wrote a file (None for directories)


@dataclass(frozen=True)
class Duplicate:
    sha256: str
    size_bytes: int              # bytes of one copy
    paths: tuple[str, ...]

    @property
    def wasted_bytes(self) -> int:
        return self.size_bytes * (len(self.paths) - 1)


@dataclass(frozen=True)
class Finding:
    id: str                      # "deleted-later", "overwritten-later", "cache-left", "big-layer", "duplicates"
    layer: int | None
    bytes: int
    message: str


@dataclass(frozen=True)
class XrayReport:
    image: str
    image_id: str
    size_bytes: int
    reclaimable_bytes: int
    efficiency: float
    file_count: int
    layers: tuple[LayerReport, ...]
    largest_files: tuple[SizedPath, ...]
    largest_dirs: tuple[SizedPath, ...]
    duplicates: tuple[Duplicate, ...]
    findings: tuple[Finding, ...]
    dir_bytes: Mapping[str, int]  # final filesystem, directories down to depth 2 ("/usr", "/usr/lib")
    base_image: str = ""          # the base image's name when the image's labels say it
    hashed_files: int = 0         # files whose content was read for duplicates (sizes that collide)
    hashed_bytes: int = 0
    read: str = ""                # how an image of the daemon was read: "layer store" or "docker save" ("": a file)

    @property
    def user_bytes(self) -> int:
        """Bytes of the layers above the first (dive's "user" layers)."""
        return sum(layer.size_bytes for layer in self.layers[1:])
