"""Snapshot time and the latency of the documented questions (docs/questions.md), sandbox against writer.

Builds the scoring benchmark's database (bench_scoring.build: 50,000 current assets with 200 packages
each, 10 million package rows), loads the shipped rules and scores it. Then:
- takes a snapshot (write_snapshot from a cursor of the writer's database, storage v1.4.0) while a
  thread keeps committing small reports on the writer's connection, and compares those commits' latency
  with the same commits when no snapshot runs (the baseline, measured in the same run);
- runs every question of docs/questions.md on the writer's own connection (the baseline) and through
  the sandbox on the snapshot (run_sql: attach read-only, lock down, run, stream Arrow), best of three.

Usage: python bench/bench_analyst.py [ASSETS [PACKAGES_PER_ASSET]]
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench_scoring import ASSETS, PER_ASSET, build

from estate.collector.read.sandbox import Limits, run_sql
from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.store.database import Store
from estate.collector.store.snapshot import write_snapshot
from estate.v1 import inventory_pb2 as pb

QUESTIONS = Path(__file__).resolve().parent.parent / "docs" / "questions.md"
RUNS = 3


def questions() -> list[tuple[int, str]]:
    found = re.findall(r"^## (\d+)\. .+?\n\n```sql\n(.+?)```", QUESTIONS.read_text(), re.MULTILINE | re.DOTALL)
    return [(int(n), sql.strip()) for n, sql in found]


def small_report(i: int) -> pb.Inventory:
    report = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=f"bench:{i}", method=pb.METHOD_FILE)
    report.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc))
    report.host.hostname = f"bench{i}"
    for k in range(50):
        report.packages.add(name=f"pkg{k}", version="1.0", manager="dpkg")
    return report


def commit_latencies(store: Store, stop: threading.Event, out: list[float]) -> None:
    """Commits a 50-package report every 20 ms on the writer's connection, recording each commit's time."""
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        store.write_reports([small_report(i)], via="file")
        out.append(time.perf_counter() - started)
        i += 1
        stop.wait(0.02)


def main(assets: int = ASSETS, per_asset: int = PER_ASSET) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store = build(Path(tmp) / "bench.duckdb", assets, per_asset)
        sync = sync_rules(store.con, default_rules_dir())
        assert sync.errors is None, sync.errors
        score(store.con, dt.date(2026, 11, 24))
        store.con.execute("CHECKPOINT")
        print(f"built and scored {assets:,} assets x {per_asset} packages in {time.perf_counter() - started:.1f} s")

        # Ingest with no snapshot running: the baseline.
        baseline: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(target=commit_latencies, args=(store, stop, baseline))
        writer.start()
        time.sleep(3)
        stop.set()
        writer.join()

        # Ingest while a snapshot is copied from a cursor of the writer's database.
        during: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(target=commit_latencies, args=(store, stop, during))
        cursor = store.con.cursor()
        writer.start()
        info = write_snapshot(cursor, Path(tmp) / "bench.snapshot.duckdb")
        stop.set()
        writer.join()
        cursor.close()
        print(f"snapshot: {info.size_bytes / 1e6:.0f} MB, {info.reports:,} reports in {info.seconds:.2f} s")
        print(f"ingest commits (50-package report each): without a snapshot median "
              f"{statistics.median(baseline) * 1e3:.1f} ms, max {max(baseline) * 1e3:.1f} ms "
              f"({len(baseline)} commits); "
              f"during the snapshot median {statistics.median(during) * 1e3:.1f} ms, max {max(during) * 1e3:.1f} ms "
              f"({len(during)} commits): {statistics.median(during) / statistics.median(baseline):.1f}x the median")

        print("question  writer (s)  sandbox on snapshot (s)  ratio  rows")
        limits = Limits(seconds=120, max_rows=10_000_000, memory_limit="2GB")
        totals = [0.0, 0.0]
        for number, sql in questions():
            direct, sandboxed = [], []
            rows = 0
            for _ in range(RUNS):
                started = time.perf_counter()
                rows = len(store.con.execute(sql).fetchall())
                direct.append(time.perf_counter() - started)
                started = time.perf_counter()
                run_sql(info.path, sql, limits)
                sandboxed.append(time.perf_counter() - started)
            best_direct, best_sandbox = min(direct), min(sandboxed)
            totals[0] += best_direct
            totals[1] += best_sandbox
            print(f"{number:8}  {best_direct:10.3f}  {best_sandbox:23.3f}  {best_sandbox / best_direct:5.1f}  {rows}")
        print(f"all {len(questions())} questions: writer {totals[0]:.2f} s, sandbox {totals[1]:.2f} s "
              f"({totals[1] / totals[0]:.2f}x)")
        store.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
