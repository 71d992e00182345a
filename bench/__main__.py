"""make bench: run every benchmark section and print its figures.

Sections: sensor overhead (bench/sensor_bench.py), slim build per sample app
(bench/build_bench.py, a first and a cached second build), the index with a warm layer
cache (bench/cache_bench.py), xray (bench/xray_bench.py), keep rules
(bench/keep_bench.py), verification repairs (bench/repair_bench.py). `python -m bench NAME...`
runs only the named sections.
"""
from __future__ import annotations

import importlib
import sys
import time

SECTIONS = ["sensor_bench", "build_bench", "cache_bench", "xray_bench", "keep_bench", "repair_bench"]


def main(argv: list[str]) -> int:
    chosen = [name if name.endswith("_bench") else f"{name}_bench" for name in argv] or SECTIONS
    print(f"# slimmer benchmarks, {time.strftime('%Y-%m-%d %H:%M')}\n")
    failed = 0
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            print(f"## {name}: not available ({exc})\n")
            failed += 1
            continue
        start = time.monotonic()
        print(f"## {name}\n")
        print(module.run())
        print(f"\n({name} took {time.monotonic() - start:.0f}s)\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
