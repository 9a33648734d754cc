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

from estate.collector.store.export import ExportError, export
from estate.collector.store.snapshot import snapshot_file

from .estate_seed import estate_counts, seeded_estate

COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]


@pytest.fixture(scope="module")
def estate_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("export") / "estate.duckdb"
    seeded_estate(db).close()
    return db


def test_parquet_is_one_hive_partitioned_dataset(estate_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    done = subprocess.run([*COLLECTOR_CLI, "export", "--db", str(estate_db), "--format", "parquet", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "findings").iterdir()) == ["org=dept-a", "org=dept-b"]
    assert (out / "findings" / "org=dept-a" / "scan_date=2026-11-20").is_dir()
    findings = ds.dataset(out / "findings", format="parquet", partitioning="hive").to_table()
    assets = ds.dataset(out / "assets", format="parquet", partitioning="hive").to_table()
    assert assets.num_rows == estate_counts()["assets"]
    assert set(findings.column("org").to_pylist()) == {"dept-a", "dept-b"}
    # DuckDB reads the same folder as one table too, filtering on the partition columns.
    con = duckdb.connect()
    n = con.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true) WHERE org = 'dept-a'",
                    [str(out / "findings" / "**" / "*.parquet")]).fetchone()
    assert n == (sum(1 for org in findings.column("org").to_pylist() if org == "dept-a"),)
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
    assert all(json.loads(line)["org"] in ("dept-a", "dept-b") for line in lines)


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
