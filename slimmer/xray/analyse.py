"""The analysis (pure): per-layer data of imagefs (LayerFiles) in, an XrayReport out.

How the figures are scored:
  1. a layer's size is the content bytes of the regular files in its tar
     (hardlinks, directories, symlinks and whiteouts store none);
  2. the image's size is the sum of its layers' sizes;
  3. a file version is *hidden* when a later layer overwrites it, deletes it
     (whiteout), hides it (opaque directory) or replaces a directory above it
     with a non-directory; its bytes still ship in the image;
  4. reclaimable bytes are the bytes of hidden versions, each version counted
     once, however many later layers touch the same path again;
  5. efficiency = 1 - reclaimable / image size (1.0 for an empty image);
  6. per layer: added = paths new to the filesystem, modified = paths that
     overwrite a lower layer's version, deleted = lower-layer versions this
     layer hides; directories are not counted (every layer touches a few);
  7. the per-layer file tree (tree.py) lists the same paths with their mark;
     the directories a layer makes new to the filesystem are kept by path only
     (LayerReport.dirs_added), so the whole filesystem at any layer can be
     replayed from the changes when asked (tree.py's full view), empty
     directories included, without a second merge.
Where advice goes is findings.py's rules a-c: an imported base layer (a rootfs
ADDed by the base image, or a bottom layer with no instruction) is context.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterable, NamedTuple, Sequence

from ..imagefs import LayerFiles, MergedTree, stored_bytes
from ..model import EntryType, FsEntry, ImageIndex
from .findings import MB, findings_of
from .report import Change, Duplicate, LayerReport, SizedPath, XrayReport
from .tree import file_changes

TOP_N = 20
ContentHashes = Callable[[list[FsEntry]], Sequence[bytes]]      # a sha256 digest per entry, in order

# Package-manager caches worth naming; each pattern matches a path in the final filesystem.
CACHE_KINDS: tuple[tuple[str, re.Pattern], ...] = (
    ("apt lists", re.compile(r"^/var/lib/apt/lists/(?!lock$|partial$|auxfiles$).+")),
    ("apt archives", re.compile(r"^/var/cache/apt/.+")),
    ("pip cache", re.compile(r"^/(?:root|home/[^/]+)/\.cache/pip/.+")),
    ("npm cache", re.compile(r"^/(?:root|home/[^/]+)/\.npm/.+")),
    ("yarn cache", re.compile(r"^/(?:usr/local/share|root|home/[^/]+)/\.cache/yarn/.+")),
    ("apk cache", re.compile(r"^/var/cache/apk/.+")),
    ("dnf/yum cache", re.compile(r"^/var/cache/(?:dnf|yum)/.+")),
)


def cache_kind(path: str) -> str | None:
    for kind, pattern in CACHE_KINDS:
        if pattern.match(path):
            return kind
    return None


_IMPORTED = re.compile(r"^(?:ADD|COPY) (?:file|multi|dir):[0-9a-f]+ in /\s*$")


def is_imported(created_by: str, index: int) -> bool:
    """A base layer the user did not build here: a rootfs `ADD file:... in /`, or the bottom
    layer with no instruction (docker import, debootstrap)."""
    return bool(_IMPORTED.match(created_by)) or (index == 0 and not created_by.strip())


class _Layer(NamedTuple):
    """What the analysis keeps of a layer once it is merged (its entries may then be freed)."""
    index: int
    digest: str
    size_bytes: int
    hashes: dict | None


def analyse(layers: Iterable[LayerFiles], instructions: Sequence[str] = (), *, image: str = "",
            image_id: str = "", finding_min_bytes: int = MB, big_layer_ratio: float = 0.5,
            base_image: str = "", content_hashes: ContentHashes | None = None) -> XrayReport:
    """The xray report of LAYERS (bottom first; a sequence is sorted by index, an iterator is taken
    in its order and each layer's entries can be freed once merged); INSTRUCTIONS name the step
    that made each one.

    content_hashes(entries) -> [sha256 digest per entry] reads the content of the files whose
    sizes collide (duplicates); without it, the layers' own hash tables are used when they have
    them (imagefs read with hashes=True)."""
    if isinstance(layers, Sequence):
        layers = sorted(layers, key=lambda item: item.index)
    instructions = list(instructions)
    hidden: dict[tuple[int, int, str], list[int]] = {}     # (by layer, from layer, how) -> [count, bytes]
    overwritten_paths: set[str] = set()
    removed_here: dict[str, list] = {}                      # path -> [type, bytes] this layer deleted

    def on_hidden(entry: FsEntry, by_layer: int, how: str) -> None:
        if how != "overwritten" and entry.layer < by_layer:
            removed_here[entry.path] = [entry.type.value, stored_bytes(entry)]
        if entry.type is EntryType.DIR:
            return
        if how == "overwritten" and entry.layer < by_layer:
            overwritten_paths.add(entry.path)
        _tally(hidden, (by_layer, entry.layer, how), 1, stored_bytes(entry))

    tree = MergedTree(on_hidden)
    changes: list[tuple[Change, Change]] = []
    trees = []
    new_dirs: list[tuple[str, ...]] = []
    merged: list[_Layer] = []
    for layer in layers:
        merged.append(_Layer(layer.index, layer.digest, layer.size_bytes, layer.hashes))
        overwritten_paths.clear()
        removed_here.clear()
        dirs = [entry.path for entry in layer.entries if entry.type is EntryType.DIR]
        had_dir = {path for path in dirs if (old := tree.entries.get(path)) is not None and old.type is EntryType.DIR}
        tree.apply(layer)
        new_dirs.append(tuple(path for path in dirs if path not in had_dir or path in removed_here))
        last_version = {entry.path: entry for entry in layer.entries if entry.type is not EntryType.DIR}
        added = [e for p, e in last_version.items() if p not in overwritten_paths]
        modified = [e for p, e in last_version.items() if p in overwritten_paths]
        changes.append((_change(added), _change(modified)))
        trees.append(file_changes(added, modified, removed_here))
        del layer, last_version, added, modified, dirs, had_dir
    layers = merged
    instructions += [""] * (len(layers) - len(instructions))
    index = tree.index()
    final = index.entries

    size = sum(layer.size_bytes for layer in layers)
    reclaimable = sum(b for (_, _, _), (_, b) in hidden.items())
    deleted_by: dict[int, list[int]] = {}
    hidden_from: dict[int, list[int]] = {}
    for (by_layer, from_layer, how), (count, nbytes) in hidden.items():
        _tally(hidden_from, from_layer, count, nbytes)
        if how != "overwritten":
            _tally(deleted_by, by_layer, count, nbytes)

    caches: dict[int, dict[str, int]] = {}
    files = [e for e in final.values() if e.type is EntryType.FILE]
    for entry in files:
        kind = cache_kind(entry.path)
        if kind and entry.size:
            per_layer = caches.setdefault(entry.layer, {})
            per_layer[kind] = per_layer.get(kind, 0) + entry.size

    reports = tuple(
        LayerReport(index=layer.index, digest=layer.digest, size_bytes=layer.size_bytes,
                    created_by=instructions[position], added=changes[position][0],
                    modified=changes[position][1],
                    deleted=Change(*deleted_by.get(layer.index, (0, 0))),
                    caches=caches.get(layer.index, {}),
                    hidden_later=Change(*hidden_from.get(layer.index, (0, 0))),
                    changes=trees[position], dirs_added=new_dirs[position], imported=is_imported(instructions[position], position))
        for position, layer in enumerate(layers))

    duplicates = _duplicates(files, layers, content_hashes)
    dir_totals = _dir_totals(index)
    largest_files = tuple(SizedPath(e.path, e.size, e.layer)
                          for e in sorted(files, key=lambda e: (-e.size, e.path))[:TOP_N])
    largest_dirs = tuple(SizedPath(path, nbytes) for path, nbytes in
                         sorted(((p, b) for p, b in dir_totals.items() if p != "/"),
                                key=lambda item: (-item[1], item[0]))[:TOP_N])
    findings = findings_of(reports, hidden, duplicates, size, finding_min_bytes, big_layer_ratio)
    return XrayReport(
        image=image, image_id=image_id, size_bytes=size, reclaimable_bytes=reclaimable,
        efficiency=1.0 if size == 0 else 1 - reclaimable / size,
        file_count=sum(1 for e in final.values() if e.type is not EntryType.DIR),
        layers=reports, largest_files=largest_files, largest_dirs=largest_dirs,
        duplicates=duplicates, findings=findings,
        dir_bytes={p: b for p, b in dir_totals.items() if p.count("/") <= 2}, base_image=base_image)


def _tally(tallies: dict, key, count: int, nbytes: int) -> None:
    tally = tallies.setdefault(key, [0, 0])
    tally[0] += count
    tally[1] += nbytes


def _change(entries: list[FsEntry]) -> Change:
    return Change(len(entries), sum(stored_bytes(e) for e in entries))


def _dir_totals(index: ImageIndex, depth: int = 3) -> dict[str, int]:
    """Bytes of the regular files under each directory down to DEPTH levels ("/usr/lib/x86_64-linux-gnu"),
    "/" for all; a directory with no regular file under it has no total."""
    def file_bytes(paths) -> list[int]:
        return [index.entries[p].size for p in paths if index.entries[p].type is EntryType.FILE]
    totals: dict[str, int] = {"/": sum(file_bytes(index.entries))}
    for path in index.sorted_paths:
        if path != "/" and path.count("/") <= depth:
            sizes = file_bytes(index.under(path))
            if sizes:
                totals[path] = sum(sizes)
    return totals


# Files identical by nature that nobody can deduplicate (findings.py's rule c).
DUPLICATE_NOISE = re.compile(
    r"^/usr/share/(?:doc|man|info|doc-base|lintian)/|/changelog[^/]*$|/copyright$|/NEWS(?:\.Debian)?(?:\.gz)?$|"
    r"^/var/lib/postgresql/.*/(?:base|global|pg_\w+)/|^/var/lib/mysql/|^/var/lib/dpkg/info/")


def _duplicates(files: list[FsEntry], layers: Sequence[_Layer],
                content_hashes: ContentHashes | None) -> tuple[Duplicate, ...]:
    """Identical files of the final filesystem:
      1. grouped by size first: a file whose size no other file has is never read;
      2. the files of a size shared by two or more are hashed (sha256), grouped by digest;
      3. empty files and DUPLICATE_NOISE are left out (findings.py's rule c)."""
    candidates = [entry for entry in files if entry.size and not DUPLICATE_NOISE.search(entry.path)]
    sizes = Counter(entry.size for entry in candidates)
    colliding = [entry for entry in candidates if sizes[entry.size] > 1]
    del candidates, sizes
    if content_hashes is not None:
        digests = list(content_hashes(colliding)) if colliding else []
    else:
        tables = {layer.index: layer.hashes or {} for layer in layers}
        digests = [tables.get(e.layer, {}).get(e.path) for e in colliding]
    counts = Counter(digests)
    groups: dict = {}
    for entry, digest in zip(colliding, digests):
        if digest and counts[digest] > 1:
            groups.setdefault(digest, []).append(entry)
    found = [Duplicate(digest.hex() if isinstance(digest, bytes) else digest, group[0].size, tuple(sorted(e.path for e in group)))
             for digest, group in groups.items() if len(group) > 1]
    found.sort(key=lambda d: (-d.wasted_bytes, d.paths))
    return tuple(found[:TOP_N])
