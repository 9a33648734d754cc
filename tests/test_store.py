"""The DuckDB store: migrations, documented columns, Arrow types matching the SQL, transactions."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from estate.agent.hostaccess import RecordedHost
from estate.agent.scan import build_report
from estate.collector.store.database import TABLE_COLUMNS, Store, StoreError
from estate.v1 import inventory_pb2 as pb

from .conftest import HOST_FIXTURES


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "t.duckdb")


def test_migrations_recorded_and_idempotent(tmp_path: Path, store: Store) -> None:
    version = store.schema_version()
    assert version >= 1
    assert store.migrate() == []
    store.close()
    again = Store(tmp_path / "t.duckdb")
    assert again.schema_version() == version


def test_every_table_and_column_is_described(store: Store) -> None:
    missing = store.con.execute(
        "SELECT table_name || '.' || column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND NOT internal AND table_name NOT LIKE 'current_%' AND (comment IS NULL OR comment = '')").fetchall()
    assert missing == []
    tables = store.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                               "AND (comment IS NULL OR comment = '')").fetchall()
    assert tables == []


def test_arrow_columns_match_the_sql_tables(store: Store) -> None:
    for table, columns in TABLE_COLUMNS.items():
        sql_columns = [row[0] for row in store.con.execute(f"DESCRIBE {table}").fetchall()]
        assert sorted(sql_columns) == sorted(columns), table


def test_write_reports_outcomes(store: Store) -> None:
    host = RecordedHost(HOST_FIXTURES / "debian12")
    first, second, broken = (build_report(host, pb.METHOD_FILE) for _ in range(3))
    first.asset_id = second.asset_id = "machine-id:0123456789abcdef0123456789abcdef"
    assert broken.asset_id == ""  # the fixture has no machine-id, DMI UUID or hostname
    outcomes = store.write_reports([first, broken, second, first], via="file")
    assert [o.status for o in outcomes] == ["ACCEPTED", "REJECTED", "ACCEPTED", "DUPLICATE"]
    assert outcomes[1].reason == "asset_id is empty"
    # The second report of the asset shows the same packages: history by change keeps one interval each.
    assert store.con.execute("SELECT count(*) FROM packages").fetchone() == (40,)
    assert store.con.execute("SELECT count(*) FROM reports").fetchone() == (2,)
    row = store.con.execute("SELECT os_id, os_version_id, method, received_via, package_count FROM reports "
                            "WHERE report_id = ?", [first.report_id]).fetchone()
    assert row == ("debian", "12", "FILE", "file", 40)


def test_a_failed_insert_stores_nothing(store: Store) -> None:
    host = RecordedHost(HOST_FIXTURES / "debian12")
    report = build_report(host, pb.METHOD_FILE)
    report.asset_id = "hostname:test"
    store.con.execute("DROP VIEW current_packages")
    store.con.execute("DROP VIEW packages")
    store.con.execute("DROP TABLE packages_current")  # make the first insert of the transaction fail
    with pytest.raises(StoreError):
        store.write_reports([report], via="file")
    assert store.con.execute("SELECT count(*) FROM reports").fetchone() == (0,)


def test_read_only_open_while_writer_holds_the_file(tmp_path: Path) -> None:
    writer = Store(tmp_path / "busy.duckdb")
    try:
        with pytest.raises((StoreError, duckdb.Error)):
            Store(tmp_path / "busy.duckdb", read_only=True).con.execute("SELECT 1")
    finally:
        writer.close()
