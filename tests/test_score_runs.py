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


def test_rescoring_many_times_a_day_keeps_one_copy_per_asset_and_day(tmp_path: Path) -> None:
    """The collector rescores after every burst of reports: the run_* tables grow with days, not runs,
    and the day's report and trend read the same as if every run were kept."""
    store = Store(tmp_path / "day.duckdb")
    con = store.con
    try:
        reports = estate("dwp", 10, 3).reports
        store.write_reports(reports, via="file")
        sync_rules(con, RULES)
        day1, day2 = dt.date(2026, 5, 4), dt.date(2026, 5, 5)
        score(con, day1)
        findings_day1 = con.execute("SELECT count(*) FROM run_findings").fetchone()
        systems_day1 = con.execute("SELECT count(*) FROM run_system_risk").fetchone()
        runs = [score(con, day1, assets=[r.asset_id for r in reports[i:i + 3]]) for i in range(0, 10, 3)]
        assert con.execute("SELECT count(*) FROM run_findings").fetchone() == findings_day1
        assert con.execute("SELECT count(*) FROM run_system_risk").fetchone() == systems_day1
        assert con.execute("SELECT count(*) FROM score_runs").fetchone() == (1 + len(runs),)  # every run recorded
        # Each asset's row is the one of the latest run that scored it; systems are the last run's.
        kept = dict(con.execute("SELECT asset_id, run_id FROM run_asset_risk").fetchall())
        for i, run in zip(range(0, 10, 3), runs, strict=True):
            assert all(kept[r.asset_id] == run.run_id for r in reports[i:i + 3])
        assert con.execute("SELECT DISTINCT run_id FROM run_system_risk").fetchall() == [(runs[-1].run_id,)]
        _, cubes = build_cubes(con, "org", day1)
        assert cubes["status"].totals.total.value == 10
        # The next day is kept beside it: one copy per asset and day.
        score(con, day2)
        assert con.execute("SELECT count(*) FROM run_asset_risk").fetchone() == (20,)
        points = {row.key[1]: row.total.value for row in build_cubes(con, "org", day2)[1]["trend"].rows}
        assert points == {"2026-05-04": 10, "2026-05-05": 10}
    finally:
        store.close()
