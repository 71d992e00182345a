"""Rule "data" (on by default, reason `data`): the runtime data a kept library reads by name.

  1. TLS: a kept TLS library (libssl, libcrypto, libgnutls, libnss3, a JVM,
     node) keeps /etc/ssl/certs whole (and what its symlinks point to),
     /etc/pki, /usr/lib/ssl (but not its misc/ tools, whose shebang would keep
     perl), /etc/ssl/openssl.cnf and OpenSSL's provider modules;
  2. time zones: a timezone-capable runtime (libc, musl, Python's zoneinfo, a
     JVM) keeps /usr/share/zoneinfo, /etc/localtime, /etc/timezone, and the
     zone the image's TZ names; but not zoneinfo/right/ (0.67 MB, half the
     tree): its zones count leap seconds, for a system clock that counts them
     too (TAI-10, Debian's and Ubuntu's tzdata-legacy); a container's clock is
     the host kernel's CLOCK_REALTIME, which does not, so a right/ zone is
     never the correct local time there. A right/ zone the app read (traced)
     or /etc/localtime or TZ names is kept;
  3. JVM: JAVA_HOME/conf and JAVA_HOME/lib/security;
  4. NSS: glibc keeps its configuration (/etc/nsswitch.conf, hosts,
     host.conf, resolv.conf, gai.conf) and the libnss_* modules the
     configuration names (files, dns when unreadable), each one only if it
     exports a `_nss_SERVICE_*` function: since glibc 2.34, files and dns are
     built into libc.so.6, and libnss_files.so.2 / libnss_dns.so.2 are empty
     stubs glibc never loads (29 kB on every Debian 12 image);
  5. gconv: a loaded gconv module (iconv in use) keeps its gconv directory; a
     read of the gconv configuration alone keeps the configuration and the
     ISO-8859-1/-15 and CP1252 modules (glibc has UTF-8/16/32, ASCII built in);
  6. locales: a kept file of a glibc locale (/usr/lib/locale/NAME/) keeps that
     locale whole (PostgreSQL's postmaster loads LC_TIME, its backends
     LC_COLLATE).
"""
from __future__ import annotations

import posixpath
import re
from typing import Callable

from ..model import FsEntry, KeepReason
from .core import ACCESSED
from .rule import Rule, Stage

# glibc gconv modules kept when only the gconv configuration was read
GCONV_COMMON = {"ISO8859-1.so", "ISO8859-15.so", "CP1252.so"}
_TLS_LIBS = re.compile(r"^(libssl\.so|libcrypto\.so|libgnutls\.so|libnss3\.so|libjava\.so|node$|nodejs$)")
ZONEINFO = "/usr/share/zoneinfo"
_LOCALE_DIR = re.compile(r"^(/usr/lib/locale/[^/]+)/")


class DataRule(Rule):
    """Keep the data families a kept library or runtime reads (see the module docstring)."""

    name = "data"
    stage = Stage.EACH
    reasons = (KeepReason.DATA,)
    default = True
    cost = "0.7-3 MB per sample app (zoneinfo without right/, the CA store, locales)"

    def __init__(self, keeper) -> None:
        super().__init__(keeper)
        self.done: set[str] = set()        # families (and JVM homes) already kept

    def each(self, path: str, entry: FsEntry) -> None:
        name = posixpath.basename(path)
        if entry.elf is not None and _TLS_LIBS.match(name):
            self.family("tls", lambda: self.keep_tls(path))
        is_libc = entry.elf is not None and (name.startswith("libc.so") or name.startswith("ld-musl-"))
        if is_libc or "/zoneinfo/" in path and "/python" in path or name == "libjava.so":
            self.family("tz", self.keep_timezone)
        if entry.elf is not None and name.startswith("libc.so"):
            self.family("nss", lambda: self.keep_nss(path))
        if name in ("libjava.so", "libjvm.so"):
            self.keep_jvm(path)
        locale = _LOCALE_DIR.match(path)
        if locale:
            # a locale is one unit: setlocale() of a category not loaded yet reads the rest
            self.family("locale:" + locale.group(1),
                        lambda: self.keeper.keep_tree(locale.group(1), KeepReason.DATA, path))
        if "/gconv/" in path:
            gconv_dir = path[:path.index("/gconv/") + len("/gconv")]
            kept = self.keeper.kept.get(path)
            if path.endswith(".so") and kept is not None and kept.reason in ACCESSED:
                # the app loaded a conversion module: iconv with run-time charsets is in use
                self.family("gconv:" + gconv_dir,
                            lambda: self.keeper.keep_tree(gconv_dir, KeepReason.DATA, path))
            else:
                self.family("gconv-config:" + gconv_dir, lambda: self.keep_gconv_config(gconv_dir, path))

    def family(self, family: str, keep: Callable[[], None]) -> None:
        if family not in self.done:
            self.done.add(family)
            keep()

    def keep_gconv_config(self, gconv_dir: str, because_of: str) -> None:
        """Only the gconv configuration was read (glibc does at locale setup): keep it and
        the modules of the commonest single-byte charsets, not all 256 modules (7 MB)
        for charsets nobody converted from."""
        real = self.keeper.index.resolve(gconv_dir).path
        if real is None:
            return
        for path in self.keeper.index.children(real):
            name = posixpath.basename(path)
            if name.startswith("gconv-modules"):
                self.keeper.keep_tree(path, KeepReason.DATA, because_of)
            elif name in GCONV_COMMON:
                self.keeper.keep(path, KeepReason.DATA, because_of)

    def keep_tls(self, because_of: str) -> None:
        keeper = self.keeper
        for tree in ("/etc/ssl/certs", "/etc/pki", "/etc/ca-certificates"):
            keeper.keep_tree(tree, KeepReason.DATA, because_of)
        # OpenSSL's dir, but not misc/: CA.pl and tsget.pl are tools, and their
        # shebang would keep perl (3.8 MB) in every image that uses TLS
        keeper.keep_tree_except("/usr/lib/ssl", ("misc",), KeepReason.DATA, because_of)
        for path in ("/etc/ssl/openssl.cnf", "/etc/ca-certificates.conf"):
            keeper.keep(path, KeepReason.DATA, because_of)
        lib_dir = posixpath.dirname(because_of)
        for modules in ("ossl-modules", "engines-3"):
            keeper.keep_tree(posixpath.join(lib_dir, modules), KeepReason.DATA, because_of)

    def keep_timezone(self) -> None:
        keeper = self.keeper
        keeper.keep_tree_except(ZONEINFO, ("right",), KeepReason.DATA, "timezone")
        for path in ("/etc/localtime", "/etc/timezone"):
            keeper.keep(path, KeepReason.DATA, "timezone")
        zone = keeper.env.get("TZ", "").lstrip(":")
        if zone and ".." not in zone.split("/"):
            # TZ=Europe/Paris, TZ=right/UTC or TZ=:/usr/share/zoneinfo/...: the file glibc opens
            keeper.keep(zone if zone.startswith("/") else posixpath.join(ZONEINFO, zone), KeepReason.DATA, "TZ")

    def keep_nss(self, libc: str) -> None:
        keeper = self.keeper
        for path in ("/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf"):
            keeper.keep(path, KeepReason.DATA, libc)
        services = {"files", "dns"}
        data = keeper.content("/etc/nsswitch.conf")
        if data is not None:
            for line in data.decode("utf-8", "replace").splitlines():
                line = line.split("#", 1)[0]
                if ":" in line:
                    services.update(word for word in line.split(":", 1)[1].split()
                                    if not word.startswith("["))
        libc_elf = keeper.index.get(libc).elf
        dirs = [posixpath.dirname(libc)] + list(keeper.loader.ld_conf_dirs(libc_elf.elf_class if libc_elf else 64))
        for service in sorted(services):
            found = keeper.loader.find_library(f"libnss_{service}.so.2", dirs, libc_elf) if libc_elf else None
            if found is not None and self.serves(found[0], service):
                keeper.keep(found[0], KeepReason.DATA, libc)

    def serves(self, module: str, service: str) -> bool:
        """False for an NSS module that exports no function of its service (glibc's
        stubs since 2.34: files and dns are built into libc); True when unreadable.
        Exported names are strings of the file's .dynstr, so the bytes must hold them."""
        data = self.keeper.content(module)
        return data is None or f"_nss_{service}_".encode() in data

    def keep_jvm(self, lib: str) -> None:
        parts = lib.split("/")
        if "lib" not in parts:
            return
        java_home = "/".join(parts[:len(parts) - 1 - parts[::-1].index("lib")]) or "/"
        if java_home.endswith("/jre"):
            java_home_jre = java_home
        else:
            java_home_jre = java_home + "/jre" if (java_home + "/jre") in self.keeper.index else java_home
        if java_home in self.done:
            return
        self.done.add(java_home)
        for tree in (java_home + "/conf", java_home + "/lib/security", java_home_jre + "/lib/security"):
            self.keeper.keep_tree(tree, KeepReason.DATA, lib)
