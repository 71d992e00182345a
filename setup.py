"""The one build step pyproject.toml cannot declare: compiling the sensor.

Everything else about the package (name, version, dependencies, the `slim`
script) lives in pyproject.toml. This file adds:

1. build_py runs `make -C slimmer/sensor` and copies the static sensor
   binary into the build tree, so every wheel carries it and `pip install`
   never needs make. Build requirements: gcc, make and a static C library
   (Debian/Ubuntu: `apt-get install gcc make libc6-dev`).
2. The wheel is a platform wheel, `py3-none-manylinux_2_17_x86_64`: the
   Python code is pure, but the sensor is an x86_64 ELF. It is statically
   linked, so it asks nothing of the host's glibc; manylinux_2_17 is the
   oldest tag current pip versions install everywhere.
3. The sdist carries the sensor's sources, never a compiled binary
   (MANIFEST.in), so a wheel built from it compiles its own.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

from setuptools.command.bdist_wheel import bdist_wheel   # setuptools >= 70.1 (pyproject asks >= 77)

HERE = os.path.dirname(os.path.abspath(__file__))
SENSOR_DIR = os.path.join("slimmer", "sensor")
SENSOR_BINARY = os.path.join(SENSOR_DIR, "bin", "slim-sensor")
PLATFORM_TAG = "manylinux_2_17_x86_64.manylinux2014_x86_64"


def compile_sensor() -> str:
    """Run the sensor's Makefile; the path of the binary it built."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise SystemExit(f"slimmer's sensor is built for linux/x86_64 only, not "
                         f"{platform.system()}/{platform.machine()}")
    make = shutil.which("make")
    if make is None:
        raise SystemExit("building slimmer needs make, gcc and a static libc "
                         "(Debian/Ubuntu: apt-get install make gcc libc6-dev)")
    try:
        subprocess.run([make, "-C", os.path.join(HERE, SENSOR_DIR)], check=True)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"compiling the sensor failed (make exit {exc.returncode}); it needs gcc and a "
                         f"static libc (Debian/Ubuntu: apt-get install gcc libc6-dev)") from exc
    return os.path.join(HERE, SENSOR_BINARY)


class BuildPyWithSensor(build_py):
    def run(self):
        binary = compile_sensor()
        super().run()
        if not getattr(self, "editable_mode", False):   # an editable install uses the source tree's
            target = os.path.join(self.build_lib, SENSOR_BINARY)
            self.mkpath(os.path.dirname(target))
            self.copy_file(binary, target, preserve_mode=True)


class WithSensorBinary(Distribution):
    def has_ext_modules(self):
        return True                    # an ELF inside: a platform wheel (Root-Is-Purelib: false)


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        return "py3", "none", PLATFORM_TAG   # any CPython 3: the Python code itself is pure


setup(distclass=WithSensorBinary, cmdclass={"build_py": BuildPyWithSensor, "bdist_wheel": PlatformWheel})
