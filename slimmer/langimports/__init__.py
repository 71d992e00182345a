"""What interpreted source files import by a literal name, and where their interpreter finds it.

Pure functions over a small filesystem view (`FsView`); no Docker, no keep internals.
The keep rule `imports` (docs/KEEP-RULES.md) feeds it the kept sources of an image.
Per language:
  1. scan: source bytes -> the names it imports, wherever the statement is
     (inside a function, a try/except, an if): a path no probe visited still
     imports at run time. Only literal names: `import_module(name)` with a
     computed name, `require(variable)`, `require "x/#{y}"` are out of reach.
  2. resolve: a name -> the files the interpreter would open for it, searched
     the way the interpreter searches (first match wins, as at run time).
  3. search paths: the interpreter's own search path as the image configures
     it (sys.path, node_modules and global dirs, $LOAD_PATH, @INC), from the
     image's files, its ENV and the traced processes' argv.

One module per language, each with its scan, search path and resolver, and
its docstring saying what it follows and what it does not:
  python.py, pythonpath.py   Python (import, from-import, import_module; sys.path, venvs, .pth)
  node.py                    Node (require, import, export from; node_modules, package.json exports)
  ruby.py                    Ruby (require, require_relative, autoload, load; $LOAD_PATH, gems)
  perl.py                    Perl (use, require, XSLoader; @INC, auto/)
  core.py                    what they share: FsView, IndexFs, Import, language_of, PATH lookups
  resolver.py                SearchPaths, discover, ImportResolver (the entry point)

Not followed, because it never runs in an application (docs/KEEP-RULES.md has
the measurements): a Python library module's `__main__` block and the
self-tests only it calls, `if TYPE_CHECKING:`, an `except ImportError:`
fallback whose `try:` modules resolve or are built in, CPython's `test`
package and `pydoc_data`, site's help() and readline hook (the interactive
prompt's); rubygems' bundler and gem installer. Followed only once a source imports
what triggers them: _distutils_hack's finder methods (distutils, pip; PYTHON_DEFERRED).
"""
from __future__ import annotations

from .core import (DEFAULT_PATH, MAX_SOURCE_BYTES, FsView, Import, IndexFs, glob, interpreter_language,
                   language_of, which)
from .node import NODE_BUILTINS, NODE_EXTENSIONS, NodePath, node_path, scan_node, strip_js_comments
from .perl import PerlPath, perl_path, scan_perl, strip_perl_comments
from .python import (PYTHON_DEFERRED, PYTHON_FROZEN_LAZY, PYTHON_INTERACTIVE_ONLY, PYTHON_STDLIB_NOT_FOLLOWED,
                     imported_modules, scan_python)
from .pythonpath import PythonPath, python_paths
from .resolver import ImportResolver, SearchPaths, discover
from .ruby import RUBY_NOT_FOLLOWED, RubyPath, ruby_path, scan_ruby, strip_ruby_comments

__all__ = ["DEFAULT_PATH", "MAX_SOURCE_BYTES", "FsView", "Import", "IndexFs", "glob", "interpreter_language",
           "language_of", "which", "NODE_BUILTINS", "NODE_EXTENSIONS", "NodePath", "node_path", "scan_node",
           "strip_js_comments", "PerlPath", "perl_path", "scan_perl", "strip_perl_comments", "PYTHON_DEFERRED",
           "PYTHON_FROZEN_LAZY", "imported_modules",
           "PYTHON_INTERACTIVE_ONLY", "PYTHON_STDLIB_NOT_FOLLOWED", "scan_python", "PythonPath", "python_paths",
           "ImportResolver", "SearchPaths", "discover", "RUBY_NOT_FOLLOWED", "RubyPath", "ruby_path", "scan_ruby",
           "strip_ruby_comments"]
