"""Rule data: CA store, time zones, NSS, JVM conf, locales, gconv."""
from __future__ import annotations

from keepfakes import GLIBC, R, elf, f, keep, lib, ln, make_image, reasons
from slimmer.model import KeepOptions


def test_tls_library_keeps_the_ca_store_through_its_symlinks():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libssl.so.3", "libc.so.6"]),
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": lib(["libcrypto.so.3"]),
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3": lib(),
        "/etc/ssl/certs/ca-certificates.crt": f(size=200_000),
        "/etc/ssl/certs/ISRG_Root_X1.pem": ln("/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"),
        "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt": f(),
        "/usr/share/ca-certificates/mozilla/Unlinked.crt": f(),
        "/usr/lib/ssl/cert.pem": ln("/etc/ssl/certs/ca-certificates.crt"),
        "/usr/lib/ssl/certs": ln("/etc/ssl/certs"), "/etc/ssl/openssl.cnf": f(),
        "/usr/lib/ssl/misc/CA.pl": f(mode=0o755, shebang="/usr/bin/perl"), "/usr/bin/perl": elf(["libc.so.6"]),
    })
    r = reasons(keep(spec, "/usr/bin/app"))
    assert "/usr/lib/ssl/misc/CA.pl" not in r and "/usr/bin/perl" not in r     # tools, not TLS data
    assert r["/etc/ssl/certs/ca-certificates.crt"] is R.DATA
    assert r["/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"] is R.DATA
    assert r["/usr/lib/ssl/cert.pem"] is R.DATA and r["/etc/ssl/openssl.cnf"] is R.DATA
    assert "/usr/share/ca-certificates/mozilla/Unlinked.crt" not in r
    assert "/etc/ssl/certs/ca-certificates.crt" not in keep(spec, "/usr/bin/app",
                                                            options=KeepOptions(rules={"data": False}))


def test_libc_keeps_timezones_and_the_nss_modules_nsswitch_names():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libc.so.6"]),
        "/usr/share/zoneinfo/Europe/Paris": f(), "/etc/localtime": ln("/usr/share/zoneinfo/Etc/UTC"),
        "/usr/share/zoneinfo/Etc/UTC": f(), "/etc/nsswitch.conf": f(), "/etc/hosts": f(),
        "/usr/lib/x86_64-linux-gnu/libnss_files.so.2": lib(), "/usr/lib/x86_64-linux-gnu/libnss_dns.so.2": lib(),
        "/usr/lib/x86_64-linux-gnu/libnss_mdns4.so.2": lib(), "/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2": lib(),
    })
    files = {"/etc/nsswitch.conf": b"passwd: files\nhosts: files mdns4 [NOTFOUND=return] dns\n"}
    r = reasons(keep(spec, "/usr/bin/app", files=files))
    assert r["/usr/share/zoneinfo/Europe/Paris"] is R.DATA and r["/etc/localtime"] is R.DATA
    for module in ("files", "dns", "mdns4"):
        assert r[f"/usr/lib/x86_64-linux-gnu/libnss_{module}.so.2"] is R.DATA, module
    assert "/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2" not in r
    assert r["/etc/hosts"] is R.DATA


ZONEINFO = "/usr/share/zoneinfo"


def test_leap_second_zones_are_left_out_unless_named():
    """right/ zones count leap seconds, for a clock that counts them; a container's clock
    (the host kernel's) never does. Half of Debian's zoneinfo: 0.67 MB."""
    spec = dict(GLIBC)
    spec.update({"/usr/bin/app": elf(["libc.so.6"]), f"{ZONEINFO}/Europe/Paris": f(),
                 f"{ZONEINFO}/Asia/Tokyo": f(), f"{ZONEINFO}/tzdata.zi": f(),
                 f"{ZONEINFO}/posix/Europe": ln("../Europe"),
                 f"{ZONEINFO}/right/Europe/Paris": f(), f"{ZONEINFO}/right/Asia/Tokyo": f(),
                 f"{ZONEINFO}/right/UTC": f(), "/etc/localtime": ln(f"{ZONEINFO}/right/Europe/Paris")})
    r = reasons(keep(spec, "/usr/bin/app"))
    assert r[f"{ZONEINFO}/Asia/Tokyo"] is R.DATA and r[f"{ZONEINFO}/tzdata.zi"] is R.DATA
    assert r[f"{ZONEINFO}/posix/Europe"] is R.DATA
    assert r[f"{ZONEINFO}/right/Europe/Paris"] is R.DATA                  # /etc/localtime names it
    assert f"{ZONEINFO}/right/Asia/Tokyo" not in r and f"{ZONEINFO}/right/UTC" not in r
    named = reasons(keep(spec, "/usr/bin/app", image=make_image(env=("TZ=:right/UTC",))))
    assert named[f"{ZONEINFO}/right/UTC"] is R.DATA and f"{ZONEINFO}/right/Asia/Tokyo" not in named
    traced = reasons(keep(spec, "/usr/bin/app", f"{ZONEINFO}/right/Asia/Tokyo"))
    assert traced[f"{ZONEINFO}/right/Asia/Tokyo"] is R.TRACED


def test_nss_stub_modules_are_left_out():
    """glibc 2.34+ has files and dns built in; libnss_files.so.2 and libnss_dns.so.2 are empty
    stubs it never loads. A module exporting its service's functions is kept."""
    lib_dir = "/usr/lib/x86_64-linux-gnu"
    spec = dict(GLIBC)
    spec.update({"/usr/bin/app": elf(["libc.so.6"]), "/etc/nsswitch.conf": f(),
                 f"{lib_dir}/libnss_files.so.2": lib(), f"{lib_dir}/libnss_dns.so.2": lib(),
                 f"{lib_dir}/libnss_mdns4.so.2": lib()})
    stub = b"\x7fELF...\0GLIBC_PRIVATE\0__cxa_finalize\0"
    files = {"/etc/nsswitch.conf": b"hosts: files mdns4 dns\n",
             f"{lib_dir}/libnss_files.so.2": stub, f"{lib_dir}/libnss_dns.so.2": stub,
             f"{lib_dir}/libnss_mdns4.so.2": b"\x7fELF...\0_nss_mdns4_gethostbyname4_r\0"}
    r = reasons(keep(spec, "/usr/bin/app", files=files))
    assert f"{lib_dir}/libnss_files.so.2" not in r and f"{lib_dir}/libnss_dns.so.2" not in r
    assert r[f"{lib_dir}/libnss_mdns4.so.2"] is R.DATA
    # glibc before 2.34: the real modules export _nss_files_* and _nss_dns_*
    files[f"{lib_dir}/libnss_files.so.2"] = b"\x7fELF...\0_nss_files_getpwnam_r\0"
    assert reasons(keep(spec, "/usr/bin/app", files=files))[f"{lib_dir}/libnss_files.so.2"] is R.DATA


def test_jvm_keeps_conf_and_security():
    home = "/usr/lib/jvm/java-17-openjdk-amd64"
    spec = dict(GLIBC)
    spec.update({
        f"{home}/bin/java": elf(["libjli.so", "libc.so.6"], runpath=["$ORIGIN/../lib"]),
        f"{home}/lib/libjli.so": lib(), f"{home}/lib/libjava.so": lib(),
        f"{home}/conf/security": ln("/etc/java-17-openjdk/security"),
        "/etc/java-17-openjdk/security/java.security": f(),
        f"{home}/lib/security/cacerts": ln("/etc/ssl/certs/java/cacerts"),
        "/etc/ssl/certs/java/cacerts": f(), f"{home}/lib/libawt.so": lib(),
    })
    # the data rule alone: with "plugins" on, the dlopen'ed libjava.so makes lib/ a
    # plugin directory and libawt.so is kept too (see the plugin tests)
    r = reasons(keep(spec, f"{home}/bin/java", f"{home}/lib/libjava.so",
                     options=KeepOptions(rules={"plugins": False})))
    assert r["/etc/java-17-openjdk/security/java.security"] is R.DATA
    assert r["/etc/ssl/certs/java/cacerts"] is R.DATA
    assert r[f"{home}/lib/libjli.so"] is R.ELF
    assert f"{home}/lib/libawt.so" not in r


def test_a_partly_read_locale_is_kept_whole():
    """PostgreSQL's postmaster sets LC_MESSAGES/NUMERIC/TIME; a backend sets LC_COLLATE and
    LC_CTYPE only for its first connection: a locale half kept refuses every connection."""
    spec = dict(GLIBC, **{"/usr/bin/app": elf(["libc.so.6"]),
                          "/usr/lib/locale/C.utf8/LC_TIME": f(), "/usr/lib/locale/C.utf8/LC_CTYPE": f(),
                          "/usr/lib/locale/C.utf8/LC_COLLATE": f(), "/usr/lib/locale/de_DE/LC_CTYPE": f()})
    r = reasons(keep(spec, "/usr/bin/app", "/usr/lib/locale/C.utf8/LC_TIME"))
    assert r["/usr/lib/locale/C.utf8/LC_COLLATE"] is R.DATA and r["/usr/lib/locale/C.utf8/LC_CTYPE"] is R.DATA
    assert "/usr/lib/locale/de_DE/LC_CTYPE" not in r
    off = reasons(keep(spec, "/usr/bin/app", "/usr/lib/locale/C.utf8/LC_TIME",
                       options=KeepOptions(rules={"data": False})))
    assert "/usr/lib/locale/C.utf8/LC_COLLATE" not in off


GCONV = "/usr/lib/x86_64-linux-gnu/gconv"
GCONV_SPEC = {f"{GCONV}/gconv-modules": f(), f"{GCONV}/gconv-modules.cache": f(size=27000),
              f"{GCONV}/gconv-modules.d/gconv-modules-extra.conf": f(), f"{GCONV}/ISO8859-1.so": lib(),
              f"{GCONV}/CP1252.so": lib(), f"{GCONV}/BIG5.so": lib(),
              f"{GCONV}/EUC-JP.so": lib()}


def test_reading_the_gconv_cache_keeps_the_configuration_and_common_charsets_only():
    kept = keep(GCONV_SPEC, f"{GCONV}/gconv-modules.cache")
    for name in ("gconv-modules", "gconv-modules.d/gconv-modules-extra.conf", "ISO8859-1.so", "CP1252.so"):
        assert f"{GCONV}/{name}" in kept, name
    assert f"{GCONV}/BIG5.so" not in kept and f"{GCONV}/EUC-JP.so" not in kept


def test_a_loaded_gconv_module_keeps_every_module():
    kept = keep(GCONV_SPEC, f"{GCONV}/EUC-JP.so")
    assert f"{GCONV}/BIG5.so" in kept and kept.kept[f"{GCONV}/BIG5.so"].reason is R.DATA
