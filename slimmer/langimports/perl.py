"""Perl: what a file uses or requires, and which files perl loads for it.

Scan: use / no / require (bareword or file), use parent/base lists, use if,
XSLoader::load with a literal, `use lib` (FindBin too); POD and __END__ skipped.
Resolve: against @INC: PERL5LIB, -I, Debian's dirs (/etc/perl, .../perl/5.X,
/usr/share/perl5, perl-base, ...), the /usr/local/lib/perl5 and Alpine layouts;
a module's auto/Module/Name/ directory (the XS .so, .bs, AutoLoader's .al and
.ix) comes with it.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Sequence

from .core import (MAX_SOURCE_BYTES, FsView, Import, LanguageResolver, cut_comment, dash_i, default_interpreters,
                   existing_dirs, glob, processes_of, unique)

# --- scan -----------------------------------------------------------------------------

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
        lines.append(cut_comment(line, "#"))
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
    return unique(imp for _, imp in sorted(found, key=lambda pair: pair[0])
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


# --- search path ----------------------------------------------------------------------

@dataclass(frozen=True)
class PerlPath:
    dirs: tuple[str, ...]             # @INC


def perl_path(fs: FsView, env: dict[str, str], processes: Sequence) -> PerlPath | None:
    """@INC: PERL5LIB (or PERLLIB), -I, then the perl binary's configured dirs, found in the
    image rather than hard-coded for one version: Debian's /etc/perl,
    /usr/local/lib/ARCH/perl/5.X.Y, /usr/local/share/perl/5.X.Y, /usr/lib/ARCH/perl5/5.X,
    /usr/share/perl5, /usr/lib/ARCH/perl-base, /usr/lib/ARCH/perl/5.X, /usr/share/perl/5.X,
    /usr/local/lib/site_perl; the /usr/local/lib/perl5 layout (perl's own install);
    Alpine's vendor_perl / core_perl."""
    runs = processes_of("perl", processes)
    if not runs and not default_interpreters(fs, env, ("perl",)):
        return None
    dirs = [d for d in (env.get("PERL5LIB") or env.get("PERLLIB") or "").split(":") if d]
    for process in runs:
        dirs += dash_i(process.argv[1:])
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
    return PerlPath(existing_dirs(fs, dirs))


# --- resolve --------------------------------------------------------------------------

class PerlResolver(LanguageResolver):
    """Perl's use/require resolution through @INC (`use lib` dirs first)."""

    def imports_of(self, path: str, source: bytes) -> list[str]:
        """The files the uses and requires of `path` open, in order."""
        imports = scan_perl(source)
        found: list[str] = []
        extra = tuple(d.replace("$BIN", posixpath.dirname(path)) if d.startswith("$BIN")
                      else d if d.startswith("/") else posixpath.join(self.paths.workdir, d)
                      for d in (imp.name for imp in imports if imp.kind == "lib"))
        for imp in imports:
            if imp.kind != "lib":
                found += self.resolve_perl(imp, path, tuple(posixpath.normpath(d) for d in extra))
        return found

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
