"""The estate report on the 50,000-asset database of bench_scoring (10 million package rows).

Builds that database (bench_scoring.build), labels its assets with 12 organisations and 60
departments, scores it (the baseline: one full scoring run, measured in the same run), keeps a
roadmap run a year ahead, then times the report read-only as `estate-collector report` does:
HTML (aggregate SQL, Vega-Lite charts, template), CSV and JSON, best of two each, and the HTML
through the real command line as a child process (wall, CPU, peak RSS).

Usage: python bench/bench_report.py [ASSETS [PACKAGES_PER_ASSET]]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from bench_scoring import build
from common import measure

from estate.collector.read import report
from estate.collector.read.summary import build_cubes
from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.scoring.scorer import score, sync_rules

ASSETS = 50_000
PER_ASSET = 200


def best_of(runs: int, fn: object) -> tuple[float, object]:
    assert callable(fn)
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(assets: int = ASSETS, per_asset: int = PER_ASSET) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        store = build(db, assets, per_asset)
        store.con.execute("UPDATE reports SET labels = map(['system', 'org', 'department', 'environment'], "
                          "['sys' || (hash(asset_id) % 500), 'org' || (hash(asset_id) % 12), "
                          "'dept' || (hash(asset_id) % 60), "
                          "['production', 'staging'][1 + (hash(asset_id) % 2)::BIGINT]])")
        print(f"built {assets:,} assets x {per_asset} packages in {time.perf_counter() - started:.1f} s")
        assert sync_rules(store.con, default_rules_dir()).errors is None
        scored = score(store.con)
        score(store.con, dt.date.today() + dt.timedelta(days=365), live=False)
        store.close()
        print(f"baseline, one full scoring run: {scored.seconds:.2f} s ({scored.findings:,} findings)")
        con = duckdb.connect(str(db), read_only=True)
        cubes_s, _ = best_of(2, lambda: build_cubes(con, "org"))
        data = report.from_store(con, "org")
        tables = report.sections(data)
        charts_s, _ = best_of(2, lambda: report.charts(data, tables))
        times = {}
        for fmt in report.FORMATS:
            times[fmt], text = best_of(2, lambda fmt=fmt: report.render(report.from_store(con, "org"), fmt))
            assert isinstance(text, str)
            print(f"report --format {fmt:4}: {times[fmt]:.2f} s ({len(text.encode()):,} bytes), "
                  f"{times[fmt] / scored.seconds:.2f}x the scoring run")
        by_system, _ = best_of(1, lambda: report.render(report.from_store(con, "system"), "html"))
        con.close()
        print(f"  of the HTML: aggregate SQL {cubes_s:.2f} s, charts (vl-convert) {charts_s:.2f} s")
        print(f"report --format html --by system (500 systems): {by_system:.2f} s")
        cost = measure([sys.executable, "-m", "estate.collector.cli", "report", "--db", str(db),
                        "--out", str(Path(tmp) / "report.html")])
        print(f"estate-collector report (child process, html): {cost.wall_s:.2f} s wall, {cost.cpu_s:.2f} s CPU, "
              f"peak RSS {cost.peak_rss_mb:.0f} MB")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
