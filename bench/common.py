"""Helpers shared by the benchmarks: timing a child process with its own CPU time and peak RSS."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

# A small Python that forks, execs argv and reports the child's own costs. Measuring from the caller
# would be wrong: a child forked (or vforked) from a large process (pytest, or a benchmark that has
# loaded DuckDB) inherits that process's peak RSS as its own ru_maxrss, and exec does not reset it.
_TRAMPOLINE = """
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(out, "w") as handle:
    json.dump([os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss], handle)
"""


@dataclass(frozen=True)
class ProcessCost:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def measure(argv: Sequence[str], env: dict[str, str] | None = None, ok_codes: Sequence[int] = (0,)) -> ProcessCost:
    """Run argv once; wall time, user+system CPU and peak RSS of that process alone.

    Output is discarded. The costs are taken by a small forking trampoline (see _TRAMPOLINE), so they
    are the child's own whatever the size of the calling process.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        subprocess.run([sys.executable, "-c", _TRAMPOLINE, report.name, *argv], env=env, check=True,
                       stdin=subprocess.DEVNULL)
        code, wall, cpu, maxrss_kb = json.load(report)
    if code not in ok_codes:
        raise RuntimeError(f"{' '.join(argv)} exited {code}")
    return ProcessCost(wall, cpu, maxrss_kb / 1024)


def median_cost(argv: Sequence[str], runs: int, warmup: int = 1) -> ProcessCost:
    for _ in range(warmup):
        measure(argv)
    costs = [measure(argv) for _ in range(runs)]
    return ProcessCost(statistics.median(c.wall_s for c in costs), statistics.median(c.cpu_s for c in costs),
                       statistics.median(c.peak_rss_mb for c in costs))


def machine() -> str:
    return (f"{platform.node() or 'host'}: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()}")
