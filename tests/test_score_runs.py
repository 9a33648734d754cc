"""Score-run history: every run kept under its run_id; runs for other dates never touch today's results;
the trend reads across runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from estate.collector.read.summary import build_cubes
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.store.database import Store, _migrations

from .estate_data import estate
from .rulekit import RULES


def test_migration_numbers_runs_already_recorded(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL)")
    for version, name, sql in _migrations():
        if version < 5:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    con.execute("INSERT INTO score_runs VALUES ('2026-01-05', '2026-01-05 10:00:00+00', 'd', 3, 9, 0.1), "
                "('2027-01-01', '2026-01-06 10:00:00+00', 'd', 3, 9, 0.1)")
    con.close()
    store = Store(db)
    try:
        rows = store.con.execute("SELECT run_id, live, scope FROM score_runs ORDER BY as_of").fetchall()
        assert rows == [(1, True, "unrecorded"), (2, False, "unrecorded")]
        store.write_reports(estate("dwp", 3, 5).reports, via="file")
        sync_rules(store.con, RULES)
        assert score(store.con).run_id == 3  # the sequence goes on after the old runs
    finally:
        store.close()


def test_other_dates_are_kept_apart_and_the_trend_reads_across_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.duckdb")
    con = store.con
    try:
        reports = estate("hmrc", 12, 7).reports
        store.write_reports(reports[:8], via="file")
        sync_rules(con, RULES)
        day1, day2 = dt.date(2026, 3, 2), dt.date(2026, 9, 1)
        first = score(con, day1)
        store.write_reports(reports[8:], via="file")
        partial = score(con, day2, assets=[r.asset_id for r in reports[8:]])  # as the collector does after ingest
        today = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                 for t in ("findings", "asset_risk", "system_risk", "risk_criteria")}
        roadmap = score(con, dt.date(2029, 1, 1), live=False)
        assert not roadmap.live and roadmap.assets == 12
        for table, rows in today.items():  # untouched by the roadmap run
            assert con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() == rows, table
        kept = dict(con.execute("SELECT run_id, count(*) FROM run_asset_risk GROUP BY ALL").fetchall())
        assert kept == {first.run_id: 8, partial.run_id: 4, roadmap.run_id: 12}
        assert con.execute("SELECT count(*) FROM run_findings WHERE run_id = ?", [roadmap.run_id]).fetchone() == (
            con.execute("SELECT count(*) FROM findings").fetchone())
        assert con.execute("SELECT DISTINCT as_of FROM run_findings WHERE run_id = ?",
                           [roadmap.run_id]).fetchall() == [(dt.date(2029, 1, 1),)]
        # Trend: the first day saw 8 assets; the second day its 4 new ones plus the 8 as last scored.
        _, cubes = build_cubes(con, "org", day2)
        points = {row.key[1]: row.total.value for row in cubes["trend"].rows}
        assert points == {"2026-03-02": 8, "2026-09-01": 12}
        # The report for the roadmap date reads that run, not today's tables.
        _, later = build_cubes(con, "org", dt.date(2029, 1, 1))
        eol = later["status"].column_index("eol")
        assert later["status"].totals.cells[eol].value >= cubes["status"].totals.cells[eol].value
        assert later["status"].totals.total.value == 12
    finally:
        store.close()
