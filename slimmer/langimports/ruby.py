"""Ruby: what a file requires, and which files Ruby loads for it.

Scan: require / require_relative / autoload / load with a literal (no #{}
interpolation), and the `File.expand_path('x', __dir__)` idioms.
Resolve: against $LOAD_PATH: RUBYLIB, -I, site_ruby, vendor_ruby, the stdlib and
its arch dir, gems' lib dirs. An extension (psych.so) has a pure-Ruby counterpart
(psych.rb, psych/) that `require 'psych'` loads first. Not followed: rubygems'
bundler and gem installer.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Sequence

from .core import (MAX_SOURCE_BYTES, FsView, Import, LanguageResolver, cut_comment, dash_i, default_interpreters,
                   existing_dirs, glob, processes_of, unique)

# Ruby: rubygems.rb runs at every start; it requires bundler only for `ruby -g` /
# RUBYGEMS_GEMDEPS (Gem.use_gemdeps) and its installer only in Gem.install: both reach
# the remote fetcher, net/http and openssl (libcrypto: 5 MB). An app using bundler, or
# installing gems at run time, loads them itself (`require "bundler/setup"`).
RUBY_NOT_FOLLOWED = {"rubygems.rb": frozenset(("bundler", "rubygems/dependency_installer"))}


# --- scan -----------------------------------------------------------------------------

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
        lines.append(cut_comment(line, "#", ruby=True))
    return "\n".join(lines)


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
    return unique(imp for _, imp in sorted(found, key=lambda pair: pair[0]))


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


# --- search path ----------------------------------------------------------------------

@dataclass(frozen=True)
class RubyPath:
    dirs: tuple[str, ...]             # $LOAD_PATH, gems' lib dirs last


_VERSION_DIR = re.compile(r"^\d+\.\d+\.\d+$")


def ruby_path(fs: FsView, env: dict[str, str], processes: Sequence) -> RubyPath | None:
    """$LOAD_PATH: RUBYLIB, -I, then for each installed Ruby X.Y.0 (Debian's /usr/lib/ruby
    and /usr/lib/ARCH/ruby, or the /usr/local/lib/ruby layout): site_ruby, vendor_ruby,
    the stdlib and their arch dirs; then every installed gem's lib dir and extension
    dir (rubygems finds a gem's file by name)."""
    runs = processes_of("ruby", processes)
    if not runs and not default_interpreters(fs, env, ("ruby",)):
        return None
    dirs = [d for d in env.get("RUBYLIB", "").split(":") if d]
    for process in runs:
        dirs += dash_i(process.argv[1:])
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
    return RubyPath(existing_dirs(fs, dirs))


# --- resolve --------------------------------------------------------------------------

class RubyResolver(LanguageResolver):
    """Ruby's require/load resolution through $LOAD_PATH (plus the dirs a file adds to it)."""

    def imports_of(self, path: str, source: bytes) -> list[str]:
        """The files the requires and loads of `path` open, in order."""
        imports = scan_ruby(source)
        found: list[str] = []
        extra = [self._ruby_extra_dir(imp, path) for imp in imports if imp.kind.startswith("load_path")]
        skipped = RUBY_NOT_FOLLOWED.get(posixpath.basename(path), frozenset())
        for imp in imports:
            if not imp.kind.startswith("load_path") and imp.name not in skipped:
                found += self.resolve_ruby(imp, path, tuple(d for d in extra if d))
        return found

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
