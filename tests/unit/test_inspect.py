"""Which history entry made which layer (slimmer/inspect.py): the image config's
`empty_layer` flags when the caller has the config and they line up with the API's
history, the heuristic otherwise."""
from __future__ import annotations

from dataclasses import replace

import pytest

from slimmer.inspect import image_info_from_api, with_config_history

ID = "sha256:" + "b" * 64
BASE = "/bin/sh -c #(nop) ADD file:abc in / "
RUN_TRUE = "/bin/sh -c true"
WORKDIR = "/bin/sh -c #(nop) WORKDIR /app"
RUN_ECHO = "/bin/sh -c echo hi > /app/x"
ENV = "/bin/sh -c #(nop)  ENV A=b"

# Docker 20.10's classic builder on:
#   FROM debian / RUN true / WORKDIR /app / WORKDIR /app / RUN echo hi > /app/x / RUN true / ENV A=b
# `RUN true` changed nothing and made no layer; the first WORKDIR created /app and made a
# (0-byte) one, the second did not. Three layers; the API reports Size 0 for all but two.
CLASSIC = [(BASE, 73806217, False), (RUN_TRUE, 0, True), (WORKDIR, 0, False), (WORKDIR, 0, True),
           (RUN_ECHO, 3, False), (RUN_TRUE, 0, True), (ENV, 0, True)]
PAIRED = ["ADD file:abc in /", "WORKDIR /app", "RUN echo hi > /app/x"]


def api(entries):
    """`docker history` output (newest first) for chronological (created_by, size, empty) entries."""
    return [{"CreatedBy": created_by, "Size": size} for created_by, size, _ in reversed(entries)]


def config(entries, flags=True):
    """The image config's history (chronological); FLAGS False leaves `empty_layer` out."""
    return [dict({"created_by": created_by}, **({"empty_layer": True} if empty and flags else {}))
            for created_by, _, empty in entries]


def raw(layers: int) -> dict:
    return {"Id": ID, "Config": {"Cmd": ["app"]}, "RootFS": {"Layers": [f"sha256:{i}" for i in range(layers)]}}


def test_the_config_flags_pair_a_run_that_made_no_layer_and_an_ambiguous_workdir():
    info = image_info_from_api("x:1", raw(3), api(CLASSIC), config(CLASSIC))
    assert [layer.created_by for layer in info.layers] == PAIRED
    assert [layer.size_bytes for layer in info.layers] == [73806217, 0, 3]
    assert [entry.empty_layer for entry in info.history] == [empty for _, _, empty in CLASSIC]


def test_without_the_config_the_heuristic_cannot_pair_them_and_leaves_the_layers_unnamed():
    info = image_info_from_api("x:1", raw(3), api(CLASSIC))
    assert [layer.created_by for layer in info.layers] == ["", "", ""]      # no wrong pairing either


HEURISTIC_OK = [(BASE, 5, False), (ENV, 0, True), ("/bin/sh -c apt-get install -y curl", 3, False),
                (WORKDIR, 0, False), ('/bin/sh -c #(nop)  CMD ["app"]', 0, True)]


@pytest.mark.parametrize("config_history", [
    None,                                                    # no config: the flags are absent
    [],                                                      # a config without history
    config(HEURISTIC_OK)[:-1],                               # fewer entries than the API's
    [dict(item, created_by="other") for item in config(HEURISTIC_OK)],   # another image's history
    config(HEURISTIC_OK, flags=False),                       # no flags: 5 "layers" for 3 layers
], ids=["none", "empty", "shorter", "other-image", "flags-absent"])
def test_the_heuristic_decides_when_the_flags_are_absent_or_do_not_line_up(config_history):
    info = image_info_from_api("x:1", raw(3), api(HEURISTIC_OK), config_history)
    assert [layer.created_by for layer in info.layers] == [
        "ADD file:abc in /", "RUN apt-get install -y curl", "WORKDIR /app"]
    assert [entry.empty_layer for entry in info.history] == [False, True, False, False, True]


def test_an_absent_flag_means_the_entry_made_a_layer():
    entries = [(BASE, 5, False), (RUN_TRUE, 0, False)]           # a RUN that made an empty layer
    info = image_info_from_api("x:1", raw(2), api(entries), config(entries, flags=False))
    assert [layer.created_by for layer in info.layers] == ["ADD file:abc in /", "RUN true"]


class _Port:
    """What with_config_history reads of a DockerPort: inspect and history."""

    def inspect_image(self, reference: str) -> dict:
        assert reference == ID
        return raw(3)

    def image_history(self, image_id: str) -> list[dict]:
        assert image_id == ID
        return api(CLASSIC)


def test_a_config_read_after_inspecting_pairs_the_layers_again():
    inspected = replace(image_info_from_api("app:1.0", raw(3), api(CLASSIC)), size_bytes=1234)
    assert with_config_history(_Port(), inspected, None) is inspected
    paired = with_config_history(_Port(), inspected, config(CLASSIC))
    assert [layer.created_by for layer in paired.layers] == PAIRED
    assert [layer.size_bytes for layer in paired.layers] == [73806217, 0, 3]
    assert (paired.reference, paired.size_bytes) == ("app:1.0", 1234)
