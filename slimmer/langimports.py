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

Python: import / from-import (relative too, by level), importlib.import_module
and __import__ with a literal; through sys.path: the script's directory,
PYTHONPATH, stdlib, lib-dynload, site-/dist-packages (Debian's layout too), a
venv's (pyvenv.cfg next to or above argv[0]), .pth entries; a package keeps its
parents' __init__; C extensions (.cpython-*.so, .abi3.so, .so) resolve too.
Node: require / require.resolve / import from / export from / import() with a
literal; relative paths, node_modules up the tree, package.json "exports"
(string, subpaths, conditions) and "main", index files, .js/.json/.node,
NODE_PATH and the global dirs (Debian's /usr/share/nodejs, /usr/lib/nodejs);
core modules (fs, node:fs) are ignored.
Ruby: require / require_relative / autoload / load with a literal (and the
`File.expand_path('x', __dir__)` idioms) against $LOAD_PATH: RUBYLIB, -I,
site_ruby, vendor_ruby, the stdlib and its arch dir, gems' lib dirs; an
extension (psych.so) has a pure-Ruby counterpart (psych.rb, psych/) that
`require 'psych'` loads first.
Perl: use / no / require (bareword or file), use parent/base lists, use if,
XSLoader::load with a literal, `use lib` (FindBin too) against @INC: PERL5LIB,
-I, Debian's dirs (/etc/perl, .../perl/5.X, /usr/share/perl5, perl-base, ...),
the /usr/local/lib/perl5 and Alpine layouts; a module's auto/Module/Name/
directory (the XS .so, .bs, AutoLoader's .al and .ix) comes with it.

Not followed, because it never runs in an application (docs/KEEP-RULES.md has
the measurements): a Python library module's `__main__` block and the
self-tests only it calls, `if TYPE_CHECKING:`, an `except ImportError:`
fallback whose `try:` modules resolve or are built in, CPython's `test`
package and `pydoc_data`, site's help(); rubygems' bundler and gem installer.
"""
from __future__ import annotations

import ast
import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from .model import EntryType, ImageIndex

MAX_SOURCE_BYTES = 8 << 20          # bigger "sources" are data (a generated table), not code


class FsView(Protocol):
    """The image filesystem as the resolvers see it. Paths are absolute; symlinks are followed."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def read(self, path: str) -> bytes | None: ...

    def children(self, path: str) -> list[str]:
        """Names of the entries directly in a directory ([] when it is none)."""
        ...

    def realpath(self, path: str) -> str | None: ...


class IndexFs:
    """An FsView over an image index; file content through `read_file` (the original
    image's bytes), each file read at most once."""

    def __init__(self, index: ImageIndex, read_file: Callable[[str], "bytes | None"] | None):
        self.index = index
        self.read_file = read_file
        self._real: dict[str, str | None] = {}
        self._content: dict[str, bytes | None] = {}

    def realpath(self, path: str) -> str | None:
        if path not in self._real:
            self._real[path] = self.index.resolve(path).path
        return self._real[path]

    def _type(self, path: str) -> EntryType | None:
        real = self.realpath(path)
        entry = self.index.get(real) if real else None
        return entry.type if entry is not None else (EntryType.DIR if real == "/" else None)

    def is_file(self, path: str) -> bool:
        return self._type(path) in (EntryType.FILE, EntryType.HARDLINK)

    def is_dir(self, path: str) -> bool:
        return self._type(path) is EntryType.DIR

    def children(self, path: str) -> list[str]:
        real = self.realpath(path)
        return [posixpath.basename(child) for child in self.index.children(real)] if real else []

    def read(self, path: str) -> bytes | None:
        real = self.realpath(path)
        if real is None or not self.is_file(real) or self.read_file is None:
            return None
        if real not in self._content:
            captured = self.index.contents.get(real)
            try:
                self._content[real] = captured if captured is not None else self.read_file(real)
            except (OSError, KeyError):
                self._content[real] = None
        return self._content[real]


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written.

    kind -- python: "import" | "from"; node: "require" | "import";
            ruby: "require" | "require_relative" | "require_file" | "load" | "load_path" | "load_path_file";
            perl: "use" | "require" | "file" | "xs" | "lib"
    level -- Python's relative level (the number of leading dots)
    names -- Python's `from X import a, b` names (submodules or attributes)
    unless -- Python: a fallback in `except ImportError:`, needed only when one of
              these modules (imported by the `try:` body) is missing
    """

    name: str
    kind: str
    level: int = 0
    names: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


# --- languages -------------------------------------------------------------------------

_EXTENSIONS = {".py": "python", ".pyw": "python", ".js": "node", ".mjs": "node", ".cjs": "node",
               ".rb": "ruby", ".pm": "perl", ".pl": "perl"}
_INTERPRETERS = (("python", re.compile(r"^python(\d+(\.\d+)?)?$")), ("node", re.compile(r"^(node|nodejs)$")),
                 ("ruby", re.compile(r"^ruby(\d+(\.\d+)*)?$")), ("perl", re.compile(r"^perl(5[\d.]*)?$")))


def interpreter_language(name: str) -> str | None:
    """"python" for python3.11, "node" for nodejs, ...: the language an interpreter's basename runs."""
    base = posixpath.basename(name)
    for language, pattern in _INTERPRETERS:
        if pattern.match(base):
            return language
    return None


def language_of(path: str, shebang: str | None = None) -> str | None:
    """The language of a source file: by extension, else by the shebang's interpreter
    (`#!/usr/bin/env python3` too)."""
    language = _EXTENSIONS.get(posixpath.splitext(path)[1])
    if language or not shebang:
        return language
    words = shebang.lstrip("#!").split()
    if not words:
        return None
    if posixpath.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not words:
            return None
    return interpreter_language(words[0])


# --- Python: scan ------------------------------------------------------------------------

_PY_IMPORT_FUNCS = frozenset(("import_module", "__import__", "find_spec"))


def scan_python(source: bytes, main: bool = True) -> list[Import]:
    """Every import a module can execute, anywhere in it (functions, try/except, if),
    in order; not the body of `if TYPE_CHECKING:` (type checkers only) and, unless the
    file runs as the main script (`main`), not the body of `if __name__ == "__main__":`
    (a library module's self-test: heapq's imports doctest, and doctest pdb and pydoc),
    nor the body of a private module-level function only that block calls (pickle's _test).
    A file the host Python cannot parse (another version's syntax, Python 2) is
    scanned line by line instead."""
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
    return _unique(imp for _, imp in found)


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
    points main/test/demo, named only inside an `if __name__ == "__main__":` block:
    dead code when the module is imported (`python -m ast` runs ast.main)."""
    candidates = {node.name: node for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and (node.name.startswith("_") and not node.name.startswith("__") or node.name in _ENTRY_POINTS)}
    if not candidates:
        return set()
    guarded, elsewhere = set(), set()
    for statement in tree.body:
        in_guard = isinstance(statement, ast.If) and _is_main_guard(statement.test)
        for node in ast.walk(statement):
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value                           # __all__, getattr(module, "_x")
            else:
                continue
            if name in candidates and candidates[name] is not statement:
                (guarded if in_guard else elsewhere).add(name)
    return {candidates[name] for name in guarded - elsewhere}


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
    return _unique(found)


# --- Node: scan --------------------------------------------------------------------------

_JS_REGEX_BEFORE = set("(,=:[!&|?{};+-*%<>~^")
_JS_REGEX_KEYWORDS = ("return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
                      "yield", "await")


_JS_SPECIAL = re.compile(r"[/'\"`]")


def strip_js_comments(text: str) -> str:
    """The source with // and /* */ comments blanked (newlines kept); strings,
    template literals and regular expression literals are passed over intact."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        special = _JS_SPECIAL.search(text, i)
        if special is None:
            out.append(text[i:])
            break
        out.append(text[i:special.start()])
        i = special.start()
        char = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if char == "/" and nxt == "/":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if char == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:end]))
            i = end
            continue
        if char in "'\"`":
            j = i + 1
            while j < n and text[j] != char:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and char != "`":
                    break
                j += 1
            out.append(text[i:j + 1])
            i = j + 1
            continue
        if char == "/" and _js_regex_starts(text, i):
                j, in_class = i + 1, False
                while j < n and text[j] != "\n":
                    if text[j] == "\\":
                        j += 1
                    elif text[j] == "[":
                        in_class = True
                    elif text[j] == "]":
                        in_class = False
                    elif text[j] == "/" and not in_class:
                        break
                    j += 1
                out.append(text[i:j + 1])
                i = j + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _js_regex_starts(text: str, slash: int) -> bool:
    """A "/" starts a regular expression literal, not a division, after an operator,
    an opening bracket, a keyword like `return`, or at the start of the text."""
    k = slash - 1
    while k >= 0 and text[k].isspace():
        k -= 1
    if k < 0 or text[k] in _JS_REGEX_BEFORE:
        return True
    end = k + 1
    while k >= 0 and (text[k].isalnum() or text[k] in "_$"):
        k -= 1
    return text[k + 1:end] in _JS_REGEX_KEYWORDS


_JS_STRING = r"""(?:'([^'\\\n]+)'|"([^"\\\n]+)"|`([^`\\$]+)`)"""
_JS_REQUIRE = re.compile(r"(?<![\w$])require(?:\.resolve)?\s*\(\s*" + _JS_STRING + r"\s*[,)]")
_JS_DYNAMIC = re.compile(r"(?<![\w$.])import\s*\(\s*" + _JS_STRING + r"\s*[,)]")
_JS_STATIC = re.compile(r"(?:^|[;}\n])\s*(?:import|export)\s+(?:[\w$*{}\s,]+?\s+from\s*)?" + _JS_STRING, re.M)


def scan_node(source: bytes) -> list[Import]:
    """require('x'), require.resolve('x'), import ... from 'x', import 'x', export ... from 'x',
    import('x'): literal specifiers only, comments skipped."""
    if len(source) > MAX_SOURCE_BYTES:
        return []
    text = strip_js_comments(source.decode("utf-8", "replace"))
    found: list[tuple[int, Import]] = []
    for pattern, kind in ((_JS_REQUIRE, "require"), (_JS_DYNAMIC, "import"), (_JS_STATIC, "import")):
        for match in pattern.finditer(text):
            name = next(g for g in match.groups() if g is not None)
            found.append((match.start(), Import(name, kind)))
    return _unique(imp for _, imp in sorted(found, key=lambda pair: pair[0]))


# --- Ruby: scan --------------------------------------------------------------------------

def strip_ruby_comments(text: str) -> str:
    """Without # comments, =begin/=end blocks and everything after __END__."""
    lines: list[str] = []
    in_block = False
    for line in text.split("\n"):
        if in_block:
            in_block = not line.startswith("=end")
            lines.append("")
            continue
        if line.startswith("=begin"):
            in_block = True
            lines.append("")
            continue
        if line.rstrip() == "__END__":
            break
        lines.append(_cut_comment(line, "#", ruby=True))
    return "\n".join(lines)


def _cut_comment(line: str, marker: str, ruby: bool = False) -> str:
    quote = None
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == marker:
            if ruby and i > 0 and line[i - 1] == "?":          # ?# is a character literal
                i += 1
                continue
            if not ruby and i > 0 and (line[i - 1] in "$@%\\" or line[i - 1].isalnum()):   # $#array, s#a#b#
                i += 1
                continue
            return line[:i]
        i += 1
    return line


_RB_STRING = r"""(?:'([^'\\\n]+)'|"((?:[^"\\#\n]|#(?!\{))+)")"""
_RB_REQUIRE = re.compile(r"(?<![\w.:])(require|require_relative|load)\b\s*\(?\s*" + _RB_STRING)
_RB_AUTOLOAD = re.compile(r"(?<![\w:])autoload\s*\(?\s*:?\w+\s*,\s*" + _RB_STRING)
_RB_PATH_CALL = re.compile(r"(?:(?<![\w.:])(require|load)\b|\$(?:LOAD_PATH|:)\s*(?:\.unshift|\.push|\.prepend|"
                           r"\.insert\(\s*0\s*,|<<))\s*\(?\s*File\.(expand_path|join)\(")
_RB_FILE_BASE = re.compile(r"^(?:__dir__|File\.dirname\(\s*__FILE__\s*\)|File\.expand_path\(\s*__dir__\s*\))$")
_RB_LITERAL = re.compile(r"""^(?:'([^'\\]*)'|"([^"\\#]*)")$""")


def scan_ruby(source: bytes) -> list[Import]:
    """require / require_relative / load / autoload with a literal (no #{} interpolation),
    and paths built from the file's own place: `require File.expand_path('../x', __FILE__)`,
    `require File.join(__dir__, 'lib', 'x')`, `$LOAD_PATH.unshift File.expand_path('lib', __dir__)`."""
    if len(source) > MAX_SOURCE_BYTES:
        return []
    text = strip_ruby_comments(source.decode("utf-8", "replace"))
    found: list[tuple[int, Import]] = []
    for match in _RB_REQUIRE.finditer(text):
        found.append((match.start(), Import(match.group(2) or match.group(3), match.group(1))))
    for match in _RB_AUTOLOAD.finditer(text):
        found.append((match.start(), Import(match.group(1) or match.group(2), "require")))
    for match in _RB_PATH_CALL.finditer(text):
        relative = _ruby_path_expression(match.group(2), _balanced_args(text, match.end()))
        if relative is None:
            continue
        name, from_file = relative
        if match.group(1):
            kind = "require_file" if from_file else "require_relative"
        else:
            kind = "load_path_file" if from_file else "load_path"
        found.append((match.start(), Import(name, kind)))
    return _unique(imp for _, imp in sorted(found, key=lambda pair: pair[0]))


def _balanced_args(text: str, start: int) -> list[str]:
    """The top-level comma-separated arguments of a call whose "(" ends just before `start`."""
    depth, args, current, quote = 0, [], [], None
    for char in text[start:start + 400]:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                args.append("".join(current).strip())
                return args
            depth -= 1
        elif char == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    return []


def _ruby_path_expression(function: str, args: list[str]) -> tuple[str, bool] | None:
    """(path relative to the file's directory -- or to the file itself, True -- ) for
    File.expand_path(LIT, __FILE__|__dir__) and File.join(__dir__, LIT, ...); else None."""
    literals = [_RB_LITERAL.match(arg) for arg in args]
    if function == "expand_path" and len(args) == 2 and literals[0]:
        name = literals[0].group(1) if literals[0].group(1) is not None else literals[0].group(2)
        if args[1] == "__FILE__":
            return name, True
        if _RB_FILE_BASE.match(args[1]):
            return name, False
    if function == "join" and len(args) >= 2 and _RB_FILE_BASE.match(args[0]) and all(literals[1:]):
        return "/".join(m.group(1) if m.group(1) is not None else m.group(2) for m in literals[1:]), False
    return None


# --- Perl: scan --------------------------------------------------------------------------

def strip_perl_comments(text: str) -> str:
    """Without POD blocks, # comments and everything after __END__ / __DATA__."""
    lines: list[str] = []
    in_pod = False
    for line in text.split("\n"):
        if in_pod:
            in_pod = not line.startswith("=cut")
            lines.append("")
            continue
        if re.match(r"^=[A-Za-z]", line):
            in_pod = not line.startswith("=cut")
            lines.append("")
            continue
        if line.rstrip() in ("__END__", "__DATA__"):
            break
        lines.append(_cut_comment(line, "#"))
    return "\n".join(lines)


_PL_MODULE = r"[A-Za-z_]\w*(?:(?:::|')\w+)*"
_PL_USE = re.compile(r"(?:^|[;{}'\"(])\s*(use|no)\s+(" + _PL_MODULE + r")\b([^;]*)", re.M)
_PL_REQUIRE = re.compile(r"(?<![\w$>:-])require\s*\(?\s*(" + _PL_MODULE + r")\s*(?=[;)}]|$|\s+(?:or|and|if|unless)\b)",
                         re.M)
_PL_REQUIRE_FILE = re.compile(r"(?<![\w$>:-])(?:require|do)\s*\(?\s*(['\"])([^'\"$@]+\.p[lm])\1")
_PL_XSLOADER = re.compile(r"(?:XSLoader::load|bootstrap)\s*\(?\s*(['\"])(" + _PL_MODULE + r")\1")
_PL_QW = re.compile(r"qw\s*([(\[{<\/|!])")
_PL_CLOSE = {"(": ")", "[": "]", "{": "}", "<": ">"}
_PL_QUOTED = re.compile(r"""(['"])([^'"]*)\1""")
_PL_FINDBIN = re.compile(r"\$\{?FindBin::(?:Real)?Bin\}?")


def _perl_list(args: str) -> list[str]:
    """The words of `qw(A B)`, `'A', "B"`, `qw/A/` lists."""
    words: list[str] = []
    rest = args
    while True:
        match = _PL_QW.search(rest)
        if not match:
            break
        close = _PL_CLOSE.get(match.group(1), match.group(1))
        end = rest.find(close, match.end())
        end = len(rest) if end < 0 else end
        words += rest[match.end():end].split()
        rest = rest[:match.start()] + " " + rest[end + 1:]
    words += [m.group(2) for m in _PL_QUOTED.finditer(rest)]
    words += re.findall(r"(?:^|,)\s*(" + _PL_MODULE + r")\s*(?==>)", rest)
    return words


def scan_perl(source: bytes) -> list[Import]:
    """use / no Module (pragmas too: strict.pm, warnings.pm, vars.pm are files), require
    Module and require "file.pl", use parent/base lists (not after -norequire), use if
    COND, Module, XSLoader::load('Module'), use lib 'dir' (kind "lib")."""
    if len(source) > MAX_SOURCE_BYTES:
        return []
    text = strip_perl_comments(source.decode("utf-8", "replace"))
    found: list[tuple[int, Import]] = []
    for match in _PL_USE.finditer(text):
        module, args = match.group(2).replace("'", "::"), match.group(3)
        found.append((match.start(), Import(module, "use")))
        if module in ("parent", "base") and "-norequire" not in args:
            found += [(match.start(), Import(word, "use")) for word in _perl_list(args)
                      if re.fullmatch(_PL_MODULE, word)]
        elif module == "if":
            words = [w for w in _perl_list(args.split(",", 1)[1] if "," in args else "")
                     if re.fullmatch(_PL_MODULE, w)]
            bare = re.match(r"\s*(" + _PL_MODULE + r")", args.split(",", 1)[1]) if "," in args else None
            names = words[:1] or ([bare.group(1)] if bare else [])
            found += [(match.start(), Import(name, "use")) for name in names]
        elif module == "lib":
            found += [(match.start(), Import(word, "lib")) for word in _perl_lib_dirs(args)]
    for match in _PL_REQUIRE.finditer(text):
        found.append((match.start(), Import(match.group(1).replace("'", "::"), "require")))
    for match in _PL_REQUIRE_FILE.finditer(text):
        found.append((match.start(), Import(match.group(2), "file")))
    for match in _PL_XSLOADER.finditer(text):
        found.append((match.start(), Import(match.group(2), "xs")))
    return _unique(imp for _, imp in sorted(found, key=lambda pair: pair[0])
                   if imp.name != "__PACKAGE__" and not re.fullmatch(r"v\d+", imp.name))


def _perl_lib_dirs(args: str) -> list[str]:
    """Directories of `use lib LIST`; `$FindBin::Bin` stays as a marker for the script's directory."""
    dirs = []
    marked = _PL_FINDBIN.sub("\0BIN\0", args)
    for word in _perl_list(marked):
        if "$" in word or "@" in word:
            continue
        dirs.append(word.replace("\0BIN\0", "$BIN"))
    return dirs


# --- search paths ------------------------------------------------------------------------

@dataclass(frozen=True)
class PythonPath:
    """One Python interpreter's sys.path as the image configures it."""

    interpreter: str                  # the traced executable (or the one a shebang names)
    version: str                      # "3.11"
    dirs: tuple[str, ...]             # sys.path, in order
    ext_suffixes: tuple[str, ...]     # C extension suffixes, in the import system's order
    stdlib: str = ""                  # prefix/lib/pythonX.Y
    builtins: frozenset[str] = frozenset()   # modules compiled into the interpreter (_sha512 on Debian)


@dataclass(frozen=True)
class NodePath:
    global_dirs: tuple[str, ...]      # NODE_PATH, ~/.node_modules, prefix/lib/node, Debian's dirs


@dataclass(frozen=True)
class RubyPath:
    dirs: tuple[str, ...]             # $LOAD_PATH, gems' lib dirs last


@dataclass(frozen=True)
class PerlPath:
    dirs: tuple[str, ...]             # @INC


@dataclass(frozen=True)
class SearchPaths:
    python: tuple[PythonPath, ...] = ()
    node: NodePath | None = None
    ruby: RubyPath | None = None
    perl: PerlPath | None = None
    workdir: str = "/"
    python_scripts: frozenset[str] = frozenset()     # scripts Python ran as __main__ (real paths)


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def which(fs: FsView, command: str, env: dict[str, str], workdir: str = "/") -> str | None:
    """A command's path on the image PATH, as named (not resolved)."""
    if "/" in command:
        return command if command.startswith("/") else posixpath.normpath(posixpath.join(workdir, command))
    for directory in env.get("PATH", DEFAULT_PATH).split(":"):
        candidate = posixpath.join(directory or workdir, command)
        if fs.is_file(candidate):
            return candidate
    return None


def glob(fs: FsView, pattern: str) -> list[str]:
    """Existing paths matching an absolute glob, component by component, sorted per level."""
    paths = ["/"]
    for part in [p for p in pattern.split("/") if p]:
        next_paths = []
        for base in paths:
            if any(c in part for c in "*?["):
                next_paths += [posixpath.join(base, name) for name in sorted(fs.children(base))
                               if fnmatch.fnmatchcase(name, part)]
            else:
                candidate = posixpath.join(base, part)
                if fs.is_dir(candidate) or fs.is_file(candidate):
                    next_paths.append(candidate)
        paths = next_paths
    return paths


def _existing_dirs(fs: FsView, dirs: Iterable[str]) -> tuple[str, ...]:
    """The directories that exist, in order, each once: by the first name given for it.
    The name matters: Debian's perl searches /usr/share/perl/5.36, a symlink to 5.36.0,
    and the slim image needs the link as much as the file."""
    seen: set[str] = set()
    found = []
    for directory in dirs:
        if not directory or not directory.startswith("/") or not fs.is_dir(directory):
            continue
        real = fs.realpath(directory)
        if real not in seen:
            seen.add(real)
            found.append(posixpath.normpath(directory))
    return tuple(found)


def discover(fs: FsView, env: dict[str, str], processes: Sequence, workdir: str = "/") -> SearchPaths:
    """Every language's search path for an image: `processes` are the traced ones
    (objects with .exe, the real executable, and .argv), plus any the caller adds for
    interpreters that shebangs name. A language whose interpreter the image lacks
    gets no search path."""
    workdir = workdir or "/"
    scripts = set()
    for process in _processes_of("python", processes):
        script = _python_argv(list(process.argv[1:]))[1]
        if script:
            path = script if script.startswith("/") else posixpath.join(workdir, script)
            scripts.add(fs.realpath(path) or posixpath.normpath(path))
    return SearchPaths(python=python_paths(fs, env, processes, workdir), node=node_path(fs, env, processes),
                       ruby=ruby_path(fs, env, processes), perl=perl_path(fs, env, processes), workdir=workdir,
                       python_scripts=frozenset(scripts))


def _processes_of(language: str, processes: Sequence) -> list:
    found = []
    for process in processes:
        names = [process.exe] + ([process.argv[0]] if process.argv else [])
        if any(interpreter_language(name) == language for name in names if name):
            found.append(process)
    return found


def _default_interpreters(fs: FsView, env: dict[str, str], names: Sequence[str]) -> list[str]:
    found = []
    for name in names:
        path = which(fs, name, env)
        if path and path not in found:
            found.append(path)
    return found


@dataclass
class _Proc:
    exe: str
    argv: tuple[str, ...] = field(default_factory=tuple)


def python_paths(fs: FsView, env: dict[str, str], processes: Sequence, workdir: str = "/") -> tuple[PythonPath, ...]:
    """sys.path of every Python the app ran, computed as CPython does on POSIX:
      1. the script's directory (resolved through symlinks), or the working directory
         for -m / -c; none with -I / -P;
      2. PYTHONPATH (not with -E / -I);
      3. the stdlib prefix/lib/pythonX.Y and its lib-dynload, prefix found from the
         real executable (the `lib/pythonX.Y/os.py` landmark), or from the `home` of a
         pyvenv.cfg found next to argv[0] or one level up (the venv);
      4. site dirs: the venv's site-packages (plus the system's when
         include-system-site-packages), else the user site (HOME) and site-packages,
         or Debian's /usr/local/lib/pythonX.Y/dist-packages, /usr/lib/python3/dist-packages;
         the directories their .pth files name;
      5. the working directory last: gunicorn, flask and uvicorn import the app from it.
    No traced Python: the image's python3 on PATH with no script."""
    runs = _processes_of("python", processes)
    if not runs:
        runs = [_Proc(path, (path,)) for path in _default_interpreters(fs, env, ("python3", "python"))]
    result: list[PythonPath] = []
    for process in runs:
        found = _python_path(fs, env, process, workdir)
        if found is not None and found not in result:
            result.append(found)
    return tuple(result)


def _python_path(fs: FsView, env: dict[str, str], process, workdir: str) -> PythonPath | None:
    argv = list(process.argv or (process.exe,))
    invoked = which(fs, argv[0], env, workdir) if argv and argv[0] else None
    exe = fs.realpath(process.exe) or process.exe
    if interpreter_language(exe) != "python" and invoked:
        exe = fs.realpath(invoked) or invoked
    flags, script, module_mode = _python_argv(argv[1:])
    venv, cfg = None, {}
    for candidate in [invoked, process.exe]:
        if not candidate:
            continue
        for directory in (posixpath.dirname(candidate), posixpath.dirname(posixpath.dirname(candidate))):
            data = fs.read(posixpath.join(directory, "pyvenv.cfg"))
            if data is not None:
                venv, cfg = directory, _ini(data)
                break
        if venv:
            break
    version = _python_version(fs, exe, cfg)
    if version is None:
        return None
    prefixes = []
    if cfg.get("home"):
        prefixes.append(posixpath.dirname(cfg["home"].rstrip("/")))
    prefixes += [posixpath.dirname(posixpath.dirname(exe)), "/usr/local", "/usr"]
    prefix = next((p for p in prefixes if fs.is_file(f"{p}/lib/python{version}/os.py")), None)
    if prefix is None:
        return None
    stdlib = f"{prefix}/lib/python{version}"
    dirs: list[str] = []
    isolated = "I" in flags
    if not isolated and "P" not in flags and not env.get("PYTHONSAFEPATH"):
        if script:
            script_path = script if script.startswith("/") else posixpath.join(workdir, script)
            dirs.append(posixpath.dirname(fs.realpath(script_path) or script_path))
        elif module_mode:
            dirs.append(workdir)
    if not isolated and "E" not in flags:
        dirs += [posixpath.join(workdir, part) for part in env.get("PYTHONPATH", "").split(":")
                 if env.get("PYTHONPATH")]
    dirs += [f"{prefix}/lib/python{version.replace('.', '')}.zip", stdlib, f"{stdlib}/lib-dynload"]
    system_site = [f"{prefix}/lib/python{version}/site-packages"]
    if prefix == "/usr":       # Debian's site.py
        system_site = [f"/usr/local/lib/python{version}/dist-packages", "/usr/lib/python3/dist-packages",
                       f"/usr/lib/python{version}/dist-packages"] + system_site
    site: list[str] = []
    if venv:
        site = [f"{venv}/lib/python{version}/site-packages", f"{venv}/lib64/python{version}/site-packages"]
        if cfg.get("include-system-site-packages", "false").lower() == "true":
            site += system_site
    else:
        home = env.get("HOME", "/root")
        if not isolated and "s" not in flags and not env.get("PYTHONNOUSERSITE"):
            site.append(f"{home}/.local/lib/python{version}/site-packages")
        site += system_site
    for site_dir in site:
        if not fs.is_dir(site_dir):
            continue
        dirs.append(site_dir)
        dirs += _pth_dirs(fs, site_dir)
    dirs.append(workdir)
    ext_tag = _python_ext_tag(fs, f"{stdlib}/lib-dynload", version)
    return PythonPath(interpreter=process.exe, version=version, dirs=_existing_dirs(fs, dirs),
                      ext_suffixes=(ext_tag, ".abi3.so", ".so"), stdlib=stdlib,
                      builtins=_python_builtins(fs, exe, prefix, version))


def _python_builtins(fs: FsView, exe: str, prefix: str, version: str) -> frozenset[str]:
    """Modules compiled into the interpreter: the PyInit_NAME symbols of the executable
    and of its libpython (a shared build); none known when neither can be read."""
    names: set[str] = set()
    libpython = f"libpython{version}.so.1.0"
    for binary in (exe, f"{prefix}/lib/{libpython}", f"{prefix}/lib/x86_64-linux-gnu/{libpython}"):
        data = fs.read(binary) if fs.is_file(binary) else None
        if data:
            names.update(name.decode() for name in re.findall(rb"PyInit_(\w+)\0", data))
    return frozenset(names)


def _python_argv(args: list[str]) -> tuple[set[str], str | None, bool]:
    """(single-letter flags, script or None, True for -m/-c) from the interpreter's arguments."""
    flags: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            script = args[i + 1] if arg == "--" and i + 1 < len(args) else arg
            return flags, (script if script != "-" else None), False
        if arg.startswith("--"):
            i += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        for j, letter in enumerate(arg[1:]):
            if letter in "cm":
                return flags, None, True
            if letter in "WX":
                i += 1 if j + 2 == len(arg) else 0      # "-X dev" or "-Xdev"
                break
            flags.add(letter)
        i += 1
    return flags, None, False


def _ini(data: bytes) -> dict[str, str]:
    values = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _python_version(fs: FsView, exe: str, cfg: dict[str, str]) -> str | None:
    match = re.match(r"^python(\d+\.\d+)", posixpath.basename(exe))
    if match:
        return match.group(1)
    for key in ("version", "version_info"):
        match = re.match(r"^(\d+\.\d+)", cfg.get(key, ""))
        if match:
            return match.group(1)
    prefix = posixpath.dirname(posixpath.dirname(exe))
    versions = sorted((name[len("python"):] for name in fs.children(f"{prefix}/lib")
                       if re.fullmatch(r"python\d+\.\d+", name) and fs.is_file(f"{prefix}/lib/{name}/os.py")),
                      key=lambda v: tuple(int(x) for x in v.split(".")))
    return versions[-1] if versions else None


def _python_ext_tag(fs: FsView, lib_dynload: str, version: str) -> str:
    """".cpython-311-x86_64-linux-gnu.so" as the image's lib-dynload names its modules."""
    short = version.replace(".", "")
    for name in sorted(fs.children(lib_dynload)):
        match = re.search(r"(\.cpython-" + short + r"[^.]*-[^.]+\.so)$", name)
        if match:
            return match.group(1)
    return f".cpython-{short}-x86_64-linux-gnu.so"


def _pth_dirs(fs: FsView, site_dir: str) -> list[str]:
    """Directories that a site dir's .pth files add (lines starting `import` run code: skipped)."""
    dirs = []
    for name in sorted(fs.children(site_dir)):
        if not name.endswith(".pth"):
            continue
        data = fs.read(posixpath.join(site_dir, name)) or b""
        for line in data.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            directory = posixpath.normpath(posixpath.join(site_dir, line))
            if fs.is_dir(directory):
                dirs.append(directory)
    return dirs


def node_path(fs: FsView, env: dict[str, str], processes: Sequence) -> NodePath | None:
    """Where `require` looks after node_modules up the tree: NODE_PATH, then the global
    dirs: ~/.node_modules, ~/.node_libraries, PREFIX/lib/node, Debian's
    /usr/lib/ARCH/nodejs, /usr/share/nodejs, /usr/lib/nodejs."""
    exes = [fs.realpath(p.exe) or p.exe for p in _processes_of("node", processes)]
    exes += [fs.realpath(p) or p for p in _default_interpreters(fs, env, ("node", "nodejs"))]
    if not exes:
        return None
    home = env.get("HOME", "/root")
    dirs = [d for d in env.get("NODE_PATH", "").split(":") if d.startswith("/")]
    dirs += [f"{home}/.node_modules", f"{home}/.node_libraries"]
    dirs += [posixpath.join(posixpath.dirname(posixpath.dirname(exe)), "lib", "node") for exe in exes]
    dirs += glob(fs, "/usr/lib/*-linux-gnu*/nodejs") + ["/usr/share/nodejs", "/usr/lib/nodejs"]
    return NodePath(_existing_dirs(fs, dirs))


_VERSION_DIR = re.compile(r"^\d+\.\d+\.\d+$")


def ruby_path(fs: FsView, env: dict[str, str], processes: Sequence) -> RubyPath | None:
    """$LOAD_PATH: RUBYLIB, -I, then for each installed Ruby X.Y.0 (Debian's /usr/lib/ruby
    and /usr/lib/ARCH/ruby, or the /usr/local/lib/ruby layout): site_ruby, vendor_ruby,
    the stdlib and their arch dirs; then every installed gem's lib dir and extension
    dir (rubygems finds a gem's file by name)."""
    runs = _processes_of("ruby", processes)
    if not runs and not _default_interpreters(fs, env, ("ruby",)):
        return None
    dirs = [d for d in env.get("RUBYLIB", "").split(":") if d]
    for process in runs:
        dirs += _dash_i(process.argv[1:])
    for root in ("/usr/local/lib", "/usr/lib"):
        versions = sorted((name for name in fs.children(f"{root}/ruby") if _VERSION_DIR.match(name)), reverse=True)
        for version in versions:
            patterns = [f"{root}/ruby/site_ruby/{version}", f"{root}/ruby/site_ruby/{version}/*-linux*",
                        f"{root}/ruby/site_ruby", f"{root}/ruby/vendor_ruby/{version}",
                        f"{root}/ruby/vendor_ruby/{version}/*-linux*", f"{root}/ruby/vendor_ruby",
                        f"{root}/ruby/{version}", f"{root}/ruby/{version}/*-linux*"]
            if root == "/usr/lib":      # Debian's: site_ruby under /usr/local, arch dirs under /usr/lib/ARCH
                patterns = [f"/usr/local/lib/site_ruby/{version}", "/usr/local/lib/*-linux-gnu*/site_ruby",
                            "/usr/local/lib/site_ruby", f"/usr/lib/ruby/vendor_ruby/{version}",
                            f"/usr/lib/*-linux-gnu*/ruby/vendor_ruby/{version}", "/usr/lib/ruby/vendor_ruby",
                            f"/usr/lib/ruby/{version}", f"/usr/lib/*-linux-gnu*/ruby/{version}"] + patterns
            for pattern in patterns:
                dirs += glob(fs, pattern)
    gem_homes = [d for key in ("GEM_HOME", "GEM_PATH") for d in env.get(key, "").split(":") if d]
    gem_homes += glob(fs, "/usr/local/lib/ruby/gems/*") + glob(fs, "/usr/lib/ruby/gems/*")
    gem_homes += glob(fs, "/var/lib/gems/*") + glob(fs, "/usr/share/rubygems-integration/*")
    gem_homes += glob(fs, "/usr/lib/*-linux-gnu*/rubygems-integration/*") + ["/usr/local/bundle"]
    for home in gem_homes:
        dirs += glob(fs, f"{home}/gems/*/lib") + glob(fs, f"{home}/extensions/*/*/*")
    return RubyPath(_existing_dirs(fs, dirs))


def _dash_i(args: Sequence[str]) -> list[str]:
    dirs = []
    for i, arg in enumerate(args):
        if arg == "-I" and i + 1 < len(args):
            dirs += args[i + 1].split(":")
        elif arg.startswith("-I") and len(arg) > 2:
            dirs += arg[2:].split(":")
    return [d for d in dirs if d.startswith("/")]


def perl_path(fs: FsView, env: dict[str, str], processes: Sequence) -> PerlPath | None:
    """@INC: PERL5LIB (or PERLLIB), -I, then the perl binary's configured dirs, found in the
    image rather than hard-coded for one version: Debian's /etc/perl,
    /usr/local/lib/ARCH/perl/5.X.Y, /usr/local/share/perl/5.X.Y, /usr/lib/ARCH/perl5/5.X,
    /usr/share/perl5, /usr/lib/ARCH/perl-base, /usr/lib/ARCH/perl/5.X, /usr/share/perl/5.X,
    /usr/local/lib/site_perl; the /usr/local/lib/perl5 layout (perl's own install);
    Alpine's vendor_perl / core_perl."""
    runs = _processes_of("perl", processes)
    if not runs and not _default_interpreters(fs, env, ("perl",)):
        return None
    dirs = [d for d in (env.get("PERL5LIB") or env.get("PERLLIB") or "").split(":") if d]
    for process in runs:
        dirs += _dash_i(process.argv[1:])
    version = r"5\.\d+(\.\d+)?"
    for pattern in ("/etc/perl", "/usr/local/lib/*-linux-gnu*/perl/5.*", "/usr/local/share/perl/5.*",
                    "/usr/lib/*-linux-gnu*/perl5/5.*", "/usr/share/perl5", "/usr/lib/*-linux-gnu*/perl-base",
                    "/usr/lib/*-linux-gnu*/perl/5.*", "/usr/share/perl/5.*", "/usr/local/lib/site_perl",
                    "/usr/local/lib/perl5/site_perl/5.*/*-linux*", "/usr/local/lib/perl5/site_perl/5.*",
                    "/usr/local/lib/perl5/vendor_perl/5.*/*-linux*", "/usr/local/lib/perl5/vendor_perl/5.*",
                    "/usr/local/lib/perl5/5.*/*-linux*", "/usr/local/lib/perl5/5.*",
                    "/usr/local/lib/perl5/site_perl", "/usr/local/share/perl5/site_perl",
                    "/usr/lib/perl5/vendor_perl", "/usr/share/perl5/vendor_perl",
                    "/usr/lib/perl5/core_perl", "/usr/share/perl5/core_perl"):
        matches = glob(fs, pattern)
        if "5.*" in pattern:
            versioned = [(next((p for p in m.split("/") if re.fullmatch(version, p)), None), m) for m in matches]
            # newest first; of 5.36 and 5.36.0 the short name first, as Debian's Config names it
            matches = [m for v, m in sorted(((v, m) for v, m in versioned if v),
                                            key=lambda pair: ([-int(x) for x in pair[0].split(".")[:2]],
                                                              len(pair[0])))]
        dirs += matches
    return PerlPath(_existing_dirs(fs, dirs))


# --- resolution --------------------------------------------------------------------------

NODE_BUILTINS = frozenset((
    "assert", "assert/strict", "async_hooks", "buffer", "child_process", "cluster", "console", "constants",
    "crypto", "dgram", "diagnostics_channel", "dns", "dns/promises", "domain", "events", "fs", "fs/promises",
    "http", "http2", "https", "inspector", "inspector/promises", "module", "net", "os", "path", "path/posix",
    "path/win32", "perf_hooks", "process", "punycode", "querystring", "readline", "readline/promises", "repl",
    "stream", "stream/consumers", "stream/promises", "stream/web", "string_decoder", "sys", "timers",
    "timers/promises", "tls", "trace_events", "tty", "url", "util", "util/types", "v8", "vm", "wasi",
    "worker_threads", "zlib",
))
NODE_EXTENSIONS = (".js", ".json", ".node")

# Modules that the interpreter's frozen bootstrap imports lazily on behalf of a kept
# module: CPython's frozen importlib._bootstrap_external imports importlib.readers
# when importlib.resources asks a loader for its resource reader (certifi.where()).
PYTHON_FROZEN_LAZY = {"importlib.resources": ("importlib.readers",)}
# Standard library packages no application runs: CPython's own test suite
# (multiprocessing's _cleanup_tests imports test.support, which imports unittest,
# doctest, pdb, pydoc...) and the topic texts of interactive help() (pydoc_data, 750 kB).
PYTHON_STDLIB_NOT_FOLLOWED = frozenset(("test", "pydoc_data"))
# Modules whose imports serve the interactive prompt only: site's help(), license(),
# copyright() import pydoc (and its 750 kB pydoc_data) when someone types help().
PYTHON_INTERACTIVE_ONLY = frozenset(("_sitebuiltins.py",))
# Ruby: rubygems.rb runs at every start; it requires bundler only for `ruby -g` /
# RUBYGEMS_GEMDEPS (Gem.use_gemdeps) and its installer only in Gem.install: both reach
# the remote fetcher, net/http and openssl (libcrypto: 5 MB). An app using bundler, or
# installing gems at run time, loads them itself (`require "bundler/setup"`).
RUBY_NOT_FOLLOWED = {"rubygems.rb": frozenset(("bundler", "rubygems/dependency_installer"))}


class ImportResolver:
    """Scans sources and resolves their imports against one image's search paths.
    Resolutions of absolute names are cached: each name is searched once per
    interpreter, however many files import it."""

    def __init__(self, fs: FsView, paths: SearchPaths):
        self.fs = fs
        self.paths = paths
        self._python_cache: dict[tuple, tuple] = {}
        self._find_cache: dict[tuple, tuple] = {}
        self._cache: dict[tuple, tuple[str, ...]] = {}

    def language(self, path: str, shebang: str | None = None) -> str | None:
        """The file's language when the image has that interpreter."""
        language = language_of(path, shebang)
        present = {"python": bool(self.paths.python), "node": self.paths.node is not None,
                   "ruby": self.paths.ruby is not None, "perl": self.paths.perl is not None}
        return language if language and present[language] else None

    def imports_of(self, path: str, source: bytes, language: str, shebang: str | None = None) -> list[str]:
        """The files the interpreter would open for the imports of `path`, in order. A
        Python file runs as __main__ when a traced Python ran it or it has a shebang."""
        if language == "python":
            imports = scan_python(source, main=bool(shebang) or path in self.paths.python_scripts)
        else:
            imports = {"node": scan_node, "ruby": scan_ruby, "perl": scan_perl}[language](source)
        found: list[str] = []
        if language == "python":
            env = self.python_for(path)
            if env is not None and posixpath.dirname(path) == env.stdlib and \
                    posixpath.basename(path) in PYTHON_INTERACTIVE_ONLY:
                return []
            for imp in imports:
                found += self.resolve_python(imp, path, env)
        elif language == "node":
            for imp in imports:
                found += self.resolve_node(imp, path)
        elif language == "ruby":
            extra = [self._ruby_extra_dir(imp, path) for imp in imports if imp.kind.startswith("load_path")]
            skipped = RUBY_NOT_FOLLOWED.get(posixpath.basename(path), frozenset())
            for imp in imports:
                if not imp.kind.startswith("load_path") and imp.name not in skipped:
                    found += self.resolve_ruby(imp, path, tuple(d for d in extra if d))
        else:
            extra = tuple(d.replace("$BIN", posixpath.dirname(path)) if d.startswith("$BIN")
                          else d if d.startswith("/") else posixpath.join(self.paths.workdir, d)
                          for d in (imp.name for imp in imports if imp.kind == "lib"))
            for imp in imports:
                if imp.kind != "lib":
                    found += self.resolve_perl(imp, path, tuple(posixpath.normpath(d) for d in extra))
        return [p for p in dict.fromkeys(found) if p != path]

    # --- Python ---------------------------------------------------------------------------

    def real_dir(self, directory: str) -> str:
        return self.fs.realpath(directory) or directory

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
        return files

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

    # --- Node -----------------------------------------------------------------------------

    def resolve_node(self, imp: Import, importer: str) -> list[str]:
        """Node's resolution of one specifier from `importer`: core modules are none;
        relative and absolute paths as a file (exact, .js, .json, .node) or a directory
        (package.json main, index.*); #imports through the nearest package.json;
        bare names in node_modules up the tree, then NODE_PATH and the global dirs,
        through package.json exports (conditions node, require|import, default) or main."""
        spec = imp.name
        if spec.startswith("node:") or spec in NODE_BUILTINS:
            return []
        base = posixpath.dirname(importer)
        if spec.startswith(("/", "./", "../")) or spec in (".", ".."):
            return self._node_file_or_dir(posixpath.normpath(posixpath.join(base, spec)))
        conditions = ("node", imp.kind if imp.kind in ("require", "import") else "require", "default")
        if spec.startswith("#"):
            return self._node_package_imports(spec, base, conditions)
        parts = spec.split("/")
        name_len = 2 if spec.startswith("@") else 1
        package_name, subpath = "/".join(parts[:name_len]), "/".join(parts[name_len:])
        key = ("node", spec, imp.kind, base)
        if key in self._cache:
            return list(self._cache[key])
        found: list[str] = []
        for directory in self._node_module_dirs(base) + list(self.paths.node.global_dirs if self.paths.node else ()):
            package_dir = posixpath.join(directory, package_name)
            manifest, package_json = self._package_json(package_dir) if self.fs.is_dir(package_dir) else (None, "")
            if manifest is not None and manifest.get("exports") is not None:
                # exports seal the package: a subpath it does not export fails to load
                target = _exports_target(manifest["exports"], "./" + subpath if subpath else ".", conditions)
                path = posixpath.normpath(posixpath.join(package_dir, target)) if target else None
                found = [package_json] + ([path] if path and self.fs.is_file(path) else []) if path else []
                break
            found = self._node_file_or_dir(posixpath.join(directory, spec))
            if found:
                break
        self._cache[key] = tuple(found)
        return found

    def _node_module_dirs(self, base: str) -> list[str]:
        dirs = []
        current = base
        while True:
            if posixpath.basename(current) != "node_modules":
                dirs.append(posixpath.join(current, "node_modules"))
            if current == "/":
                break
            current = posixpath.dirname(current)
        return dirs

    def _node_as_file(self, path: str) -> list[str]:
        for candidate in (path,) + tuple(path + ext for ext in NODE_EXTENSIONS):
            if self.fs.is_file(candidate):
                return [candidate]
        return []

    def _node_index(self, directory: str) -> list[str]:
        for ext in NODE_EXTENSIONS:
            candidate = posixpath.join(directory, "index" + ext)
            if self.fs.is_file(candidate):
                return [candidate]
        return []

    def _node_file_or_dir(self, path: str) -> list[str]:
        found = self._node_as_file(path)
        if found:
            return found
        if not self.fs.is_dir(path):
            return []
        manifest, package_json = self._package_json(path)
        main = manifest.get("main") if isinstance(manifest, dict) else None
        if isinstance(main, str) and main:
            target = posixpath.normpath(posixpath.join(path, main))
            found = self._node_as_file(target) or self._node_index(target)
            if found:
                return [package_json] + found
        index = self._node_index(path)
        return ([package_json] if manifest is not None else []) + index

    def _package_json(self, directory: str) -> tuple[dict | None, str]:
        path = posixpath.join(directory, "package.json")
        key = ("package.json", path)
        if key not in self._cache:
            manifest = None
            data = self.fs.read(path) if self.fs.is_file(path) else None
            if data is not None:
                try:
                    manifest = json.loads(data.decode("utf-8", "replace"))
                except ValueError:
                    manifest = None
            self._cache[key] = (manifest if isinstance(manifest, dict) else None,)
        return self._cache[key][0], path

    def _node_package_imports(self, spec: str, base: str, conditions: tuple[str, ...]) -> list[str]:
        current = base
        while True:
            manifest, package_json = self._package_json(current)
            if manifest is not None:
                imports = manifest.get("imports")
                target = _exports_target(imports, spec, conditions) if isinstance(imports, dict) else None
                if target is None:
                    return []
                if not target.startswith("./"):
                    return self.resolve_node(Import(target, conditions[1]), posixpath.join(current, "package.json"))
                path = posixpath.normpath(posixpath.join(current, target))
                return [package_json] + self._node_as_file(path)
            if current == "/":
                return []
            current = posixpath.dirname(current)

    # --- Ruby -----------------------------------------------------------------------------

    def _ruby_extra_dir(self, imp: Import, importer: str) -> str | None:
        base = importer if imp.kind == "load_path_file" else posixpath.dirname(importer)
        return posixpath.normpath(posixpath.join(base, imp.name))

    def resolve_ruby(self, imp: Import, importer: str, extra_dirs: tuple[str, ...] = ()) -> list[str]:
        """require: each $LOAD_PATH dir in order, NAME.rb then NAME.so (an explicit .rb/.so
        as given); require_relative: from the importer's directory; load: the name as a
        file, in the working directory then the load path."""
        name = imp.name
        if imp.kind in ("require_relative", "require_file"):
            base = importer if imp.kind == "require_file" else posixpath.dirname(importer)
            return self._ruby_file(posixpath.normpath(posixpath.join(base, name)))
        if name.startswith("/"):
            return self._ruby_file(posixpath.normpath(name))
        if name.startswith(("./", "../")):
            return self._ruby_file(posixpath.normpath(posixpath.join(self.paths.workdir, name)))
        dirs = extra_dirs + (self.paths.ruby.dirs if self.paths.ruby else ())
        key = ("ruby", name, imp.kind, dirs)
        if key not in self._cache:
            found: list[str] = []
            if imp.kind == "load":
                found = [p for p in [posixpath.join(self.paths.workdir, name)] if self.fs.is_file(p)]
            for directory in dirs:
                if found:
                    break
                found = self._ruby_file(posixpath.join(directory, name), load=imp.kind == "load")
            self._cache[key] = tuple(found)
        return list(self._cache[key])

    def _ruby_file(self, path: str, load: bool = False) -> list[str]:
        candidates = [path] if load or path.endswith((".rb", ".so")) else [path + ".rb", path + ".so"]
        return next(([c] for c in candidates if self.fs.is_file(c)), [])

    def ruby_counterparts(self, extension: str) -> list[str]:
        """A Ruby extension (DIR/psych.so in a load path dir) keeps its pure-Ruby
        counterpart: FEATURE.rb and every file under FEATURE/ in the load path
        (`require 'psych'` finds psych.rb first, which requires psych.so and psych/*)."""
        if self.paths.ruby is None or not extension.endswith(".so"):
            return []
        feature = None
        for directory in map(self.real_dir, self.paths.ruby.dirs):
            if extension.startswith(directory.rstrip("/") + "/"):
                feature = extension[len(directory.rstrip("/")) + 1:-len(".so")]
                break
        if feature is None:
            return []
        found: list[str] = []
        for directory in self.paths.ruby.dirs:
            source = posixpath.join(directory, feature + ".rb")
            if self.fs.is_file(source):
                found.append(source)
            tree = posixpath.join(directory, feature)
            if self.fs.is_dir(tree):
                found += self._files_under(tree)
        return list(dict.fromkeys(found))

    def _files_under(self, directory: str, depth: int = 0) -> list[str]:
        if depth > 16:
            return []
        files = []
        for name in sorted(self.fs.children(directory)):
            path = posixpath.join(directory, name)
            if self.fs.is_dir(path):
                files += self._files_under(path, depth + 1)
            elif self.fs.is_file(path):
                files.append(path)
        return files

    # --- Perl -----------------------------------------------------------------------------

    def resolve_perl(self, imp: Import, importer: str, extra_dirs: tuple[str, ...] = ()) -> list[str]:
        """use/require Module::Name: the first Module/Name.pm in @INC (`use lib` dirs first),
        plus the files of auto/Module/Name/ (the XS shared object, its .bs, AutoLoader's
        .al/.ix); require "file.pl": the first in @INC; XSLoader::load: auto/ only."""
        dirs = extra_dirs + (self.paths.perl.dirs if self.paths.perl else ())
        key = ("perl", imp.name, imp.kind, dirs)
        if key in self._cache:
            return list(self._cache[key])
        found: list[str] = []
        if imp.kind == "file":
            if imp.name.startswith(("/", "./", "../")):
                base = imp.name if imp.name.startswith("/") else posixpath.join(self.paths.workdir, imp.name)
                found = [base] if self.fs.is_file(base) else []
            else:
                found = [p for p in (posixpath.join(d, imp.name) for d in dirs) if self.fs.is_file(p)][:1]
            if imp.name.endswith(".pm") and not imp.name.startswith(("/", ".")):
                found += self._perl_auto(imp.name[:-3].replace("/", "::"), dirs)
        else:
            relative = imp.name.replace("::", "/") + ".pm"
            if imp.kind != "xs":
                found = [p for p in (posixpath.join(d, relative) for d in dirs) if self.fs.is_file(p)][:1]
            found += self._perl_auto(imp.name, dirs)
        self._cache[key] = tuple(found)
        return found

    def _perl_auto(self, module: str, dirs: tuple[str, ...]) -> list[str]:
        for directory in dirs:
            auto = posixpath.join(directory, "auto", module.replace("::", "/"))
            if self.fs.is_dir(auto):
                return [posixpath.join(auto, name) for name in sorted(self.fs.children(auto))
                        if self.fs.is_file(posixpath.join(auto, name))]
        return []


def _exports_target(exports, subpath: str, conditions: tuple[str, ...]) -> str | None:
    """The target of `subpath` ("." or "./x", or "#x" for imports) in a package.json
    exports/imports field: a string, an array, conditions, or subpath keys with
    "*" patterns (the longest matching prefix wins)."""
    if isinstance(exports, (str, list)) or (isinstance(exports, dict) and exports
                                            and not any(k.startswith((".", "#")) for k in exports)):
        if subpath != ".":
            return None
        return _conditional_target(exports, conditions, None)
    if not isinstance(exports, dict):
        return None
    if subpath in exports and "*" not in subpath:
        return _conditional_target(exports[subpath], conditions, None)
    best, best_key = None, ""
    for key in exports:
        if "*" not in key:
            continue
        prefix, _, suffix = key.partition("*")
        if (subpath.startswith(prefix) and subpath.endswith(suffix) and len(subpath) >= len(prefix) + len(suffix)
                and len(prefix) > len(best_key.partition("*")[0])):
            best, best_key = subpath[len(prefix):len(subpath) - len(suffix)], key
    if best is not None:
        return _conditional_target(exports[best_key], conditions, best)
    return None


def _conditional_target(value, conditions: tuple[str, ...], star: str | None) -> str | None:
    if isinstance(value, str):
        return value.replace("*", star) if star is not None else value
    if isinstance(value, list):
        for item in value:
            target = _conditional_target(item, conditions, star)
            if target is not None:
                return target
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if key in conditions:
                target = _conditional_target(item, conditions, star)
                if target is not None:
                    return target
    return None


def _unique(imports: Iterable[Import]) -> list[Import]:
    return list(dict.fromkeys(imports))
