"""The real collector process on loopback, fed by the real agent code, checked in the DuckDB file."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from estate.agent import transport
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.collector.process import CollectorProcess
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

pytestmark = pytest.mark.integration
ACCEPTED, DUPLICATE, REJECTED = (ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.DUPLICATE,
                                 ingest_pb.Receipt.REJECTED)


def _report() -> pb.Inventory:
    return build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "test"})


def _send(collector: CollectorProcess, messages: list[bytes]) -> list[ingest_pb.Receipt]:
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        return transport.stream_reports(channel, messages)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_stream_accepts_then_duplicate_stores_once(collector: CollectorProcess, tmp_path: Path) -> None:
    first, second = _report(), _report()
    receipts = _send(collector, [first.SerializeToString(), second.SerializeToString()])
    assert [(r.report_id, r.status, r.sequence) for r in receipts] == [
        (first.report_id, ACCEPTED, 1), (second.report_id, ACCEPTED, 2)]
    again = _send(collector, [first.SerializeToString()])
    assert again[0].status == DUPLICATE and again[0].report_id == first.report_id
    assert collector.stop() == 0
    db = tmp_path / "estate.duckdb"
    assert _rows(db, f"SELECT count(*) FROM reports WHERE report_id = '{first.report_id}'") == [(1,)]
    # Both reports show the same packages: history by change keeps one open interval each.
    assert _rows(db, "SELECT count(*), count(*) FILTER (open) FROM packages") == [
        (len(first.packages), len(first.packages))]
    assert _rows(db, "SELECT count(*) FROM current_reports") == [(1,)]  # both reports are one asset
    assert _rows(db, "SELECT labels['org'] FROM current_reports") == [("test",)]


def test_garbage_is_rejected_with_a_reason_and_the_stream_goes_on(collector: CollectorProcess,
                                                                   tmp_path: Path) -> None:
    good, later = _report(), _report()
    no_id = _report()
    no_id.report_id = "not-a-uuid"
    huge_name = _report()
    huge_name.packages[0].name = "x" * 100_000
    oversized = pb.Inventory(report_id=str(uuid.uuid4()), labels={"padding": "x" * (49 * 1024 * 1024)})
    messages = [good.SerializeToString(), b"\xff\xfe garbage \x00\x01", no_id.SerializeToString(),
                huge_name.SerializeToString(), oversized.SerializeToString(), later.SerializeToString()]
    receipts = _send(collector, messages)
    assert [r.status for r in receipts] == [ACCEPTED, REJECTED, REJECTED, REJECTED, REJECTED, ACCEPTED]
    assert [r.sequence for r in receipts] == [1, 2, 3, 4, 5, 6]
    assert "over the 50331648-byte limit" in receipts[4].reason
    assert "not a valid estate.v1.Inventory" in receipts[1].reason
    assert "not a UUID" in receipts[2].reason
    assert "packages.name" in receipts[3].reason and "limit" in receipts[3].reason
    collector.stop()
    stored = {row[0] for row in _rows(tmp_path / "estate.duckdb", "SELECT report_id FROM reports")}
    assert stored == {good.report_id, later.report_id}


def test_agent_cli_sends_and_spool_empties(collector: CollectorProcess, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    result = subprocess.run([sys.executable, "-m", "estate.agent.cli", "scan", "--collector", collector.address,
                             "--spool", str(spool)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ACCEPTED" in result.stderr
    assert not list(spool.glob("*.report"))


def test_collector_away_keeps_report_in_spool_then_delivers(tmp_path: Path) -> None:
    from estate.collector.process import start_collector

    spool = tmp_path / "spool"
    agent = [sys.executable, "-m", "estate.agent.cli", "scan", "--spool", str(spool), "--output", "/dev/null"]
    started = time.monotonic()
    away = subprocess.run([*agent, "--collector", "127.0.0.1:9", "--collector-timeout", "0.5"], capture_output=True,
                          text=True, timeout=60)
    assert away.returncode == 75 and "collector not reachable within 0.5 s" in away.stderr, away.stderr
    assert "waits in" in away.stderr and time.monotonic() - started < 30  # not the default 10 s wait
    assert len(list(spool.glob("*.report"))) == 1
    collector = start_collector(tmp_path / "estate.duckdb", tmp_path / "c.log")
    try:
        back = subprocess.run([*agent, "--collector", collector.address], capture_output=True, text=True,
                              timeout=60)
    finally:
        collector.stop()
    assert back.returncode == 0, back.stderr
    assert back.stderr.count("ACCEPTED") == 2  # the spooled one and the new one
    assert not list(spool.glob("*.report"))
    assert _rows(tmp_path / "estate.duckdb", "SELECT count(*) FROM reports") == [(2,)]


def test_plaintext_refused_off_loopback() -> None:
    with pytest.raises(transport.TransportError, match="refusing plaintext"):
        transport.open_channel("192.0.2.10:50051", None)


def test_ingest_files_same_rules(tmp_path: Path) -> None:
    db = tmp_path / "estate.duckdb"
    report = _report()
    from estate.agent.cli import report_to_json

    json_file, pb_file, bad = tmp_path / "a.json", tmp_path / "b.pb", tmp_path / "bad.json"
    json_file.write_text(report_to_json(report))
    other = _report()
    pb_file.write_bytes(other.SerializeToString())
    bad.write_text('{"report_id": 5')
    cmd = [sys.executable, "-m", "estate.collector.cli", "ingest", "--db", str(db)]
    result = subprocess.run([*cmd, str(json_file), str(bad), str(pb_file), str(json_file)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{json_file}: ACCEPTED" in result.stdout and f"{pb_file}: ACCEPTED" in result.stdout
    assert f"{json_file}: DUPLICATE" in result.stdout
    assert f"{bad}: REJECTED: not a valid report in JSON" in result.stderr
    assert _rows(db, "SELECT count(*) FROM reports") == [(2,)]
    stored = {row[0] for row in _rows(db, "SELECT report_id FROM reports")}
    assert stored == {report.report_id, other.report_id}  # the JSON one and the protobuf one
    listing = subprocess.run([sys.executable, "-m", "estate.collector.cli", "assets", "--db", str(db),
                              "--format", "csv"], capture_output=True, text=True, check=True).stdout
    assert listing.count(report.asset_id) == 1  # both reports are one asset: its latest is listed once


def test_output_into_a_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    """`estate-collector ... | head` where head has quit: no BrokenPipeError traceback."""
    with subprocess.Popen([sys.executable, "-m", "estate.collector.cli", "certs", "init", "--dir", str(tmp_path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before anything is written
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_ingest_names_empty_and_array_files(tmp_path: Path) -> None:
    empty, array = tmp_path / "empty.json", tmp_path / "array.json"
    empty.write_text("\n")
    array.write_text("[]")
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "ingest", "--db",
                             str(tmp_path / "estate.duckdb"), str(empty), str(array)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{empty}: REJECTED: empty file: not a report" in result.stderr
    assert f"{array}: REJECTED: a JSON array, not a report" in result.stderr
