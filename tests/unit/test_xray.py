"""xray analysis on small image archives with exact expected figures."""
from __future__ import annotations

import io

import pytest

from imagetar import dir_, file, hardlink, opaque, save_archive, whiteout
from slimmer.errors import BadInput
from slimmer.xray import (Change, analyse, evaluate_rules, layer_instructions, load_ci_rules, parse_bytes,
                          read_image, render_text, to_json)

TOOL = b"T" * 1000

STORY = [
    [dir_("/etc"), file("/etc/a", b"a" * 100), file("/usr/bin/tool", TOOL), file("/data/big", b"b" * 5000),
     file("/data/keep", b"k" * 10), dir_("/cache"), file("/cache/x", b"x" * 300), file("/cache/y", b"y" * 200)],
    [file("/var/lib/apt/lists/deb_Packages", b"p" * 4000), file("/var/lib/apt/lists/lock")],
    [file("/etc/a", b"A" * 150), file("/new", b"n" * 50), whiteout("/data/big"), hardlink("/newlink", "/new")],
    [whiteout("/var/lib/apt/lists/deb_Packages"), opaque("/cache"), file("/cache/z", b"z" * 30),
     file("/etc/a", b"Z" * 160)],
    [file("/opt/copy1", TOOL), file("/opt/copy2", TOOL)],
]
STORY_STEPS = ["ADD rootfs.tar /", "RUN apt-get update", "RUN edit", "RUN rm -rf /var/lib/apt/lists/*",
               "COPY copies /opt/"]


def report_of(layers, steps=None, **kwargs):
    saved = read_image(io.BytesIO(save_archive(layers, created_by=steps)))
    return analyse(saved.layers, layer_instructions(saved), image="test/image:1", image_id="sha256:" + "0" * 64,
                   **kwargs)


def test_story_totals_and_layers():
    report = report_of(STORY, STORY_STEPS, finding_min_bytes=1)
    assert report.size_bytes == 13000
    # hidden versions: /etc/a v0 (100) and v2 (150), /data/big (5000), apt list (4000), /cache/x+y (500)
    assert report.reclaimable_bytes == 9750
    assert report.efficiency == pytest.approx(0.25)
    assert report.file_count == 9
    table = [(l.index, l.size_bytes, l.created_by, l.added, l.modified, l.deleted) for l in report.layers]
    assert table == [
        (0, 6610, "ADD rootfs.tar /", Change(6, 6610), Change(0, 0), Change(0, 0)),
        (1, 4000, "RUN apt-get update", Change(2, 4000), Change(0, 0), Change(0, 0)),
        (2, 200, "RUN edit", Change(2, 50), Change(1, 150), Change(1, 5000)),
        (3, 190, "RUN rm -rf /var/lib/apt/lists/*", Change(1, 30), Change(1, 160), Change(3, 4500)),
        (4, 2000, "COPY copies /opt/", Change(2, 2000), Change(0, 0), Change(0, 0)),
    ]
    assert all(l.digest.startswith("sha256:") for l in report.layers)
    assert [l.hidden_later for l in report.layers] == [Change(4, 5600), Change(1, 4000), Change(1, 150),
                                                      Change(0, 0), Change(0, 0)]


def test_story_largest_duplicates_and_findings():
    report = report_of(STORY, STORY_STEPS, finding_min_bytes=1)
    assert [(f.path, f.bytes, f.layer) for f in report.largest_files[:3]] == [
        ("/opt/copy1", 1000, 4), ("/opt/copy2", 1000, 4), ("/usr/bin/tool", 1000, 0)]
    assert [(d.path, d.bytes) for d in report.largest_dirs[:3]] == [("/opt", 2000), ("/usr", 1000),
                                                                     ("/usr/bin", 1000)]
    [duplicate] = report.duplicates
    assert (duplicate.paths, duplicate.size_bytes, duplicate.wasted_bytes) == (
        ("/opt/copy1", "/opt/copy2", "/usr/bin/tool"), 1000, 2000)
    assert [(f.id, f.layer, f.bytes) for f in report.findings] == [
        ("big-layer", 0, 6610),
        ("deleted-later", 2, 5000),
        ("deleted-later", 3, 4000),
        ("duplicates", None, 2000),
        ("deleted-later", 3, 500),
        ("overwritten-later", 3, 150),
        ("overwritten-later", 2, 100),
    ]
    messages = [f.message for f in report.findings]
    assert "layer 3 (RUN rm -rf /var/lib/apt/lists/*) deletes 4.0 kB (1 files) that layer 1 added" in messages[2]
    assert messages[0] == "layer 0 (ADD rootfs.tar /) is 51% of the image (6.6 kB)"


def test_hidden_versions_are_counted_once():
    # v0 overwritten by layer 1, v1 deleted by layer 2, then the directory is whited out and made opaque
    layers = [[dir_("/d"), file("/d/f", b"0" * 1000)], [file("/d/f", b"1" * 1000)], [whiteout("/d/f")],
              [whiteout("/d")], [dir_("/d"), opaque("/d")]]
    report = report_of(layers, finding_min_bytes=1)
    assert report.size_bytes == 2000
    assert report.reclaimable_bytes == 2000
    assert report.efficiency == 0.0
    assert [l.deleted for l in report.layers] == [Change(0, 0), Change(0, 0), Change(1, 1000), Change(0, 0),
                                                 Change(0, 0)]


def test_clean_image_has_no_waste_and_no_findings():
    report = report_of([[file("/app/main", b"m" * 400)], [file("/app/conf", b"c" * 100)]],
                       ["COPY main /app/", "COPY conf /app/"], finding_min_bytes=1, big_layer_ratio=0.9)
    assert (report.size_bytes, report.reclaimable_bytes, report.efficiency) == (500, 0, 1.0)
    assert report.findings == () and report.duplicates == ()


def test_caches_left_in_the_image_are_named_with_their_layer():
    layers = [[file("/bin/sh", b"s" * 10)],
              [file("/var/lib/apt/lists/deb.debian.org_Packages", b"p" * 3000), file("/var/lib/apt/lists/lock"),
               file("/var/cache/apt/pkgcache.bin", b"c" * 700)],
              [file("/root/.cache/pip/http/ab/cd", b"w" * 250), file("/root/.npm/_cacache/x", b"n" * 50)]]
    report = report_of(layers, ["ADD / /", "RUN apt-get update && apt-get install -y curl", "RUN pip install x"],
                       finding_min_bytes=1, big_layer_ratio=1.0)
    assert dict(report.layers[1].caches) == {"apt lists": 3000, "apt archives": 700}
    assert dict(report.layers[2].caches) == {"pip cache": 250, "npm cache": 50}
    cache_findings = [(f.layer, f.bytes, f.message) for f in report.findings if f.id == "cache-left"]
    assert cache_findings[0][:2] == (1, 3000)
    assert cache_findings[0][2].startswith("apt lists left in layer 1 (RUN apt-get update && apt-get install")
    assert [c[:2] for c in cache_findings] == [(1, 3000), (1, 700), (2, 250), (2, 50)]


def test_default_threshold_hides_small_findings():
    report = report_of(STORY, STORY_STEPS)     # every figure is below 1 MB
    assert report.findings == ()


def test_json_schema():
    data = to_json(report_of(STORY, STORY_STEPS, finding_min_bytes=1))
    assert {"size_bytes", "reclaimable_bytes", "efficiency", "layers", "largest", "duplicates",
            "findings"} <= set(data)
    layer = data["layers"][3]
    assert layer["added"] == {"count": 1, "bytes": 30}
    assert layer["deleted"] == {"count": 3, "bytes": 4500}
    assert set(layer) >= {"index", "digest", "size_bytes", "created_by", "added", "modified", "deleted"}
    assert data["duplicates"][0]["wasted_bytes"] == 2000


RULE_CASES = {
    "all pass": ({"max_reclaimable": 10000, "min_efficiency": 0.2, "max_size": 13000, "max_layer_ratio": 0.6},
                 [True, True, True, True]),
    "all fail": ({"max_reclaimable": 9749, "min_efficiency": 0.26, "max_size": 12999, "max_layer_ratio": 0.5},
                 [False, False, False, False]),
    "one of two fails": ({"max_reclaimable": 9750, "min_efficiency": 0.9}, [True, False]),
}


@pytest.mark.parametrize("rules,expected", RULE_CASES.values(), ids=RULE_CASES.keys())
def test_ci_rules_are_all_evaluated(rules, expected):
    results = evaluate_rules(report_of(STORY, STORY_STEPS), rules)
    assert [r.passed for r in results] == expected
    for result in results:
        assert result.message.startswith("PASS" if result.passed else "FAIL") and "threshold" in result.message
    text = render_text(report_of(STORY, STORY_STEPS), results)
    assert text.endswith("CI: passed" if all(expected) else "CI: FAILED")


def test_ci_rule_messages_give_value_and_threshold():
    [reclaim, efficiency] = evaluate_rules(report_of(STORY, STORY_STEPS),
                                           {"max_reclaimable": 9000, "min_efficiency": 0.9})
    assert reclaim.message == "FAIL max_reclaimable: reclaimable bytes 9750 (9.8 kB), threshold max 9000 (9.0 kB)"
    assert efficiency.message == "FAIL min_efficiency: efficiency 0.2500, threshold min 0.9000"


def test_ci_file(tmp_path):
    (tmp_path / ".slim-ci.toml").write_text('[rules]\nmax_reclaimable = "20MB"\nmin_efficiency = "95%"\n'
                                            'max-layer-ratio = 0.8\n')
    assert load_ci_rules(str(tmp_path)) == {"max_reclaimable": 20_000_000, "min_efficiency": 0.95,
                                            "max_layer_ratio": 0.8}
    assert load_ci_rules(str(tmp_path / "none")) == {}
    (tmp_path / ".slim-ci.toml").write_text("max_wasted = 3\n")
    with pytest.raises(BadInput, match="unknown rule"):
        load_ci_rules(str(tmp_path))
    (tmp_path / ".slim-ci.toml").write_text("min_efficiency = 3\n")
    with pytest.raises(BadInput, match="ratio"):
        load_ci_rules(str(tmp_path))


@pytest.mark.parametrize("text,expected", [(1234, 1234), ("20MB", 20_000_000), ("1.5GiB", 1610612736),
                                           ("300k", 300_000), ("7", 7)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_instructions_come_from_config_history_skipping_empty_layers():
    archive = save_archive([[file("/a", b"1")], [file("/b", b"2")]],
                           created_by=["/bin/sh -c #(nop) ADD file:abc in / ", "/bin/sh -c apt-get  update"])
    saved = read_image(io.BytesIO(archive))
    saved.config["history"].insert(1, {"created_by": "/bin/sh -c #(nop)  ENV A=b", "empty_layer": True})
    assert layer_instructions(saved) == ["ADD file:abc in /", "RUN apt-get update"]
