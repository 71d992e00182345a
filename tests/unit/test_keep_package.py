"""Rule package: Python distributions and Node packages are kept whole."""
from __future__ import annotations

import pytest

from keepfakes import R, f, keep, reasons
from slimmer.model import KeepOptions


SITE = "/usr/lib/python3/dist-packages"


def test_python_package_is_kept_whole_with_its_metadata():
    spec = {f"{SITE}/flask/__init__.py": f(), f"{SITE}/flask/json/provider.py": f(),
            f"{SITE}/flask/py.typed": f(), f"{SITE}/Flask-2.2.2.dist-info/METADATA": f(),
            f"{SITE}/Flask-2.2.2.dist-info/entry_points.txt": f(),
            f"{SITE}/yaml/__init__.py": f(), f"{SITE}/_yaml/__init__.py": f(),
            f"{SITE}/PyYAML-6.0.egg-info/top_level.txt": f(),
            f"{SITE}/jinja2/__init__.py": f(), f"{SITE}/Jinja2-3.1.dist-info/METADATA": f()}
    files = {f"{SITE}/PyYAML-6.0.egg-info/top_level.txt": b"_yaml\nyaml\n"}
    kept = keep(spec, f"{SITE}/flask/__init__.py", f"{SITE}/yaml/__init__.py", files=files)
    r = reasons(kept)
    assert r[f"{SITE}/flask/json/provider.py"] is R.PACKAGE           # the lazily imported module
    assert r[f"{SITE}/Flask-2.2.2.dist-info/entry_points.txt"] is R.PACKAGE
    assert r[f"{SITE}/PyYAML-6.0.egg-info/top_level.txt"] is R.PACKAGE
    assert f"{SITE}/jinja2/__init__.py" not in kept
    off = keep(spec, f"{SITE}/flask/__init__.py", options=KeepOptions(rules={"package": False}))
    assert f"{SITE}/flask/json/provider.py" not in off


def test_python_record_finds_the_metadata_but_keeps_only_the_kept_files_top_level_packages():
    """A distribution's other top-level packages are imported by name when they run (rule
    imports): a venv's .pth imports _distutils_hack, which does not keep setuptools and
    pkg_resources (3 MB on python-venv)."""
    site = "/usr/local/lib/python3.11/site-packages"
    spec = {f"{site}/attr/__init__.py": f(), f"{site}/attr/lazy.py": f(), f"{site}/attrs/__init__.py": f(),
            f"{site}/attrs-23.1.0.dist-info/RECORD": f(), f"{site}/other/__init__.py": f()}
    files = {f"{site}/attrs-23.1.0.dist-info/RECORD":
             b"attr/__init__.py,sha256=x,10\nattrs/__init__.py,sha256=y,3\n../../../bin/x,,\n"}
    r = reasons(keep(spec, f"{site}/attr/__init__.py", files=files))
    assert r[f"{site}/attr/lazy.py"] is R.PACKAGE and r[f"{site}/attrs-23.1.0.dist-info/RECORD"] is R.PACKAGE
    assert f"{site}/attrs/__init__.py" not in r and f"{site}/other/__init__.py" not in r


def test_python_entry_points_top_level_packages_are_kept_but_not_build_hooks():
    """importlib.metadata / pkg_resources load an entry point by name (a plugin, a console
    script): its top-level package is kept; setup.py's commands and hooks only run in a build."""
    site = "/opt/venv/lib/python3.11/site-packages"
    spec = {f"{site}/_distutils_hack/__init__.py": f(), f"{site}/setuptools/__init__.py": f(),
            f"{site}/setuptools/command/alias.py": f(), f"{site}/sttools_cli/__init__.py": f(),
            f"{site}/sttools_plugin.py": f(), f"{site}/setuptools-66.1.1.dist-info/RECORD": f(),
            f"{site}/setuptools-66.1.1.dist-info/entry_points.txt": f()}
    files = {f"{site}/setuptools-66.1.1.dist-info/RECORD": b"_distutils_hack/__init__.py,,\nsetuptools/__init__.py,,\n",
             f"{site}/setuptools-66.1.1.dist-info/entry_points.txt":
             b"[distutils.commands]\nalias = setuptools.command.alias:alias\n"
             b"[egg_info.writers]\nPKG-INFO = setuptools.command.egg_info:write_pkg_info\n"
             b"[console_scripts]\nsttools = sttools_cli.main:run [cli]\n"
             b"[myapp.plugins]\nplug = sttools_plugin\n"}
    r = reasons(keep(spec, f"{site}/_distutils_hack/__init__.py", files=files))
    assert r[f"{site}/sttools_cli/__init__.py"] is R.PACKAGE and r[f"{site}/sttools_plugin.py"] is R.PACKAGE
    assert f"{site}/setuptools/__init__.py" not in r and f"{site}/setuptools/command/alias.py" not in r


@pytest.mark.parametrize("traced, package_dir", [
    ("/app/node_modules/express/index.js", "/app/node_modules/express"),
    ("/app/node_modules/@babel/core/lib/x.js", "/app/node_modules/@babel/core"),
    ("/usr/share/nodejs/debug/src/index.js", "/usr/share/nodejs/debug"),
])
def test_node_package_is_kept_whole(traced, package_dir):
    spec = {traced: f(), f"{package_dir}/package.json": f(), f"{package_dir}/lib/lazy.js": f(),
            "/app/node_modules/unused/index.js": f(), "/usr/share/nodejs/unused/index.js": f()}
    r = reasons(keep(spec, traced))
    assert r[f"{package_dir}/lib/lazy.js"] is R.PACKAGE and r[f"{package_dir}/package.json"] is R.PACKAGE
    assert "/app/node_modules/unused/index.js" not in r and "/usr/share/nodejs/unused/index.js" not in r


def test_bytecode_caches_are_not_part_of_a_whole_package():
    """__pycache__ is read only beside its source and rebuilt from it: a package kept whole
    keeps its sources, not the caches of modules nothing loaded (python-venv: 4.5 MB)."""
    site = "/opt/venv/lib/python3.11/site-packages"
    spec = {f"{site}/setuptools/__init__.py": f(), f"{site}/setuptools/dist.py": f(),
            f"{site}/setuptools/__pycache__/__init__.cpython-311.pyc": f(),
            f"{site}/setuptools/__pycache__/dist.cpython-311.pyc": f(size=40_000),
            f"{site}/setuptools/_vendor/__pycache__/six.cpython-311.pyc": f(),
            f"{site}/setuptools/_vendor/six.py": f(),
            f"{site}/setuptools/legacy.py": f(), f"{site}/setuptools/legacy.pyc": f(),   # Python 2 beside its source
            f"{site}/setuptools/compiled.pyc": f(),                                       # sourceless: the module itself
            f"{site}/setuptools/cli-64.exe": f(),
            f"{site}/setuptools-66.1.1.dist-info/RECORD": f()}
    files = {f"{site}/setuptools-66.1.1.dist-info/RECORD":
             b"setuptools/__init__.py,sha256=x,1\nsetuptools/__pycache__/dist.cpython-311.pyc,,\n"
             b"setuptools/dist.py,sha256=y,2\n"}
    r = reasons(keep(spec, f"{site}/setuptools/__init__.py",
                     f"{site}/setuptools/__pycache__/__init__.cpython-311.pyc", files=files))
    assert r[f"{site}/setuptools/dist.py"] is R.PACKAGE and r[f"{site}/setuptools/_vendor/six.py"] is R.PACKAGE
    assert r[f"{site}/setuptools/__pycache__/__init__.cpython-311.pyc"] is R.TRACED   # the cache the app read
    for cache in ("__pycache__/dist.cpython-311.pyc", "_vendor/__pycache__/six.cpython-311.pyc", "legacy.pyc"):
        assert f"{site}/setuptools/{cache}" not in r, cache
    assert r[f"{site}/setuptools/compiled.pyc"] is R.PACKAGE
    assert r[f"{site}/setuptools/cli-64.exe"] is R.PACKAGE
