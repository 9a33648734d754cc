"""Issue 2: wall time, CPU time and peak RSS of `estate-agent scan --output /dev/null`, median of runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from common import median_cost

RUNS = 7


def main() -> dict[str, float]:
    agent = shutil.which("estate-agent") or str(Path(sys.executable).parent / "estate-agent")
    cost = median_cost([agent, "scan", "--output", "/dev/null"], RUNS)
    figures = {"wall_s": round(cost.wall_s, 3), "cpu_s": round(cost.cpu_s, 3),
               "peak_rss_mb": round(cost.peak_rss_mb, 1)}
    print(f"local scan (median of {RUNS}): {figures['wall_s']} s wall, {figures['cpu_s']} s CPU, "
          f"{figures['peak_rss_mb']} MB peak RSS")
    return figures


if __name__ == "__main__":
    main()
