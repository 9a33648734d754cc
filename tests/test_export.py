"""Exports: Parquet hive-partitioned by org and scan date reads back as one dataset; CSV and JSON lines."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.store.export import ExportError, export
from estate.collector.store.snapshot import snapshot_file

from .estate_seed import AS_OF, estate_counts, estate_reports
from .rulekit import seeded

COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]


@pytest.fixture(scope="module")
def estate_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded estate (its organisations are in the shipped vocabulary: exports carry the labels the
    collector kept)."""
    db = tmp_path_factory.mktemp("export") / "estate.duckdb"
    seeded(db, default_rules_dir(), estate_reports(), AS_OF).close()
    return db


def test_parquet_is_one_hive_partitioned_dataset(estate_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    done = subprocess.run([*COLLECTOR_CLI, "export", "--db", str(estate_db), "--format", "parquet", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "findings").iterdir()) == ["org=dwp", "org=hmrc"]
    assert (out / "findings" / "org=hmrc" / "scan_date=2026-11-20").is_dir()
    findings = ds.dataset(out / "findings", format="parquet", partitioning="hive").to_table()
    assets = ds.dataset(out / "assets", format="parquet", partitioning="hive").to_table()
    assert assets.num_rows == estate_counts()["assets"]
    assert set(findings.column("org").to_pylist()) == {"hmrc", "dwp"}
    # DuckDB reads the same folder as one table too, filtering on the partition columns.
    con = duckdb.connect()
    n = con.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true) WHERE org = 'hmrc'",
                    [str(out / "findings" / "**" / "*.parquet")]).fetchone()
    assert n == (sum(1 for org in findings.column("org").to_pylist() if org == "hmrc"),)
    by_date = con.execute("SELECT DISTINCT scan_date::VARCHAR FROM read_parquet(?, hive_partitioning = true)",
                          [str(out / "packages" / "**" / "*.parquet")]).fetchall()
    assert by_date == [("2026-11-20",)]
    assert ds.dataset(out / "system_risk.parquet").to_table().num_rows == 5


def test_csv_and_json_lines(estate_db: Path, tmp_path: Path) -> None:
    snapshot = snapshot_file(estate_db, tmp_path / "s.duckdb").path
    written = {e.dataset: e for e in export(snapshot, tmp_path / "csv", "csv")}
    with open(written["assets"].path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == written["assets"].rows == estate_counts()["assets"] and "hostname" in rows[0]
    export(snapshot, tmp_path / "json", "json")
    lines = (tmp_path / "json" / "listeners.jsonl").read_text().splitlines()
    assert len(lines) == len({(r["asset_id"], r["port"]) for r in map(json.loads, lines)})
    assert all(json.loads(line)["org"] in ("hmrc", "dwp") for line in lines)


def test_refusals_leave_nothing(estate_db: Path, tmp_path: Path) -> None:
    snapshot = snapshot_file(estate_db, tmp_path / "s.duckdb").path
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export(snapshot, tmp_path / "taken", "parquet")
    with pytest.raises(ExportError, match="format 'xml'"):
        export(snapshot, tmp_path / "new", "xml")
    with pytest.raises(ExportError, match="export failed"):
        export(tmp_path / "missing.duckdb", tmp_path / "new", "csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.duckdb", "taken"]
