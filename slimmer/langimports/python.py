"""Python: what a module imports, and which files CPython opens for it.

Scan: import / from-import (relative too, by level), importlib.import_module,
__import__ and find_spec with a literal, anywhere in the module (functions,
try/except, if); a file the host Python cannot parse is scanned line by line.
Not followed, because it never runs in an application: a library module's
`__main__` block and the self-tests only it calls, `if TYPE_CHECKING:`, an
`except ImportError:` fallback whose `try:` modules resolve or are built in,
CPython's `test` package and `pydoc_data`, site's help() and readline hook.
Deferred (PYTHON_DEFERRED): imports in a function that runs only once another
module is imported carry those modules (Import.when) for the keep rule to wait on.
Resolve: through sys.path (pythonpath.py) as CPython's PathFinder does: a
package keeps its parents' __init__; C extensions (.cpython-*.so, .abi3.so,
.so) resolve too.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import posixpath
import re
from typing import TYPE_CHECKING, Mapping, MutableMapping

from .core import MAX_SOURCE_BYTES, FsView, Import, LanguageResolver, unique
from .pythonpath import PythonPath

if TYPE_CHECKING:
    from .resolver import SearchPaths

# Modules that the interpreter's frozen bootstrap imports lazily on behalf of a kept
# module: CPython's frozen importlib._bootstrap_external imports importlib.readers
# when importlib.resources asks a loader for its resource reader (certifi.where()).
PYTHON_FROZEN_LAZY = {"importlib.resources": ("importlib.readers",)}
# CPython's import system (python3 -I -c 'import importlib._bootstrap' opens no file):
# importlib/__init__ takes importlib._bootstrap and _bootstrap_external from the frozen
# _frozen_importlib(_external), which the interpreter cannot start without, and puts them
# in sys.modules; an import of either name opens importlib/__init__ only, never these
# sources (python-venv's importlib.machinery, via inspect: 117 kB).
PYTHON_FROZEN_SOURCES = ("importlib/_bootstrap.py", "importlib/_bootstrap_external.py")
# Standard library packages no application runs: CPython's own test suite
# (multiprocessing's _cleanup_tests imports test.support, which imports unittest,
# doctest, pdb, pydoc...) and the topic texts of interactive help() (pydoc_data, 750 kB).
PYTHON_STDLIB_NOT_FOLLOWED = frozenset(("test", "pydoc_data"))
# Modules whose imports serve the interactive prompt only: site's help(), license(),
# copyright() import pydoc (and its 750 kB pydoc_data) when someone types help().
PYTHON_INTERACTIVE_ONLY = frozenset(("_sitebuiltins.py",))
# Functions whose imports run only once another module is imported, per module: each
# function's imports get `Import.when`, the modules whose import runs it (the keep rule
# `imports` follows them once a scanned source imports one of those); () = never in an
# application. From the modules' own source:
#  1. setuptools' _distutils_hack, imported by the distutils-precedence.pth that site runs
#     in every environment with setuptools, puts DistutilsMetaFinder first on
#     sys.meta_path; its find_spec(name) calls spec_for_<name> for a top-level name only.
#     spec_for_distutils (import_module("setuptools._distutils")) runs when something
#     imports `distutils`; spec_for_pip (pip_imported_during_build: traceback,
#     clear_distutils: warnings) when `pip` is imported; spec_for_sensitive_tests for
#     CPython's test.test_distutils. do_override (warn_distutils_present,
#     ensure_local_distutils: importlib, distutils, distutils.core) is what
#     _distutils_hack/override.py runs, and setuptools/__init__ imports that module.
#  2. site's register_readline (readline, rlcompleter; _pyrepl from 3.13) is
#     sys.__interactivehook__: it runs only at the interactive prompt (python -i, a REPL).
_OVERRIDE = "_distutils_hack.override"
PYTHON_DEFERRED: dict[str, dict[str, tuple[str, ...]]] = {
    "_distutils_hack": {
        "spec_for_distutils": ("distutils",),
        "spec_for_pip": ("pip",), "pip_imported_during_build": ("pip",),
        "spec_for_sensitive_tests": ("test.test_distutils",),
        "clear_distutils": ("pip", _OVERRIDE, "test.test_distutils"),
        "do_override": (_OVERRIDE,), "warn_distutils_present": (_OVERRIDE,), "ensure_local_distutils": (_OVERRIDE,),
    },
    "site": {"register_readline": ()},
}


# --- scan -----------------------------------------------------------------------------

_PY_IMPORT_FUNCS = frozenset(("import_module", "__import__", "find_spec"))


SCANNER_VERSION = 1      # raise it whenever scan_python's results change: scans kept across runs go stale


def scan_key(source: bytes, main: bool, deferred: Mapping[str, tuple[str, ...]] | None) -> str:
    """What scan_python's result depends on, as one digest: the scanner, the bytes, main, deferred."""
    digest = hashlib.sha256(f"{SCANNER_VERSION}\0{main}\0{sorted((deferred or {}).items())!r}\0".encode())
    digest.update(source)
    return digest.hexdigest()


def scan_python(source: bytes, main: bool = True,
                deferred: Mapping[str, tuple[str, ...]] | None = None) -> list[Import]:
    """Every import a module can execute, anywhere in it (functions, try/except, if),
    in order; not the body of `if TYPE_CHECKING:` (type checkers only) and, unless the
    file runs as the main script (`main`), not the body of `if __name__ == "__main__":`
    (a library module's self-test: heapq's imports doctest, and doctest pdb and pydoc),
    nor the body of a private module-level function only that block calls (pickle's _test).
    A file the host Python cannot parse (another version's syntax, Python 2) is
    scanned line by line instead.
    `deferred` (PYTHON_DEFERRED's entry for this module): an import inside one of
    these functions (the innermost one when they nest) carries the modules whose
    import runs the function in `Import.when`; one that never runs is left out."""
    if len(source) > MAX_SOURCE_BYTES:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _scan_python_lines(source.decode("utf-8", "replace"))
    found: list[tuple[tuple[int, int], Import]] = []
    dead = set() if main or b"__main__" not in source else _self_test_functions(tree)
    # Imports are statements: walking the statement blocks finds them (10x fewer nodes
    # than every expression); literal import_module("x") calls are found in the text.
    pending: list[tuple[ast.AST, tuple[str, ...]]] = [(tree, ())]
    while pending:
        node, unless = pending.pop()
        if node in dead:
            continue
        if isinstance(node, ast.If) and (_is_type_checking(node.test) or (not main and _is_main_guard(node.test))):
            pending += [(child, unless) for child in [node.test] + node.orelse]
            continue
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            primary = tuple(alias.name if isinstance(statement, ast.Import) else statement.module
                            for statement in node.body if isinstance(statement, (ast.Import, ast.ImportFrom))
                            and not getattr(statement, "level", 0)
                            for alias in (statement.names if isinstance(statement, ast.Import) else [None]))
            pending += [(child, unless) for child in node.body + node.orelse + node.finalbody]
            pending += [(handler, primary if _catches_import_error(handler) and primary else unless)
                        for handler in node.handlers]
            continue
        pending += [(child, unless) for child in _statement_children(node)]
        where = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if isinstance(node, ast.Import):
            found += [(where, Import(alias.name, "import", unless=unless)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((where, Import(node.module or "", "from", node.level or 0,
                                        tuple(alias.name for alias in node.names), unless)))
    if any(name.encode() in source for name in _PY_IMPORT_FUNCS):
        text = source.decode("utf-8", "replace")
        for match in _PY_CALL.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(((line, 0), Import(match.group(3), "import", len(match.group(2)))))
    found.sort(key=lambda pair: pair[0])
    if deferred:
        found = _defer(tree, found, deferred)
    return unique(imp for _, imp in found)


def _defer(tree: ast.Module, found: list[tuple[tuple[int, int], Import]],
           deferred: Mapping[str, tuple[str, ...]]) -> list[tuple[tuple[int, int], Import]]:
    """Give each import inside a deferred function (by line) that function's triggers."""
    spans = sorted(((node.lineno, node.end_lineno or node.lineno, deferred[node.name]) for node in ast.walk(tree)
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in deferred),
                   key=lambda span: span[1] - span[0])
    kept: list[tuple[tuple[int, int], Import]] = []
    for where, imp in found:
        when = next((span[2] for span in spans if span[0] <= where[0] <= span[1]), None)
        if when is None:
            kept.append((where, imp))
        elif when:
            kept.append((where, dataclasses.replace(imp, when=when)))
    return kept


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statement_children(node: ast.AST) -> list[ast.AST]:
    """The statements (and except handlers, match cases) nested directly in NODE."""
    children: list[ast.AST] = []
    for block in _BLOCKS:
        value = getattr(node, block, None)
        if isinstance(value, list):
            children += value
    return children


_ENTRY_POINTS = frozenset(("main", "test", "demo"))


def _self_test_functions(tree: ast.Module) -> set[ast.AST]:
    """Module-level private functions (`def _test():`), and the command-line entry
    points main/test/demo, named only inside an `if __name__ == "__main__":` block, or
    only by such dead functions (random's _test calls _test_generator, which imports
    statistics, hence decimal and fractions): dead code when the module is imported
    (`python -m ast` runs ast.main)."""
    candidates = {node.name: node for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and (node.name.startswith("_") and not node.name.startswith("__") or node.name in _ENTRY_POINTS)}
    if not candidates:
        return set()
    named_in: dict[str, set[str]] = {}      # candidate -> where it is named: "guard", "other", a candidate
    for statement in tree.body:
        if isinstance(statement, ast.If) and _is_main_guard(statement.test):
            where = "guard"
        else:
            where = next((name for name, node in candidates.items() if node is statement), "other")
        for node in ast.walk(statement):
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value                           # __all__, getattr(module, "_x")
            else:
                continue
            if name in candidates and name != where:
                named_in.setdefault(name, set()).add(where)
    dead: set[str] = set()
    while True:
        more = {name for name, where in named_in.items() if name not in dead
                and all(place == "guard" or place in dead for place in where)}
        if not more:
            return {candidates[name] for name in dead}
        dead |= more


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    """`except ImportError:`, `except (ModuleNotFoundError, X):`, but not a bare or broad except."""
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(kind, ast.Name) and kind.id in ("ImportError", "ModuleNotFoundError") for kind in kinds)


def _is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING`: False at run time."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_main_guard(test: ast.expr) -> bool:
    """`__name__ == "__main__"`, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
            and any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides))


_PY_IMPORT_LINE = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)
_PY_FROM_LINE = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]*(\([^)]*\)|[^\n#;]*)", re.M)
_PY_CALL = re.compile(r"(?:import_module|__import__|find_spec)\(\s*(['\"])(\.*)([\w.]+)\1")


def _scan_python_lines(text: str) -> list[Import]:
    found: list[Import] = []
    for match in _PY_IMPORT_LINE.finditer(text):
        for part in match.group(1).split(","):
            words = part.split()
            if words and re.match(r"^[A-Za-z_][\w.]*$", words[0]):
                found.append(Import(words[0], "import"))
    for match in _PY_FROM_LINE.finditer(text):
        names = [w.split()[0] for w in match.group(3).strip("()").replace("\\", " ").split(",") if w.split()]
        found.append(Import(match.group(2), "from", len(match.group(1)), tuple(names)))
    for match in _PY_CALL.finditer(text):
        found.append(Import(match.group(3), "import", len(match.group(2))))
    return unique(found)


def unique_paths(paths: list[str]) -> list[str]:
    return list(dict.fromkeys(paths))


def imported_modules(imports: list[Import]) -> set[str]:
    """Every absolute module name `imports` import, with the packages on the way
    (`from distutils.core import setup`: distutils, distutils.core, distutils.core.setup);
    deferred imports (Import.when) not."""
    names: set[str] = set()
    for imp in imports:
        if imp.level or imp.when or not imp.name:
            continue
        parts = imp.name.split(".")
        names.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
        names.update(f"{imp.name}.{name}" for name in imp.names if name != "*")
    return names


# --- resolve --------------------------------------------------------------------------

class PythonResolver(LanguageResolver):
    """Python's imports against the sys.path of each Python in the image."""

    def __init__(self, fs: FsView, paths: "SearchPaths", scans: "MutableMapping[str, tuple] | None" = None):
        super().__init__(fs, paths)
        self.scans = scans                   # scan_python's results by scan_key, kept across runs
        self._python_cache: dict[tuple, tuple] = {}
        self._find_cache: dict[tuple, tuple] = {}
        self._frozen_sources: dict[tuple, frozenset[str]] = {}
        self._frozen_imports: dict[tuple, list[str]] = {}

    def scan(self, path: str, source: bytes, main: bool) -> list[Import]:
        """What `path` imports (scan_python), its PYTHON_DEFERRED functions' imports
        marked with the modules whose import runs them."""
        env = self.python_for(path)
        if env is not None and posixpath.dirname(path) == env.stdlib and \
                posixpath.basename(path) in PYTHON_INTERACTIVE_ONLY:
            return []
        module = self.module_name(path, env)
        deferred = PYTHON_DEFERRED.get(module) if module else None
        if self.scans is None:
            return scan_python(source, main=main, deferred=deferred)
        key = scan_key(source, main, deferred)
        known = self.scans.get(key)
        if known is not None:
            return [Import(*fields) for fields in known]
        found = scan_python(source, main=main, deferred=deferred)
        self.scans[key] = tuple((imp.name, imp.kind, imp.level, imp.names, imp.unless, imp.when) for imp in found)
        return found

    def imports_of(self, path: str, source: bytes, main: bool,
                   imports: list[Import] | None = None) -> list[str]:
        """The files the imports of `path` open, in order (`main`: it runs as __main__);
        not those of deferred functions (Import.when). `imports`: scan()'s, when done."""
        env = self.python_for(path)
        found: list[str] = []
        for imp in self.scan(path, source, main) if imports is None else imports:
            if not imp.when:
                found += self.resolve_python(imp, path, env)
        return found

    def stdlib_module(self, path: str) -> bool:
        """A .py file of a Python's standard library (not its site-/dist-packages): a module
        CPython imports; one run as a program runs through `python -m`, never its shebang."""
        env = self.python_for(path)
        if env is None or not path.endswith(".py"):
            return False
        for stdlib in {env.stdlib, self.real_dir(env.stdlib)}:
            if path.startswith(stdlib + "/"):
                rest = path[len(stdlib):]
                return "/site-packages/" not in rest and "/dist-packages/" not in rest
        return False

    def module_name(self, path: str, env: PythonPath | None) -> str | None:
        """The dotted name `path` is imported as, from the sys.path entry holding it
        most specifically (a package's __init__ is the package)."""
        if env is None or not path.endswith(".py"):
            return None
        base = max((d for d in map(self.real_dir, env.dirs) if path.startswith(d.rstrip("/") + "/")),
                   key=len, default=None)
        if base is None:
            return None
        parts = path[len(base.rstrip("/")) + 1:-3].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts) or None

    def python_for(self, path: str) -> PythonPath | None:
        """The interpreter whose sys.path holds `path` (a real path) most specifically (else the first)."""
        best, best_len = None, -1
        for env in self.paths.python:
            for directory in map(self.real_dir, env.dirs):
                if path.startswith(directory.rstrip("/") + "/") and len(directory) > best_len:
                    best, best_len = env, len(directory)
        return best or (self.paths.python[0] if self.paths.python else None)

    def resolve_python(self, imp: Import, importer: str, env: PythonPath | None) -> list[str]:
        """The files Python opens for one import: each package's __init__ on the way, the
        module (source, bytecode or C extension); for `from P import a, b` the submodules
        a and b of package P when they exist (else they are attributes)."""
        if env is None:
            return []
        if imp.unless and all(name in env.builtins or self._python_cached(name, env)[0] for name in imp.unless):
            return []        # the try body's modules are all there: the fallback never runs
        parts = [p for p in imp.name.split(".") if p]
        if imp.level:
            base = posixpath.dirname(importer)
            for _ in range(imp.level - 1):
                base = posixpath.dirname(base)
            files = [f for f in self._python_inits(base)]
            search: tuple[str, ...] | None = (base,)
            if parts:
                more, search = self._python_walk(parts, (base,), env)
                files += more
        else:
            more, search = self._python_cached(imp.name, env)
            files = list(more)
        if search:
            for name in imp.names:
                if name != "*":
                    files += self._python_walk([name], search, env)[0]
        return self._frozen_to_imports(files, env)

    def _frozen_to_imports(self, files: list[str], env: PythonPath) -> list[str]:
        """The files an import opens: the import system's sources never; a stdlib module
        the interpreter has frozen (pythonpath.PYTHON_FROZEN_STDLIB) is not opened either,
        but what it imports is (os.popen imports subprocess)."""
        key = (env.stdlib, env.frozen)
        if key not in self._frozen_sources:
            stdlibs = {env.stdlib, self.real_dir(env.stdlib)}
            sources = {f"{stdlib}/{source}" for source in PYTHON_FROZEN_SOURCES for stdlib in stdlibs}
            sources |= {f"{stdlib}/{name.replace('.', '/')}.py" for name in env.frozen for stdlib in stdlibs}
            self._frozen_sources[key] = frozenset(sources)
        frozen = self._frozen_sources[key]
        if not frozen.intersection(files):
            return files
        found: list[str] = []
        for file in files:
            if file not in frozen:
                found.append(file)
            elif not file.endswith(PYTHON_FROZEN_SOURCES):
                found += self._frozen_module_imports(file, env)
        return found

    def _frozen_module_imports(self, path: str, env: PythonPath) -> list[str]:
        """What a frozen stdlib module's own imports open (once per module; [] while it is
        being resolved, as for an import cycle)."""
        key = (env.dirs, path)
        if key not in self._frozen_imports:
            self._frozen_imports[key] = []
            source = self.fs.read(path)
            self._frozen_imports[key] = [] if source is None else unique_paths(
                self.imports_of(path, source, main=False))
        return self._frozen_imports[key]

    def _python_cached(self, name: str, env: PythonPath):
        key = (env.dirs, name)
        if key not in self._python_cache:
            self._python_cache[key] = self._python_absolute([p for p in name.split(".") if p], env)
        return self._python_cache[key]

    def _python_absolute(self, parts: list[str], env: PythonPath) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
        files, search = self._python_walk(parts, env.dirs, env)
        if parts and parts[0] in PYTHON_STDLIB_NOT_FOLLOWED and files and files[0].startswith(env.stdlib + "/"):
            return (), None
        name = ".".join(parts)
        for module, lazy in PYTHON_FROZEN_LAZY.items():
            if name == module or name.startswith(module + "."):
                for other in lazy:
                    files += self._python_walk(other.split("."), env.dirs, env)[0]
        return tuple(files), search

    def _python_inits(self, package_dir: str) -> list[str]:
        init = posixpath.join(package_dir, "__init__.py")
        return [init] if self.fs.is_file(init) else []

    def _python_walk(self, parts: list[str], dirs: tuple[str, ...], env: PythonPath):
        """(files, search dirs of the last part when it is a package, else None)."""
        files: list[str] = []
        search: tuple[str, ...] | None = dirs
        for part in parts:
            if not search:
                return files, None
            found_file, search = self._python_find(part, search, env)
            if found_file is None and search is None:
                return files, None
            if found_file:
                files.append(found_file)
        return files, search

    def _python_find(self, name: str, dirs: tuple[str, ...], env: PythonPath):
        """Python's PathFinder for one name: in each directory a regular package
        (name/__init__.*) beats a module file (extensions, then .py, then .pyc); a
        directory without __init__ is a namespace portion, used only when no entry
        has the name as a module or regular package.
        Returns (file or None, search dirs or None)."""
        key = (name, dirs, env.ext_suffixes)
        if key in self._find_cache:
            return self._find_cache[key]
        suffixes = env.ext_suffixes + (".py", ".pyc")
        namespace: list[str] = []
        result: tuple = (None, None)
        for directory in dirs:
            package = posixpath.join(directory, name)
            if self.fs.is_dir(package):
                init = next((posixpath.join(package, "__init__" + s) for s in suffixes
                             if self.fs.is_file(posixpath.join(package, "__init__" + s))), None)
                if init:
                    result = (init, (package,))
                    break
                namespace.append(package)
            module = next((posixpath.join(directory, name + s) for s in suffixes
                           if self.fs.is_file(posixpath.join(directory, name + s))), None)
            if module:
                result = (module, None)
                break
        else:
            if namespace:
                result = (None, tuple(namespace))
        self._find_cache[key] = result
        return result
