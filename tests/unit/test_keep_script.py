"""Rules interpreter and script: shebangs and the commands shell scripts run."""
from __future__ import annotations

import pytest

from keepfakes import GLIBC, R, elf, f, keep, ln, make_image, reasons
from slimmer.keep import parse_shebang, script_commands
from slimmer.model import KeepOptions


# --- shebang interpreters ------------------------------------------------------------

@pytest.mark.parametrize("line, interpreter, argv", [
    ("/usr/bin/env python3", "/usr/bin/env", ["python3"]),
    ("/bin/sh -e", "/bin/sh", ["-e"]),
    ("  /usr/bin/perl -w -T ", "/usr/bin/perl", ["-w -T"]),
    ("", None, []),
])
def test_parse_shebang_splits_like_linux(line, interpreter, argv):
    assert parse_shebang(line) == (interpreter, argv)


def test_env_shebang_keeps_env_and_the_command_found_on_path():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/env": elf(["libc.so.6"]),
        "/usr/local/bin/python3": ln("python3.11"), "/usr/local/bin/python3.11": elf(["libc.so.6"]),
        "/usr/bin/python3": elf(["libc.so.6"]),
        "/app/run": f(mode=0o755, shebang="/usr/bin/env -S python3 -u"),
        "/app/module.py": f(mode=0o644, shebang="/usr/bin/perl"), "/usr/bin/perl": elf(),
    })
    kept = keep(spec, "/app/run", "/app/module.py",
                image=make_image(env=("PATH=/usr/local/bin:/usr/bin",)))
    r = reasons(kept)
    assert r["/usr/bin/env"] is R.INTERPRETER
    assert r["/usr/local/bin/python3"] is R.INTERPRETER and r["/usr/local/bin/python3.11"] is R.INTERPRETER
    assert r["/usr/lib/x86_64-linux-gnu/libc.so.6"] is R.ELF
    assert "/usr/bin/python3" not in kept
    assert "/usr/bin/perl" not in kept            # a non-executable file's shebang is never run


def test_sh_shebang_keeps_the_shell_and_script_commands():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/dash": elf(["libc.so.6"]), "/usr/bin/sh": ln("dash"),
        "/usr/bin/sed": elf(["libc.so.6"]), "/usr/bin/gosu": elf(), "/usr/bin/unused": elf(),
        "/usr/bin/grep": elf(), "/usr/bin/date": elf(),
        "/entry.sh": f(mode=0o755, shebang="/bin/sh -e"),
    })
    script = (b"#!/bin/sh -e\n# unused is only in a comment\nFOO=1 sed -i s/a/b/ /x && exec gosu app \"$@\"\n"
              b"if grep -q x /y; then echo `date`; fi\ncat <<EOF\nunused\nEOF\n")
    kept = keep(spec, "/entry.sh", files={"/entry.sh": script})
    r = reasons(kept)
    assert r["/usr/bin/dash"] is R.INTERPRETER and r["/bin"] is R.SYMLINK
    for command in ("sed", "gosu", "grep", "date"):
        assert r[f"/usr/bin/{command}"] is R.SCRIPT, command
    assert "/usr/bin/unused" not in kept
    off = keep(spec, "/entry.sh", files={"/entry.sh": script}, options=KeepOptions(rules={"script": False}))
    assert "/usr/bin/sed" not in off and "/usr/bin/dash" in off


def test_script_commands_tokenizer():
    text = 'a=1 b=2 first arg\nsecond | third && fourth || fifth; sixth\nx=$(seventh -v)\n' \
           'while read l; do eighth "$l"; done\ncase $x in\n  y) ninth ;;\nesac\necho "; notacommand"\n'
    assert script_commands(text) == ["first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                                     "eighth", "ninth"]
