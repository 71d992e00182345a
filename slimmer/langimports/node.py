"""Node: what a module requires or imports, and which files Node opens for it.

Scan: require / require.resolve / import from / export from / import() with a
literal specifier, comments skipped.
Resolve: relative paths, node_modules up the tree, package.json "exports"
(string, subpaths, conditions) and "main", index files, .js/.json/.node,
NODE_PATH and the global dirs (Debian's /usr/share/nodejs, /usr/lib/nodejs);
core modules (fs, node:fs) are ignored.
"""
from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Sequence

from .core import (MAX_SOURCE_BYTES, FsView, Import, LanguageResolver, default_interpreters, existing_dirs, glob,
                   processes_of, unique)

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


# --- scan -----------------------------------------------------------------------------

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
    return unique(imp for _, imp in sorted(found, key=lambda pair: pair[0]))


# --- search path ----------------------------------------------------------------------

@dataclass(frozen=True)
class NodePath:
    global_dirs: tuple[str, ...]      # NODE_PATH, ~/.node_modules, prefix/lib/node, Debian's dirs


def node_path(fs: FsView, env: dict[str, str], processes: Sequence) -> NodePath | None:
    """Where `require` looks after node_modules up the tree: NODE_PATH, then the global
    dirs: ~/.node_modules, ~/.node_libraries, PREFIX/lib/node, Debian's
    /usr/lib/ARCH/nodejs, /usr/share/nodejs, /usr/lib/nodejs."""
    exes = [fs.realpath(p.exe) or p.exe for p in processes_of("node", processes)]
    exes += [fs.realpath(p) or p for p in default_interpreters(fs, env, ("node", "nodejs"))]
    if not exes:
        return None
    home = env.get("HOME", "/root")
    dirs = [d for d in env.get("NODE_PATH", "").split(":") if d.startswith("/")]
    dirs += [f"{home}/.node_modules", f"{home}/.node_libraries"]
    dirs += [posixpath.join(posixpath.dirname(posixpath.dirname(exe)), "lib", "node") for exe in exes]
    dirs += glob(fs, "/usr/lib/*-linux-gnu*/nodejs") + ["/usr/share/nodejs", "/usr/lib/nodejs"]
    return NodePath(existing_dirs(fs, dirs))


# --- resolve --------------------------------------------------------------------------

class NodeResolver(LanguageResolver):
    """Node's require/import resolution from each importing file's directory."""

    def imports_of(self, path: str, source: bytes) -> list[str]:
        """The files the requires and imports of `path` open, in order."""
        found: list[str] = []
        for imp in scan_node(source):
            found += self.resolve_node(imp, path)
        return found

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
