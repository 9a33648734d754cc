"""No sender can stop the collector for the others: stream limits, byte budgets, health, metrics, logs.

Every test runs the real `estate-collector serve` process on loopback and talks to it over gRPC.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import grpc
import pytest

from estate.agent import transport
from estate.collector.process import CollectorProcess, start_collector
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

pytestmark = pytest.mark.integration
ACCEPTED, REJECTED = ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.REJECTED


def small_report(packages: int = 20, padding: int = 0, asset: str = "") -> pb.Inventory:
    """A valid report of a made-up host; `padding` bytes go into one package's evidence strings."""
    report = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=asset or f"asset-{uuid.uuid4()}",
                          method=pb.METHOD_LOCAL, agent_version="test")
    report.collected_at.GetCurrentTime()
    report.host.hostname = "host-" + report.asset_id[-6:]
    report.os.id, report.os.version_id = "debian", "12"
    chunk = "e" * 4000
    per_package = padding // max(packages, 1)
    for index in range(packages):
        evidence = (chunk * (per_package // len(chunk) + 1))[:min(per_package, 4000)] if padding else "/var/lib/dpkg"
        report.packages.add(name=f"pkg{index}", version="1.0", manager="dpkg", evidence=evidence)
    return report


class IdleStream:
    """A stream that opens and then sends nothing until released: the sender that starved everyone."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.release = threading.Event()
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        call = channel.stream_stream(transport.STREAM_METHOD, request_serializer=None,
                                     response_deserializer=ingest_pb.Receipt.FromString)

        def requests() -> Iterator[bytes]:
            self.release.wait(120)
            return
            yield b""  # a generator that yields nothing

        def consume() -> None:
            try:
                list(call(requests(), timeout=120))
            except grpc.RpcError as exc:
                self.error = exc
            self.ended.set()

        threading.Thread(target=consume, daemon=True).start()


def send(address: str, messages: list[bytes], timeout_s: float = 60) -> list[ingest_pb.Receipt]:
    with transport.open_channel(address, None) as channel:
        return transport.stream_reports(channel, messages, timeout_s=timeout_s)


def test_twenty_idle_streams_do_not_block_a_good_agent(collector: CollectorProcess) -> None:
    """Before: 16 worker threads, one per stream, and 16 idle streams hung every later sender."""
    channel = grpc.insecure_channel(collector.address)
    idle = [IdleStream(channel) for _ in range(20)]
    try:
        time.sleep(1.0)  # every idle stream is open on the collector
        report = small_report()
        started = time.monotonic()
        receipts = send(collector.address, [report.SerializeToString()], timeout_s=15)
        assert [r.status for r in receipts] == [ACCEPTED]
        assert time.monotonic() - started < 10
    finally:
        for stream in idle:
            stream.release.set()
        channel.close()


def test_stream_limit_idle_and_total_deadlines(tmp_path: Path) -> None:
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "c.log",
                           ["--max-streams", "4", "--idle-timeout", "2", "--stream-timeout", "4"])
    channel = grpc.insecure_channel(proc.address)
    try:
        idle = [IdleStream(channel) for _ in range(4)]
        time.sleep(1.0)
        with pytest.raises(transport.TransportError, match="RESOURCE_EXHAUSTED: collector busy: 4 streams open"):
            send(proc.address, [small_report().SerializeToString()])
        for stream in idle:  # the idle deadline ends them; they do not hold their slots for ever
            assert stream.ended.wait(10)
            assert stream.error is not None and stream.error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "stream idle for 2 s" in (stream.error.details() or "")
        assert [r.status for r in send(proc.address, [small_report().SerializeToString()])] == [ACCEPTED]

        # A stream that keeps sending is ended at its total deadline, after the receipts of what it sent.
        sent: list[str] = []
        receipts: list[ingest_pb.Receipt] = []

        def trickle() -> Iterator[bytes]:
            for _ in range(40):
                report = small_report()
                sent.append(report.report_id)
                yield report.SerializeToString()
                time.sleep(0.25)

        call = channel.stream_stream(transport.STREAM_METHOD, request_serializer=None,
                                     response_deserializer=ingest_pb.Receipt.FromString)
        with pytest.raises(grpc.RpcError) as ended:
            for receipt in call(trickle(), timeout=60):
                receipts.append(receipt)
        assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "stream open longer than 4 s" in (ended.value.details() or "")
        assert 5 < len(receipts) < 40 and all(r.status == ACCEPTED for r in receipts)
        assert [r.report_id for r in receipts] == sent[:len(receipts)]
    finally:
        channel.close()
        assert proc.stop() == 0
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        stored = {row[0] for row in con.execute("SELECT report_id FROM reports").fetchall()}
    assert {r.report_id for r in receipts} <= stored  # everything acknowledged is stored


@pytest.mark.parametrize(("total_mib", "per_stream_mib", "streams", "reports"), [
    (48, 48, 6, 2),  # the total budget binds: six streams share 48 MiB
    (256, 48, 1, 6),  # the per-stream budget binds: one stream may not hold more than 48 MiB
])
def test_pending_bytes_are_bounded_and_nothing_is_lost(tmp_path: Path, total_mib: int, per_stream_mib: int,
                                                       streams: int, reports: int) -> None:
    """20 MB reports through a small budget: all stored, the queue never over the budget that binds."""
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "c.log",
                           ["--max-pending-mib", str(total_mib), "--max-pending-mib-per-stream", str(per_stream_mib),
                            "--metrics", "127.0.0.1:0"])
    metrics_url = _metrics_url(proc)
    peaks: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peaks.append(_metric(metrics_url, "estate_pending_bytes"))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    results: list[list[ingest_pb.Receipt]] = []
    batches = [[small_report(packages=5000, padding=20_000_000) for _ in range(reports)] for _ in range(streams)]
    threads = [threading.Thread(target=lambda batch=batch: results.append(
        send(proc.address, [r.SerializeToString() for r in batch], timeout_s=240))) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    done.set()
    watcher.join()
    try:
        assert len(results) == streams and all(r.status == ACCEPTED for batch in results for r in batch)
        assert sum(len(batch) for batch in results) == streams * reports
        assert max(peaks) <= min(total_mib, per_stream_mib * streams) * 1024 * 1024
        assert max(peaks) > 0  # the budget was in use
    finally:
        assert proc.stop() == 0


def _metrics_url(proc: CollectorProcess) -> str:
    import re

    match = re.search(r"metrics on http://(\S+):(\d+)/metrics", proc.log.read_text())
    assert match, proc.log.read_text()
    return f"http://{match.group(1)}:{match.group(2)}/metrics"


def _metric(url: str, name: str, labels: str = "") -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.split()[-1])
    raise AssertionError(f"{name}{labels} not in the metrics:\n{text}")


def test_health_metrics_and_one_json_log_line_per_report(tmp_path: Path) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "c.log", ["--metrics", "127.0.0.1:0"])
    try:
        with grpc.insecure_channel(proc.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for service in ("", "estate.v1.Ingest"):
                answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
        good = small_report()
        receipts = send(proc.address, [good.SerializeToString(), b"\xff garbage", good.SerializeToString()])
        assert [r.status for r in receipts] == [ACCEPTED, REJECTED, ingest_pb.Receipt.DUPLICATE]
        url = _metrics_url(proc)
        assert _metric(url, "estate_reports_total", '{verdict="accepted"}') == 1
        assert _metric(url, "estate_reports_total", '{verdict="duplicate"}') == 1
        assert _metric(url, "estate_reports_rejected_total", '{reason="malformed"}') == 1
        assert _metric(url, "estate_ingest_latency_seconds_count") == 3
        deadline = time.monotonic() + 30  # scoring runs in its own thread, after the receipts
        while _metric(url, "estate_scoring_duration_seconds_count") < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _metric(url, "estate_scoring_duration_seconds_count") >= 1
        assert _metric(url, "estate_store_bytes") > 0
        assert _metric(url, "estate_pending_bytes") == 0
    finally:
        assert proc.stop() == 0
    lines = [json.loads(line) for line in proc.log.read_text().splitlines() if line.startswith("{")]
    assert [(line["report_id"], line["asset_id"], line["verdict"]) for line in lines] == [
        (good.report_id, good.asset_id, "ACCEPTED"), ("", "", "REJECTED"), (good.report_id, good.asset_id, "DUPLICATE")]
    assert all(line["sender"].startswith("peer:ipv4:127.0.0.1:") for line in lines)
    assert "not a valid estate.v1.Inventory" in lines[1]["reason"]



@pytest.mark.parametrize("mib", [None, 0])
def test_package_lists_kept_are_bounded_and_counted(tmp_path: Path, mib: int | None) -> None:
    """A rescan of the same list of packages is numbered from the list kept (estate_package_lists_total
    {how="kept"}); with --package-lists-mib 0 none is kept and every report goes through the catalog."""
    from estate.agent.wire import encode_report

    options = [] if mib is None else ["--package-lists-mib", str(mib)]
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "c.log", ["--metrics", "127.0.0.1:0", *options])
    try:
        first = small_report(asset="asset-lists")
        rescan = small_report(asset="asset-lists")
        rescan.packages[3].version = "2.0"
        # One after the other: two reports in one writer group are numbered together, neither from a kept list.
        for report in (first, rescan):
            assert [r.status for r in send(proc.address, [encode_report(report)])] == [ACCEPTED]
        url = _metrics_url(proc)
        kept = {how: _metric(url, "estate_package_lists_total", f'{{how="{how}"}}') for how in ("kept", "numbered")}
        assert kept == ({"kept": 1, "numbered": 1} if mib is None else {"kept": 0, "numbered": 2})
        assert _metric(url, "estate_package_lists_kept_rows") == (20 if mib is None else 0)
        assert _metric(url, "estate_package_lists_bound_rows") == (16 * 1024 * 1024 if mib is None else 0)
    finally:
        assert proc.stop() == 0
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(*) FILTER (version = '2.0') FROM current_packages").fetchone() \
            == (20, 1)


def test_package_lists_mib_below_zero_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "estate.collector.cli", "serve", "--db", str(tmp_path / "e.duckdb"),
                           "--listen", "127.0.0.1:0", "--package-lists-mib", "-1"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "--package-lists-mib must be 0 or more, not -1" in done.stderr


@pytest.mark.parametrize(("part", "where"), [
    ("interface", "host.interfaces"), ("disk", "host.hardware.disks"), ("warning", "host.identity_warnings"),
    ("id_like", "os.id_like"), ("evidence", "device.evidence")])
def test_long_strings_in_nested_parts_are_rejected(collector: CollectorProcess, part: str, where: str) -> None:
    report = small_report()
    long = "x" * 100_000
    if part == "interface":
        report.host.interfaces.add(name="eth0", addresses=[long])
    elif part == "disk":
        report.host.hardware.disks.add(device="/dev/sda", mountpoint=long)
    elif part == "warning":
        report.host.identity_warnings.append(long)
    elif part == "id_like":
        report.os.id_like.append(long)
    else:
        report.device.evidence["sysDescr"] = long
    later = small_report()
    receipts = send(collector.address, [report.SerializeToString(), later.SerializeToString()])
    assert [r.status for r in receipts] == [REJECTED, ACCEPTED]
    assert where in receipts[0].reason and "over the limit of 4096" in receipts[0].reason


def test_stopping_ends_idle_streams_with_a_reason_and_no_traceback(tmp_path: Path) -> None:
    """SIGTERM with streams open and idle: the collector ends them itself (UNAVAILABLE, saying why) a
    second before gRPC's grace runs out, instead of gRPC cancelling them and logging a traceback."""
    collector = start_collector(tmp_path / "s.duckdb", tmp_path / "s.log")
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 30)
        idle = [IdleStream(channel) for _ in range(3)]
        assert send(collector.address, [small_report().SerializeToString()])[0].status == ACCEPTED
        started = time.monotonic()
        assert collector.stop(timeout_s=30) == 0
        stopped_in = time.monotonic() - started
        for stream in idle:
            assert stream.ended.wait(10)
            assert stream.error is not None and stream.error.code() == grpc.StatusCode.UNAVAILABLE
            assert "collector stopping" in (stream.error.details() or "")
            stream.release.set()
    log = (tmp_path / "s.log").read_text()
    assert "Traceback" not in log and "CancelledError" not in log, log[-2000:]
    assert stopped_in < 15


def test_stopping_with_receipts_owed_ends_streams_cleanly_and_loses_nothing(tmp_path: Path) -> None:
    """SIGTERM while the store is behind (four 45 MB reports, several seconds of writing) with --stop-grace 2:
    a second before the grace ends, streams still owed a receipt are ended with UNAVAILABLE saying so, not
    cancelled by gRPC with a traceback. Every report is stored once: sent again, each is ACCEPTED or DUPLICATE."""
    from .test_receipt_latency import big_report

    template = pb.Inventory.FromString(big_report())
    reports = []
    for n in range(4):
        template.report_id, template.asset_id = str(uuid.uuid4()), f"hostname:big{n}"
        reports.append(template.SerializeToString())
    db, log = tmp_path / "s.duckdb", tmp_path / "s.log"
    collector = start_collector(db, log, ["--stop-grace", "2"])
    answers: list[ingest_pb.Receipt | grpc.RpcError] = [ingest_pb.Receipt()] * len(reports)

    def one(index: int) -> None:
        with transport.open_channel(collector.address, None) as channel:
            call = channel.stream_stream(transport.STREAM_METHOD, request_serializer=None,
                                         response_deserializer=ingest_pb.Receipt.FromString)
            try:
                received = list(call(iter([reports[index]]), timeout=120))  # to the stream's end
                answers[index] = received[0]
            except grpc.RpcError as exc:
                answers[index] = exc

    senders = [threading.Thread(target=one, args=(n,)) for n in range(len(reports))]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 60
    while '"event": "report"' not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the first report is stored: the others are received and queued behind it
    assert collector.stop(timeout_s=120) == 0
    for sender in senders:
        sender.join(30)
    ended = [n for n, answer in enumerate(answers) if isinstance(answer, grpc.RpcError)]
    assert ended, "the store kept up within the grace: nothing was left to give up"
    for n, answer in enumerate(answers):
        if isinstance(answer, grpc.RpcError):
            assert answer.code() == grpc.StatusCode.UNAVAILABLE, answer
            assert "collector stopping" in (answer.details() or ""), answer.details()
        else:
            assert answer.status == ACCEPTED, (n, answer)
    text = log.read_text()
    assert "Traceback" not in text and "CancelledError" not in text, text[-3000:]
    again = start_collector(db, tmp_path / "again.log")
    try:
        receipts = send(again.address, [reports[n] for n in ended], timeout_s=120)
        assert {r.status for r in receipts} <= {ACCEPTED, ingest_pb.Receipt.DUPLICATE}
    finally:
        again.stop()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT report_id) FROM reports").fetchone() == (4, 4)

