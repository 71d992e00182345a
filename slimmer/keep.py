"""The keep stage: which paths of the original image the slim image keeps, and why.

A pure function of the trace, the image index and the image config; no Docker.
Every kept path is a real path of the image index (no symlink in its parents),
listed explicitly: the collect step copies directories as entries, never
recursively.

Rules (each kept path records the reason of the rule that pulled it in):
  1. TRACED: every traced path that exists in the image, resolved component by
     component through the index. A path that does not exist (created at run
     time: a pid file, a lock, a socket) keeps its nearest existing directory,
     with the symlinks on the way (/var/run -> /run), so the create succeeds
     in the slim image too. A dangling symlink exists (the app read it). Nothing under /proc,
     /sys, /dev or the sensor's /.slimmer is ever kept, however it is reached.
  2. SYMLINK: every symlink met while resolving a kept path (absolute and
     relative targets, links to directories, chains, merged-/usr `/lib ->
     usr/lib`); at most 40 links per resolution, as the kernel's ELOOP bound.
     The final target is kept too, with the reason of the path being resolved.
  3. PARENT: every ancestor directory of a kept path ("/" itself is not listed:
     the scratch stage has it), so the collect step copies its mode and owner.
  4. ELF: for each kept ELF object, its PT_INTERP and DT_NEEDED, searched as
     glibc's loader does: DT_RPATH of the object and of its loaders up to the
     executable (only while the object has no DT_RUNPATH), LD_LIBRARY_PATH of
     the image ENV, DT_RUNPATH, /etc/ld.so.conf with its includes (read through
     `read_file`), then the default dirs; $ORIGIN, $LIB, $PLATFORM expanded; a
     candidate of another ELF class or machine is skipped; transitively. musl
     objects (interpreter ld-musl-*) search LD_LIBRARY_PATH, RUNPATH-or-RPATH
     of the object and its loaders, /etc/ld-musl-ARCH.path or /lib,
     /usr/local/lib, /usr/lib. A library that is not found is ignored.
  5. INTERPRETER: the shebang interpreter of each kept executable script
     (`#!/usr/bin/env python3` keeps /usr/bin/env and python3 found on the
     image PATH). Only executable files: the kernel reads a shebang only on
     execve, and a module that merely carries one (site-packages) is read by
     an interpreter that is already traced.
  6. ESSENTIAL: /etc/passwd, /etc/group (+ shadow, gshadow, nsswitch.conf when
     present) when the image has a USER or the app read either file; WORKDIR;
     VOLUME mount points; /tmp (the image's entry, mode 1777; an image without
     /tmp gets none: the collect step copies only what exists).
     HEALTHCHECK: the healthcheck command's executable (CMD: argv[0] on PATH;
     CMD-SHELL: /bin/sh and the commands of the shell string, as rule 10).
  7. STATE (rule "state"): the nearest existing directory of every path the app
     wrote (opened for write, created, mkdir, unlink, rename) is kept whole
     from the original image, empty subdirectories included: a partial copy of
     state is corrupt state. System roots are never kept whole (STATE_DENY:
     /, /tmp, /run, /var/log, /root, /home/USER, /etc, /usr, ...); writes there
     keep only what the other rules keep.
  8. PACKAGE (rule "package"): a kept file of a Python distribution
     (site-packages or dist-packages) keeps its whole top-level package
     directory, its *.dist-info / *.egg-info, and every file its RECORD lists;
     a kept file under node_modules/NAME (or @scope/NAME, or Debian's
     /usr/share/nodejs, /usr/lib/nodejs) keeps that package directory whole.
     The Python standard library is not expanded by static imports: a traced
     run already opened every module it imported (see the note after rule 17).
  9. APP (rule "app"): entries last written by a COPY/ADD layer (from the
     layer's history) are kept whole, unless the layer is larger than
     KeepOptions.app_layer_max_bytes (default 50 MB) or copies into "/" (a
     base image's rootfs).
 10. SCRIPT (rule "script"): each kept shell script (sh, bash, dash, ash, ...)
     is read through `read_file` and the words in command position (line
     start, after ; & && || | ( ` $( and after then/do/else/...) that resolve
     on the image PATH are kept with their ELF closure.
 11. DATA (rule "data"): runtime data families: a kept TLS library (libssl,
     libcrypto, libgnutls, libnss3, a JVM, node) keeps /etc/ssl/certs whole
     (and what its symlinks point to), /usr/lib/ssl (but not its misc/ tools,
     whose shebang would keep perl), /etc/ssl/openssl.cnf,
     /etc/pki; a timezone-capable runtime (libc, musl, Python's zoneinfo, a
     JVM) keeps /usr/share/zoneinfo, /etc/localtime, /etc/timezone; a JVM
     keeps JAVA_HOME/conf and JAVA_HOME/lib/security; glibc keeps its NSS
     configuration (/etc/nsswitch.conf, hosts, host.conf, resolv.conf,
     gai.conf) and the libnss_* modules the configuration names (files, dns
     when unreadable); a loaded gconv module (iconv in use) keeps its gconv dir,
     a read of the gconv configuration alone keeps the configuration and the
     ISO-8859-1/-15 and CP1252 modules;
     a kept file of a glibc locale (/usr/lib/locale/NAME/) keeps that locale
     whole (PostgreSQL's postmaster loads LC_TIME, its backends LC_COLLATE).
 12. INCLUDE: user globs (fnmatch over index paths, `*` crosses "/"); a
     pattern matching a directory keeps everything under it.
 13. Excludes apply last, as a veto over every rule: paths matching the glob,
     and everything under a directory the pattern names exactly; an ancestor
     directory of a path that stays kept is never removed (it is re-kept as
     PARENT).

 14. PLUGIN (rule "plugins"): a plugin directory is the directory of a traced
     shared object that no kept ELF object names in DT_NEEDED (it was
     dlopen'ed), or a traced directory (stat'ed, listed) holding shared
     objects; the loader's search directories never are. Every shared object
     directly in it is kept with its ELF closure, unless the two would add
     more than PLUGIN_MAX_ADD_BYTES (1 MB) of files not kept yet: PostgreSQL's
     llvmjit.so pulls libLLVM, 134 MB, and the server runs without JIT then
     (pg_jit_available() = f); 1 MB keeps every other PostgreSQL extension.
 15. PROGRAM-DATA (rule "program-data"): the private data tree of a traced
     executable, /usr/share/NAME/VERSION or /usr/share/NAME (also under
     /usr/local/share), NAME and VERSION from the executable's private prefix
     (/usr/lib/postgresql/15/bin/postgres) or NAME its basename in a bin dir,
     is kept whole (but its man/ and doc/) when the app read a file in it, up
     to PROGRAM_DATA_MAX_BYTES (extension/*.control and *.sql of PostgreSQL).
 16. OS-PACKAGE (rule "os-packages", OFF by default): every file of each dpkg
     (info/<pkg>[:arch].list) or apk (lib/apk/db/installed) package owning a
     kept non-directory path. It costs 50-195 MB per sample app and no
     sample app's check needs it (docs/KEEP-RULES.md).
 17. Package metadata (rule "package-metadata"): /var/lib/dpkg/status and
     apk's installed database are generated, trimmed to the packages that
     still own a non-directory path of the slim image (after excludes), and
     returned in KeepSet.generated instead of being copied.

Python's standard library is not expanded by static imports (rule 8); the
measurement is in docs/KEEP-RULES.md.

Precedence: a path keeps the FIRST reason in PRECEDENCE order, whatever order
the rules met it in (TRACED beats everything, PARENT loses to everything), so
the report says the strongest reason a path is there.
Rules 7-11, 14, 15 and 17 are on by default and switchable off, rule 16 is
opt-in: KeepOptions.rules[name] = True/False, names and defaults in RULES.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

from .model import (EntryType, ElfInfo, FsEntry, ImageIndex, ImageInfo, KeepOptions, KeepReason,
                    KeepSet, KeptPath, TraceLog)

ReadFile = Callable[[str], "bytes | None"]

PRECEDENCE: tuple[KeepReason, ...] = (
    KeepReason.TRACED, KeepReason.INCLUDE, KeepReason.ESSENTIAL, KeepReason.HEALTHCHECK,
    KeepReason.INTERPRETER, KeepReason.ELF, KeepReason.SCRIPT, KeepReason.SYMLINK,
    KeepReason.STATE, KeepReason.APP, KeepReason.PACKAGE, KeepReason.PLUGIN, KeepReason.PROGRAM_DATA,
    KeepReason.DATA, KeepReason.OS_PACKAGE, KeepReason.PARENT,
)
_RANK = {reason: rank for rank, reason in enumerate(PRECEDENCE)}

# glibc gconv modules kept when only the gconv configuration was read
GCONV_COMMON = {"ISO8859-1.so", "ISO8859-15.so", "CP1252.so"}

# Switchable rules (--keep-rule NAME=on|off) and their defaults.
RULES: dict[str, bool] = {"state": True, "package": True, "app": True, "script": True, "data": True,
                          "plugins": True, "program-data": True, "package-metadata": True,
                          "os-packages": False}

NEVER_KEPT = ("/proc", "/sys", "/dev", "/.slimmer")
MAX_SYMLINKS = 40                      # the kernel's ELOOP bound
APP_LAYER_MAX_BYTES = 50 * 1000 * 1000
# A plugin bringing more than this in new files is an optional heavy feature: llvmjit.so
# (libLLVM, 134 MB), Python's _sqlite3/_dbm, a JVM's fonts and sound (docs/KEEP-RULES.md)
PLUGIN_MAX_ADD_BYTES = 1000 * 1000
PROGRAM_DATA_MAX_BYTES = 32 * 1000 * 1000
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_INFO = "/var/lib/dpkg/info"
APK_INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GLIBC_DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                      "/lib", "/usr/lib", "/usr/local/lib")
GLIBC_DEFAULT_DIRS_32 = ("/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib32", "/usr/lib32",
                         "/lib", "/usr/lib")
MUSL_DEFAULT_DIRS = ("/lib", "/usr/local/lib", "/usr/lib")
STATE_DENY = frozenset((
    "/", "/tmp", "/dev", "/proc", "/sys", "/run", "/var/run", "/var/tmp", "/var/log", "/root",
    "/home", "/etc", "/usr", "/usr/local", "/usr/lib", "/usr/share", "/usr/bin", "/usr/sbin",
    "/var", "/var/lib", "/var/cache", "/opt", "/srv", "/mnt", "/media", "/bin", "/sbin",
    "/lib", "/lib64", "/.slimmer",
))
SHELLS = frozenset(("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"))
_SHELL_WORDS = frozenset((
    # keywords and builtins: never looked up on PATH by a POSIX shell
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac",
    "function", "select", "!", "{", "}", "[[", "]]", "(", ")", ".", ":", "[", "alias", "bg", "break",
    "builtin", "cd", "continue", "declare", "echo", "eval", "exit", "export", "false", "fg", "getopts",
    "hash", "jobs", "kill", "let", "local", "printf", "pwd", "read", "readonly", "return", "set",
    "shift", "shopt", "source", "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask",
    "unalias", "unset", "wait",
))
_COMMAND_PREFIXES = frozenset(("exec", "command", "nohup", "env", "nice", "time", "xargs", "then",
                               "do", "else", "elif", "if", "while", "until", "!", "{", "("))
_SEPARATORS = re.compile(r"\$\(|`|&&|\|\||[;&|()\n]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_COMMAND_WORD = re.compile(r"^[A-Za-z0-9_./+-][A-Za-z0-9_./+@:-]*$")
_CASE_PATTERN = re.compile(r"^\s*\(?[^\s()=$`'\"]+\)(?!\))")      # "  a|b) cmd ;;"
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")
_SHARED_OBJECT = re.compile(r"\.so(\.[0-9.]+)?$")
_LOCALE_DIR = re.compile(r"^(/usr/lib/locale/[^/]+)/")
_PRIVATE_PREFIX = re.compile(r"^(?:/usr/lib|/usr/lib64|/usr/libexec|/usr/local/lib|/opt)/([^/]+)(?:/([^/]+))?/")
_BIN_DIRS = frozenset(("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"))
_TLS_LIBS = re.compile(r"^(libssl\.so|libcrypto\.so|libgnutls\.so|libnss3\.so|libjava\.so|node$|nodejs$)")
_PY_SITE = re.compile(r"^(.*/(?:site|dist)-packages)/([^/]+)")
_NODE_PKG = re.compile(r"^(.*/node_modules|/usr/share/nodejs|/usr/lib/nodejs|/usr/lib/[^/]+-linux-gnu/nodejs)"
                       r"/((?:@[^/]+/)?[^/]+)")


@dataclass(frozen=True)
class Resolution:
    """Where a path leads in the image: its real path (None when it does not
    exist) and every symlink met on the way, in order."""

    path: str | None
    symlinks: tuple[str, ...]


def resolve(index: ImageIndex, path: str, follow_last: bool = True) -> Resolution:
    """Resolve `path` component by component through the image index, like the
    kernel's path walk: symlinks anywhere, ".." after a symlink applies to the
    link's target, at most MAX_SYMLINKS links."""
    symlinks: list[str] = []
    pending = deque(part for part in path.split("/") if part)
    current = "/"
    hops = 0
    while pending:
        name = pending.popleft()
        if name == ".":
            continue
        if name == "..":
            current = posixpath.dirname(current) if current != "/" else "/"
            continue
        candidate = posixpath.join(current, name)
        entry = index.get(candidate)
        if entry is None:
            return Resolution(None, tuple(symlinks))
        if entry.type is EntryType.SYMLINK and (pending or follow_last):
            hops += 1
            if hops > MAX_SYMLINKS:
                return Resolution(None, tuple(symlinks))
            if candidate not in symlinks:
                symlinks.append(candidate)
            target = entry.link_target or ""
            if target.startswith("/"):
                current = "/"
            pending.extendleft(reversed([part for part in target.split("/") if part]))
            continue
        if pending and entry.type is not EntryType.DIR:
            return Resolution(None, tuple(symlinks))
        current = candidate
    if current != "/" and current not in index:
        return Resolution(None, tuple(symlinks))
    return Resolution(current, tuple(symlinks))


def compute_keep_set(trace: TraceLog, index: ImageIndex, image: ImageInfo, options: KeepOptions,
                     read_file: ReadFile | None = None) -> KeepSet:
    """The keep set of an image for a trace. `read_file(path)` returns the
    content of a regular file of the original image (or None); without it,
    rules that need content (ld.so.conf, shell scripts, RECORD files) fall
    back to defaults."""
    return _Keeper(trace, index, image, options, read_file).run()


class _Keeper:
    def __init__(self, trace: TraceLog, index: ImageIndex, image: ImageInfo, options: KeepOptions,
                 read_file: ReadFile | None):
        self.trace = trace
        self.index = index
        self.image = image
        self.options = options
        self.read_file = read_file
        self.env = image.config.env_dict()
        self.kept: dict[str, KeptPath] = {}
        self.queue: deque[str] = deque()
        self.sorted_paths = sorted(index.entries)
        self.elf_seen: set[tuple[str, tuple[tuple[str, ...], ...]]] = set()
        self.expanded_trees: set[str] = set()
        self.data_done: set[str] = set()
        self.package_dirs_done: set[str] = set()
        self._ld_dirs: tuple[str, ...] | None = None
        self._musl_dirs: tuple[str, ...] | None = None
        self._metadata: dict[str, list[str]] = {}
        self._packages: _PackageDb | None = None

    # --- bookkeeping --------------------------------------------------------

    def rule_on(self, name: str) -> bool:
        return bool(self.options.rules.get(name, RULES.get(name, True)))

    def record(self, path: str, reason: KeepReason, because_of: str | None) -> None:
        """Record one real index path; a path new to the set is queued for closure."""
        if path == "/" or _never_kept(path) or path not in self.index:
            return
        old = self.kept.get(path)
        if old is None:
            self.kept[path] = KeptPath(path, reason, because_of)
            self.queue.append(path)
        elif _RANK[reason] < _RANK[old.reason]:
            self.kept[path] = KeptPath(path, reason, because_of)

    def keep(self, path: str, reason: KeepReason, because_of: str | None,
             follow_last: bool = True) -> str | None:
        """Keep whatever `path` leads to, with the symlinks on the way; the real path or None."""
        if _never_kept(posixpath.normpath(path)):
            return None
        found = resolve(self.index, path, follow_last)
        if found.path is None and follow_last:
            # a dangling symlink exists even though its target does not
            last = resolve(self.index, path, follow_last=False)
            entry = self.index.get(last.path) if last.path else None
            if entry is None or entry.type is not EntryType.SYMLINK:
                return None
            found = last
        if found.path is None:
            return None
        named = resolve(self.index, path, follow_last=False).path if found.symlinks else None
        for link in found.symlinks:
            # the link the rule named gets the rule's reason; links on the way are SYMLINK
            self.record(link, reason if link == named else KeepReason.SYMLINK,
                        because_of if link == named else path)
        self.record(found.path, reason, because_of)
        return found.path

    def keep_tree(self, path: str, reason: KeepReason, because_of: str | None) -> None:
        """Keep a directory and every entry under it; symlinks inside that lead
        to directories are expanded as trees too (bounded by a seen set)."""
        real = self.keep(path, reason, because_of)
        if real is None or real in self.expanded_trees:
            return
        self.expanded_trees.add(real)
        entry = self.index.get(real)
        if entry is None or entry.type is not EntryType.DIR:
            return
        for sub in self.under(real):
            self.record(sub, reason, because_of)
            sub_entry = self.index.get(sub)
            if sub_entry is not None and sub_entry.type is EntryType.SYMLINK:
                target = resolve(self.index, sub)
                if target.path is not None and self.index.get(target.path).type is EntryType.DIR:
                    self.keep_tree(sub, reason, because_of)

    def keep_tree_except(self, path: str, skipped: Iterable[str], reason: KeepReason,
                         because_of: str | None) -> None:
        """keep_tree, without the direct children named in `skipped`."""
        real = self.keep(path, reason, because_of)
        if real is None or self.index.get(real).type is not EntryType.DIR:
            return
        for child in self.under(real):
            if posixpath.dirname(child) == real and posixpath.basename(child) not in skipped:
                self.keep_tree(child, reason, because_of)

    def under(self, directory: str) -> list[str]:
        """Every index path strictly under `directory`."""
        prefix = directory.rstrip("/") + "/"
        start = bisect_left(self.sorted_paths, prefix)
        found = []
        for path in self.sorted_paths[start:]:
            if not path.startswith(prefix):
                break
            found.append(path)
        return found

    def search_path(self) -> list[str]:
        return [part or (self.image.config.workdir or "/")
                for part in self.env.get("PATH", DEFAULT_PATH).split(":")]

    def which(self, command: str) -> str | None:
        """The path a command name resolves to through the image PATH (its name as found)."""
        if "/" in command:
            return command if command.startswith("/") else posixpath.join(
                self.image.config.workdir or "/", command)
        for directory in self.search_path():
            candidate = posixpath.join(directory, command)
            found = resolve(self.index, candidate)
            if found.path is not None and self.index.get(found.path).type is not EntryType.DIR:
                return candidate
        return None

    def content(self, path: str) -> bytes | None:
        if self.read_file is None:
            return None
        real = resolve(self.index, path).path
        if real is None:
            return None
        try:
            return self.read_file(real)
        except (OSError, KeyError):
            return None

    # --- the run ------------------------------------------------------------

    def run(self) -> KeepSet:
        self.keep_traced()
        self.keep_essentials()
        if self.rule_on("state"):
            self.keep_state_dirs()
        if self.rule_on("app"):
            self.keep_app_layers()
        self.keep_includes()
        self.close()
        # rules that look at the whole closure: which ELF objects are kept, which programs run
        if self.rule_on("plugins"):
            self.keep_plugin_dirs()
        if self.rule_on("program-data"):
            self.keep_program_data()
        self.close()
        if self.rule_on("os-packages"):
            self.keep_os_packages()
            self.close()
        self.apply_excludes()
        generated = self.package_metadata() if self.rule_on("package-metadata") else {}
        return KeepSet(dict(sorted(self.kept.items())), generated)

    def close(self) -> None:
        """Apply the per-path rules to every newly kept path until nothing new appears."""
        while self.queue:
            path = self.queue.popleft()
            entry = self.index.get(path)
            for parent in _ancestors(path):
                self.record(parent, KeepReason.PARENT, path)
            if entry is None:
                continue
            if entry.type is EntryType.SYMLINK:
                # the final target, with the reason that kept the link
                self.keep(path, self.kept[path].reason, path)
            if entry.elf is not None:
                self.keep_elf_closure(path, entry.elf)
            if entry.shebang:
                self.keep_shebang(path, entry)
            if self.rule_on("package"):
                self.keep_package(path)
            if self.rule_on("data"):
                self.keep_data(path, entry)

    # --- rule 1: traced -------------------------------------------------------

    def keep_traced(self) -> None:
        for traced in self.trace.paths.values():
            if self.keep(traced.path, KeepReason.TRACED, None) is None:
                self.keep_nearest_directory(traced.path)

    def keep_nearest_directory(self, missing: str) -> None:
        """A path the app looked up or created at run time (a pid file, a lock,
        a socket) is not in the image; the directory it lives in must be, or
        the create fails in the slim image as it never did in the original."""
        parent = posixpath.dirname(posixpath.normpath(missing))
        while parent != "/" and not _never_kept(parent):
            found = resolve(self.index, parent)
            entry = self.index.get(found.path) if found.path else None
            if entry is not None and entry.type is EntryType.DIR:
                self.keep(parent, KeepReason.PARENT, missing)
                return
            parent = posixpath.dirname(parent)

    # --- rule 4: ELF closure ----------------------------------------------------

    def keep_elf_closure(self, root: str, root_elf: ElfInfo) -> None:
        for path, loaded_by in self.elf_dependencies(root, root_elf, self.elf_seen):
            self.keep(path, KeepReason.ELF, loaded_by)

    def elf_dependencies(self, root: str, root_elf: ElfInfo,
                         seen: set) -> Iterable[tuple[str, str]]:
        """(path as the loader finds it, the object that needs it): interpreters and
        DT_NEEDED libraries of `root`, transitively; `seen` bounds the walk."""
        musl = _is_musl(root_elf, self.index)
        work = deque([(root, root_elf, ())])   # (path as loaded, elf, rpath dirs of its loaders)
        while work:
            loaded_as, elf, loader_rpaths = work.popleft()
            key = (loaded_as, loader_rpaths)
            if key in seen:
                continue
            seen.add(key)
            origin = posixpath.dirname(loaded_as)
            if elf.interpreter:
                yield elf.interpreter, loaded_as
            own_rpath = tuple(_expand_all(elf.rpath, origin, elf.elf_class))
            own_runpath = tuple(_expand_all(elf.runpath, origin, elf.elf_class))
            if musl:
                own = own_runpath or own_rpath
                rpaths_for_children = loader_rpaths + (own,)
                search = self.ld_library_path(origin, elf.elf_class) + \
                    [d for group in reversed(rpaths_for_children) for d in group] + list(self.musl_dirs())
            else:
                # glibc: an object's RPATH is ignored when it has a RUNPATH; RPATHs of
                # the loader chain apply only when the loading object has no RUNPATH
                own = () if elf.runpath else own_rpath
                rpaths_for_children = loader_rpaths + (own,)
                search = []
                if not elf.runpath:
                    search += [d for group in reversed(rpaths_for_children) for d in group]
                search += self.ld_library_path(origin, elf.elf_class)
                search += list(own_runpath)
                search += list(self.ld_conf_dirs(elf.elf_class))
            for name in elf.needed:
                found = self.find_library(name, search, elf)
                if found is None:
                    continue
                candidate, real, lib_elf = found
                yield candidate, loaded_as
                work.append((candidate, lib_elf, rpaths_for_children))

    def find_library(self, name: str, search: Iterable[str], wanted: ElfInfo):
        candidates = [name] if "/" in name else [posixpath.join(d, name) for d in search]
        for candidate in candidates:
            if not candidate.startswith("/"):
                candidate = posixpath.join(self.image.config.workdir or "/", candidate)
            real = resolve(self.index, candidate).path
            if real is None:
                continue
            entry = self.index.get(real)
            lib_elf = entry.elf if entry is not None else None
            if lib_elf is None or lib_elf.elf_class != wanted.elf_class or lib_elf.machine != wanted.machine:
                continue
            return candidate, real, lib_elf
        return None

    def ld_library_path(self, origin: str, elf_class: int) -> list[str]:
        value = self.env.get("LD_LIBRARY_PATH", "")
        if not value:
            return []
        dirs = []
        for part in re.split(r"[:;]", value):
            dirs.extend(_expand(part or (self.image.config.workdir or "/"), origin, elf_class))
        return dirs

    def ld_conf_dirs(self, elf_class: int) -> tuple[str, ...]:
        """Directories of /etc/ld.so.conf (the ld.so.cache's source), then the defaults."""
        defaults = GLIBC_DEFAULT_DIRS if elf_class == 64 else GLIBC_DEFAULT_DIRS_32
        if self._ld_dirs is None:
            dirs: list[str] = []
            self._read_ld_conf("/etc/ld.so.conf", dirs, set())
            self._ld_dirs = tuple(dirs)
        return tuple(dict.fromkeys(self._ld_dirs + defaults))

    def _read_ld_conf(self, path: str, dirs: list[str], seen: set[str]) -> None:
        if path in seen or len(seen) > 64:
            return
        seen.add(path)
        data = self.content(path)
        if data is None:
            return
        for raw in data.decode("utf-8", "replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("hwcap"):
                continue
            if line.startswith("include"):
                for pattern in line.split()[1:]:
                    if not pattern.startswith("/"):
                        pattern = posixpath.join(posixpath.dirname(path), pattern)
                    for match in self.glob(pattern):
                        self._read_ld_conf(match, dirs, seen)
                continue
            for directory in re.split(r"[:,\s]+", line):
                if directory.startswith("/") and directory not in dirs:
                    dirs.append(directory.rstrip("/") or "/")

    def glob(self, pattern: str) -> list[str]:
        """Index paths matching a glob whose directory part has no wildcard."""
        directory = resolve(self.index, posixpath.dirname(pattern)).path
        if directory is None:
            return []
        base = posixpath.basename(pattern)
        return sorted(posixpath.join(posixpath.dirname(pattern), posixpath.basename(p))
                      for p in self.under(directory)
                      if posixpath.dirname(p) == directory and fnmatch.fnmatchcase(posixpath.basename(p), base))

    def musl_dirs(self) -> tuple[str, ...]:
        if self._musl_dirs is None:
            dirs: list[str] = []
            for entry_path in self.glob("/etc/ld-musl-*.path"):
                data = self.content(entry_path)
                if data:
                    dirs.extend(d for d in re.split(r"[:\n]", data.decode("utf-8", "replace"))
                                if d.strip().startswith("/"))
            self._musl_dirs = tuple(d.strip() for d in dirs) or MUSL_DEFAULT_DIRS
        return self._musl_dirs

    # --- rule 5: shebang interpreters --------------------------------------------

    def keep_shebang(self, path: str, entry: FsEntry) -> None:
        interpreter, argv = parse_shebang(entry.shebang or "")
        if not interpreter:
            return
        if entry.mode & 0o111:
            self.keep(interpreter, KeepReason.INTERPRETER, path)
            if posixpath.basename(interpreter) == "env":
                command = _env_command(argv)
                found = self.which(command) if command else None
                if found:
                    self.keep(found, KeepReason.INTERPRETER, path)
        if self.rule_on("script") and _shell_name(interpreter, argv) in SHELLS:
            data = self.content(path)
            if data is not None:
                self.keep_commands(script_commands(data.decode("utf-8", "replace")),
                                   KeepReason.SCRIPT, path)

    def keep_commands(self, commands: Iterable[str], reason: KeepReason, because_of: str) -> None:
        for command in commands:
            found = self.which(command)
            if found is not None:
                self.keep(found, reason, because_of)

    # --- rule 6: essentials and healthcheck ----------------------------------------

    def keep_essentials(self) -> None:
        config = self.image.config
        looked_up = any(p in self.trace.paths for p in ("/etc/passwd", "/etc/group"))
        if config.user or looked_up:
            for path in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/nsswitch.conf"):
                self.keep(path, KeepReason.ESSENTIAL, "USER" if config.user else path)
        if config.workdir:
            self.keep(config.workdir, KeepReason.ESSENTIAL, "WORKDIR")
        for volume in config.volumes:
            self.keep(volume, KeepReason.ESSENTIAL, "VOLUME")
        self.keep("/tmp", KeepReason.ESSENTIAL, "/tmp")
        health = config.healthcheck
        if health is not None and len(health.test) > 1:
            kind, args = health.test[0], health.test[1:]
            if kind == "CMD":
                found = self.which(args[0])
                if found:
                    self.keep(found, KeepReason.HEALTHCHECK, "HEALTHCHECK")
            elif kind == "CMD-SHELL":
                self.keep("/bin/sh", KeepReason.HEALTHCHECK, "HEALTHCHECK")
                self.keep_commands(script_commands(args[0]), KeepReason.HEALTHCHECK, "HEALTHCHECK")

    # --- rule 7: state directories -------------------------------------------------

    def keep_state_dirs(self) -> None:
        for traced in self.trace.paths.values():
            if not traced.write or _never_kept(traced.path):
                continue
            directory = posixpath.dirname(posixpath.normpath(traced.path))
            real = resolve(self.index, directory).path
            while real is None and directory != "/":
                directory = posixpath.dirname(directory)
                real = resolve(self.index, directory).path
            if real is None or real in STATE_DENY or _is_home(real):
                continue
            if self.index.get(real).type is EntryType.DIR:
                self.keep_tree(real, KeepReason.STATE, traced.path)

    # --- rule 8: language packages ---------------------------------------------------

    def keep_package(self, path: str) -> None:
        python = _PY_SITE.match(path)
        if python:
            site, top = python.group(1), python.group(2)
            self.keep_python_distribution(site, top, path)
        node = _NODE_PKG.match(path)
        if node:
            package_dir = f"{node.group(1)}/{node.group(2)}"
            if package_dir not in self.package_dirs_done:
                self.package_dirs_done.add(package_dir)
                self.keep_tree(package_dir, KeepReason.PACKAGE, path)

    def keep_python_distribution(self, site: str, top: str, because_of: str) -> None:
        key = f"{site}/{top}"
        if key in self.package_dirs_done or top == "__pycache__":
            return
        self.package_dirs_done.add(key)
        if top.endswith((".dist-info", ".egg-info")):
            self.keep_tree(key, KeepReason.PACKAGE, because_of)
            return
        module = top.split(".", 1)[0]
        entry = self.index.get(key)
        if entry is not None and entry.type is EntryType.DIR:
            self.keep_tree(key, KeepReason.PACKAGE, because_of)
        # the distribution's metadata: named after the module, or listing it
        for meta in self.metadata_dirs(site):
            dist_name = _normalise_dist(posixpath.basename(meta).split("-", 1)[0].rsplit(".", 1)[0])
            record = self.content(meta + "/RECORD") if self.read_file else None
            top_level = self.content(meta + "/top_level.txt") if self.read_file else None
            tops = set()
            if top_level:
                tops.update(line.strip() for line in top_level.decode("utf-8", "replace").splitlines())
            if record:
                for line in record.decode("utf-8", "replace").splitlines():
                    first = line.split(",", 1)[0]
                    if first and not first.startswith(".."):
                        tops.add(first.split("/", 1)[0].split(".", 1)[0] if "/" in first
                                 else first.rsplit(".", 1)[0])
            if dist_name != _normalise_dist(module) and module not in tops:
                continue
            self.package_dirs_done.add(meta)
            self.keep_tree(meta, KeepReason.PACKAGE, because_of)
            if record:
                for line in record.decode("utf-8", "replace").splitlines():
                    first = line.split(",", 1)[0]
                    if first and not first.startswith(".."):
                        self.keep(posixpath.join(site, first), KeepReason.PACKAGE, because_of)

    def metadata_dirs(self, site: str) -> list[str]:
        """The *.dist-info / *.egg-info entries directly in a site directory (cached)."""
        if site not in self._metadata:
            self._metadata[site] = [p for p in self.under(site) if posixpath.dirname(p) == site
                                    and p.endswith((".dist-info", ".egg-info"))]
        return self._metadata[site]

    # --- rule 9: application layers --------------------------------------------------

    def keep_app_layers(self) -> None:
        limit = getattr(self.options, "app_layer_max_bytes", APP_LAYER_MAX_BYTES)
        app_layers = {layer.index for layer in self.image.layers
                      if _is_copy_layer(layer.created_by) and layer.size_bytes <= limit}
        if not app_layers:
            return
        for path, entry in self.index.entries.items():
            if entry.layer in app_layers:
                self.keep(path, KeepReason.APP, f"layer {entry.layer}", follow_last=False)

    # --- rule 11: runtime data families ---------------------------------------------

    def keep_data(self, path: str, entry: FsEntry) -> None:
        name = posixpath.basename(path)
        if entry.elf is not None and _TLS_LIBS.match(name):
            self.data_family("tls", path, lambda: self.keep_tls(path))
        is_libc = entry.elf is not None and (name.startswith("libc.so") or name.startswith("ld-musl-"))
        if is_libc or "/zoneinfo/" in path and "/python" in path or name == "libjava.so":
            self.data_family("tz", path, self.keep_timezone)
        if entry.elf is not None and name.startswith("libc.so"):
            self.data_family("nss", path, lambda: self.keep_nss(path))
        if name in ("libjava.so", "libjvm.so"):
            self.keep_jvm(path)
        locale = _LOCALE_DIR.match(path)
        if locale:
            # a locale is one unit: setlocale() of a category not loaded yet reads the rest
            self.data_family("locale:" + locale.group(1), path,
                             lambda: self.keep_tree(locale.group(1), KeepReason.DATA, path))
        if "/gconv/" in path:
            gconv_dir = path[:path.index("/gconv/") + len("/gconv")]
            traced = self.kept.get(path)
            if path.endswith(".so") and traced is not None and traced.reason is KeepReason.TRACED:
                # the app loaded a conversion module: iconv with run-time charsets is in use
                self.data_family("gconv:" + gconv_dir, path,
                                 lambda: self.keep_tree(gconv_dir, KeepReason.DATA, path))
            else:
                self.data_family("gconv-config:" + gconv_dir, path, lambda: self.keep_gconv_config(gconv_dir, path))

    def keep_gconv_config(self, gconv_dir: str, because_of: str) -> None:
        """Only the gconv configuration was read (glibc does at locale setup): keep it and
        the modules of the commonest single-byte charsets (glibc has UTF-8/16/32, ASCII
        built in), not all 256 modules (7 MB) for charsets nobody converted from."""
        real = resolve(self.index, gconv_dir).path
        if real is None:
            return
        for path in self.under(real):
            if posixpath.dirname(path) != real:
                continue
            name = posixpath.basename(path)
            if name.startswith("gconv-modules"):
                self.keep_tree(path, KeepReason.DATA, because_of)
            elif name in GCONV_COMMON:
                self.keep(path, KeepReason.DATA, because_of)

    def data_family(self, family: str, because_of: str, keep: Callable[[], None]) -> None:
        if family not in self.data_done:
            self.data_done.add(family)
            keep()

    def keep_tls(self, because_of: str) -> None:
        for tree in ("/etc/ssl/certs", "/etc/pki", "/etc/ca-certificates"):
            self.keep_tree(tree, KeepReason.DATA, because_of)
        # OpenSSL's dir, but not misc/: CA.pl and tsget.pl are tools, and their
        # shebang would keep perl (3.8 MB) in every image that uses TLS
        self.keep_tree_except("/usr/lib/ssl", ("misc",), KeepReason.DATA, because_of)
        for path in ("/etc/ssl/openssl.cnf", "/etc/ca-certificates.conf"):
            self.keep(path, KeepReason.DATA, because_of)
        lib_dir = posixpath.dirname(because_of)
        for modules in ("ossl-modules", "engines-3"):
            self.keep_tree(posixpath.join(lib_dir, modules), KeepReason.DATA, because_of)

    def keep_timezone(self) -> None:
        for tree in ("/usr/share/zoneinfo",):
            self.keep_tree(tree, KeepReason.DATA, "timezone")
        for path in ("/etc/localtime", "/etc/timezone"):
            self.keep(path, KeepReason.DATA, "timezone")

    def keep_nss(self, libc: str) -> None:
        for path in ("/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf"):
            self.keep(path, KeepReason.DATA, libc)
        services = {"files", "dns"}
        data = self.content("/etc/nsswitch.conf")
        if data is not None:
            for line in data.decode("utf-8", "replace").splitlines():
                line = line.split("#", 1)[0]
                if ":" in line:
                    services.update(word for word in line.split(":", 1)[1].split()
                                    if not word.startswith("["))
        libc_elf = self.index.get(libc).elf
        dirs = [posixpath.dirname(libc)] + list(self.ld_conf_dirs(libc_elf.elf_class if libc_elf else 64))
        for service in sorted(services):
            found = self.find_library(f"libnss_{service}.so.2", dirs, libc_elf) if libc_elf else None
            if found is not None:
                self.keep(found[0], KeepReason.DATA, libc)

    def keep_jvm(self, lib: str) -> None:
        parts = lib.split("/")
        if "lib" not in parts:
            return
        java_home = "/".join(parts[:len(parts) - 1 - parts[::-1].index("lib")]) or "/"
        if java_home.endswith("/jre"):
            java_home_jre = java_home
        else:
            java_home_jre = java_home + "/jre" if (java_home + "/jre") in self.index else java_home
        if java_home in self.data_done:
            return
        self.data_done.add(java_home)
        for tree in (java_home + "/conf", java_home + "/lib/security", java_home_jre + "/lib/security"):
            self.keep_tree(tree, KeepReason.DATA, lib)

    # --- rule 14: plugin directories ---------------------------------------------------

    def keep_plugin_dirs(self) -> None:
        """Directories the app loads shared objects from by name at run time (dlopen):
        keep every shared object there whose ELF closure adds at most
        PLUGIN_MAX_ADD_BYTES to the keep set."""
        limit = getattr(self.options, "plugin_max_bytes", PLUGIN_MAX_ADD_BYTES)
        for directory, because_of in self.plugin_dirs():
            for path in self.under(directory):
                entry = self.index.get(path)
                if (posixpath.dirname(path) != directory or path in self.kept or entry.type is not EntryType.FILE
                        or entry.elf is None or not _SHARED_OBJECT.search(path)):
                    continue
                if self.closure_cost(path, entry) <= limit:
                    self.keep(path, KeepReason.PLUGIN, because_of)

    def plugin_dirs(self) -> list[tuple[str, str]]:
        """(directory, why): the directory of a traced shared object that no kept ELF
        object names in DT_NEEDED (it was dlopen'ed), and a traced directory (stat'ed,
        listed) that holds shared objects. The loader's own search directories are
        not plugin directories: they hold every library of the system."""
        needed = set()
        for path in self.kept:
            entry = self.index.get(path)
            if entry is not None and entry.elf is not None:
                needed.update(entry.elf.needed)
        loader_dirs = {resolve(self.index, d).path for d in
                       self.ld_conf_dirs(64) + self.ld_conf_dirs(32) + self.musl_dirs()
                       + tuple(self.ld_library_path("/", 64))}
        found: dict[str, str] = {}
        for traced in self.trace.paths.values():
            real = resolve(self.index, traced.path).path
            entry = self.index.get(real) if real else None
            if entry is None:
                continue
            if entry.type is EntryType.DIR:
                candidate = real
                holds = any(posixpath.dirname(p) == real and _SHARED_OBJECT.search(p)
                            and self.index.get(p).elf is not None for p in self.under(real))
                if not holds:
                    continue
            elif entry.type is EntryType.FILE and entry.elf is not None and _SHARED_OBJECT.search(real):
                names = {posixpath.basename(traced.path), posixpath.basename(real), entry.elf.soname}
                if names & needed:
                    continue
                candidate = posixpath.dirname(real)
            else:
                continue
            if candidate not in loader_dirs and candidate not in STATE_DENY:
                found.setdefault(candidate, traced.path)
        return sorted(found.items())

    def closure_cost(self, path: str, entry: FsEntry) -> int:
        """Bytes that keeping `path` with its ELF closure would add to the keep set."""
        files = {path}
        for dependency, _ in self.elf_dependencies(path, entry.elf, set()):
            real = resolve(self.index, dependency).path
            if real is not None:
                files.add(real)
        return sum(_file_bytes(self.index.get(p)) for p in files if p not in self.kept)

    # --- rule 15: program data trees ----------------------------------------------------

    def keep_program_data(self) -> None:
        """A program's private data tree (/usr/share/NAME or /usr/share/NAME/VERSION, NAME
        the program's name or its private prefix /usr/lib/NAME/VERSION) is kept whole
        when the app read a file in it: the program reads the rest by name later
        (PostgreSQL's extension/*.control and *.sql, tsearch dictionaries)."""
        limit = getattr(self.options, "program_data_max_bytes", PROGRAM_DATA_MAX_BYTES)
        trees: dict[str, str] = {}
        for path, kept in self.kept.items():
            entry = self.index.get(path)
            if (kept.reason is not KeepReason.TRACED or entry is None or entry.type is not EntryType.FILE
                    or not entry.mode & 0o111 or (entry.elf is None and not entry.shebang)):
                continue
            for tree in self.data_trees(path):
                trees.setdefault(tree, path)
        for traced in self.trace.paths.values():
            real = resolve(self.index, traced.path).path
            if real is None:
                continue
            for tree, program in trees.items():
                if real.startswith(tree + "/") and tree not in self.expanded_trees:
                    self.expanded_trees.add(tree)
                    size = sum(_file_bytes(self.index.get(p)) for p in self.under(tree))
                    if size <= limit:
                        # documentation is read by people, not by the program
                        self.keep_tree_except(tree, ("man", "doc"), KeepReason.PROGRAM_DATA, program)

    def data_trees(self, executable: str) -> list[str]:
        names: list[tuple[str, str | None]] = []
        private = _PRIVATE_PREFIX.match(executable)
        if private:
            names.append((private.group(1), private.group(2)))
        if posixpath.dirname(executable) in _BIN_DIRS:
            names.append((posixpath.basename(executable), None))
        trees = []
        for name, version in names:
            for share in ("/usr/share", "/usr/local/share"):
                base = f"{share}/{name}"
                narrow = f"{base}/{version}" if version else None
                for tree in (narrow, base):
                    entry = self.index.get(tree) if tree else None
                    if entry is not None and entry.type is EntryType.DIR:
                        trees.append(tree)
                        break
        return trees

    # --- rule 16: OS packages (opt-in) and their metadata ---------------------------------

    def packages(self) -> "_PackageDb":
        if self._packages is None:
            self._packages = _PackageDb.read(self.index, self.content)
        return self._packages

    def keep_os_packages(self) -> None:
        """Every file of each dpkg/apk package that has a kept file (not a directory)."""
        db = self.packages()
        owners = set()
        for path in list(self.kept):
            entry = self.index.get(path)
            if entry is not None and entry.type is not EntryType.DIR:
                owners.update(db.owners.get(path, ()))
        for package in sorted(owners):
            for real in db.files[package]:
                self.record(real, KeepReason.OS_PACKAGE, f"package {package}")

    def package_metadata(self) -> dict[str, bytes]:
        """The package database trimmed to the packages that still have a file (not a
        directory) in the slim image, so scanners inventory what is really there."""
        db = self.packages()
        if not db.paragraphs:
            return {}
        present = {package for package, files in db.files.items()
                   if any(p in self.kept and self.index.get(p).type is not EntryType.DIR for p in files)}
        generated = {}
        for database, paragraphs in db.paragraphs.items():
            if self.excluded(database):
                continue
            kept = [text for package, text in paragraphs if package in present]
            generated[database] = "".join(text.rstrip("\n") + "\n\n" for text in kept).encode("utf-8")
            self.kept.pop(database, None)       # replaced by the trimmed copy
            for parent in _ancestors(database):
                self.record(parent, KeepReason.PARENT, database)
        return generated

    # --- rules 12, 13: includes and excludes --------------------------------------------

    def keep_includes(self) -> None:
        for pattern in self.options.include:
            for path in self.matches(pattern):
                self.keep_tree(path, KeepReason.INCLUDE, pattern)

    def matches(self, pattern: str) -> list[str]:
        found = [p for p in self.sorted_paths if fnmatch.fnmatchcase(p, pattern)]
        exact = resolve(self.index, pattern).path
        if exact is not None and exact not in found:
            found.append(exact)
        if pattern in self.index and pattern not in found:
            found.append(pattern)
        return found

    def excluded(self, path: str) -> bool:
        """An --exclude-path pattern matches the path or names a directory above it."""
        for pattern in self.options.exclude:
            named = resolve(self.index, pattern).path
            if fnmatch.fnmatchcase(path, pattern) or (named is not None and path.startswith(named + "/")):
                return True
        return False

    def apply_excludes(self) -> None:
        if not self.options.exclude:
            return
        vetoed: set[str] = set()
        for pattern in self.options.exclude:
            vetoed.update(p for p in self.sorted_paths if fnmatch.fnmatchcase(p, pattern) and p in self.kept)
            named = resolve(self.index, pattern).path       # a directory named exactly: its whole tree
            if named is not None:
                vetoed.add(named)
                vetoed.update(p for p in self.under(named) if p in self.kept)
        vetoed &= set(self.kept)
        for path in vetoed:
            del self.kept[path]
        for path in list(self.kept):
            for parent in _ancestors(path):
                if parent in vetoed and parent not in self.kept:
                    self.kept[parent] = KeptPath(parent, KeepReason.PARENT, path)


@dataclass
class _PackageDb:
    """The image's OS package database: which package owns which real path, and the
    database files as paragraphs (package key, text) for trimming. dpkg: the status
    file and info/<package>[:arch].list; apk: lib/apk/db/installed (P:, F:, R:)."""

    files: dict[str, list[str]]
    owners: dict[str, set[str]]
    paragraphs: dict[str, list[tuple[str, str]]]

    @classmethod
    def read(cls, index: ImageIndex, content: Callable[[str], "bytes | None"]) -> "_PackageDb":
        db = cls({}, {}, {})
        status = content(DPKG_STATUS) if DPKG_STATUS in index else None
        if status is not None:
            lists = {posixpath.basename(p)[:-len(".list")]: p for p in index.entries
                     if posixpath.dirname(p) == DPKG_INFO and p.endswith(".list")}
            paragraphs = []
            for text in _paragraphs(status.decode("utf-8", "surrogateescape")):
                fields = _dpkg_fields(text)
                name, arch = fields.get("Package", ""), fields.get("Architecture", "")
                key = f"{name}:{arch}" if f"{name}:{arch}" in lists else name
                paragraphs.append((key, text))
                if key in lists and key not in db.files:
                    listed = content(lists[key]) or b""
                    db.add(index, key, listed.decode("utf-8", "surrogateescape").splitlines())
            db.paragraphs[DPKG_STATUS] = paragraphs
        for installed in APK_INSTALLED:
            data = content(installed) if installed in index else None
            if data is None:
                continue
            paragraphs = []
            for text in _paragraphs(data.decode("utf-8", "surrogateescape")):
                name, directory, paths = "", "", []
                for line in text.splitlines():
                    tag, _, value = line.partition(":")
                    if tag == "P":
                        name = value
                    elif tag == "F":
                        directory = value
                        paths.append("/" + directory)
                    elif tag == "R":
                        paths.append(f"/{directory}/{value}" if directory else "/" + value)
                paragraphs.append((name, text))
                db.add(index, name, paths)
            db.paragraphs[installed] = paragraphs
        return db

    def add(self, index: ImageIndex, package: str, listed: Iterable[str]) -> None:
        files = self.files.setdefault(package, [])
        for path in listed:
            if not path.startswith("/") or path == "/.":
                continue
            real = resolve(index, path, follow_last=False).path
            entry = index.get(real) if real else None
            if entry is not None and entry.type is EntryType.SYMLINK:
                # merged /usr: dpkg's directory /lib is the image's symlink /lib -> usr/lib
                followed = resolve(index, path).path
                if followed is not None and index.get(followed).type is EntryType.DIR:
                    real = followed
            if real is not None and real != "/":
                files.append(real)
                self.owners.setdefault(real, set()).add(package)


def _paragraphs(text: str) -> list[str]:
    return [block.strip("\n") + "\n" for block in re.split(r"\n\s*\n", text) if block.strip()]


def _dpkg_fields(paragraph: str) -> dict[str, str]:
    fields = {}
    for line in paragraph.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


# --- small pure helpers --------------------------------------------------------------

def _never_kept(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in NEVER_KEPT)


def _ancestors(path: str) -> list[str]:
    parents = []
    parent = posixpath.dirname(path)
    while parent not in ("/", ""):
        parents.append(parent)
        parent = posixpath.dirname(parent)
    return parents


def _is_home(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[0] == "home"


def _is_musl(elf: ElfInfo, index: ImageIndex) -> bool:
    if elf.interpreter:
        return "ld-musl" in elf.interpreter
    # a library reached without its executable: musl when the image has no glibc loader
    return any(p.startswith("/lib/ld-musl-") for p in index.entries) and not any(
        p.startswith(("/lib64/ld-linux", "/lib/ld-linux")) for p in index.entries)


def _expand(directory: str, origin: str, elf_class: int) -> list[str]:
    """A search directory with its dynamic string tokens expanded ($LIB may give two)."""
    libs = ("lib/x86_64-linux-gnu", "lib64") if elf_class == 64 else ("lib/i386-linux-gnu", "lib")
    results = []
    for lib in libs:
        value = directory
        for token, replacement in (("ORIGIN", origin), ("LIB", lib), ("PLATFORM", "x86_64")):
            value = value.replace("${" + token + "}", replacement)
            value = re.sub(r"\$" + token + r"(?![A-Za-z0-9_])", lambda _m, r=replacement: r, value)
        if not value.startswith("/"):
            continue      # relative to the process cwd: unknowable here
        value = posixpath.normpath(value)
        if value not in results:
            results.append(value)
        if "$LIB" not in directory and "${LIB}" not in directory:
            break
    return results


def _expand_all(dirs: Iterable[str], origin: str, elf_class: int) -> list[str]:
    return [expanded for d in dirs for expanded in _expand(d, origin, elf_class)]


def parse_shebang(shebang: str) -> tuple[str | None, list[str]]:
    """The interpreter and its arguments, as Linux splits them: the first word,
    then the rest as ONE argument (split further only for `env -S`)."""
    line = shebang.strip()
    if line.startswith("#!"):
        line = line[2:].strip()
    if not line:
        return None, []
    parts = line.split(None, 1)
    return parts[0], ([parts[1].strip()] if len(parts) > 1 else [])


def _env_command(argv: list[str]) -> str | None:
    """The command `/usr/bin/env ARGS` runs: the first word that is not an option or assignment."""
    words = argv[0].split() if argv else []
    for word in words:
        if word.startswith("-") or _ASSIGNMENT.match(word):
            continue
        return word
    return None


def _shell_name(interpreter: str, argv: list[str]) -> str:
    name = posixpath.basename(interpreter)
    if name == "env":
        return posixpath.basename(_env_command(argv) or "")
    if name == "busybox" and argv:
        return argv[0].split()[0]
    return name


def script_commands(text: str) -> list[str]:
    """Words in command position of a shell script, in order, without duplicates.
    A tokenizer, not a parser: a word too many costs a file, a word missed costs
    a broken image, so it errs towards keeping."""
    commands: list[str] = []
    heredoc_end: str | None = None
    lines = []
    for line in text.splitlines():
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        match = _HEREDOC.search(line)
        if match:
            heredoc_end = match.group(1)
        lines.append(_CASE_PATTERN.sub("", _strip_comment(line)))
    for segment in _SEPARATORS.split("\n".join(lines)):
        try:
            words = shlex.split(segment, posix=True)
        except ValueError:
            words = segment.split()
        position = 0
        while position < len(words):
            word = words[position]
            if _ASSIGNMENT.match(word) or word in _COMMAND_PREFIXES or (
                    word.startswith("-") and position > 0 and words[position - 1] in ("env", "nice", "xargs",
                                                                                        "command", "exec")):
                position += 1
                continue
            break
        if position >= len(words):
            continue
        word = words[position]
        if word in _SHELL_WORDS or not _COMMAND_WORD.match(word) or word.endswith(")"):
            continue
        if word not in commands:
            commands.append(word)
    return commands


def _strip_comment(line: str) -> str:
    """Drop a `#` comment (a `#` at the start of a word, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t;&|("):
            return line[:i]
    return line


def _normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _is_copy_layer(created_by: str) -> bool:
    """A COPY/ADD layer from history, except one that writes into "/" (a base rootfs)."""
    text = created_by.replace("/bin/sh -c #(nop) ", "").strip()
    text = re.sub(r"\s*# buildkit$", "", text)
    match = re.match(r"^(COPY|ADD)\b(.*)$", text)
    if not match:
        return False
    destination = match.group(2).split()[-1] if match.group(2).split() else ""
    return destination not in ("/", "/.")


# --- report helpers ---------------------------------------------------------------------

def _file_bytes(entry: FsEntry | None) -> int:
    return entry.size if entry is not None and entry.type is EntryType.FILE else 0


def removed_by_top_dir(index: ImageIndex, keep_set: KeepSet, depth: int = 2) -> list[tuple[str, int, int]]:
    """(directory, bytes, files) of regular files of the image that the keep set
    drops, grouped by the first `depth` components of their directory, largest first."""
    groups: dict[str, list[int]] = {}
    for path, entry in index.entries.items():
        if entry.type is not EntryType.FILE or path in keep_set:
            continue
        parts = posixpath.dirname(path).strip("/").split("/")
        directory = "/" + "/".join(p for p in parts[:depth] if p)
        totals = groups.setdefault(directory, [0, 0])
        totals[0] += entry.size
        totals[1] += 1
    return sorted(((d, b, f) for d, (b, f) in groups.items()), key=lambda row: (-row[1], row[0]))


def keep_summary(keep_set: KeepSet, index: ImageIndex) -> dict:
    """{files, bytes, by_reason: {reason: {files, bytes}}}: `files` counts kept
    paths (files, dirs, symlinks), `bytes` the content of kept regular files."""
    by_reason: dict[str, dict[str, int]] = {}
    files = total = 0
    for path, kept in keep_set.kept.items():
        size = _file_bytes(index.get(path))
        files += 1
        total += size
        row = by_reason.setdefault(kept.reason.value, {"files": 0, "bytes": 0})
        row["files"] += 1
        row["bytes"] += size
    for data in keep_set.generated.values():
        files += 1
        total += len(data)
        row = by_reason.setdefault("package-metadata", {"files": 0, "bytes": 0})
        row["files"] += 1
        row["bytes"] += len(data)
    return {"files": files, "bytes": total, "by_reason": dict(sorted(by_reason.items()))}
