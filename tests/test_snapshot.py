"""Snapshots while the collector runs: the stock duckdb CLI reads them, and replacing one never breaks a reader."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from estate.agent import transport
from estate.collector.process import start_collector
from estate.collector.read.client import RemoteError, fetch_snapshot
from estate.collector.store.database import Store
from estate.collector.store.snapshot import SNAPSHOT_STORAGE_VERSION, default_snapshot_path, write_snapshot

from .estate_seed import estate_counts, estate_reports

COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]
DUCKDB_CLI = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
# Counts that must agree inside any consistent snapshot: every report's package_count is the number of
# its package rows, whatever moment the copy was taken at.
CONSISTENCY = ("SELECT (SELECT count(*) FROM reports) AS reports, "
               "(SELECT coalesce(sum(package_count), 0)::BIGINT FROM reports) AS declared, "
               "(SELECT count(*) FROM packages) AS packages, (SELECT count(*) FROM listeners) AS listeners")

needs_cli = pytest.mark.skipif(DUCKDB_CLI is None, reason="the stock duckdb CLI (pip install duckdb-cli) is missing")


def cli_rows(snapshot: Path, sql: str) -> list[dict[str, object]]:
    """Rows from the stock duckdb CLI process, opening the snapshot read-only."""
    assert DUCKDB_CLI is not None
    done = subprocess.run([DUCKDB_CLI, "-readonly", "-json", str(snapshot), "-c", sql], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "[]")  # type: ignore[no-any-return]


def test_the_stock_cli_is_the_one_the_issue_names() -> None:
    assert DUCKDB_CLI is not None, "install the dev extra: it brings duckdb-cli"
    version = subprocess.run([DUCKDB_CLI, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v1.5."), version


@needs_cli
def test_the_stock_cli_refuses_the_store_but_reads_the_snapshot(tmp_path: Path) -> None:
    """This duckdb writes the store in a storage version the stock CLI refuses; the snapshot is one it reads."""
    assert DUCKDB_CLI is not None
    store = Store(tmp_path / "live.duckdb")
    try:
        store.write_reports(estate_reports(), via="file")
        info = write_snapshot(store.con.cursor(), tmp_path / "snap.duckdb")
    finally:
        store.close()  # checkpoints: the live file is now complete, in this duckdb's own format
    assert info.reports == estate_counts()["reports"]
    refused = subprocess.run([DUCKDB_CLI, "-readonly", str(tmp_path / "live.duckdb"), "-c", "SELECT 1"],
                             capture_output=True, text=True, timeout=60)
    if duckdb.__version__.startswith("2."):
        assert refused.returncode != 0 and "version" in refused.stderr
    (row,) = cli_rows(info.path, "SELECT tags['storage_version'] AS v FROM duckdb_databases() "
                                 "WHERE database_name = current_database()")
    assert str(row["v"]).startswith(SNAPSHOT_STORAGE_VERSION)
    assert not (tmp_path / "snap.duckdb.wal").exists()
    assert info.path.stat().st_mode & 0o222 == 0, "a snapshot is read-only"


@needs_cli
@pytest.mark.integration
def test_serve_snapshots_read_by_the_stock_cli_while_reports_stream_in(tmp_path: Path) -> None:
    db = tmp_path / "estate.duckdb"
    snapshot = default_snapshot_path(db)
    proc = start_collector(db, tmp_path / "collector.log", ["--snapshot-every", "1s"])
    expected = estate_counts()
    reports = [r.SerializeToString() for r in estate_reports()]
    errors: list[BaseException] = []

    def send() -> None:
        try:
            with transport.open_channel(proc.address, None) as channel:
                for data in reports:  # one stream per report, so snapshots fall between them
                    receipts = transport.stream_reports(channel, [data], timeout_s=60)
                    assert receipts[0].status == receipts[0].ACCEPTED, receipts
                    time.sleep(0.3)
        except BaseException as exc:
            errors.append(exc)

    try:
        # The file itself is locked while serve runs: that is why snapshots exist.
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(db), read_only=True)
        sender = threading.Thread(target=send)
        sender.start()
        seen: list[int] = []
        # The stock CLI process opens the current snapshot again and again while reports arrive.
        while sender.is_alive() or not seen:
            if snapshot.exists():
                (row,) = cli_rows(snapshot, CONSISTENCY)
                assert row["declared"] == row["packages"], row  # never a torn copy
                seen.append(int(row["reports"]))  # type: ignore[call-overload]
            time.sleep(0.2)
        sender.join()
        assert not errors, errors
        assert seen == sorted(seen), "snapshots only move forward"

        # On demand, through the running collector (it holds the file; the CLI asks it).
        done = subprocess.run([*COLLECTOR_CLI, "snapshot", "--db", str(db)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert "taken by the collector" in done.stdout
        (row,) = cli_rows(snapshot, CONSISTENCY + ", (SELECT count(*) FROM current_reports) AS assets")
        assert row == {"reports": expected["reports"], "declared": expected["packages"],
                       "packages": expected["packages"], "listeners": expected["listeners"],
                       "assets": expected["assets"]}
    finally:
        proc.stop()
    assert not Path(f"{db}.serve.json").exists()


@needs_cli
@pytest.mark.integration
def test_replacing_the_snapshot_does_not_break_a_reader_that_has_it_open(tmp_path: Path) -> None:
    db = tmp_path / "estate.duckdb"
    snapshot = default_snapshot_path(db)
    proc = start_collector(db, tmp_path / "collector.log", ["--snapshot-every", "0"])
    reports = [r.SerializeToString() for r in estate_reports()]
    assert DUCKDB_CLI is not None
    try:
        with transport.open_channel(proc.address, None) as channel:
            transport.stream_reports(channel, reports[:5], timeout_s=60)
            first = fetch_snapshot(proc.address, None, snapshot)
            assert first.reports == 5
            with subprocess.Popen([DUCKDB_CLI, "-readonly", "-csv", "-noheader", str(snapshot)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, bufsize=1) as reader:

                def ask(sql: str) -> str:
                    assert reader.stdin is not None and reader.stdout is not None
                    reader.stdin.write(sql + ";\n")
                    reader.stdin.flush()
                    return reader.stdout.readline().strip()

                assert ask("SELECT count(*) FROM reports") == "5"
                transport.stream_reports(channel, reports[5:], timeout_s=60)
                second = fetch_snapshot(proc.address, None, snapshot)  # renamed over the open file
                assert second.reports == len(reports)
                # The open reader still reads its snapshot, whole and unchanged; a new reader sees the new one.
                assert ask("SELECT count(*) FROM reports") == "5"
                assert ask("SELECT count(*) FROM packages") == str(sum(len(r.packages) for r in estate_reports()[:5]))
                _, errors = reader.communicate(timeout=30)
                assert reader.returncode == 0, errors
            (row,) = cli_rows(snapshot, "SELECT count(*) AS n FROM reports")
            assert row["n"] == len(reports)
    finally:
        proc.stop()


@pytest.mark.integration
def test_snapshot_without_a_server_and_refusals(tmp_path: Path) -> None:
    db = tmp_path / "estate.duckdb"
    store = Store(db)
    store.write_reports(estate_reports(), via="file")
    store.close()
    done = subprocess.run([*COLLECTOR_CLI, "snapshot", "--db", str(db), "--out", str(tmp_path / "s.duckdb")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "taken by the collector" not in done.stdout and f"{estate_counts()['reports']} reports" in done.stdout
    missing = subprocess.run([*COLLECTOR_CLI, "snapshot", "--db", str(tmp_path / "nope.duckdb")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no such database" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    with pytest.raises(RemoteError):
        fetch_snapshot("127.0.0.1:1", None, tmp_path / "never.duckdb", timeout_s=2)
    assert not list(tmp_path.glob(".never*"))


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300.0), ("30s", 30.0), ("90", 90.0), ("1h", 3600.0), ("0", 0.0)])
def test_snapshot_every_durations(text: str, seconds: float) -> None:
    from estate.collector.cli import duration

    assert duration(text) == seconds


def test_a_bad_duration_is_named() -> None:
    done = subprocess.run([*COLLECTOR_CLI, "serve", "--snapshot-every", "soon"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "not a duration (like 30s, 5m, 1h): 'soon'" in done.stderr
