"""The one log parser and the escaping shared with the keep list."""
from __future__ import annotations

import pytest

from slimmer import errors, sensor

HEADER = b"#slimmer-sensor-log\t1\n"


@pytest.mark.parametrize("raw, escaped", [
    ("/usr/bin/python3", "/usr/bin/python3"),
    ("/a\tb", "/a\\tb"),
    ("/a\nb", "/a\\nb"),
    ("/back\\slash", "/back\\\\slash"),
    ("/bell\x07\x7f", "/bell\\x07\\x7f"),
    ("/caf\u00e9", "/caf\u00e9"),                              # UTF-8 verbatim
    (b"/latin1-\xe9".decode("utf-8", "surrogateescape"),      # non-UTF-8 byte verbatim
     b"/latin1-\xe9".decode("utf-8", "surrogateescape")),
])
def test_escape_round_trip(raw, escaped):
    assert sensor.escape_path(raw) == escaped
    assert sensor.unescape_path(escaped) == raw


def test_merges_files_paths_processes_and_exit_status():
    trace = HEADER + (b"P\topenat\tr\t/etc/passwd\n"
                      b"P\tnewfstatat\tr\t/etc/passwd\n"
                      b"X\t7\t/usr/bin/env\tenv\ta\\tb\n"
                      b"E\t3\n")
    run = HEADER + b"P\topenat\tw\t/etc/passwd\nP\tmkdir\tw\t/var/spool/x\\ny\nE\t0\n"
    log = sensor.parse_log({"trace.1.log": trace, "run.42.log": run})
    assert log.version == 1
    passwd = log.paths["/etc/passwd"]
    assert passwd.syscalls == {"openat", "newfstatat"} and passwd.write
    assert log.paths["/var/spool/x\ny"].write
    assert log.processes[0].exe == "/usr/bin/env" and log.processes[0].argv == ("env", "a\tb")
    assert log.exit_status == 3          # the app's, not the exec probe's


def test_truncated_last_line_is_dropped():
    log = sensor.parse_log({"trace.1.log": HEADER + b"P\topenat\tr\t/etc/hosts\nP\topenat\tr\t/etc/ho"})
    assert set(log.paths) == {"/etc/hosts"}
    assert log.exit_status is None


def test_empty_and_cut_header_files_are_tolerated():
    log = sensor.parse_log({"trace.1.log": b"", "run.9.log": b"#slimmer-sen"})
    assert log.paths == {}


def test_unknown_version_is_an_error():
    with pytest.raises(errors.SensorError, match="version"):
        sensor.parse_log({"trace.1.log": b"#slimmer-sensor-log\t2\nP\topenat\tr\t/x\n"})


def test_malformed_line_is_an_error():
    with pytest.raises(errors.SensorError, match="malformed"):
        sensor.parse_log({"trace.1.log": HEADER + b"P\topenat\n" + b"E\t0\n"})


def test_missing_binary_says_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setattr(sensor, "_BINARY", str(tmp_path / "slim-sensor"))
    with pytest.raises(errors.SensorError, match="make install"):
        sensor.sensor_path()


def test_sensor_tar_layout(sensor_binary):
    import io
    import tarfile
    archive = tarfile.open(fileobj=io.BytesIO(sensor.sensor_tar()))
    modes = {member.name: member.mode for member in archive}
    assert modes == {".slimmer": 0o755, ".slimmer/log": 0o1777, ".slimmer/sensor": 0o755}
    with open(sensor_binary, "rb") as stream:
        assert archive.extractfile(".slimmer/sensor").read() == stream.read()
