"""Static imports of Python, Node, Ruby and Perl sources, what the languages share: which
language a file is, and an image without an interpreter (slimmer/langimports/core.py,
resolver.py). Each language has its own test_langimports_LANGUAGE.py."""
from __future__ import annotations

import pytest

from slimmer.langimports import ImportResolver, SearchPaths, discover, language_of
from tests.unit.langfs import FakeFs


# --- languages ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, shebang, language", [
    ("/app/a.py", None, "python"),
    ("/app/a.mjs", None, "node"),
    ("/app/a.cjs", None, "node"),
    ("/app/lib/x.rb", None, "ruby"),
    ("/usr/share/perl5/Foo.pm", None, "perl"),
    ("/usr/local/bin/tool", "/usr/bin/python3.11 -u", "python"),
    ("/usr/local/bin/tool", "/usr/bin/env python3", "python"),
    ("/usr/local/bin/tool", "/usr/bin/env -S node --no-warnings", "node"),
    ("/usr/bin/job", "/usr/bin/perl -w", "perl"),
    ("/usr/bin/job", "/usr/bin/ruby3.1", "ruby"),
    ("/usr/bin/job", "/bin/sh", None),
    ("/etc/config.json", None, None),
])
def test_language_of_a_file_by_extension_or_shebang(path, shebang, language):
    assert language_of(path, shebang) == language


def test_a_language_without_its_interpreter_in_the_image_is_not_resolved():
    fs = FakeFs({"/app/a.rb": "require 'x'", "/app/a.pl": "use strict;", "/app/a.js": "require('x')"})
    resolver = ImportResolver(fs, discover(fs, {}, []))
    assert [resolver.language(p) for p in ("/app/a.rb", "/app/a.pl", "/app/a.js", "/app/a.py")] == [None] * 4
    assert discover(fs, {}, []) == SearchPaths(workdir="/")
