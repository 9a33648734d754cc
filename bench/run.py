"""Run every benchmark in bench/ (files bench_*.py, each with a main() that prints its figures).

Usage: python bench/run.py [NAME ...]   (NAME: e.g. local_scan for bench_local_scan.py)
Benchmarks are not tests: they measure, print, and leave recording to bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402


def main(names: list[str]) -> int:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    chosen = names or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    print(f"# {dt.date.today().isoformat()} on {machine()}")
    for name in chosen:
        print(f"## {name}", flush=True)
        importlib.import_module(f"bench_{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
