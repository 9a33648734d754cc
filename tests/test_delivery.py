"""Delivery guarantees of the agent's spool, alone and against the real collector process.

The spool keeps a report until a receipt settles it: ACCEPTED or DUPLICATE delete it, REJECTED sets it
aside in rejected/ with the reason (never deletes it: the report is the only evidence of what went
wrong), and the spool never grows past its bounds in files or bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
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

AGENT = [sys.executable, "-m", "estate.agent.cli"]
# Each spool file is the report behind a header (magic, length, SHA-256): the byte bounds count it.
HEADER = transport.SPOOL_HEADER.size


def _receipt(status: int, reason: str = "") -> ingest_pb.Receipt:
    return ingest_pb.Receipt(status=status, reason=reason)  # type: ignore[arg-type]


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _add_in_order(spool: transport.Spool, items: list[tuple[str, bytes]]) -> list[list[str]]:
    """Add reports with strictly increasing modification times (oldest first), as real runs would."""
    dropped = []
    for n, (report_id, data) in enumerate(items):
        path, gone = spool.add(report_id, data)
        os.utime(path, ns=(1_000_000_000 * (n + 1), 1_000_000_000 * (n + 1)))
        dropped.append(gone)
    return dropped


def test_rejected_report_is_moved_aside_with_its_reason_not_deleted(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool")
    data = b"\x08\x01 the exact bytes that were refused"
    path, _ = spool.add("r1", data)
    spool.settle(path, _receipt(ingest_pb.Receipt.REJECTED, "report_id: not a UUID"))
    assert spool.pending() == [] and not path.exists()
    assert spool.read(spool.rejected / "r1.report") == data  # the exact bytes, framed as they were spooled
    assert (spool.rejected / "r1.reason.txt").read_text() == "report_id: not a UUID\n"
    assert (spool.rejected.stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize("status", [ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.DUPLICATE])
def test_accepted_and_duplicate_receipts_delete_the_report(tmp_path: Path, status: int) -> None:
    spool = transport.Spool(tmp_path / "spool")
    path, _ = spool.add("r1", b"x")
    keep, _ = spool.add("r2", b"y")
    spool.settle(path, _receipt(status))
    assert not path.exists() and spool.pending() == [keep]
    assert not spool.rejected.exists()


def test_an_unknown_receipt_status_keeps_the_report(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool")
    path, _ = spool.add("r1", b"x")
    spool.settle(path, _receipt(ingest_pb.Receipt.STATUS_UNSPECIFIED))
    assert spool.pending() == [path]


def test_the_spool_is_bounded_in_files_and_drops_the_oldest(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool", max_files=3)
    dropped = _add_in_order(spool, [(f"r{n}", b"x") for n in range(5)])
    assert dropped == [[], [], [], ["r0"], ["r1"]]
    assert _ids(spool.pending()) == ["r2", "r3", "r4"]


def test_the_spool_is_bounded_in_bytes_and_keeps_the_newest_even_if_alone_too_big(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool", max_bytes=2 * (100 + HEADER) + 50)
    dropped = _add_in_order(spool, [("a", b"1" * 100), ("b", b"2" * 100), ("c", b"3" * 100)])
    assert dropped == [[], [], ["a"]]  # three files are over the bound: the oldest goes
    assert _ids(spool.pending()) == ["b", "c"]
    assert _add_in_order(spool, [("huge", b"4" * 1000)])[0] == ["b", "c"]
    assert _ids(spool.pending()) == ["huge"]  # the report just written is never the one dropped


def _fill(spool: transport.Spool, report_ids: list[str]) -> None:
    """Spooled files as earlier runs left them, oldest first (written directly: adding each is quadratic)."""
    for n, report_id in enumerate(report_ids):
        path = spool.directory / f"{report_id}.report"
        path.write_bytes(b"")
        os.utime(path, ns=(1_000_000_000 * (n + 1), 1_000_000_000 * (n + 1)))


def test_the_default_bounds_are_the_documented_ones(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool")
    assert (spool.max_files, spool.max_bytes) == (1000, 512 * 1024 * 1024)
    _fill(spool, [f"r{n:04d}" for n in range(1000)])
    assert spool.add("new", b"")[1] == ["r0000"] and len(spool.pending()) == 1000


def _agent_scan(collector: CollectorProcess | None, spool: Path) -> subprocess.CompletedProcess[str]:
    """The real agent scanning this host and sending to the collector (None: to one that is away)."""
    address, wait = (collector.address, "30") if collector else ("127.0.0.1:9", "0.5")
    return subprocess.run([*AGENT, "scan", "--collector", address, "--spool", str(spool), "--output", "/dev/null",
                           "--collector-timeout", wait], capture_output=True, text=True, timeout=120)


def _stored(db: Path, report_id: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM reports WHERE report_id = ?", [report_id]).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.integration
def test_a_spooled_report_the_collector_rejects_is_set_aside_and_the_rest_delivered(
        collector: CollectorProcess, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool = transport.Spool(spool_dir)
    bad = build_report(LocalHost(), pb.METHOD_LOCAL)
    bad.report_id = "not-a-uuid"
    bad_bytes = bad.SerializeToString()
    good = build_report(LocalHost(), pb.METHOD_LOCAL)
    _add_in_order(spool, [("not-a-uuid", bad_bytes), (good.report_id, good.SerializeToString())])
    run = _agent_scan(collector, spool_dir)
    assert run.returncode == 1, run.stderr  # a rejected report is the agent's failure, not a retry
    assert "not-a-uuid REJECTED: " in run.stderr and "not a UUID" in run.stderr
    assert f"{good.report_id} ACCEPTED" in run.stderr and run.stderr.count(" ACCEPTED") == 2  # + this scan's
    assert spool.pending() == []
    assert spool.read(spool.rejected / "not-a-uuid.report") == bad_bytes
    assert "not a UUID" in (spool.rejected / "not-a-uuid.reason.txt").read_text()
    assert collector.stop() == 0
    assert _stored(tmp_path / "estate.duckdb", good.report_id) == 1
    # The next run does not send the rejected report again.
    again = _agent_scan(None, spool_dir)
    assert again.returncode == 75 and len(spool.pending()) == 1
    assert (spool.rejected / "not-a-uuid.report").exists()


@pytest.mark.integration
def test_a_receipt_lost_after_commit_is_resent_and_stored_once(collector: CollectorProcess, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool = transport.Spool(spool_dir)
    report = build_report(LocalHost(), pb.METHOD_LOCAL)
    path, _ = spool.add(report.report_id, report.SerializeToString())
    # The collector commits and answers, but the agent never settles the file: exactly the state a
    # receipt lost on the way back (a dropped connection, a killed agent) leaves behind.
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        (lost,) = transport.stream_reports(channel, [spool.read(path)])
    assert lost.status == ingest_pb.Receipt.ACCEPTED and path.exists()
    run = _agent_scan(collector, spool_dir)
    assert run.returncode == 0, run.stderr
    assert f"{report.report_id} DUPLICATE" in run.stderr  # re-sent, recognised, deleted
    assert spool.pending() == [] and not spool.rejected.exists()
    assert collector.stop() == 0
    assert _stored(tmp_path / "estate.duckdb", report.report_id) == 1
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM reports").fetchone() == (2,)  # that one and this scan's


@pytest.mark.integration
def test_a_full_spool_says_which_report_it_dropped(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool = transport.Spool(spool_dir)
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    _fill(spool, ids)
    run = _agent_scan(None, spool_dir)
    assert run.returncode == 75
    assert f"spool full, dropped oldest report {ids[0]}" in run.stderr
    assert len(spool.pending()) == 1000 and not (spool_dir / f"{ids[0]}.report").exists()


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1:50051", True), ("127.8.9.10:1", True), ("[::1]:50051", True), ("localhost:50051", True),
    ("127.0.0.1", True), ("localhost", True), ("10.0.0.1:50051", False), ("[2001:db8::1]:50051", False),
    ("collector.example:50051", False), ("localhost.example:1", False), ("0.0.0.0:50051", False),
])
def test_which_addresses_are_loopback(address: str, loopback: bool) -> None:
    assert transport.is_loopback(address) is loopback


def test_plaintext_only_to_loopback_or_when_asked(tmp_path: Path) -> None:
    with pytest.raises(transport.TransportError, match=r"refusing plaintext to 192\.0\.2\.10:50051: give --tls-ca"):
        transport.open_channel("192.0.2.10:50051", None)
    for target, insecure in (("127.0.0.1:50051", False), ("192.0.2.10:50051", True)):
        transport.open_channel(target, None, insecure=insecure).close()  # a channel connects lazily
    missing = transport.TlsFiles(tmp_path / "ca.pem", tmp_path / "agent.pem", tmp_path / "agent.key")
    with pytest.raises(FileNotFoundError):  # TLS files are read when given, even to loopback
        transport.open_channel("127.0.0.1:50051", missing)


def test_the_spool_folder_is_private_and_made_with_its_parents(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "state" / "legacy-estate" / "spool")
    assert spool.directory.is_dir() and (spool.directory.stat().st_mode & 0o777) == 0o700
    transport.Spool(spool.directory)  # opening an existing spool is fine


def test_settling_twice_and_rejecting_twice_are_harmless(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool")
    path, _ = spool.add("r1", b"x")
    spool.settle(path, _receipt(ingest_pb.Receipt.ACCEPTED))
    spool.settle(path, _receipt(ingest_pb.Receipt.DUPLICATE))  # already gone: nothing to do
    for report_id in ("r2", "r3"):
        rejected, _ = spool.add(report_id, b"y")
        spool.settle(rejected, _receipt(ingest_pb.Receipt.REJECTED, "bad"))
    assert sorted(p.name for p in spool.rejected.iterdir()) == ["r2.reason.txt", "r2.report", "r3.reason.txt",
                                                                  "r3.report"]


def test_a_spool_exactly_at_its_byte_bound_keeps_everything(tmp_path: Path) -> None:
    spool = transport.Spool(tmp_path / "spool", max_bytes=2 * (100 + HEADER), max_files=2)
    assert _add_in_order(spool, [("a", b"1" * 100), ("b", b"2" * 100)]) == [[], []]
    assert _ids(spool.pending()) == ["a", "b"]


def test_the_default_spool_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert transport.default_spool_dir() == Path("/var/spool/legacy-estate")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert transport.default_spool_dir() == tmp_path / "xdg" / "legacy-estate" / "spool"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert transport.default_spool_dir() == tmp_path / "home" / ".local" / "state" / "legacy-estate" / "spool"


@pytest.mark.parametrize(("value", "message"), [
    ("0", "must be more than 0 and at most 3600 seconds: 0"), ("nan", "must be more than 0"),
    ("1e9", "at most 3600 seconds"), ("soon", "not a number of seconds: 'soon'"),
])
def test_a_bad_collector_timeout_is_a_usage_error(value: str, message: str) -> None:
    run = subprocess.run([*AGENT, "scan", "--collector", "127.0.0.1:9", "--collector-timeout", value],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, run.stderr
