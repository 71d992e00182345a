"""Rule essential: USER, WORKDIR, VOLUME, /tmp and the healthcheck."""
from __future__ import annotations

from keepfakes import GLIBC, R, d, elf, f, keep, ln, make_image, reasons
from slimmer.model import Healthcheck, KeepOptions


# --- essentials --------------------------------------------------------------------------

def test_essentials_user_workdir_volumes_tmp_and_healthcheck():
    spec = dict(GLIBC)
    spec.update({
        "/etc/passwd": f(), "/etc/group": f(), "/etc/shadow": f(mode=0o640), "/etc/hostname": f(),
        "/srv/app": d(), "/data": d(mode=0o700, uid=999), "/data/old": f(), "/tmp": d(mode=0o1777),
        "/usr/bin/curl": elf(["libc.so.6"]), "/usr/bin/dash": elf(), "/usr/bin/sh": ln("dash"),
    })
    image = make_image(user="app", workdir="/srv/app", volumes=("/data",),
                       healthcheck=Healthcheck(("CMD", "curl", "-f", "http://localhost/")))
    r = reasons(keep(spec, image=image, options=KeepOptions(rules={"data": False})))
    for path in ("/etc/passwd", "/etc/group", "/etc/shadow", "/srv/app", "/data", "/tmp"):
        assert r[path] is R.ESSENTIAL, path
    assert r["/usr/bin/curl"] is R.HEALTHCHECK and r["/usr/lib/x86_64-linux-gnu/libc.so.6"] is R.ELF
    assert "/data/old" not in r and "/etc/hostname" not in r

    shell = make_image(healthcheck=Healthcheck(("CMD-SHELL", "curl -f http://x/ || exit 1")))
    r = reasons(keep(spec, image=shell, options=KeepOptions(rules={"data": False})))
    assert r["/usr/bin/dash"] is R.HEALTHCHECK and r["/usr/bin/curl"] is R.HEALTHCHECK
    assert "/etc/passwd" not in r


def test_passwd_is_kept_when_the_app_looked_it_up_without_user():
    r = reasons(keep({"/etc/passwd": f(), "/etc/group": f(), "/etc/nsswitch.conf": f()}, "/etc/passwd"))
    assert r["/etc/group"] is R.ESSENTIAL and r["/etc/nsswitch.conf"] is R.ESSENTIAL
