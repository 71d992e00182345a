"""ImageIndex: the merged filesystem's paths, sorted once, walked like the kernel walks them."""
from __future__ import annotations

import dataclasses

import pytest

from keepfakes import d, f, ln, make_index
from slimmer.keep import resolve
from slimmer.model import FsEntry, EntryType

SPEC = {"/usr/lib/a.so": f(), "/usr/lib/sub/b.so": f(), "/usr/lib-x/c": f(), "/usr/lib.d/e": f(),
        "/usr/libexec/f": f(), "/usr/bin/tool": f(), "/etc/hosts": f(), "/lib": ln("usr/lib"), "/empty": d()}


@pytest.mark.parametrize("directory, expected", [
    ("/usr/lib", ("/usr/lib/a.so", "/usr/lib/sub", "/usr/lib/sub/b.so")),
    ("/usr/lib/", ("/usr/lib/a.so", "/usr/lib/sub", "/usr/lib/sub/b.so")),
    ("usr/lib/sub", ("/usr/lib/sub/b.so",)),
    ("/empty", ()),
    ("/nowhere", ()),
    ("/etc/hosts", ()),
])
def test_under_is_the_subtree_without_siblings_sharing_the_name_prefix(directory, expected):
    # /usr/lib-x, /usr/lib.d and /usr/libexec sort around /usr/lib/ but are not under it
    assert make_index(SPEC).under(directory) == expected


def test_under_the_root_is_every_path_but_the_root_sorted():
    index = make_index(SPEC)
    assert index.under("/") == tuple(sorted(set(index.entries) - {"/"}))
    assert index.sorted_paths == tuple(sorted(index.entries))


@pytest.mark.parametrize("directory, expected", [
    ("/", ("/empty", "/etc", "/lib", "/usr")),
    ("/usr", ("/usr/bin", "/usr/lib", "/usr/lib-x", "/usr/lib.d", "/usr/libexec")),
    ("/usr/lib/", ("/usr/lib/a.so", "/usr/lib/sub")),
    ("/empty", ()),
    ("/lib", ()),                 # a symlink: children are the index's, not followed
    ("/nowhere", ()),
])
def test_children_are_the_direct_entries_sorted(directory, expected):
    assert make_index(SPEC).children(directory) == expected


def test_resolve_follows_the_last_symlink_only_when_asked():
    index = make_index(SPEC)
    assert index.resolve("/lib/sub/b.so").path == "/usr/lib/sub/b.so"
    assert index.resolve("/lib").path == "/usr/lib"
    assert index.resolve("/lib", follow_last=False).path == "/lib"
    # ".." after a symlink applies to the link's target, /usr/lib, as in the kernel
    assert index.resolve("/lib/../bin/tool").path == "/usr/bin/tool"
    assert index.resolve("/lib/../etc/hosts").path is None
    assert resolve(index, "/lib", False) == index.resolve("/lib", follow_last=False)


def test_the_index_is_frozen():
    index = make_index(SPEC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.entries = {}
    assert index.children("/usr/lib") == index.children("/usr/lib")


def test_written_by_lists_every_layer_that_wrote_a_path():
    copied = FsEntry("/www/x.sh", EntryType.FILE, 0o755, 0, 0, 5, None, layer=3, earlier_layers=(1,))
    assert copied.written_by == (1, 3)
    assert FsEntry("/a", EntryType.FILE, 0o644, 0, 0, 5, None, layer=2).written_by == (2,)
