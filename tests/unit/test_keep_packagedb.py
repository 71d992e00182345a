"""Rules os-packages and package-metadata: the dpkg/apk database."""
from __future__ import annotations

from keepfakes import GLIBC, R, elf, f, keep, lib, ln, make_index
from slimmer.keep import keep_summary
from slimmer.model import KeepOptions


# --- OS packages and package metadata -------------------------------------------------------

DPKG_STATUS = (b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\n"
               b"Description: GNU C Library\n shared libraries\n\n"
               b"Package: curl\nStatus: install ok installed\nArchitecture: amd64\n\n"
               b"Package: tzdata\nStatus: install ok installed\nArchitecture: all\n\n"
               b"Package: docs-only\nStatus: install ok installed\nArchitecture: all\n")
DPKG = dict(GLIBC, **{
    "/usr/bin/app": elf(["libc.so.6"]), "/usr/bin/curl": elf(["libc.so.6"]),
    "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so": lib(), "/usr/share/zoneinfo/UTC": f(),
    "/usr/share/doc/docs-only/README": f(), "/var/lib/dpkg/status": f(size=len(DPKG_STATUS)),
    "/var/lib/dpkg/info/libc6:amd64.list": f(), "/var/lib/dpkg/info/curl.list": f(),
    "/var/lib/dpkg/info/tzdata.list": f(), "/var/lib/dpkg/info/docs-only.list": f(),
})
DPKG_FILES = {
    "/var/lib/dpkg/status": DPKG_STATUS,
    # merged /usr: dpkg lists /lib/..., the image holds /usr/lib/...
    "/var/lib/dpkg/info/libc6:amd64.list": b"/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n"
                                           b"/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so\n",
    "/var/lib/dpkg/info/curl.list": b"/.\n/usr\n/usr/bin\n/usr/bin/curl\n",
    "/var/lib/dpkg/info/tzdata.list": b"/.\n/usr/share/zoneinfo/UTC\n",
    "/var/lib/dpkg/info/docs-only.list": b"/.\n/usr\n/usr/share/doc/docs-only/README\n",
}


def test_os_packages_keep_every_file_of_a_package_with_a_kept_file():
    on = keep(DPKG, "/usr/bin/app", options=KeepOptions(rules={"os-packages": True, "data": False}),
              files=DPKG_FILES)
    assert on.kept["/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"].reason is R.OS_PACKAGE
    assert on.kept["/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"].because_of == "package libc6:amd64"
    # a directory shared by every package (/usr/bin) pulls in no package
    assert "/usr/bin/curl" not in on and "/usr/share/doc/docs-only/README" not in on
    default = keep(DPKG, "/usr/bin/app", options=KeepOptions(rules={"data": False}), files=DPKG_FILES)
    assert "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so" not in default          # opt-in


def test_package_metadata_is_the_status_file_trimmed_to_packages_still_present():
    kept = keep(DPKG, "/usr/bin/app", "/usr/share/zoneinfo/UTC", files=DPKG_FILES)
    status = kept.generated["/var/lib/dpkg/status"].decode()
    assert [line for line in status.splitlines() if line.startswith("Package:")] == [
        "Package: libc6", "Package: tzdata"]
    assert "Description: GNU C Library\n shared libraries\n" in status     # paragraphs verbatim
    assert status.endswith("\n\n") and "\n\n\n" not in status
    # the original is not copied (the trimmed one replaces it); its directory is kept
    assert "/var/lib/dpkg/status" not in kept and kept.kept["/var/lib/dpkg"].reason is R.PARENT
    summary = keep_summary(kept, make_index(DPKG))["by_reason"]["package-metadata"]
    assert summary == {"files": 1, "bytes": len(kept.generated["/var/lib/dpkg/status"])}
    off = keep(DPKG, "/usr/bin/app", options=KeepOptions(rules={"package-metadata": False}), files=DPKG_FILES)
    assert off.generated == {} and "/var/lib/dpkg" not in off


def test_package_metadata_follows_excludes():
    kept = keep(DPKG, "/usr/bin/app", "/usr/share/zoneinfo/UTC", files=DPKG_FILES,
                options=KeepOptions(exclude=("/usr/share/zoneinfo",)))
    status = kept.generated["/var/lib/dpkg/status"].decode()
    assert "Package: tzdata" not in status and "Package: libc6" in status
    for pattern in ("/var/lib/dpkg", "/var/lib/dpkg/stat*"):
        excluded = keep(DPKG, "/usr/bin/app", files=DPKG_FILES, options=KeepOptions(exclude=(pattern,)))
        assert excluded.generated == {} and "/var/lib/dpkg/status" not in excluded


APK_INSTALLED = (b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n"
                 b"P:busybox\nV:1.36.1-r5\nF:bin\nR:busybox\nF:etc\nR:securetty\n\n"
                 b"P:zlib\nV:1.3-r2\nF:lib\nR:libz.so.1\nR:libz.so.1.3\n\n")
APK = {"/lib/ld-musl-x86_64.so.1": lib(), "/lib/libc.musl-x86_64.so.1": ln("ld-musl-x86_64.so.1"),
       "/bin/busybox": elf(interp="/lib/ld-musl-x86_64.so.1"), "/etc/securetty": f(),
       "/lib/libz.so.1": ln("libz.so.1.3"), "/lib/libz.so.1.3": lib(), "/usr/bin/app": elf(
           ["libc.musl-x86_64.so.1"], interp="/lib/ld-musl-x86_64.so.1"),
       "/lib/apk/db/installed": f(size=len(APK_INSTALLED))}


def test_apk_database_drives_os_packages_and_is_trimmed():
    files = {"/lib/apk/db/installed": APK_INSTALLED}
    kept = keep(APK, "/usr/bin/app", files=files)
    installed = kept.generated["/lib/apk/db/installed"].decode()
    assert installed.startswith("C:Q1abc=\nP:musl\n") and "P:busybox" not in installed and "P:zlib" not in installed
    assert "/etc/securetty" not in kept
    on = keep(APK, "/bin/busybox", options=KeepOptions(rules={"os-packages": True}), files=files)
    assert on.kept["/etc/securetty"].reason is R.OS_PACKAGE
    assert "/lib/libz.so.1.3" not in on


def test_merged_usr_directories_listed_by_dpkg_are_not_package_files():
    """dpkg lists /lib (a directory for it); the image has the symlink /lib -> usr/lib, kept
    for every library: that alone must not keep a package's paragraph."""
    spec = dict(DPKG, **{"/var/lib/dpkg/info/apt.list": f()})
    status = DPKG_STATUS + b"\nPackage: apt\nStatus: install ok installed\nArchitecture: amd64\n"
    files = dict(DPKG_FILES, **{"/var/lib/dpkg/status": status,
                                "/var/lib/dpkg/info/apt.list": b"/.\n/lib\n/lib/x86_64-linux-gnu\n/usr/bin/apt\n"})
    kept = keep(spec, "/usr/bin/app", files=files)
    assert "/lib" in kept
    assert "Package: apt" not in kept.generated["/var/lib/dpkg/status"].decode()
