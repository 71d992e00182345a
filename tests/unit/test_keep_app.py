"""Rule app: what COPY/ADD layers wrote."""
from __future__ import annotations

import io

from imagetar import dir_, file, save_archive, whiteout
from keepfakes import R, d, f, keep, make_image, make_trace, reasons
from slimmer.imagefs import index_image
from slimmer.keep import compute_keep_set
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


CGI = b"#!/bin/sh\necho Content-Type: text/plain\necho\ndate -u\n"
LAYERS = [LayerInfo(0, "sha256:0", 2_000, "/bin/sh -c #(nop) ADD file:abc in / "),
          LayerInfo(1, "sha256:1", 100, "COPY www /www # buildkit"),
          LayerInfo(2, "sha256:2", 100, "RUN /bin/sh -c chmod +x /www/cgi-bin/* # buildkit")]


def test_a_copied_file_a_later_run_changed_is_still_an_app_file_in_its_final_version():
    """Issue 12: COPY www /www, then RUN chmod +x /www/cgi-bin/*: the RUN layer wrote the
    script last, and the app rule used to drop it (the CGI answered 404 in the slim image)."""
    archive = save_archive([
        [dir_("bin"), file("bin/sh", b"\x7fELF", mode=0o755), dir_("usr/bin"),
         file("usr/bin/date", b"\x7fELF", mode=0o755), file("usr/bin/unused", b"\x7fELF", mode=0o755)],
        [dir_("www"), dir_("www/cgi-bin"), file("www/cgi-bin/now.sh", CGI, mode=0o644),
         file("www/index.html", b"<a href=/cgi-bin/now.sh>now</a>")],
        [dir_("www"), dir_("www/cgi-bin"), file("www/cgi-bin/now.sh", CGI, mode=0o755)],
    ], created_by=[layer.created_by for layer in LAYERS])
    index = index_image(io.BytesIO(archive))
    assert index.get("/www/cgi-bin/now.sh").written_by == (1, 2)
    kept = compute_keep_set(make_trace(), index, make_image(LAYERS, env=("PATH=/usr/bin:/bin",)), KeepOptions(),
                            read_file=index.contents.get)
    assert kept.kept["/www/cgi-bin/now.sh"].reason is R.APP
    assert kept.kept["/www/cgi-bin/now.sh"].because_of == "layer 1"
    assert kept.kept["/www/index.html"].reason is R.APP
    # the final version is executable: its shebang and the commands it runs come along
    assert kept.kept["/bin/sh"].reason is R.INTERPRETER
    assert kept.kept["/usr/bin/date"].reason is R.SCRIPT and "/usr/bin/unused" not in kept


def test_a_file_deleted_and_recreated_by_a_run_is_not_an_app_file():
    archive = save_archive([
        [dir_("etc"), file("etc/os-release", b"x")],
        [dir_("app"), file("app/config", b"copied")],
        [dir_("app"), whiteout("app/config")],
        [dir_("app"), file("app/config", b"generated")],
    ], created_by=["ADD file:abc in / ", "COPY config /app/ # buildkit", "RUN rm /app/config",
                   "RUN /bin/sh -c generate > /app/config"])
    index = index_image(io.BytesIO(archive))
    layers = [LayerInfo(i, f"sha256:{i}", 10, text) for i, text in enumerate(
        ["ADD file:abc in / ", "COPY config /app/ # buildkit", "RUN rm /app/config", "RUN generate"])]
    kept = compute_keep_set(make_trace(), index, make_image(layers), KeepOptions())
    assert index.get("/app/config").written_by == (3,)
    assert "/app/config" not in kept and kept.kept["/app"].reason is R.APP
