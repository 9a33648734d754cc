"""Issue 14: receipt latency of a well-behaved agent under 200 hostile and normal streams, against idle.

Usage: python bench/bench_soak.py [SECONDS]   (default 60; `bench/run.py soak` uses the default)

Two runs of the real `estate-collector serve` on loopback, each on a fresh DuckDB file, in one go:
the same agent (one 800-package report per stream, every 0.5 s) first against an idle collector,
then while tests/soak.py's 200 streams (110 normal, 40 malformed, 10 oversized, 40 idle) run.
Prints p50, p99 and max receipt latency for both, their ratio, and the collector's peak RSS.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from estate.collector.process import start_collector  # noqa: E402
from tests.soak import AgentRun, peak_rss_mb, soak, well_behaved_agent  # noqa: E402


def _figures(run: AgentRun) -> dict[str, float]:
    return {"p50_ms": round(run.p50 * 1000, 1), "p99_ms": round(run.percentile(0.99) * 1000, 1),
            "max_ms": round(max(run.latencies_s) * 1000, 1), "receipts": len(run.latencies_s)}


def main(seconds: float = 60.0) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="estate-soak-") as folder:
        work = Path(folder)
        (work / "idle").mkdir()
        (work / "load").mkdir()
        idle_collector = start_collector(work / "idle" / "estate.duckdb", work / "idle" / "c.log")
        try:
            idle = well_behaved_agent(idle_collector.address, seconds)
            idle_rss = peak_rss_mb(idle_collector.process.pid)
        finally:
            idle_collector.stop()
        load_collector = start_collector(work / "load" / "estate.duckdb", work / "load" / "c.log",
                                         ["--idle-timeout", "5"])
        try:
            loaded = soak(load_collector.address, load_collector.process.pid, seconds, work / "load")
        finally:
            load_collector.stop(timeout_s=60)
    load_avg = os.getloadavg()
    results = {"idle": {**_figures(idle), "peak_rss_mb": round(idle_rss)},
               "load": {**_figures(loaded.agent), "peak_rss_mb": round(loaded.peak_rss_mb)}}
    for name, figures in results.items():
        print(f"{name}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms "
              f"over {figures['receipts']} receipts; collector peak RSS {figures['peak_rss_mb']} MiB")
    print(f"ratio under load / idle: p50 {results['load']['p50_ms'] / results['idle']['p50_ms']:.1f}x, "
          f"p99 {results['load']['p99_ms'] / results['idle']['p99_ms']:.1f}x; "
          f"load average at the end {load_avg[0]:.1f} ({time.strftime('%Y-%m-%d %H:%M')})")
    senders = loaded.senders
    print("senders: " + ", ".join(f"{kind} {s['streams']} streams / {s['receipts']} receipts"
                                  for kind, s in senders.items()))
    return results


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)
