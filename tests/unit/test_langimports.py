"""Static imports of Python, Node, Ruby and Perl sources: what a file names, what the
interpreter would open for it, and each interpreter's search path, on small fake images."""
from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import pytest

from slimmer.langimports import (Import, ImportResolver, SearchPaths, discover, language_of, node_path,
                                 perl_path, python_paths, ruby_path, scan_node, scan_perl, scan_python,
                                 scan_ruby, strip_js_comments)


@dataclass(frozen=True)
class Link:
    target: str


class FakeFs:
    """{path: bytes | Link}; directories are implied by the paths under them (or "DIR")."""

    def __init__(self, files: dict):
        self.files = {}
        self.dirs = {"/"}
        for path, content in files.items():
            if content == "DIR":
                self.dirs.add(path)
            else:
                self.files[path] = content.encode() if isinstance(content, str) else content
            parent = posixpath.dirname(path)
            while parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)

    def realpath(self, path: str) -> str | None:
        current = "/"
        pending = [p for p in path.split("/") if p]
        hops = 0
        while pending:
            name = pending.pop(0)
            if name == "..":
                current = posixpath.dirname(current)
                continue
            candidate = posixpath.join(current, name)
            entry = self.files.get(candidate)
            if isinstance(entry, Link):
                hops += 1
                if hops > 40:
                    return None
                if entry.target.startswith("/"):
                    current = "/"
                pending = [p for p in entry.target.split("/") if p] + pending
                continue
            if candidate not in self.files and candidate not in self.dirs:
                return None
            current = candidate
        return current

    def is_file(self, path: str) -> bool:
        real = self.realpath(path)
        return real is not None and real in self.files

    def is_dir(self, path: str) -> bool:
        real = self.realpath(path)
        return real is not None and real in self.dirs

    def read(self, path: str) -> bytes | None:
        return self.files.get(self.realpath(path) or "") if self.is_file(path) else None

    def children(self, path: str) -> list[str]:
        real = self.realpath(path)
        if real is None or real not in self.dirs:
            return []
        prefix = real.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in list(self.files) + list(self.dirs)
                 if p.startswith(prefix) and p != real}
        return sorted(names)


@dataclass(frozen=True)
class Proc:
    exe: str
    argv: tuple[str, ...]


def imports(fs: FakeFs, path: str, workdir: str = "/app") -> list[str]:
    """What `path` imports, resolved in an image with no traced process and no ENV."""
    resolver = ImportResolver(fs, discover(fs, {}, [], workdir))
    return resolver.imports_of(path, fs.read(path), resolver.language(path))


# --- languages ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, shebang, language", [
    ("/app/a.py", None, "python"),
    ("/app/a.mjs", None, "node"),
    ("/app/a.cjs", None, "node"),
    ("/app/lib/x.rb", None, "ruby"),
    ("/usr/share/perl5/Foo.pm", None, "perl"),
    ("/usr/local/bin/tool", "/usr/bin/python3.11 -u", "python"),
    ("/usr/local/bin/tool", "/usr/bin/env python3", "python"),
    ("/usr/local/bin/tool", "/usr/bin/env -S node --no-warnings", "node"),
    ("/usr/bin/job", "/usr/bin/perl -w", "perl"),
    ("/usr/bin/job", "/usr/bin/ruby3.1", "ruby"),
    ("/usr/bin/job", "/bin/sh", None),
    ("/etc/config.json", None, None),
])
def test_language_of_a_file_by_extension_or_shebang(path, shebang, language):
    assert language_of(path, shebang) == language


# --- Python: scanning --------------------------------------------------------------------

PY_HANDLERS = b'''
"""import notamodule -- a docstring is not an import"""
import os, json as j
from flask import Flask, jsonify

def handler():
    import sqlite3
    try:
        import ujson as fast
    except ImportError:
        fast = None
    if fast:
        from xml.etree import ElementTree
    return importlib.import_module("plugins.inventory")

class C:
    def m(self):
        from . import sibling
        from ..pkg.mod import thing
        mod = __import__("base64")
        other = importlib.import_module(name)       # computed: out of reach
'''


def test_python_scan_finds_imports_in_functions_try_if_and_literal_import_module():
    found = scan_python(PY_HANDLERS)
    assert found == [
        Import("os", "import"), Import("json", "import"), Import("flask", "from", 0, ("Flask", "jsonify")),
        Import("sqlite3", "import"), Import("ujson", "import"), Import("xml.etree", "from", 0, ("ElementTree",)),
        Import("plugins.inventory", "import"), Import("", "from", 1, ("sibling",)),
        Import("pkg.mod", "from", 2, ("thing",)), Import("base64", "import"),
    ]
    assert Import("notamodule", "import") not in found


def test_python_scan_skips_type_checking_blocks_and_a_library_module_main_guard():
    source = b"""
import typing
if typing.TYPE_CHECKING:
    import only_for_mypy
else:
    import at_runtime
if TYPE_CHECKING:
    from x import Y
if __name__ == "__main__":
    import doctest
elif "__main__" == __name__:
    import second_guard
else:
    import imported_as_library
"""
    library = {imp.name for imp in scan_python(source, main=False)}
    assert library == {"typing", "at_runtime", "imported_as_library"}
    script = {imp.name for imp in scan_python(source, main=True)}
    assert script == {"typing", "at_runtime", "doctest", "second_guard", "imported_as_library"}


def test_python_scan_skips_self_test_functions_and_entry_points_of_a_library_module():
    source = b"""
def _test():
    import doctest
    return doctest.testmod()

def _helper():
    import json

def main():
    import argparse

def _exported():
    import csv

__all__ = ["_exported"]

def public():
    import base64
    return _helper()

if __name__ == "__main__":
    _test()
    main()
"""
    assert {imp.name for imp in scan_python(source, main=False)} == {"json", "csv", "base64"}
    assert {imp.name for imp in scan_python(source, main=True)} == {"doctest", "json", "csv", "base64", "argparse"}


def test_python_import_error_fallback_is_needed_only_when_the_try_body_module_is_missing():
    fs, resolver = py_resolver({
        "/app/app.py": ("try:\n    from _sqlite3 import *\nexcept ImportError:\n    import base64\n"
                        "try:\n    import ujson as json\nexcept (ModuleNotFoundError, OSError):\n    import gzip\n"
                        "try:\n    import zlib\nexcept Exception:\n    import sqlite3\n"),
    })
    assert scan_python(fs.read("/app/app.py"))[1] == Import("base64", "import", unless=("_sqlite3",))
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == [
        "/usr/local/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so",
        "/usr/local/lib/python3.11/gzip.py",             # ujson is missing: the fallback runs
        "/usr/local/lib/python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so",
        "/usr/local/lib/python3.11/sqlite3/__init__.py"]  # not an ImportError handler: kept


def test_python_fallback_of_a_module_compiled_into_the_interpreter_is_not_needed():
    fs, resolver = py_resolver({
        "/usr/local/bin/python3.11": b"\x7fELF...PyInit__sha512\0PyInit_posix\0...",
        "/app/app.py": "try:\n    from _sha512 import sha512\nexcept ImportError:\n    import base64\n"
                       "try:\n    import _sha1\nexcept ImportError:\n    import gzip\n",
    })
    assert resolver.paths.python[0].builtins == {"_sha512", "posix"}
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == [
        "/usr/local/lib/python3.11/gzip.py"]


def test_python_main_guard_counts_in_the_traced_script_and_in_shebang_scripts():
    fs, resolver = py_resolver({"/app/app.py": "if __name__ == '__main__':\n    import base64\n",
                                "/app/lib.py": "if __name__ == '__main__':\n    import base64\n"})
    base64 = ["/usr/local/lib/python3.11/base64.py"]
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == base64
    assert resolver.imports_of("/app/lib.py", fs.read("/app/lib.py"), "python") == []
    assert resolver.imports_of("/app/lib.py", fs.read("/app/lib.py"), "python", shebang="/usr/bin/python3") == base64


def test_python_scan_falls_back_to_lines_when_the_host_cannot_parse_the_file():
    python2 = b'''
import sys, gzip
print "hello"
from . import (a,
    b)
from xml.etree import ElementTree as ET
def f():
    import base64
    m = importlib.import_module('json.decoder')
'''
    found = set(scan_python(python2))
    assert {Import("sys", "import"), Import("gzip", "import"), Import("", "from", 1, ("a", "b")),
            Import("xml.etree", "from", 0, ("ElementTree",)), Import("base64", "import"),
            Import("json.decoder", "import")} <= found


# --- Python: resolution ------------------------------------------------------------------

PY = {
    "/usr/local/bin/python3.11": b"\x7fELF",
    "/usr/local/bin/python3": Link("python3.11"),
    "/usr/local/lib/python3.11/os.py": "",
    "/usr/local/lib/python3.11/base64.py": "import binascii\n",
    "/usr/local/lib/python3.11/gzip.py": "import zlib\n",
    "/usr/local/lib/python3.11/sqlite3/__init__.py": "from sqlite3.dbapi2 import *\n",
    "/usr/local/lib/python3.11/sqlite3/dbapi2.py": "from _sqlite3 import *\n",
    "/usr/local/lib/python3.11/xml/__init__.py": "",
    "/usr/local/lib/python3.11/xml/etree/__init__.py": "",
    "/usr/local/lib/python3.11/xml/etree/ElementTree.py": "",
    "/usr/local/lib/python3.11/xml/etree/cElementTree.py": "",
    "/usr/local/lib/python3.11/importlib/__init__.py": "",
    "/usr/local/lib/python3.11/importlib/readers.py": "",
    "/usr/local/lib/python3.11/importlib/resources/__init__.py": "",
    "/usr/local/lib/python3.11/importlib/resources/_common.py": "",
    "/usr/local/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
    "/usr/local/lib/python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
    "/usr/local/lib/python3.11/lib-dynload/binascii.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
    "/usr/local/lib/python3.11/site-packages/flask/__init__.py": "",
    "/usr/local/lib/python3.11/test/__init__.py": "",
    "/usr/local/lib/python3.11/test/support/__init__.py": "",
    "/usr/local/lib/python3.11/pydoc_data/__init__.py": "",
    "/usr/local/lib/python3.11/pydoc_data/topics.py": "",
}


def py_resolver(extra, env=None, processes=None, workdir="/app"):
    fs = FakeFs({**PY, **extra})
    processes = processes if processes is not None else [Proc("/usr/local/bin/python3.11",
                                                              ("python3", "/app/app.py"))]
    paths = discover(fs, env or {}, processes, workdir)
    return fs, ImportResolver(fs, paths)


@pytest.mark.parametrize("source, expected", [
    # a stdlib package backed by a C extension: package, submodule, lib-dynload .so
    ("def h():\n    import sqlite3\n", ["/usr/local/lib/python3.11/sqlite3/__init__.py"]),
    ("import xml.etree.ElementTree\n", ["/usr/local/lib/python3.11/xml/__init__.py",
                                        "/usr/local/lib/python3.11/xml/etree/__init__.py",
                                        "/usr/local/lib/python3.11/xml/etree/ElementTree.py"]),
    # from a package import a submodule: the submodule; an attribute: nothing more
    ("from xml.etree import cElementTree, Element\n", ["/usr/local/lib/python3.11/xml/__init__.py",
                                                       "/usr/local/lib/python3.11/xml/etree/__init__.py",
                                                       "/usr/local/lib/python3.11/xml/etree/cElementTree.py"]),
    ("import binascii\n", ["/usr/local/lib/python3.11/lib-dynload/binascii.cpython-311-x86_64-linux-gnu.so"]),
    ("from flask import Flask\n", ["/usr/local/lib/python3.11/site-packages/flask/__init__.py"]),
    # the frozen bootstrap imports importlib.readers for importlib.resources
    ("from importlib.resources import files\n", ["/usr/local/lib/python3.11/importlib/__init__.py",
                                                  "/usr/local/lib/python3.11/importlib/resources/__init__.py",
                                                  "/usr/local/lib/python3.11/importlib/readers.py"]),
    ("import sys, builtins, nosuchmodule\n", []),      # built in, frozen or absent: no file
    ("from test import support\n", []),                # CPython's own test suite only
    ("import pydoc_data.topics\n", []),                # interactive help()'s texts
    ("import helpers\n", ["/app/helpers.py"]),          # the script's directory
])
def test_python_resolves_through_sys_path(source, expected):
    fs, resolver = py_resolver({"/app/app.py": source, "/app/helpers.py": ""})
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == expected


def test_python_interactive_helpers_of_site_import_nothing():
    fs, resolver = py_resolver({"/usr/local/lib/python3.11/_sitebuiltins.py": "def help():\n    import base64\n",
                                "/app/app.py": "def help():\n    import base64\n"})
    assert resolver.imports_of("/usr/local/lib/python3.11/_sitebuiltins.py",
                               fs.read("/usr/local/lib/python3.11/_sitebuiltins.py"), "python") == []
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == [
        "/usr/local/lib/python3.11/base64.py"]


def test_python_transitive_chain_sqlite3_reaches_the_c_extension():
    fs, resolver = py_resolver({"/app/app.py": "import sqlite3\n"})
    seen, queue = set(), ["/app/app.py"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.endswith(".py"):
            queue += resolver.imports_of(path, fs.read(path), "python")
    assert "/usr/local/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so" in seen
    assert "/usr/local/lib/python3.11/sqlite3/dbapi2.py" in seen


def test_python_relative_imports_by_level():
    fs, resolver = py_resolver({
        "/app/pkg/__init__.py": "",
        "/app/pkg/sub/__init__.py": "",
        "/app/pkg/sub/mod.py": ("from . import sibling\nfrom .sibling import x\nfrom .. import top\n"
                                "from ..other import thing\nfrom .deep.er import y\n"),
        "/app/pkg/sub/sibling.py": "",
        "/app/pkg/top.py": "",
        "/app/pkg/other/__init__.py": "",
        "/app/pkg/other/thing.py": "",
        "/app/pkg/sub/deep/__init__.py": "",
        "/app/pkg/sub/deep/er.py": "",
    })
    found = resolver.imports_of("/app/pkg/sub/mod.py", fs.read("/app/pkg/sub/mod.py"), "python")
    assert found == ["/app/pkg/sub/__init__.py", "/app/pkg/sub/sibling.py", "/app/pkg/__init__.py",
                     "/app/pkg/top.py", "/app/pkg/other/__init__.py", "/app/pkg/other/thing.py",
                     "/app/pkg/sub/deep/__init__.py", "/app/pkg/sub/deep/er.py"]


def test_python_package_beats_module_and_extension_beats_source_first_dir_wins():
    fs, resolver = py_resolver({
        "/app/app.py": "import a, b, c, ns.part\n",
        "/app/a/__init__.py": "", "/app/a.py": "",                          # package first
        "/app/b.cpython-311-x86_64-linux-gnu.so": b"\x7fELF", "/app/b.py": "",   # extension first
        "/usr/local/lib/python3.11/c.py": "",
        "/usr/local/lib/python3.11/site-packages/c.py": "",                  # shadowed
        "/usr/local/lib/python3.11/ns/other.py": "",                         # namespace portions
        "/usr/local/lib/python3.11/site-packages/ns/part.abi3.so": b"\x7fELF",
    })
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == [
        "/app/a/__init__.py", "/app/b.cpython-311-x86_64-linux-gnu.so", "/usr/local/lib/python3.11/c.py",
        "/usr/local/lib/python3.11/site-packages/ns/part.abi3.so"]


# --- Python: sys.path --------------------------------------------------------------------

def test_python_sys_path_of_a_venv_found_through_argv0_on_path():
    fs = FakeFs({**PY,
                 "/venv/pyvenv.cfg": "home = /usr/local/bin\ninclude-system-site-packages = false\n"
                                     "version = 3.11.7\n",
                 "/venv/bin/python": Link("/usr/local/bin/python3"),
                 "/venv/lib/python3.11/site-packages/requests/__init__.py": "",
                 "/venv/lib/python3.11/site-packages/extra.pth": "# comment\n../../../../srv/shared\nimport x\n",
                 "/srv/shared/tool.py": "",
                 "/opt/lib": "DIR",
                 "/app/main.py": ""})
    env = {"PATH": "/venv/bin:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": "/opt/lib"}
    [path] = python_paths(fs, env, [Proc("/usr/local/bin/python3.11", ("python", "-u", "main.py"))], "/app")
    assert path.dirs == ("/app", "/opt/lib", "/usr/local/lib/python3.11", "/usr/local/lib/python3.11/lib-dynload",
                         "/venv/lib/python3.11/site-packages", "/srv/shared")
    assert path.version == "3.11"
    assert path.ext_suffixes[0] == ".cpython-311-x86_64-linux-gnu.so"


def test_python_sys_path_on_debian_has_dist_packages_and_no_script_dir_with_dash_m():
    fs = FakeFs({"/usr/bin/python3.11": b"\x7fELF", "/usr/bin/python3": Link("python3.11"),
                 "/usr/lib/python3.11/os.py": "", "/usr/lib/python3.11/lib-dynload": "DIR",
                 "/usr/lib/python3/dist-packages/flask/__init__.py": "",
                 "/usr/local/lib/python3.11/dist-packages": "DIR",
                 "/srv/app.py": ""})
    [path] = python_paths(fs, {}, [Proc("/usr/bin/python3.11", ("/usr/bin/python3", "-m", "flask", "run"))],
                          "/srv")
    assert path.dirs == ("/srv", "/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload",
                         "/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3/dist-packages")


def test_python_sys_path_without_a_traced_python_uses_the_image_python3_and_isolated_mode_drops_dirs():
    fs = FakeFs({**PY, "/app/x.py": ""})
    [default] = python_paths(fs, {}, [], "/app")
    assert default.dirs[0] == "/usr/local/lib/python3.11"       # no script: no script dir
    assert default.dirs[-1] == "/app"                           # frameworks import from the workdir
    [isolated] = python_paths(fs, {"PYTHONPATH": "/app"}, [Proc("/usr/local/bin/python3.11",
                                                                 ("python3", "-I", "/app/x.py"))], "/")
    assert "/app" not in isolated.dirs


# --- Node ----------------------------------------------------------------------------------

JS = br'''
// require('commented-out')
/* import x from 'also-commented' */
const fs = require('fs');
const fsp = require("node:fs/promises");
const a = require('./lib/a');
const url = "http://example.com/x"; // a // in a string is no comment
const re = /\/\/ not a comment/;
import express from 'express';
import { thing } from "@scope/pkg/sub";
import 'side-effect';
export * from './reexport.mjs';
async function lazy() {
  const m = await import('lazy-dep');
  const n = require(`templated`);
  const computed = require(name);           // out of reach
  return require.resolve('resolved-only');
}
'''


def test_node_scan_skips_comments_and_takes_literal_specifiers_only():
    names = [imp.name for imp in scan_node(JS)]
    assert names == ["fs", "node:fs/promises", "./lib/a", "express", "@scope/pkg/sub", "side-effect",
                     "./reexport.mjs", "lazy-dep", "templated", "resolved-only"]
    kinds = {imp.name: imp.kind for imp in scan_node(JS)}
    assert kinds["express"] == "import" and kinds["./lib/a"] == "require"


def test_strip_js_comments_keeps_strings_and_regex_literals():
    text = "a = '//x'; b = /[/]*/g; // gone\nc = `/* kept */` /* gone */ + 1"
    assert strip_js_comments(text) == "a = '//x'; b = /[/]*/g; \nc = `/* kept */` " + " " * 10 + " + 1"


NODE = {
    "/usr/bin/node": b"\x7fELF",
    "/app/server.js": "",
    "/app/package.json": json.dumps({"name": "app", "imports": {"#db": "./lib/db.js"}}),
    "/app/lib/a/index.js": "",
    "/app/lib/db.js": "",
    "/app/lib/b.json": "{}",
    "/app/node_modules/main-pkg/package.json": json.dumps({"main": "dist/entry"}),
    "/app/node_modules/main-pkg/dist/entry.js": "",
    "/app/node_modules/exp/package.json": json.dumps({"exports": {
        ".": {"import": "./esm/index.mjs", "require": "./cjs/index.js"},
        "./feature": {"node": {"require": "./cjs/feature.js"}, "default": "./feature.js"},
        "./utils/*": "./src/utils/*.js",
        "./internal/*": None}}),
    "/app/node_modules/exp/esm/index.mjs": "",
    "/app/node_modules/exp/cjs/index.js": "",
    "/app/node_modules/exp/cjs/feature.js": "",
    "/app/node_modules/exp/feature.js": "",
    "/app/node_modules/exp/src/utils/x.js": "",
    "/app/node_modules/exp/src/internal/y.js": "",
    "/app/node_modules/strexp/package.json": json.dumps({"exports": "./only.js"}),
    "/app/node_modules/strexp/only.js": "",
    "/app/node_modules/@scope/pkg/sub.js": "",
    "/app/node_modules/native/build/Release/addon.node": b"\x7fELF",
    "/usr/share/nodejs/debian-pkg/index.js": "",
    "/usr/share/nodejs/debian-pkg/package.json": "{}",
    "/opt/shared/from-node-path.js": "",
}


@pytest.mark.parametrize("specifier, kind, expected", [
    ("fs", "require", []),
    ("node:path", "import", []),
    ("./lib/a", "require", ["/app/lib/a/index.js"]),
    ("./lib/b", "require", ["/app/lib/b.json"]),
    ("#db", "require", ["/app/package.json", "/app/lib/db.js"]),
    ("main-pkg", "require", ["/app/node_modules/main-pkg/package.json", "/app/node_modules/main-pkg/dist/entry.js"]),
    ("exp", "require", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/cjs/index.js"]),
    ("exp", "import", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/esm/index.mjs"]),
    ("exp/feature", "require", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/cjs/feature.js"]),
    ("exp/feature", "import", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/feature.js"]),
    ("exp/utils/x", "require", ["/app/node_modules/exp/package.json", "/app/node_modules/exp/src/utils/x.js"]),
    ("exp/internal/y", "require", []),                  # exported as null: sealed
    ("exp/src/utils/x.js", "require", []),              # not exported
    ("strexp", "require", ["/app/node_modules/strexp/package.json", "/app/node_modules/strexp/only.js"]),
    ("@scope/pkg/sub", "import", ["/app/node_modules/@scope/pkg/sub.js"]),
    ("native/build/Release/addon.node", "require", ["/app/node_modules/native/build/Release/addon.node"]),
    ("debian-pkg", "require", ["/usr/share/nodejs/debian-pkg/package.json", "/usr/share/nodejs/debian-pkg/index.js"]),
    ("from-node-path", "require", ["/opt/shared/from-node-path.js"]),
    ("missing", "require", []),
])
def test_node_resolution(specifier, kind, expected):
    fs = FakeFs(NODE)
    resolver = ImportResolver(fs, discover(fs, {"NODE_PATH": "/opt/shared"}, [Proc("/usr/bin/node", ("node",))]))
    assert resolver.resolve_node(Import(specifier, kind), "/app/server.js") == expected


def test_node_module_lookup_walks_up_from_a_nested_package():
    fs = FakeFs({**NODE, "/app/node_modules/main-pkg/dist/more.js": "require('exp')\n"})
    resolver = ImportResolver(fs, discover(fs, {}, []))
    assert resolver.imports_of("/app/node_modules/main-pkg/dist/more.js",
                               fs.read("/app/node_modules/main-pkg/dist/more.js"), "node") == [
        "/app/node_modules/exp/package.json", "/app/node_modules/exp/cjs/index.js"]


def test_node_global_dirs_include_debian_dirs_and_prefix_lib_node():
    fs = FakeFs({"/usr/bin/nodejs": b"\x7fELF", "/usr/bin/node": Link("nodejs"), "/usr/share/nodejs": "DIR",
                 "/usr/lib/nodejs": "DIR", "/usr/lib/x86_64-linux-gnu/nodejs": "DIR", "/usr/lib/node": "DIR",
                 "/root/.node_modules": "DIR"})
    assert node_path(fs, {}, []).global_dirs == ("/root/.node_modules", "/usr/lib/node",
                                                 "/usr/lib/x86_64-linux-gnu/nodejs", "/usr/share/nodejs",
                                                 "/usr/lib/nodejs")
    assert node_path(FakeFs({"/usr/share/nodejs": "DIR"}), {}, []) is None      # no node in the image


# --- Ruby ----------------------------------------------------------------------------------

RB = b'''
# require 'commented'
=begin
require 'in_block'
=end
require 'yaml'
require "json"
require_relative 'lib/helper'
require File.expand_path('../support/util', __FILE__)
require File.join(__dir__, 'support', 'more')
$LOAD_PATH.unshift File.expand_path('vendor', __dir__)
autoload :Digest, 'digest'
def lazy
  require 'net/http' if ENV['X']
  require "plugins/#{name}"        # interpolated: out of reach
end
__END__
require 'after_end'
'''


def test_ruby_scan():
    found = scan_ruby(RB)
    assert [(imp.name, imp.kind) for imp in found] == [
        ("yaml", "require"), ("json", "require"), ("lib/helper", "require_relative"),
        ("../support/util", "require_file"), ("support/more", "require_relative"),
        ("vendor", "load_path"), ("digest", "require"), ("net/http", "require")]


RUBY = {
    "/usr/bin/ruby3.1": b"\x7fELF",
    "/usr/bin/ruby": Link("ruby3.1"),
    "/usr/lib/ruby/3.1.0/yaml.rb": "require 'psych'\n",
    "/usr/lib/ruby/3.1.0/psych.rb": "require 'psych.so'\nrequire 'psych/versions'\n",
    "/usr/lib/ruby/3.1.0/psych/versions.rb": "",
    "/usr/lib/ruby/3.1.0/psych/nodes/node.rb": "",
    "/usr/lib/ruby/3.1.0/digest.rb": "",
    "/usr/lib/ruby/3.1.0/digest/sha2.rb": "",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/psych.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest/sha2.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/json/ext/parser.so": b"\x7fELF",
    "/usr/lib/ruby/vendor_ruby": "DIR",
    "/usr/local/lib/site_ruby": "DIR",
    "/var/lib/gems/3.1.0/gems/sinatra-3.0.5/lib/sinatra.rb": "",
    "/app/app.rb": "",
    "/app/lib/helper.rb": "",
    "/app/support/util.rb": "",
}


def test_ruby_load_path_order_debian():
    fs = FakeFs(RUBY)
    assert ruby_path(fs, {"RUBYLIB": "/opt/rb"}, [Proc("/usr/bin/ruby3.1", ("ruby", "-I/app/lib", "app.rb"))]).dirs \
        == ("/app/lib", "/usr/local/lib/site_ruby", "/usr/lib/ruby/vendor_ruby", "/usr/lib/ruby/3.1.0",
            "/usr/lib/x86_64-linux-gnu/ruby/3.1.0", "/var/lib/gems/3.1.0/gems/sinatra-3.0.5/lib")


def test_ruby_load_path_of_the_official_image_layout():
    fs = FakeFs({"/usr/local/bin/ruby": b"\x7fELF",
                 "/usr/local/lib/ruby/3.2.0/yaml.rb": "",
                 "/usr/local/lib/ruby/3.2.0/x86_64-linux/psych.so": b"\x7fELF",
                 "/usr/local/lib/ruby/site_ruby/3.2.0": "DIR",
                 "/usr/local/bundle/gems/rack-3.0.8/lib/rack.rb": ""})
    assert ruby_path(fs, {}, []).dirs == ("/usr/local/lib/ruby/site_ruby/3.2.0", "/usr/local/lib/ruby/site_ruby",
                                          "/usr/local/lib/ruby/3.2.0",
                                          "/usr/local/lib/ruby/3.2.0/x86_64-linux",
                                          "/usr/local/bundle/gems/rack-3.0.8/lib")


@pytest.mark.parametrize("source, expected", [
    ("require 'yaml'\n", ["/usr/lib/ruby/3.1.0/yaml.rb"]),
    ("require 'psych.so'\n", ["/usr/lib/x86_64-linux-gnu/ruby/3.1.0/psych.so"]),
    ("require 'json/ext/parser'\n", ["/usr/lib/x86_64-linux-gnu/ruby/3.1.0/json/ext/parser.so"]),
    ("require 'digest'\n", ["/usr/lib/ruby/3.1.0/digest.rb"]),          # .rb before .so in a dir
    ("require 'sinatra'\n", ["/var/lib/gems/3.1.0/gems/sinatra-3.0.5/lib/sinatra.rb"]),
    ("require_relative 'lib/helper'\n", ["/app/lib/helper.rb"]),
    ("require File.expand_path('../support/util', __FILE__)\n", ["/app/support/util.rb"]),
    ("require File.join(File.dirname(__FILE__), 'support', 'util')\n", ["/app/support/util.rb"]),
    ("$:.unshift File.expand_path('lib', __dir__)\nrequire 'helper'\n", ["/app/lib/helper.rb"]),
    ("require 'no/such'\n", []),
])
def test_ruby_resolution(source, expected):
    fs = FakeFs({**RUBY, "/app/app.rb": source})
    assert imports(fs, "/app/app.rb") == expected


def test_rubygems_boot_file_does_not_pull_bundler():
    fs = FakeFs({**RUBY, "/usr/lib/ruby/vendor_ruby/rubygems.rb": "def self.use_gemdeps\n  require 'bundler'\nend\n"
                                                               "require 'digest'\n",
                 "/usr/lib/ruby/3.1.0/bundler.rb": "", "/app/app.rb": "require 'bundler'\n"})
    assert imports(fs, "/usr/lib/ruby/vendor_ruby/rubygems.rb") == ["/usr/lib/ruby/3.1.0/digest.rb"]
    assert imports(fs, "/app/app.rb") == ["/usr/lib/ruby/3.1.0/bundler.rb"]


def test_ruby_extension_keeps_its_pure_ruby_counterpart():
    fs = FakeFs(RUBY)
    resolver = ImportResolver(fs, discover(fs, {}, []))
    assert resolver.ruby_counterparts("/usr/lib/x86_64-linux-gnu/ruby/3.1.0/psych.so") == [
        "/usr/lib/ruby/3.1.0/psych.rb", "/usr/lib/ruby/3.1.0/psych/nodes/node.rb",
        "/usr/lib/ruby/3.1.0/psych/versions.rb"]
    assert resolver.ruby_counterparts("/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest/sha2.so") == [
        "/usr/lib/ruby/3.1.0/digest/sha2.rb"]
    assert resolver.ruby_counterparts("/usr/lib/x86_64-linux-gnu/libyaml-0.so.2") == []


# --- Perl ----------------------------------------------------------------------------------

PL = b'''#!/usr/bin/perl
use strict;
use warnings;
use 5.010;
use v5.36;
use parent -norequire, 'Not::Loaded';
use base qw(Exporter Base::Class);
use parent 'Parent::One', "Parent::Two";
use if $] < 5.008, 'utf8';
use lib "$FindBin::Bin/../lib", 'vendor';
no warnings 'once';
# use Commented::Out;
my $x = $#array;   # $# is no comment start
sub digest {
    require Digest::SHA;
    require IO::Compress::Gzip if $ENV{GZ};
    eval { require JSON::PP; 1 } or die;
    eval "use Storable; 1";
    require "config/settings.pl";
    my $m = "Computed::Name"; require $m;          # computed: out of reach
    XSLoader::load('Some::XS', $VERSION);
}

=head1 NAME

use Pod::Only;

=cut

1;
__END__
use After::End;
'''


def test_perl_scan():
    found = [(imp.name, imp.kind) for imp in scan_perl(PL)]
    assert found == [
        ("strict", "use"), ("warnings", "use"), ("parent", "use"), ("base", "use"), ("Exporter", "use"),
        ("Base::Class", "use"), ("Parent::One", "use"), ("Parent::Two", "use"),
        ("if", "use"), ("utf8", "use"), ("lib", "use"), ("$BIN/../lib", "lib"), ("vendor", "lib"),
        ("Digest::SHA", "require"), ("IO::Compress::Gzip", "require"), ("JSON::PP", "require"),
        ("Storable", "use"), ("config/settings.pl", "file"), ("Some::XS", "xs")]


PERL = {
    "/usr/bin/perl": b"\x7fELF",
    "/etc/perl": "DIR",
    "/usr/local/lib/x86_64-linux-gnu/perl/5.36.0": "DIR",
    "/usr/local/share/perl/5.36.0": "DIR",
    "/usr/lib/x86_64-linux-gnu/perl5/5.36": "DIR",
    "/usr/share/perl5/Parent/One.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl-base/strict.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl-base/vars.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/Digest/SHA.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/Digest/SHA/SHA.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/POSIX.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/autosplit.ix": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/POSIX.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36.0": Link("5.36"),
    "/usr/lib/x86_64-linux-gnu/perl/debian-config-data-5.36.0": "DIR",
    "/usr/share/perl/5.36/IO/Compress/Gzip.pm": "",
    "/usr/share/perl/5.36/File/GlobMapper.pm": "",
    "/usr/share/perl/5.36/config/settings.pl": "",
    "/usr/share/perl/5.36.0": Link("5.36"),
    "/usr/local/lib/site_perl": "DIR",
    "/srv/bin/job.pl": "",
    "/srv/lib/My/Local.pm": "",
}


def test_perl_inc_is_discovered_in_debian_order_without_a_hard_coded_version():
    fs = FakeFs(PERL)
    assert perl_path(fs, {"PERL5LIB": "/opt/perl"}, [Proc("/usr/bin/perl", ("perl", "-I", "/srv/lib", "x.pl"))]).dirs \
        == ("/srv/lib", "/etc/perl", "/usr/local/lib/x86_64-linux-gnu/perl/5.36.0", "/usr/local/share/perl/5.36.0",
            "/usr/lib/x86_64-linux-gnu/perl5/5.36", "/usr/share/perl5", "/usr/lib/x86_64-linux-gnu/perl-base",
            "/usr/lib/x86_64-linux-gnu/perl/5.36", "/usr/share/perl/5.36", "/usr/local/lib/site_perl")


@pytest.mark.parametrize("source, expected", [
    ("use strict;\nuse vars qw($x);\n", ["/usr/lib/x86_64-linux-gnu/perl-base/strict.pm",
                                         "/usr/lib/x86_64-linux-gnu/perl-base/vars.pm"]),
    ("sub f { require Digest::SHA; }\n", ["/usr/lib/x86_64-linux-gnu/perl/5.36/Digest/SHA.pm",
                                          "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/Digest/SHA/SHA.so"]),
    ("use POSIX ();\n", ["/usr/lib/x86_64-linux-gnu/perl/5.36/POSIX.pm",
                         "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/POSIX.so",
                         "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/autosplit.ix"]),
    ("if ($gz) { require IO::Compress::Gzip }\n", ["/usr/share/perl/5.36/IO/Compress/Gzip.pm"]),
    ("use parent 'Parent::One';\n", ["/usr/share/perl5/Parent/One.pm"]),
    ("require 'config/settings.pl';\n", ["/usr/share/perl/5.36/config/settings.pl"]),
    ("use FindBin;\nuse lib \"$FindBin::Bin/../lib\";\nuse My::Local;\n", ["/srv/lib/My/Local.pm"]),
    ("use Not::Installed;\n", []),
])
def test_perl_resolution(source, expected):
    fs = FakeFs({**PERL, "/srv/bin/job.pl": source})
    assert imports(fs, "/srv/bin/job.pl", workdir="/srv") == expected


def test_a_language_without_its_interpreter_in_the_image_is_not_resolved():
    fs = FakeFs({"/app/a.rb": "require 'x'", "/app/a.pl": "use strict;", "/app/a.js": "require('x')"})
    resolver = ImportResolver(fs, discover(fs, {}, []))
    assert [resolver.language(p) for p in ("/app/a.rb", "/app/a.pl", "/app/a.js", "/app/a.py")] == [None] * 4
    assert discover(fs, {}, []) == SearchPaths(workdir="/")
