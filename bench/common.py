"""Helpers shared by the benchmarks: timing a child process with its own CPU time and peak RSS."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessCost:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def measure(argv: Sequence[str], env: dict[str, str] | None = None, ok_codes: Sequence[int] = (0,)) -> ProcessCost:
    """Run argv once; wall time, user+system CPU and peak RSS of that child alone (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}")
    return ProcessCost(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median_cost(argv: Sequence[str], runs: int, warmup: int = 1) -> ProcessCost:
    for _ in range(warmup):
        measure(argv)
    costs = [measure(argv) for _ in range(runs)]
    return ProcessCost(statistics.median(c.wall_s for c in costs), statistics.median(c.cpu_s for c in costs),
                       statistics.median(c.peak_rss_mb for c in costs))


def machine() -> str:
    return (f"{platform.node() or 'host'}: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()}")
