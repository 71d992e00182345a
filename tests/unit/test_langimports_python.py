"""Python imports (slimmer/langimports/python.py, pythonpath.py): what a module names,
the files CPython opens for it, and sys.path, on small fake images."""
from __future__ import annotations

import pytest

from slimmer.langimports import Import, ImportResolver, discover, python_paths, scan_python
from tests.unit.langfs import FakeFs, Link, Proc


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


def test_python_scan_skips_what_only_a_dead_self_test_calls():
    """random's _test (main guard only) calls _test_generator, which imports statistics
    (then decimal and its 300 kB C extension, fractions): dead too; a helper that a
    live function also calls stays."""
    source = b"""
def _test_generator(n):
    from statistics import stdev

def _shared():
    import json

def _test(n=2000):
    _test_generator(n)
    _shared()

def choices():
    return _shared()

if __name__ == "__main__":
    _test()
"""
    assert {imp.name for imp in scan_python(source, main=False)} == {"json"}
    assert {imp.name for imp in scan_python(source, main=True)} == {"statistics", "json"}


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
    "/usr/local/lib/python3.11/importlib/_bootstrap.py": "",
    "/usr/local/lib/python3.11/importlib/_bootstrap_external.py": "",
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
    # the import system's modules come frozen (sys.modules, set by importlib/__init__): no source opened
    ("from importlib._bootstrap_external import PathFinder\nfrom importlib import _bootstrap\n",
     ["/usr/local/lib/python3.11/importlib/__init__.py"]),
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


SITE_PY = """import base64
def enablerlcompleter():
    def register_readline():
        import atexit
        try:
            import readline
        except ImportError:
            return
    sys.__interactivehook__ = register_readline
"""


def test_python_site_readline_hook_imports_nothing():
    """site's register_readline is the interactive prompt's hook (python -i, a REPL): its
    readline (libreadline, libtinfo: 0.6 MB on python-venv) is not followed; the same
    function name elsewhere is."""
    readline = "/usr/local/lib/python3.11/lib-dynload/readline.cpython-311-x86_64-linux-gnu.so"
    site = "/usr/local/lib/python3.11/site.py"
    fs, resolver = py_resolver({site: SITE_PY, readline: b"\x7fELF", "/app/app.py": SITE_PY})
    assert resolver.imports_of(site, fs.read(site), "python") == ["/usr/local/lib/python3.11/base64.py"]
    assert readline in resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python")


def test_python_distutils_hack_finder_imports_carry_what_triggers_them():
    """_distutils_hack (a venv's .pth imports it) imports inside its finder's methods only
    when distutils or pip is imported: marked, not resolved with its own imports."""
    hack = "/usr/local/lib/python3.11/site-packages/_distutils_hack/__init__.py"
    source = ("import base64\nclass DistutilsMetaFinder:\n    def spec_for_distutils(self):\n"
              "        import importlib\n        return importlib.import_module('setuptools._distutils')\n"
              "    def spec_for_pip(self):\n        import traceback\n")
    fs, resolver = py_resolver({hack: source, "/usr/local/lib/python3.11/site-packages/setuptools/__init__.py": "",
                                "/usr/local/lib/python3.11/traceback.py": ""})
    assert resolver.python_scan(hack, fs.read(hack)) == [
        Import("base64", "import"), Import("importlib", "import", when=("distutils",)),
        Import("setuptools._distutils", "import", when=("distutils",)), Import("traceback", "import", when=("pip",))]
    assert resolver.imports_of(hack, fs.read(hack), "python") == ["/usr/local/lib/python3.11/base64.py"]
    # elsewhere the same source is an ordinary module
    assert "/usr/local/lib/python3.11/traceback.py" in resolver.imports_of("/app/app.py", source.encode(), "python")


@pytest.mark.parametrize("argv, version, expected", [
    # 3.11+: os comes frozen (so does abc, which it imports); what it imports lazily
    # (subprocess in os.popen) is still opened
    (("python3", "/app/app.py"), "3.11", ["/usr/local/lib/python3.11/subprocess.py"]),
    (("python3", "-X", "frozen_modules=off", "/app/app.py"), "3.11", ["/usr/local/lib/python3.11/os.py"]),
    (("python3", "-Xfrozen_modules=off", "/app/app.py"), "3.11", ["/usr/local/lib/python3.11/os.py"]),
    (("python3", "/app/app.py"), "3.10", ["/usr/local/lib/python3.10/os.py"]),
])
def test_python_frozen_stdlib_modules_are_not_opened_but_their_imports_are(argv, version, expected):
    """CPython 3.11 imports os, codecs, posixpath, stat, abc, io... from frozen copies
    (`_imp.is_frozen`): their files are never opened, unless -X frozen_modules=off."""
    lib = f"/usr/local/lib/python{version}"
    fs = FakeFs({f"/usr/local/bin/python{version}": b"\x7fELF", "/usr/local/bin/python3": Link(f"python{version}"),
                 f"{lib}/os.py": "import abc\ndef popen(cmd):\n    import subprocess\n",
                 f"{lib}/abc.py": "", f"{lib}/subprocess.py": "", "/app/app.py": "import os\n"})
    resolver = ImportResolver(fs, discover(fs, {}, [Proc(f"/usr/local/bin/python{version}", argv)], "/app"))
    assert resolver.imports_of("/app/app.py", fs.read("/app/app.py"), "python") == expected


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
