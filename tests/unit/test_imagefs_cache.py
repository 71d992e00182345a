"""imagefs's layer cache: hits, misses, partial hits, damaged files, the size bound, concurrent
runs. Every cache here lives in pytest's tmp_path (and the session's in a temporary directory:
conftest.py at the repository root), never in ~/.cache."""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import os

import pytest

from imagetar import dir_, file, hardlink, save_archive, symlink, whiteout
from slimmer import imagefs
from slimmer.errors import BadInput
from slimmer.imagefs import LayerCache, default_cache, index_image, index_image_cached
from slimmer.imagefs import size as size_module

TRUE_BYTES = open("/bin/true", "rb").read()
BASE = [dir_("/usr"), dir_("/usr/bin"), file("/usr/bin/true", TRUE_BYTES, mode=0o755),
        file("/usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o755), hardlink("/usr/bin/tool2", "/usr/bin/tool"),
        symlink("/usr/bin/sh", "tool"), dir_("/etc"), file("/etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
        file("/etc/old", b"gone soon")]
APP_A = [dir_("/app"), file("/app/main.py", b"import os\nprint(os.getcwd())\n"), whiteout("/etc/old")]
APP_B = [dir_("/srv"), file("/srv/server.js", b"require('http')\n"), file("/etc/ld.so.conf", b"/opt/lib\n")]


class SaveStreams:
    """open_save for index_image_cached, counting how often `docker save` is opened."""

    def __init__(self, archive: bytes):
        self.archive = archive
        self.opened = 0

    @contextlib.contextmanager
    def __call__(self):
        self.opened += 1
        yield io.BytesIO(self.archive)


def diff_ids(archive: bytes) -> list[str]:
    return [layer.digest for layer in imagefs.read_saved_image(io.BytesIO(archive)).layers]


def image_id(archive: bytes) -> str:
    config_name = imagefs.read_saved_image(io.BytesIO(archive)).config_name
    return "sha256:" + os.path.basename(config_name).removesuffix(".json")


def assert_same_index(read, archive: bytes) -> None:
    expected = index_image(io.BytesIO(archive))
    assert dict(read.index.entries) == dict(expected.entries)
    assert dict(read.index.contents) == dict(expected.contents)


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_a_second_index_of_the_same_image_reads_no_docker_save(tmp_path, layout):
    archive = save_archive([BASE, APP_A], layout=layout, compression="gzip" if layout == "oci" else "none")
    cache = LayerCache(str(tmp_path))
    save = SaveStreams(archive)

    first = index_image_cached(diff_ids(archive), save, cache, image_id=image_id(archive))
    assert (save.opened, first.save_read, first.parsed, first.from_cache) == (1, True, 2, 0)
    assert_same_index(first, archive)

    second = index_image_cached(diff_ids(archive), save, cache, image_id=image_id(archive))
    assert (save.opened, second.save_read, second.parsed, second.from_cache) == (1, False, 0, 2)
    assert_same_index(second, archive)
    assert second.config == first.config and second.config["rootfs"]["diff_ids"] == diff_ids(archive)
    tool = second.index.get("/usr/bin/tool")
    assert tool.shebang == "/bin/sh" and tool.layer == 0
    assert second.index.get("/usr/bin/true").elf is not None
    assert second.index.get("/app/main.py").layer == 1 and "/etc/old" not in second.index


def test_an_image_config_not_cached_yet_is_read_once_with_every_layer_passed_over(tmp_path):
    archive = save_archive([BASE, APP_A])
    cache = LayerCache(str(tmp_path))
    index_image_cached(diff_ids(archive), SaveStreams(archive), cache)       # no image ID: no config wanted
    os.unlink(os.path.join(cache.directory, image_id(archive).split(":")[1] + ".config"))
    save = SaveStreams(archive)
    read = index_image_cached(diff_ids(archive), save, cache, image_id=image_id(archive))
    assert (save.opened, read.parsed, read.from_cache) == (1, 0, 2) and read.config["os"] == "linux"
    again = index_image_cached(diff_ids(archive), save, cache, image_id=image_id(archive))
    assert save.opened == 1 and again.config == read.config


def test_a_config_whose_bytes_are_not_its_image_id_is_not_used(tmp_path):
    archive = save_archive([BASE])
    cache = LayerCache(str(tmp_path))
    index_image_cached(diff_ids(archive), SaveStreams(archive), cache, image_id=image_id(archive))
    path = os.path.join(cache.directory, image_id(archive).split(":")[1] + ".config")
    with open(path, "ab") as handle:
        handle.write(b" ")
    assert cache.config(image_id(archive)) is None
    save = SaveStreams(archive)
    assert index_image_cached(diff_ids(archive), save, cache, image_id=image_id(archive)).config is not None
    assert save.opened == 1


def test_the_content_size_comes_from_the_cache_in_a_later_run(tmp_path, monkeypatch):
    archive = save_archive([BASE, APP_A])
    cache = LayerCache(str(tmp_path))
    index_image_cached(diff_ids(archive), SaveStreams(archive), cache)
    expected = imagefs.content_size(imagefs.read_saved_image(io.BytesIO(archive)).layers)
    monkeypatch.setattr(size_module, "_LAYER_CONTENT_BYTES", {})     # a new process
    assert imagefs.known_content_size(diff_ids(archive), cache) == expected
    assert imagefs.known_content_size(diff_ids(archive) + ["sha256:" + "1" * 64], cache) is None


def test_an_image_sharing_its_base_layer_parses_only_its_own_layers(tmp_path):
    first_image = save_archive([BASE, APP_A])
    second_image = save_archive([BASE, APP_B])
    cache = LayerCache(str(tmp_path))
    index_image_cached(diff_ids(first_image), SaveStreams(first_image), cache)

    parsed: list[int] = []
    original = imagefs.saved.parse_layer

    def counting_parse(*args, **kwargs):
        parsed.append(1)
        return original(*args, **kwargs)

    layers = diff_ids(second_image)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(imagefs.saved, "parse_layer", counting_parse)
        read = index_image_cached(layers, SaveStreams(second_image), cache)
    assert (read.save_read, read.from_cache, read.parsed, len(parsed)) == (True, 1, 1, 1)
    assert_same_index(read, second_image)
    assert read.index.contents["/etc/ld.so.conf"] == b"/opt/lib\n"


def test_a_cache_that_names_a_member_wrongly_is_read_again_in_full(tmp_path):
    first_image = save_archive([BASE, APP_A])
    second_image = save_archive([BASE, APP_B])
    cache = LayerCache(str(tmp_path))
    index_image_cached(diff_ids(first_image), SaveStreams(first_image), cache)
    app_member = imagefs.read_saved_image(io.BytesIO(second_image)).layers[1].member
    # a damaged cache: APP_B's member claims to hold the base layer, which is cached
    cache.put_member(app_member, diff_ids(first_image)[0])
    save = SaveStreams(second_image)
    read = index_image_cached(diff_ids(second_image), save, cache)
    assert save.opened == 2
    assert_same_index(read, second_image)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other format"])
def test_a_damaged_record_is_ignored_and_written_again(tmp_path, damage):
    archive = save_archive([BASE, APP_A])
    cache = LayerCache(str(tmp_path))
    index_image_cached(diff_ids(archive), SaveStreams(archive), cache)
    record_path = os.path.join(cache.directory, diff_ids(archive)[0].split(":")[1] + ".elf")
    data = open(record_path, "rb").read()
    damaged = {"truncated": data[:len(data) // 2], "garbage": data[:30] + b"\xff" * 40 + data[70:],
               "empty": b"", "other format": b"slimmer layer record\n" + b"x" * 100}[damage]
    with open(record_path, "wb") as handle:
        handle.write(damaged)

    save = SaveStreams(archive)
    read = index_image_cached(diff_ids(archive), save, cache)
    assert save.opened == 1 and read.from_cache == 1       # the intact layer passed over, the damaged one parsed
    assert cache.stats.corrupt == 1
    assert_same_index(read, archive)
    again = index_image_cached(diff_ids(archive), save, cache)
    assert save.opened == 1 and not again.save_read        # rewritten
    assert_same_index(again, archive)


def test_the_cache_stays_within_its_bound_dropping_the_least_recently_used(tmp_path):
    archives = [save_archive([BASE + [file(f"/data/{n}", os.urandom(3000))]]) for n in range(8)]
    probe = LayerCache(str(tmp_path / "probe"))
    index_image_cached(diff_ids(archives[0]), SaveStreams(archives[0]), probe)
    one_image = probe.total_bytes()

    cache = LayerCache(str(tmp_path / "bounded"), max_bytes=int(one_image * 3.5))
    first = diff_ids(archives[0])
    index_image_cached(first, SaveStreams(archives[0]), cache)
    for archive in archives[1:]:
        assert cache.get(first[0], "elf") is not None          # used again: stays
        index_image_cached(diff_ids(archive), SaveStreams(archive), cache)
        assert cache.total_bytes() <= cache.max_bytes
    assert cache.stats.evicted > 0
    assert cache.get(first[0], "elf") is not None
    assert cache.get(diff_ids(archives[1])[0], "elf") is None   # the oldest unused one went first


def test_a_temporary_file_left_by_a_run_that_died_goes_at_the_next_write(tmp_path):
    cache = LayerCache(str(tmp_path))
    os.makedirs(cache.directory)
    stale, fresh = os.path.join(cache.directory, ".tmp-dead"), os.path.join(cache.directory, ".tmp-writing")
    for path in (stale, fresh):
        with open(path, "wb") as handle:
            handle.write(b"half a record")
    os.utime(stale, (1, 1))
    archive = save_archive([BASE])
    index_image_cached(diff_ids(archive), SaveStreams(archive), cache)
    assert not os.path.exists(stale) and os.path.exists(fresh)


def test_a_record_larger_than_the_whole_cache_is_not_kept(tmp_path):
    archive = save_archive([BASE])
    cache = LayerCache(str(tmp_path), max_bytes=10)
    index_image_cached(diff_ids(archive), SaveStreams(archive), cache)
    assert cache.stats.writes == 0 and cache.total_bytes() <= 10


def _index_repeatedly(root: str, archive: bytes, rounds: int, queue) -> None:
    try:
        expected = index_image(io.BytesIO(archive))
        for _ in range(rounds):
            read = index_image_cached(diff_ids(archive), SaveStreams(archive), LayerCache(root))
            assert dict(read.index.entries) == dict(expected.entries)
            assert dict(read.index.contents) == dict(expected.contents)
        queue.put("ok")
    except BaseException as exc:  # reported to the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_runs_see_whole_records_only(tmp_path):
    archives = [save_archive([BASE, APP_A]), save_archive([BASE, APP_B]),
                save_archive([BASE, [file(f"/big/{n}", os.urandom(20000)) for n in range(20)]])]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_index_repeatedly, args=(str(tmp_path), archives[n % 3], 15, queue))
               for n in range(6)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert results == ["ok"] * len(workers)
    leftovers = [name for name in os.listdir(LayerCache(str(tmp_path)).directory) if name.startswith(".tmp-")]
    assert leftovers == []


def test_where_the_cache_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("SLIMMER_CACHE_DIR", raising=False)
    monkeypatch.delenv("SLIMMER_CACHE_MAX_MB", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache().root == str(tmp_path / "home" / ".cache" / "slimmer")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache().root == str(tmp_path / "xdg" / "slimmer")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")     # the XDG spec: relative paths are invalid
    assert default_cache().root == str(tmp_path / "home" / ".cache" / "slimmer")
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache().root == str(tmp_path / "mine")
    assert default_cache().max_bytes == 500 << 20
    monkeypatch.setenv("SLIMMER_CACHE_MAX_MB", "20")
    assert default_cache().max_bytes == 20 << 20
    monkeypatch.setenv("SLIMMER_CACHE_DIR", "off")
    assert default_cache() is None


def test_a_bad_size_bound_names_the_variable(monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_MAX_MB", "lots")
    with pytest.raises(BadInput) as error:
        default_cache()
    assert "SLIMMER_CACHE_MAX_MB" in str(error.value.what) and error.value.value == "lots"


def test_without_a_cache_the_stream_is_read_every_time(tmp_path):
    archive = save_archive([BASE, APP_A])
    save = SaveStreams(archive)
    for _ in range(2):
        read = index_image_cached(diff_ids(archive), save, None)
        assert read.save_read and read.from_cache == 0
    assert save.opened == 2


def test_an_unwritable_cache_only_misses(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    archive = save_archive([BASE, APP_A])
    cache = LayerCache(str(blocker / "cache"))
    save = SaveStreams(archive)
    for _ in range(2):
        assert_same_index(index_image_cached(diff_ids(archive), save, cache), archive)
    assert save.opened == 2 and cache.stats.writes == 0


def test_records_are_keyed_by_the_tar_bytes_not_by_what_a_config_claims(tmp_path):
    """A config whose diff_ids are wrong (a crafted archive) cannot plant a record under them."""
    archive = save_archive([BASE])
    forged = archive.replace(diff_ids(archive)[0].split(":")[1].encode(), b"e" * 64)
    assert forged != archive
    cache = LayerCache(str(tmp_path))
    index_image_cached(["sha256:" + "e" * 64], SaveStreams(forged), cache)
    assert cache.get("sha256:" + "e" * 64, "elf") is None
    assert cache.get(diff_ids(archive)[0], "elf") is not None
