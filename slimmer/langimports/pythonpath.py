"""Python's sys.path as the image configures it, for every Python the app ran: the
script's directory, PYTHONPATH, the stdlib and lib-dynload, site-/dist-packages
(Debian's layout too), a venv's (pyvenv.cfg next to or above argv[0]), .pth entries,
and the modules compiled into the interpreter.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Sequence

from .core import FsView, Proc, default_interpreters, existing_dirs, interpreter_language, processes_of, which


@dataclass(frozen=True)
class PythonPath:
    """One Python interpreter's sys.path as the image configures it."""

    interpreter: str                  # the traced executable (or the one a shebang names)
    version: str                      # "3.11"
    dirs: tuple[str, ...]             # sys.path, in order
    ext_suffixes: tuple[str, ...]     # C extension suffixes, in the import system's order
    stdlib: str = ""                  # prefix/lib/pythonX.Y
    builtins: frozenset[str] = frozenset()   # modules compiled into the interpreter (_sha512 on Debian)
    frozen: frozenset[str] = frozenset()     # stdlib modules imported from the interpreter's frozen copies


# CPython 3.11+ imports these standard library modules from copies frozen into the
# interpreter (Tools/build/freeze_modules.py; `_imp.is_frozen(name)` in the images):
# FrozenImporter comes before the path finder, so their .py files are not opened, unless
# -X frozen_modules=off (the default only in a debug build or a source tree).
PYTHON_FROZEN_STDLIB = frozenset(("abc", "codecs", "io", "_collections_abc", "_sitebuiltins", "genericpath",
                                  "ntpath", "posixpath", "os", "site", "stat", "importlib.util",
                                  "importlib.machinery", "runpy", "zipimport"))


def python_paths(fs: FsView, env: dict[str, str], processes: Sequence, workdir: str = "/") -> tuple[PythonPath, ...]:
    """sys.path of every Python the app ran, computed as CPython does on POSIX:
      1. the script's directory (resolved through symlinks), or the working directory
         for -m / -c; none with -I / -P;
      2. PYTHONPATH (not with -E / -I);
      3. the stdlib prefix/lib/pythonX.Y and its lib-dynload, prefix found from the
         real executable (the `lib/pythonX.Y/os.py` landmark), or from the `home` of a
         pyvenv.cfg found next to argv[0] or one level up (the venv);
      4. site dirs: the venv's site-packages (plus the system's when
         include-system-site-packages), else the user site (HOME) and site-packages,
         or Debian's /usr/local/lib/pythonX.Y/dist-packages, /usr/lib/python3/dist-packages;
         the directories their .pth files name;
      5. the working directory last: gunicorn, flask and uvicorn import the app from it.
    No traced Python: the image's python3 on PATH with no script."""
    runs = processes_of("python", processes)
    if not runs:
        runs = [Proc(path, (path,)) for path in default_interpreters(fs, env, ("python3", "python"))]
    result: list[PythonPath] = []
    for process in runs:
        found = _python_path(fs, env, process, workdir)
        if found is not None and found not in result:
            result.append(found)
    return tuple(result)


def _python_path(fs: FsView, env: dict[str, str], process, workdir: str) -> PythonPath | None:
    argv = list(process.argv or (process.exe,))
    invoked = which(fs, argv[0], env, workdir) if argv and argv[0] else None
    exe = fs.realpath(process.exe) or process.exe
    if interpreter_language(exe) != "python" and invoked:
        exe = fs.realpath(invoked) or invoked
    flags, script, module_mode = python_argv(argv[1:])
    venv, cfg = None, {}
    for candidate in [invoked, process.exe]:
        if not candidate:
            continue
        for directory in (posixpath.dirname(candidate), posixpath.dirname(posixpath.dirname(candidate))):
            data = fs.read(posixpath.join(directory, "pyvenv.cfg"))
            if data is not None:
                venv, cfg = directory, _ini(data)
                break
        if venv:
            break
    version = _python_version(fs, exe, cfg)
    if version is None:
        return None
    prefixes = []
    if cfg.get("home"):
        prefixes.append(posixpath.dirname(cfg["home"].rstrip("/")))
    prefixes += [posixpath.dirname(posixpath.dirname(exe)), "/usr/local", "/usr"]
    prefix = next((p for p in prefixes if fs.is_file(f"{p}/lib/python{version}/os.py")), None)
    if prefix is None:
        return None
    stdlib = f"{prefix}/lib/python{version}"
    dirs: list[str] = []
    isolated = "I" in flags
    if not isolated and "P" not in flags and not env.get("PYTHONSAFEPATH"):
        if script:
            script_path = script if script.startswith("/") else posixpath.join(workdir, script)
            dirs.append(posixpath.dirname(fs.realpath(script_path) or script_path))
        elif module_mode:
            dirs.append(workdir)
    if not isolated and "E" not in flags:
        dirs += [posixpath.join(workdir, part) for part in env.get("PYTHONPATH", "").split(":")
                 if env.get("PYTHONPATH")]
    dirs += [f"{prefix}/lib/python{version.replace('.', '')}.zip", stdlib, f"{stdlib}/lib-dynload"]
    system_site = [f"{prefix}/lib/python{version}/site-packages"]
    if prefix == "/usr":       # Debian's site.py
        system_site = [f"/usr/local/lib/python{version}/dist-packages", "/usr/lib/python3/dist-packages",
                       f"/usr/lib/python{version}/dist-packages"] + system_site
    site: list[str] = []
    if venv:
        site = [f"{venv}/lib/python{version}/site-packages", f"{venv}/lib64/python{version}/site-packages"]
        if cfg.get("include-system-site-packages", "false").lower() == "true":
            site += system_site
    else:
        home = env.get("HOME", "/root")
        if not isolated and "s" not in flags and not env.get("PYTHONNOUSERSITE"):
            site.append(f"{home}/.local/lib/python{version}/site-packages")
        site += system_site
    for site_dir in site:
        if not fs.is_dir(site_dir):
            continue
        dirs.append(site_dir)
        dirs += _pth_dirs(fs, site_dir)
    dirs.append(workdir)
    ext_tag = _python_ext_tag(fs, f"{stdlib}/lib-dynload", version)
    return PythonPath(interpreter=process.exe, version=version, dirs=existing_dirs(fs, dirs),
                      ext_suffixes=(ext_tag, ".abi3.so", ".so"), stdlib=stdlib,
                      builtins=_python_builtins(fs, exe, prefix, version),
                      frozen=PYTHON_FROZEN_STDLIB if _frozen_modules(version, argv[1:]) else frozenset())


def _frozen_modules(version: str, args: list[str]) -> bool:
    """CPython >= 3.11 without `-X frozen_modules=off` among the interpreter's options."""
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()) or (int(major), int(minor)) < (3, 11):
        return False
    for i, arg in enumerate(args):
        if not arg.startswith("-") or arg in ("-", "--", "-c", "-m"):
            break
        option = args[i + 1] if arg == "-X" and i + 1 < len(args) else arg[2:] if arg.startswith("-X") else ""
        if option == "frozen_modules=off":
            return False
    return True


def _python_builtins(fs: FsView, exe: str, prefix: str, version: str) -> frozenset[str]:
    """Modules compiled into the interpreter: the PyInit_NAME symbols of the executable
    and of its libpython (a shared build); none known when neither can be read."""
    names: set[str] = set()
    libpython = f"libpython{version}.so.1.0"
    for binary in (exe, f"{prefix}/lib/{libpython}", f"{prefix}/lib/x86_64-linux-gnu/{libpython}"):
        data = fs.read(binary) if fs.is_file(binary) else None
        if data:
            names.update(name.decode() for name in re.findall(rb"PyInit_(\w+)\0", data))
    return frozenset(names)


def python_argv(args: list[str]) -> tuple[set[str], str | None, bool]:
    """(single-letter flags, script or None, True for -m/-c) from the interpreter's arguments."""
    flags: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            script = args[i + 1] if arg == "--" and i + 1 < len(args) else arg
            return flags, (script if script != "-" else None), False
        if arg.startswith("--"):
            i += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        for j, letter in enumerate(arg[1:]):
            if letter in "cm":
                return flags, None, True
            if letter in "WX":
                i += 1 if j + 2 == len(arg) else 0      # "-X dev" or "-Xdev"
                break
            flags.add(letter)
        i += 1
    return flags, None, False


def _ini(data: bytes) -> dict[str, str]:
    values = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _python_version(fs: FsView, exe: str, cfg: dict[str, str]) -> str | None:
    match = re.match(r"^python(\d+\.\d+)", posixpath.basename(exe))
    if match:
        return match.group(1)
    for key in ("version", "version_info"):
        match = re.match(r"^(\d+\.\d+)", cfg.get(key, ""))
        if match:
            return match.group(1)
    prefix = posixpath.dirname(posixpath.dirname(exe))
    versions = sorted((name[len("python"):] for name in fs.children(f"{prefix}/lib")
                       if re.fullmatch(r"python\d+\.\d+", name) and fs.is_file(f"{prefix}/lib/{name}/os.py")),
                      key=lambda v: tuple(int(x) for x in v.split(".")))
    return versions[-1] if versions else None


def _python_ext_tag(fs: FsView, lib_dynload: str, version: str) -> str:
    """".cpython-311-x86_64-linux-gnu.so" as the image's lib-dynload names its modules."""
    short = version.replace(".", "")
    for name in sorted(fs.children(lib_dynload)):
        match = re.search(r"(\.cpython-" + short + r"[^.]*-[^.]+\.so)$", name)
        if match:
            return match.group(1)
    return f".cpython-{short}-x86_64-linux-gnu.so"


def _pth_dirs(fs: FsView, site_dir: str) -> list[str]:
    """Directories that a site dir's .pth files add (lines starting `import` run code: skipped)."""
    dirs = []
    for name in sorted(fs.children(site_dir)):
        if not name.endswith(".pth"):
            continue
        data = fs.read(posixpath.join(site_dir, name)) or b""
        for line in data.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            directory = posixpath.normpath(posixpath.join(site_dir, line))
            if fs.is_dir(directory):
                dirs.append(directory)
    return dirs
