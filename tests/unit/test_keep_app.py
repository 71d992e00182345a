"""Rule app: what COPY/ADD layers wrote."""
from __future__ import annotations

from keepfakes import R, d, f, keep, make_image, reasons
from slimmer.model import KeepOptions, LayerInfo


def test_copy_layers_are_kept_whole_unless_large_or_a_rootfs():
    layers = [LayerInfo(0, "sha256:0", 80_000_000, "/bin/sh -c #(nop) ADD file:abc in / "),
              LayerInfo(1, "sha256:1", 1_000, "/bin/sh -c #(nop) COPY dir:def in /app "),
              LayerInfo(2, "sha256:2", 60_000_000, "COPY model.bin /models/ # buildkit"),
              LayerInfo(3, "sha256:3", 500, "RUN /bin/sh -c echo hi > /etc/hi # buildkit")]
    spec = {"/etc/os-release": f(layer=0), "/app": d(layer=1), "/app/views/unprobed.html": f(layer=1),
            "/app/empty": d(layer=1), "/models/model.bin": f(size=60_000_000, layer=2),
            "/etc/hi": f(layer=3)}
    r = reasons(keep(spec, image=make_image(layers)))
    assert r["/app/views/unprobed.html"] is R.APP and r["/app/empty"] is R.APP
    assert "/models/model.bin" not in r and "/etc/os-release" not in r and "/etc/hi" not in r
    assert len(keep(spec, image=make_image(layers), options=KeepOptions(rules={"app": False}))) == 0
