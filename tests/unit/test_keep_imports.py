"""Rule imports: what kept Python, Node, Ruby and Perl sources import by a literal name
is in the slim image, with its closure, though no probe took the path that imports it."""
from __future__ import annotations

import pytest

from keepfakes import GLIBC, R, elf, f, lib, ln, make_image, make_index, reasons
from slimmer.keep import compute_keep_set
from slimmer.model import KeepOptions, TraceLog, TracedPath, TracedProcess

LIBDIR = "/usr/lib/x86_64-linux-gnu"
STDLIB = "/usr/lib/python3.11"
DYNLOAD = f"{STDLIB}/lib-dynload"
EXT = ".cpython-311-x86_64-linux-gnu.so"
VENV = "/opt/venv/lib/python3.11/site-packages"


def source(text: str, **kw) -> dict:
    return dict(f(size=len(text), **kw), text=text)


def build(spec: dict, traced: tuple[str, ...], processes=(), rules=None, exclude=(), env=(), workdir=""):
    """The keep set of an image whose files are `spec` (sources carry their text)."""
    files = {path: kw.pop("text").encode() for path, kw in ((p, dict(v)) for p, v in spec.items()) if "text" in kw}
    entries = {path: {k: v for k, v in kw.items() if k != "text"} for path, kw in spec.items()}
    trace = TraceLog(version=1, paths={p: TracedPath(p, frozenset({"openat"}), False) for p in traced},
                     processes=tuple(TracedProcess(1, exe, tuple(argv)) for exe, argv in processes))
    return compute_keep_set(trace, make_index(entries), make_image(env=env, workdir=workdir),
                            KeepOptions(rules=rules or {}, exclude=tuple(exclude)), read_file=files.get)


# --- Python: a venv app importing inside its handlers ------------------------------------

PYTHON = dict(GLIBC, **{
    "/usr/bin/python3.11": elf(["libc.so.6"]),
    "/usr/bin/python3": ln("python3.11"),
    f"{STDLIB}/os.py": source(""),
    f"{STDLIB}/json/__init__.py": source("from .decoder import JSONDecoder\n"),
    f"{STDLIB}/json/decoder.py": source("try:\n    from _json import scanstring\nexcept ImportError:\n    pass\n"),
    f"{STDLIB}/sqlite3/__init__.py": source("from sqlite3.dbapi2 import *\n"),
    f"{STDLIB}/sqlite3/dbapi2.py": source("import datetime\nfrom _sqlite3 import *\n"),
    f"{STDLIB}/datetime.py": source("try:\n    from _datetime import *\nexcept ImportError:\n    import _pydatetime\n"),
    f"{STDLIB}/_pydatetime.py": source(""),
    f"{STDLIB}/importlib/__init__.py": source(""),
    f"{STDLIB}/importlib/readers.py": source("from .resources.readers import FileReader\n"),
    f"{STDLIB}/importlib/resources/__init__.py": source("from ._common import files\n"),
    f"{STDLIB}/importlib/resources/_common.py": source(""),
    f"{STDLIB}/importlib/resources/readers.py": source(""),
    f"{STDLIB}/doctest.py": source("import pdb\n"),
    f"{STDLIB}/heapq.py": source("if __name__ == '__main__':\n    import doctest\n"),
    f"{DYNLOAD}/_json{EXT}": lib(["libc.so.6"]),
    f"{DYNLOAD}/_sqlite3{EXT}": lib(["libsqlite3.so.0"]),
    f"{DYNLOAD}/_dbm{EXT}": lib(["libdb-5.3.so"]),
    f"{DYNLOAD}/_datetime{EXT}": lib(["libc.so.6"]),
    f"{LIBDIR}/libsqlite3.so.0": lib(["libc.so.6"]),
    f"{LIBDIR}/libdb-5.3.so": lib(),
    f"{LIBDIR}/libyaml-0.so.2": lib(["libc.so.6"]),
    "/opt/venv/pyvenv.cfg": source("home = /usr/bin\ninclude-system-site-packages = false\n"),
    "/opt/venv/bin/python": ln("/usr/bin/python3"),
    f"{VENV}/yaml/__init__.py": source("from .cyaml import *\n"),
    f"{VENV}/yaml/cyaml.py": source("from yaml._yaml import CParser\n"),
    f"{VENV}/yaml/composer.py": source(""),
    f"{VENV}/yaml/_yaml{EXT}": lib(["libyaml-0.so.2"]),
    f"{VENV}/PyYAML-6.0.dist-info/RECORD": source("yaml/__init__.py,,\nyaml/composer.py,,\n"),
    "/opt/app/server.py": source(
        "import json, heapq\n"
        "def yaml_handler():\n    import yaml\n"
        "def db_handler():\n    import sqlite3\n"
        "def resource_handler():\n    import importlib.resources\n"
        "def plugin(name):\n    return importlib.import_module(name)\n"),
})
SERVER = (("/usr/bin/python3.11", ("/opt/venv/bin/python", "/opt/app/server.py")),)
SERVER_TRACE = ("/usr/bin/python3.11", "/opt/app/server.py", f"{STDLIB}/os.py", f"{STDLIB}/json/__init__.py",
                f"{STDLIB}/json/decoder.py", f"{DYNLOAD}/_json{EXT}", f"{STDLIB}/heapq.py", "/opt/venv/pyvenv.cfg")


def test_python_handler_imports_are_kept_with_their_closure_and_distribution():
    r = reasons(build(PYTHON, SERVER_TRACE, SERVER))
    # the venv's third-party package: imported module, its C extension and libyaml, the whole distribution
    assert r[f"{VENV}/yaml/__init__.py"] is R.IMPORTS
    assert r[f"{VENV}/yaml/cyaml.py"] is R.IMPORTS and r[f"{VENV}/yaml/_yaml{EXT}"] is R.IMPORTS
    assert r[f"{LIBDIR}/libyaml-0.so.2"] is R.ELF
    assert r[f"{VENV}/yaml/composer.py"] is R.PACKAGE and r[f"{VENV}/PyYAML-6.0.dist-info/RECORD"] is R.PACKAGE
    # a stdlib package backed by a C extension, transitively
    assert r[f"{STDLIB}/sqlite3/__init__.py"] is R.IMPORTS and r[f"{STDLIB}/sqlite3/dbapi2.py"] is R.IMPORTS
    assert r[f"{DYNLOAD}/_sqlite3{EXT}"] is R.IMPORTS and r[f"{LIBDIR}/libsqlite3.so.0"] is R.ELF
    assert r[f"{STDLIB}/datetime.py"] is R.IMPORTS and r[f"{DYNLOAD}/_datetime{EXT}"] is R.IMPORTS
    # importlib.resources needs importlib.readers, which the frozen bootstrap imports
    assert r[f"{STDLIB}/importlib/resources/__init__.py"] is R.IMPORTS
    assert r[f"{STDLIB}/importlib/readers.py"] is R.IMPORTS
    assert r[f"{STDLIB}/importlib/resources/readers.py"] is R.IMPORTS
    # never run: a library module's self-test, a fallback whose C module is there
    assert f"{STDLIB}/doctest.py" not in r and f"{STDLIB}/_pydatetime.py" not in r
    # the plugin rule no longer keeps lib-dynload whole: _dbm is imported by nothing
    assert f"{DYNLOAD}/_dbm{EXT}" not in r and f"{LIBDIR}/libdb-5.3.so" not in r


def test_python_package_files_are_scanned_only_once_something_imports_them():
    site = VENV
    spec = dict(PYTHON, **{
        f"{site}/distutils-precedence.pth": source("import _distutils_hack\n"),
        f"{site}/_distutils_hack/__init__.py": source(""),
        f"{site}/pkg_resources/__init__.py": source("def f():\n    import tarfile\n"),
        f"{site}/pkg_resources/extern.py": source("import pickle\n"),
        f"{site}/setuptools/sandbox.py": source("import pickle\n"),
        f"{site}/setuptools-65.5.0.dist-info/RECORD": source(
            "_distutils_hack/__init__.py,,\npkg_resources/__init__.py,,\npkg_resources/extern.py,,\n"
            "setuptools/sandbox.py,,\n"),
        f"{STDLIB}/tarfile.py": source(""),
        f"{STDLIB}/pickle.py": source(""),
        "/opt/app/server.py": source("def version():\n    import pkg_resources\n"),
    })
    # site.py ran the .pth; the app's import keeps pkg_resources whole, its modules unscanned;
    # the distribution's other top-level package (setuptools) only if something imports it
    traced = (f"{site}/_distutils_hack/__init__.py",) + SERVER_TRACE
    r = reasons(build(spec, traced, SERVER))
    assert r[f"{site}/pkg_resources/extern.py"] is R.PACKAGE and f"{STDLIB}/pickle.py" not in r
    assert r[f"{site}/pkg_resources/__init__.py"] is R.IMPORTS and r[f"{STDLIB}/tarfile.py"] is R.IMPORTS
    assert f"{site}/setuptools/sandbox.py" not in r


DISTUTILS_HACK = b"""import sys
import os
def clear_distutils():
    import warnings
def do_override():
    ensure_local_distutils()
def ensure_local_distutils():
    import importlib
    with shim():
        importlib.import_module('distutils')
class DistutilsMetaFinder:
    def spec_for_distutils(self):
        import importlib.abc
        mod = importlib.import_module('setuptools._distutils')
    def spec_for_pip(self):
        if self.pip_imported_during_build():
            return
        clear_distutils()
    @classmethod
    def pip_imported_during_build(cls):
        import traceback
"""


def distutils_hack_image(app: str) -> dict:
    site = VENV
    return dict(PYTHON, **{
        f"{site}/distutils-precedence.pth": source("import _distutils_hack\n"),
        f"{site}/_distutils_hack/__init__.py": source(DISTUTILS_HACK.decode()),
        f"{site}/_distutils_hack/override.py": source("__import__('_distutils_hack').do_override()\n"),
        f"{site}/setuptools/__init__.py": source("import _distutils_hack.override\nimport distutils.core\n"),
        f"{site}/setuptools/_distutils/__init__.py": source("import importlib\n"),
        f"{site}/setuptools-66.1.1.dist-info/RECORD": source(
            "_distutils_hack/__init__.py,,\nsetuptools/__init__.py,,\nsetuptools/_distutils/__init__.py,,\n"),
        f"{site}/pip/__init__.py": source(""),
        f"{STDLIB}/distutils/__init__.py": source(""),
        f"{STDLIB}/importlib/abc.py": source(""),
        f"{STDLIB}/warnings.py": source(""), f"{STDLIB}/traceback.py": source(""),
        "/opt/app/server.py": source(app),
    })


@pytest.mark.parametrize("app, kept, not_kept", [
    # the .pth ran, nothing imports distutils or pip: the finder's methods never run
    ("import json\n", (), ("setuptools/_distutils/__init__.py", "setuptools/__init__.py", "traceback.py",
                           "importlib/abc.py")),
    # a handler imports distutils: the finder imports setuptools._distutils, so setuptools
    # (whose __init__ imports _distutils_hack.override: do_override's warnings)
    ("def build():\n    from distutils import core\n",
     ("setuptools/_distutils/__init__.py", "importlib/abc.py", "setuptools/__init__.py", "warnings.py"),
     ("traceback.py",)),
    # pip is imported: spec_for_pip (traceback, warnings), not setuptools
    ("def upgrade():\n    import pip\n", ("traceback.py", "warnings.py"), ("setuptools/_distutils/__init__.py",)),
    # setuptools imports _distutils_hack.override: do_override imports distutils, which runs
    # spec_for_distutils in turn
    ("def build():\n    import setuptools\n", ("setuptools/_distutils/__init__.py", "warnings.py"),
     ("traceback.py",)),
])
def test_python_distutils_hack_imports_wait_for_distutils_or_pip(app, kept, not_kept):
    """site runs setuptools' distutils-precedence.pth in a venv: _distutils_hack's finder
    imports setuptools._distutils only when something imports distutils, and its pip
    helpers only for pip (python-venv: setuptools, 3 MB, for an app that imports neither)."""
    traced = (f"{VENV}/_distutils_hack/__init__.py",) + SERVER_TRACE
    r = reasons(build(distutils_hack_image(app), traced, SERVER))
    where = {path: (f"{VENV}/{path}" if path.split("/")[0] in ("setuptools", "pip") else f"{STDLIB}/{path}")
             for path in kept + not_kept}
    for path in kept:
        assert where[path] in r, path
    for path in not_kept:
        assert where[path] not in r, path


def test_python_distutils_hack_waits_whichever_is_scanned_first():
    """The app importing distutils is scanned before _distutils_hack (kept later, as the
    import of a handler): the waiting import is still kept."""
    app = "import distutils\ndef late():\n    import _distutils_hack\n"
    r = reasons(build(distutils_hack_image(app), SERVER_TRACE, SERVER))
    assert r[f"{VENV}/_distutils_hack/__init__.py"] is R.IMPORTS
    assert r[f"{VENV}/setuptools/_distutils/__init__.py"] in (R.IMPORTS, R.PACKAGE)
    assert f"{STDLIB}/traceback.py" not in r


BOOTSTRAP = f"{STDLIB}/importlib/_bootstrap_external.py"
FROZEN = dict(PYTHON, **{
    BOOTSTRAP: source("import _imp\nimport sys\n"
                      "def decode_source(source_bytes):\n    import tokenize\n"
                      "class FileLoader:\n    def get_resource_reader(self, module):\n"
                      "        from importlib.readers import FileReader\n        return FileReader(self)\n"
                      "class PathFinder:\n    @classmethod\n    def find_distributions(cls, *args):\n"
                      "        from importlib.metadata import MetadataPathFinder\n"),
    f"{STDLIB}/importlib/machinery.py": source("from ._bootstrap_external import PathFinder\n"),
    f"{STDLIB}/importlib/metadata/__init__.py": source(
        "import email\nimport zipfile\ndef _discover(finder):\n    return getattr(finder, 'find_distributions', None)\n"),
    f"{STDLIB}/email/__init__.py": source(""), f"{STDLIB}/zipfile.py": source(""),
    f"{STDLIB}/tokenize.py": source(""),
    f"{STDLIB}/linecache.py": source("import tokenize\ndef lazycache(g):\n    return g['__loader__'].get_source\n"),
    f"{STDLIB}/importlib/resources/_common.py": source(
        "def from_package(spec):\n    return spec.loader.get_resource_reader(spec.name)\n"),
})


def test_python_frozen_import_system_imports_only_for_the_callbacks_a_kept_source_calls():
    """importlib/_bootstrap_external.py runs frozen in the interpreter; its lazy imports serve
    callbacks (find_distributions, get_resource_reader): kept once a kept source names the
    method, not because importlib.machinery is imported (python-cli: 2 MB of email, zipfile,
    tempfile, tarfile, decimal...)."""
    cli = (("/usr/bin/python3.11", ("python3", "/app/cli.py")),)
    spec = dict(FROZEN, **{"/app/cli.py": source("import importlib.machinery\n")})
    r = reasons(build(spec, ("/usr/bin/python3.11", "/app/cli.py"), cli))
    assert BOOTSTRAP not in r                    # importlib.machinery gets the frozen module: no file
    for module in ("importlib/metadata/__init__.py", "email/__init__.py", "importlib/readers.py", "tokenize.py"):
        assert f"{STDLIB}/{module}" not in r, module
    # the callers name the callbacks: importlib.metadata, importlib.resources, linecache
    spec["/app/cli.py"] = source("import importlib.machinery, linecache\n"
                                 "def meta():\n    import importlib.metadata\n"
                                 "def res():\n    from importlib.resources import _common\n")
    r = reasons(build(spec, ("/usr/bin/python3.11", "/app/cli.py"), cli))
    assert r[f"{STDLIB}/importlib/metadata/__init__.py"] is R.IMPORTS and r[f"{STDLIB}/email/__init__.py"] is R.IMPORTS
    assert r[f"{STDLIB}/importlib/readers.py"] is R.IMPORTS and r[f"{STDLIB}/tokenize.py"] is R.IMPORTS
    # a third-party caller (the importlib_resources backport) names the method too; the import
    # system runs frozen whether or not its source file is kept (no importlib.machinery here)
    spec["/app/cli.py"] = source("import backport\n")
    spec["/app/backport.py"] = source("def files(spec):\n    return spec.loader.get_resource_reader(spec.name)\n")
    kept = build(spec, ("/usr/bin/python3.11", "/app/cli.py"), cli)
    assert kept.kept[f"{STDLIB}/importlib/readers.py"].because_of == "/app/backport.py"
    assert BOOTSTRAP not in kept.kept and f"{STDLIB}/email/__init__.py" not in kept.kept


def test_python_imports_rule_off_keeps_only_what_ran_and_lib_dynload_is_a_plugin_dir_again():
    r = reasons(build(PYTHON, SERVER_TRACE, SERVER, rules={"imports": False}))
    assert f"{VENV}/yaml/__init__.py" not in r and f"{STDLIB}/sqlite3/__init__.py" not in r
    assert f"{STDLIB}/importlib/readers.py" not in r
    # _json was dlopen'ed: lib-dynload is a plugin directory, as before the imports rule
    assert r[f"{DYNLOAD}/_sqlite3{EXT}"] is R.PLUGIN and r[f"{DYNLOAD}/_dbm{EXT}"] is R.PLUGIN


def test_python_excludes_still_veto_imported_files():
    r = reasons(build(PYTHON, SERVER_TRACE, SERVER, exclude=(f"{STDLIB}/sqlite3",)))
    assert f"{STDLIB}/sqlite3/__init__.py" not in r and f"{STDLIB}/sqlite3/dbapi2.py" not in r
    assert r[f"{VENV}/yaml/__init__.py"] is R.IMPORTS


def test_python_cli_branch_imports_through_the_shebang_interpreter_without_a_venv():
    spec = dict(PYTHON, **{
        f"{STDLIB}/base64.py": source("import binascii\n"),
        f"{STDLIB}/gzip.py": source("import zlib\n"),
        f"{DYNLOAD}/binascii{EXT}": lib(["libc.so.6"]),
        f"{DYNLOAD}/zlib{EXT}": lib(["libz.so.1"]),
        f"{LIBDIR}/libz.so.1": lib(["libc.so.6"]),
        "/usr/local/bin/tool": source("#!/usr/bin/python3\nimport sys\nif sys.argv[1] == 'gz':\n    import gzip\n"
                                      "elif sys.argv[1] == 'b64':\n    import base64\n",
                                      mode=0o755, shebang="/usr/bin/python3"),
    })
    r = reasons(build(spec, ("/usr/local/bin/tool",)))
    assert r["/usr/bin/python3.11"] is R.INTERPRETER
    assert r[f"{STDLIB}/gzip.py"] is R.IMPORTS and r[f"{DYNLOAD}/zlib{EXT}"] is R.IMPORTS
    assert r[f"{LIBDIR}/libz.so.1"] is R.ELF
    assert r[f"{STDLIB}/base64.py"] is R.IMPORTS and r[f"{DYNLOAD}/binascii{EXT}"] is R.IMPORTS



def test_python_executable_stdlib_module_imported_is_a_module_not_a_program():
    """Debian ships tarfile.py, base64.py... executable with `#! /usr/bin/env python3`:
    imported, neither its __main__ block's imports (argparse) nor its shebang's
    /usr/bin/env run; an app's executable script still gets both."""
    env_shebang = dict(mode=0o755, shebang="/usr/bin/env python3")
    spec = dict(PYTHON, **{
        "/usr/bin/env": elf(["libc.so.6"]),
        f"{STDLIB}/tarfile.py": source("import os\ndef main():\n    import argparse\n"
                                       "if __name__ == '__main__':\n    main()\n", **env_shebang),
        f"{STDLIB}/argparse.py": source(""),
        "/opt/app/server.py": source("def archive():\n    import tarfile\n"),
    })
    r = reasons(build(spec, SERVER_TRACE, SERVER))
    assert r[f"{STDLIB}/tarfile.py"] is R.IMPORTS
    assert f"{STDLIB}/argparse.py" not in r and "/usr/bin/env" not in r
    spec["/opt/app/tool.py"] = source("import tarfile\ndef main():\n    import argparse\n"
                                      "if __name__ == '__main__':\n    main()\n", **env_shebang)
    r = reasons(build(spec, SERVER_TRACE + ("/opt/app/tool.py",), SERVER))
    assert r["/usr/bin/env"] is R.INTERPRETER and r[f"{STDLIB}/argparse.py"] is R.IMPORTS


# --- Perl: requires inside branches -------------------------------------------------------

PERL_ARCH = f"{LIBDIR}/perl/5.36.0"
PERL_SHARE = "/usr/share/perl/5.36.0"
PERL_BASE = f"{LIBDIR}/perl-base"
PERL = dict(GLIBC, **{
    "/usr/bin/perl": elf(["libc.so.6"]),
    f"{LIBDIR}/perl/5.36": ln("5.36.0"),
    "/usr/share/perl/5.36": ln("5.36.0"),
    f"{PERL_BASE}/strict.pm": source(""),
    f"{PERL_BASE}/warnings.pm": source(""),
    f"{PERL_BASE}/vars.pm": source("use strict;\n"),
    f"{PERL_BASE}/Exporter.pm": source(""),
    f"{PERL_ARCH}/Digest/SHA.pm": source("use strict;\nrequire Exporter;\nXSLoader::load('Digest::SHA');\n"),
    f"{PERL_ARCH}/auto/Digest/SHA/SHA.so": lib(["libc.so.6"]),
    f"{PERL_ARCH}/Compress/Raw/Zlib.pm": source("use strict;\n"),
    f"{PERL_ARCH}/auto/Compress/Raw/Zlib/Zlib.so": lib(["libz.so.1"]),
    f"{LIBDIR}/libz.so.1": lib(["libc.so.6"]),
    f"{PERL_SHARE}/IO/Compress/Gzip.pm": source("use strict;\nuse IO::Compress::Base;\n"),
    f"{PERL_SHARE}/IO/Compress/Base.pm": source("use vars qw($VERSION);\nuse Compress::Raw::Zlib;\n"
                                                "sub glob { require File::GlobMapper; }\n"),
    f"{PERL_SHARE}/File/GlobMapper.pm": source("use strict;\n"),
    f"{PERL_SHARE}/Unused.pm": source(""),
    "/app/job.pl": source("#!/usr/bin/perl\nuse strict;\nuse warnings;\nif ($mode eq 'sha') {\n"
                          "    require Digest::SHA;\n} elsif ($mode eq 'gzip') {\n"
                          "    require IO::Compress::Gzip;\n}\n"),
})


def test_perl_branch_requires_keep_modules_their_auto_shared_objects_and_libz():
    r = reasons(build(PERL, ("/usr/bin/perl", "/app/job.pl", f"{PERL_BASE}/strict.pm", f"{PERL_BASE}/warnings.pm"),
                      (("/usr/bin/perl", ("perl", "/app/job.pl", "hello")),)))
    assert r[f"{PERL_ARCH}/Digest/SHA.pm"] is R.IMPORTS and r[f"{PERL_ARCH}/auto/Digest/SHA/SHA.so"] is R.IMPORTS
    # perl searches .../perl/5.36, bookworm's symlink to 5.36.0: without the link, no Digest/SHA.pm
    assert r[f"{LIBDIR}/perl/5.36"] is R.SYMLINK and r[f"{PERL_SHARE[:-2]}"] is R.SYMLINK
    assert r[f"{PERL_BASE}/Exporter.pm"] is R.IMPORTS
    assert r[f"{PERL_SHARE}/IO/Compress/Gzip.pm"] is R.IMPORTS and r[f"{PERL_SHARE}/IO/Compress/Base.pm"] is R.IMPORTS
    assert r[f"{PERL_BASE}/vars.pm"] is R.IMPORTS and r[f"{PERL_SHARE}/File/GlobMapper.pm"] is R.IMPORTS
    assert r[f"{PERL_ARCH}/auto/Compress/Raw/Zlib/Zlib.so"] is R.IMPORTS and r[f"{LIBDIR}/libz.so.1"] is R.ELF
    assert f"{PERL_SHARE}/Unused.pm" not in r


# --- Ruby: require 'yaml' around psych.so ------------------------------------------------

RUBY_LIB = "/usr/lib/ruby/3.1.0"
RUBY_ARCH = f"{LIBDIR}/ruby/3.1.0"
RUBY = dict(GLIBC, **{
    "/usr/bin/ruby3.1": elf(["libruby-3.1.so.3.1"]),
    "/usr/bin/ruby": ln("ruby3.1"),
    f"{LIBDIR}/libruby-3.1.so.3.1": lib(["libc.so.6"]),
    f"{RUBY_LIB}/yaml.rb": source("require 'psych'\n"),
    f"{RUBY_LIB}/psych.rb": source("require 'psych/versions'\nrequire 'psych.so'\n"),
    f"{RUBY_LIB}/psych/versions.rb": source(""),
    f"{RUBY_LIB}/psych/nodes/node.rb": source(""),
    f"{RUBY_ARCH}/psych.so": lib(["libyaml-0.so.2"]),
    f"{LIBDIR}/libyaml-0.so.2": lib(["libc.so.6"]),
    f"{RUBY_LIB}/digest.rb": source(""),
    "/app/job.rb": source("case mode\nwhen 'yaml'\n  require 'yaml'\nend\n"),
})


def test_ruby_branch_require_keeps_the_pure_ruby_files_the_extension_and_libyaml():
    r = reasons(build(RUBY, ("/usr/bin/ruby", "/app/job.rb"), (("/usr/bin/ruby3.1", ("ruby", "/app/job.rb")),)))
    assert r[f"{RUBY_LIB}/yaml.rb"] is R.IMPORTS and r[f"{RUBY_LIB}/psych.rb"] is R.IMPORTS
    assert r[f"{RUBY_LIB}/psych/versions.rb"] is R.IMPORTS and r[f"{RUBY_ARCH}/psych.so"] is R.IMPORTS
    assert r[f"{LIBDIR}/libyaml-0.so.2"] is R.ELF
    assert f"{RUBY_LIB}/digest.rb" not in r


def test_ruby_kept_extension_keeps_its_pure_ruby_counterpart():
    # the plugin rule kept psych.so (a dlopen'ed extension); `require 'yaml'` needs psych.rb and psych/ too
    r = reasons(build(RUBY, ("/usr/bin/ruby", f"{RUBY_ARCH}/psych.so"), rules={"plugins": False}))
    assert r[f"{RUBY_LIB}/psych.rb"] is R.IMPORTS and r[f"{RUBY_LIB}/psych/nodes/node.rb"] is R.IMPORTS
    assert f"{RUBY_LIB}/yaml.rb" not in r


# --- Node: a lazy require in a route ---------------------------------------------------------

NODE = dict(GLIBC, **{
    "/usr/bin/nodejs": elf(["libc.so.6"]),
    "/usr/bin/node": ln("nodejs"),
    "/usr/share/nodejs/express/package.json": source('{"main": "index.js"}'),
    "/usr/share/nodejs/express/index.js": source("module.exports = require('./lib/express');\n"),
    "/usr/share/nodejs/express/lib/express.js": source("const qs = require('qs');\n"),
    "/usr/share/nodejs/qs/package.json": source('{"main": "lib/index.js"}'),
    "/usr/share/nodejs/qs/lib/index.js": source(""),
    "/usr/share/nodejs/qs/lib/utils.js": source(""),
    "/usr/share/nodejs/unused/index.js": source(""),
    "/app/server.js": source("const express = require('express');\nconst fs = require('node:fs');\n"
                             "app.get('/report', () => { const r = require('./lib/report'); });\n"),
    "/app/lib/report.js": source("import { x } from './format.mjs';\n"),
    "/app/lib/format.mjs": source(""),
})


def test_node_lazy_require_of_an_app_module_and_packages_from_debian_dirs():
    r = reasons(build(NODE, ("/usr/bin/node", "/app/server.js"), (("/usr/bin/nodejs", ("node", "/app/server.js")),)))
    assert r["/app/lib/report.js"] is R.IMPORTS and r["/app/lib/format.mjs"] is R.IMPORTS
    assert r["/usr/share/nodejs/express/index.js"] is R.IMPORTS
    assert r["/usr/share/nodejs/qs/lib/index.js"] is R.IMPORTS
    assert r["/usr/share/nodejs/qs/lib/utils.js"] is R.PACKAGE
    assert "/usr/share/nodejs/unused/index.js" not in r


@pytest.mark.parametrize("spec, traced", [
    (PYTHON, ("/opt/app/server.py",)),
    (NODE, ("/app/server.js",)),
])
def test_sources_of_a_language_whose_interpreter_is_absent_import_nothing(spec, traced):
    without = {path: kw for path, kw in spec.items() if not path.startswith(("/usr/bin/",))}
    r = reasons(build(without, traced))
    assert R.IMPORTS not in r.values()
