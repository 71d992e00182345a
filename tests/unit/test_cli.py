"""The CLI's contract without Docker: usage errors exit 2 with a next step."""
import os

import pytest

from slimmer.cli import main


def run_cli(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exited:   # argparse's own usage errors
        code = exited.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, phrase", [
    (["build", "app:1", "--keep-rule", "packagez=off"], "one of: app, data"),
    (["build", "app:1", "--keep-rule", "state=maybe"], "NAME=on or NAME=off"),
    (["build", "app:1", "--continue-after", "forever"], "timeout=SECONDS"),
    (["build", "app:1", "--http-probe", "no-slash"], "starting with /"),
    (["build", "app:1", "--min-ratio", "0"], "positive"),
    (["build", "app:1", "--probe-file", "/nonexistent/probes.toml"], "cannot read the probe file"),
    (["build"], "the following arguments are required"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_errors_exit_2_with_a_next_step(capsys, argv, phrase):
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert phrase in err
    assert "next step" in err
    assert "Traceback" not in err


def test_sensor_path_prints_an_existing_file(capsys):
    assert main(["sensor", "--path"]) == 0
    assert os.path.isfile(capsys.readouterr().out.strip())
