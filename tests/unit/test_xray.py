"""xray analysis on small image archives with exact expected figures."""
from __future__ import annotations

import gzip
import io
import json
import re

import pytest

from imagetar import dir_, file, hardlink, opaque, save_archive, whiteout
from slimmer.cli import main
from slimmer.errors import BadInput
from slimmer.xray import (Change, analyse, evaluate_rules, layer_instructions, load_ci_rules, parse_bytes,
                          read_image, render_text, render_tree, rule_value, select_layer, to_json, xray_archive,
                          xray_image)

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
    with pytest.raises(BadInput, match="min_efficiency must lie between 0 and 1"):
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


def test_buildkit_history_reads_as_the_dockerfile_instruction():
    archive = save_archive([[file("/a", b"1")], [file("/b", b"2")], [file("/c", b"3")]],
                           created_by=["ADD file:0123abcd in / # buildkit", "RUN /bin/sh -c apt-get update # buildkit",
                                       "COPY app/ /app/ # buildkit"])
    saved = read_image(io.BytesIO(archive))
    report = analyse(saved.layers, layer_instructions(saved))
    assert [l.created_by for l in report.layers] == ["ADD file:0123abcd in /", "RUN apt-get update", "COPY app/ /app/"]
    assert report.layers[0].imported and report.layers[1].kind == "RUN"


# --- the file tree per layer ----------------------------------------------------------------------

def changes(report, index):
    return [(c.path, c.change, c.bytes, c.type) for c in report.layers[index].changes]


def test_story_tree_marks():
    report = report_of(STORY, STORY_STEPS)
    assert changes(report, 2) == [("/data/big", "removed", 5000, "file"), ("/etc/a", "modified", 150, "file"),
                                  ("/new", "added", 50, "file"), ("/newlink", "added", 0, "hardlink")]
    # an opaque /cache hides x and y; the whiteout hides the apt list; z is new, /etc/a changes again
    assert changes(report, 3) == [("/cache/x", "removed", 300, "file"), ("/cache/y", "removed", 200, "file"),
                                  ("/cache/z", "added", 30, "file"), ("/etc/a", "modified", 160, "file"),
                                  ("/var/lib/apt/lists/deb_Packages", "removed", 4000, "file")]
    # the marks agree with the layer's counts
    for layer in report.layers:
        assert sum(1 for c in layer.changes if c.change == "added") == layer.added.count
        assert sum(1 for c in layer.changes if c.change == "modified") == layer.modified.count


def test_a_removed_directory_is_listed_once_with_its_bytes():
    layers = [[dir_("/opt/tool"), file("/opt/tool/bin", b"b" * 700), file("/opt/tool/lib/x.so", b"l" * 300),
               file("/opt/keep", b"k")],
              [whiteout("/opt/tool"), file("/opt/new", b"n" * 5)]]
    report = report_of(layers)
    assert changes(report, 1) == [("/opt/new", "added", 5, "file"), ("/opt/tool", "removed", 1000, "dir")]
    assert report.layers[1].deleted == Change(2, 1000)


def test_tree_text_view_of_a_three_layer_image():
    layers = [[file("/etc/conf", b"c" * 100), file("/usr/bin/app", b"a" * 2000), file("/tmp/build.o", b"o" * 500)],
              [file("/etc/conf", b"C" * 120), file("/usr/lib/libx.so", b"x" * 3000)],
              [whiteout("/tmp/build.o"), file("/usr/bin/app", b"A" * 2100)]]
    report = report_of(layers, ["", "RUN make && install -D libx.so /usr/lib/libx.so",
                                "RUN rm /tmp/build.o && strip /usr/bin/app"])
    assert render_tree(report.layers[2]) == "\n".join([
        "layer 2: RUN rm /tmp/build.o && strip /usr/bin/app",
        "  0 added (0 B), 1 modified (2.1 kB), 1 removed (500 B)   marks: + added  ~ modified  - removed",
        "",
        "    2.6 kB  /",
        "     500 B  ├── tmp/",
        "     500 B  │   └── - build.o",
        "    2.1 kB  └── usr/",
        "    2.1 kB      └── bin/",
        "    2.1 kB          └── ~ app"])
    tree_1 = render_tree(report.layers[1])
    assert "  120 B  │   └── ~ conf" in tree_1 and "    3.0 kB          └── + libx.so" in tree_1
    assert render_tree(report.layers[0]).splitlines()[0] == "layer 0: (imported base layer)"
    assert select_layer(report, "-1") is report.layers[2]
    with pytest.raises(BadInput, match="no such layer"):
        select_layer(report, "3")


def test_json_tree_is_capped_with_a_count():
    layers = [[file(f"/data/f{i:03}", b"x" * (i + 1)) for i in range(30)]]
    data = to_json(report_of(layers), tree_limit=5)
    tree = data["layers"][0]["tree"]
    assert (tree["count"], tree["truncated"]) == (30, True)
    # the biggest five, in path order
    assert [(c["path"], c["change"], c["size"]) for c in tree["changes"]] == [
        (f"/data/f{i:03}", "added", i + 1) for i in range(25, 30)]
    assert to_json(report_of(layers), tree_limit=0)["layers"][0]["tree"]["truncated"] is False


def test_json_keeps_whole_instructions():
    long_step = "RUN " + " && ".join(f"echo step-{i}" for i in range(40))
    data = to_json(report_of([[file("/a", b"a")], [file("/b", b"b")]], ["ADD rootfs.tar /", long_step]))
    assert data["layers"][1]["created_by"] == long_step and len(long_step) > 400


# --- advice where the user can act ---------------------------------------------------------------------

def test_imported_base_layer_is_context_not_advice():
    base = [file("/var/cache/apt/archives/big.deb", b"d" * 3000), file("/usr/bin/sh", b"s" * 9000)]
    report = report_of([base, [file("/app/main", b"m" * 500)],
                        [file("/root/.npm/_cacache/blob", b"n" * 200)],
                        [file("/root/.cache/pip/wheel", b"w" * 100)]],
                       ["ADD file:4f2d8b7e0c0e4fd1b06aee0fd2d6cf1ea3f7f09d8b3d7b5a0f0e3b6b3f4ba95f in / ",
                        "COPY app /app", "COPY . /app", "RUN pip install x"],
                       finding_min_bytes=1, big_layer_ratio=0.5)
    assert report.layers[0].imported and not any(l.imported for l in report.layers[1:])
    assert [(f.id, f.layer) for f in report.findings if f.layer == 0] == []
    advice = {f.layer: f.message for f in report.findings if f.id == "cache-left"}
    assert set(advice) == {2, 3}            # not the base layer's apt archives
    assert advice[2].endswith("keep it out of the build context (.dockerignore) or copy only what the app needs")
    assert advice[3].endswith("clean it in the same RUN")
    text = render_text(report)
    assert "base image: layer 0, 12.0 kB, 94% of the image (imported, not built by this Dockerfile)" in text


def test_cache_in_a_copy_layer_gets_copy_advice():
    report = report_of([[file("/bin/sh", b"s")], [file("/root/.npm/_cacache/x", b"n" * 300)]],
                       ["", "COPY . /root/"], finding_min_bytes=1, big_layer_ratio=1.0)
    [finding] = [f for f in report.findings if f.id == "cache-left"]
    assert finding.message.endswith("keep it out of the build context (.dockerignore) or copy only what the app needs")


def test_big_layer_is_not_reported_for_the_base_layer():
    report = report_of([[file("/usr/lib/big", b"b" * 9000)], [file("/app", b"a" * 1000)]],
                       ["", "COPY app /"], finding_min_bytes=1)
    assert [f.id for f in report.findings] == []


def test_duplicates_skip_changelogs_and_database_catalogs():
    page = b"p" * 4096
    changelog = b"c" * 2000
    layers = [[file("/usr/share/doc/liba/changelog.Debian.gz", changelog),
               file("/usr/share/doc/libb/changelog.Debian.gz", changelog),
               file("/var/lib/postgresql/15/main/base/1/1249", page),
               file("/var/lib/postgresql/15/main/base/4/1249", page),
               file("/var/lib/postgresql/15/main/base/5/1249", page),
               file("/opt/app/lib.so", b"L" * 100), file("/opt/app/lib-copy.so", b"L" * 100)]]
    report = report_of(layers)
    assert [d.paths for d in report.duplicates] == [("/opt/app/lib-copy.so", "/opt/app/lib.so")]


# --- CI rules: dive's keys, units, .dive-ci ------------------------------------------------------------

DIVE_CI = """\
# dive CI configuration
plugins:
  some-plugin: true
rules:
  # If the efficiency is measured below X%, mark as failed.
  lowestEfficiency: 0.95
  # Expressed in B, KB, MB, and GB.
  highestWastedBytes: "20MB"   # quoted works too
  highestUserWastedPercent: disabled
"""


def test_dive_ci_file(tmp_path):
    (tmp_path / ".dive-ci").write_text(DIVE_CI)
    assert load_ci_rules(str(tmp_path)) == {"min_efficiency": 0.95, "max_reclaimable": 20_000_000,
                                            "max_user_wasted_ratio": None}
    (tmp_path / ".slim-ci.toml").write_text("[rules]\nmin_efficiency = \"80%\"\nhighestUserWastedPercent = 0.2\n")
    assert load_ci_rules(str(tmp_path)) == {"min_efficiency": 0.8, "max_reclaimable": 20_000_000,
                                            "max_user_wasted_ratio": 0.2}
    assert load_ci_rules(".", str(tmp_path / ".dive-ci"))["min_efficiency"] == 0.95
    (tmp_path / "bad-ci").write_text("rules:\n  lowestEfficency: 0.9\n")
    with pytest.raises(BadInput, match="unknown rule"):
        load_ci_rules(".", str(tmp_path / "bad-ci"))
    (tmp_path / "bad-ci").write_text("rules:\n  highestWastedBytes: lots\n")
    with pytest.raises(BadInput, match="highestWastedBytes is not a size"):
        load_ci_rules(".", str(tmp_path / "bad-ci"))
    with pytest.raises(BadInput, match="cannot read"):
        load_ci_rules(".", str(tmp_path / "missing"))


@pytest.mark.parametrize("name,text,expected", [
    ("min_efficiency", "95%", 0.95), ("min_efficiency", "0.95", 0.95), ("max_reclaimable", "80MB", 80_000_000),
    ("max_size", "1.5GiB", 1610612736), ("max_user_wasted_ratio", "10%", 0.1), ("max_reclaimable", "disabled", None)])
def test_rule_values_take_units(name, text, expected):
    assert rule_value(name, text) == expected


@pytest.mark.parametrize("name,text", [("min_efficiency", "150%"), ("min_efficiency", "high"),
                                       ("max_reclaimable", "-1MB"), ("max_layer_ratio", "2")])
def test_bad_rule_values(name, text):
    with pytest.raises(BadInput):
        rule_value(name, text)


def test_user_wasted_ratio_counts_bytes_above_the_base_layer():
    report = report_of(STORY, STORY_STEPS)
    assert report.user_bytes == 13000 - 6610
    [result] = evaluate_rules(report, {"max_user_wasted_ratio": 1.0, "min_efficiency": None})
    assert result.value == pytest.approx(9750 / 6390) and not result.passed
    assert result.message == ("FAIL max_user_wasted_ratio: reclaimable bytes / bytes above the base layer 1.5258 "
                              "(9.8 kB of 6.4 kB), threshold max 1.0000")


# --- reading a docker save file -------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_docker_archive_file(tmp_path, compress):
    archive = save_archive(STORY, created_by=STORY_STEPS)
    path = tmp_path / ("image.tar.gz" if compress else "image.tar")
    path.write_bytes(gzip.compress(archive) if compress else archive)
    report = xray_image(None, f"docker-archive:{path}")
    assert (report.size_bytes, report.reclaimable_bytes) == (13000, 9750)
    assert report.image == f"docker-archive:{path}"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", report.image_id)
    assert [l.created_by for l in report.layers] == STORY_STEPS


def test_docker_archive_errors(tmp_path):
    with pytest.raises(BadInput, match="cannot read the image archive"):
        xray_archive(str(tmp_path / "missing.tar"))
    (tmp_path / "not.tar").write_bytes(b"hello")
    with pytest.raises(BadInput, match="not a docker save archive"):
        xray_archive(str(tmp_path / "not.tar"))


# --- the command line on a docker save file (no Docker) --------------------------------------------------

def run_xray_cli(capsys, *argv):
    try:
        code = main(["xray", *argv])
    except SystemExit as exited:
        code = exited.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def story_archive(tmp_path):
    path = tmp_path / "story.tar"
    path.write_bytes(save_archive(STORY, created_by=STORY_STEPS))
    return f"docker-archive:{path}"


def test_cli_tree_and_json(story_archive, capsys):
    code, out, _ = run_xray_cli(capsys, story_archive, "--tree", "2")
    assert code == 0 and out.startswith("layer 2: RUN edit\n")
    assert "│   └── - big" in out and "├── + new" in out
    code, out, _ = run_xray_cli(capsys, story_archive, "--json", "--tree-limit", "2")
    layer = json.loads(out)["layers"][3]
    assert layer["tree"]["count"] == 5 and len(layer["tree"]["changes"]) == 2
    code, out, _ = run_xray_cli(capsys, story_archive, "--tree", "all")
    assert out.count("\nlayer ") == 4


def test_cli_ci_failures_are_printed_once(story_archive, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 9.7kB\n")
    code, out, err = run_xray_cli(capsys, story_archive)
    assert code == 1
    message = "FAIL max_reclaimable: reclaimable bytes 9750 (9.8 kB), threshold max 9700 (9.7 kB)"
    assert (out + err).count(message) == 1 and "FAIL min_efficiency" in out
    assert err == "slim: CI failed: max_reclaimable, min_efficiency (see CI rules above)\n"
    code, out, err = run_xray_cli(capsys, story_archive, "--json", "--lowestEfficiency", "20%",
                                  "--highest-wasted-bytes", "disabled")
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)["ci"]["rules"]] == ["min_efficiency"]
    code, out, err = run_xray_cli(capsys, story_archive, "--json", "--max-reclaimable", "9KB")
    assert code == 1 and (out + err).count("FAIL max_reclaimable") == 2   # once in the JSON, once for people
    assert err.count("\n") == 2 and "slim: CI rule failed: FAIL max_reclaimable" in err


def test_cli_ci_default_stays_unless_switched_off(story_archive, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_xray_cli(capsys, story_archive, "--ci", "--highestWastedBytes", "disabled")
    assert code == 1 and "FAIL min_efficiency: efficiency 0.2500, threshold min 0.9000" in out
    code, out, _ = run_xray_cli(capsys, story_archive, "--ci", "--lowest-efficiency", "disabled")
    assert code == 0 and "CI rules" not in out
    code, _, err = run_xray_cli(capsys, story_archive, "--max-reclaimable", "lots")
    assert code == 2 and "'lots'" in err and "e.g. 80MB" in err
