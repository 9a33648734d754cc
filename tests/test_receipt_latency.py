"""Receipts stay fast for small reports while a 40 MB report is stored and scored (issue 9)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from estate.agent import transport
from estate.collector.process import start_collector
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

pytestmark = pytest.mark.integration
BIG_PACKAGES = 462_000


def big_report(packages: int = BIG_PACKAGES) -> bytes:
    """A report of about 40 MB: packages with names, versions and sources of realistic lengths."""
    inv = pb.Inventory(report_id=str(uuid.uuid4()), asset_id="hostname:big", method=pb.METHOD_LOCAL)
    inv.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    inv.host.hostname = "big"
    inv.os.id, inv.os.version_id, inv.os.family = "debian", "12", "linux"
    add = inv.packages.add
    for i in range(packages):
        add(name=f"package-number-{i}", version=f"1:{i % 97}.{i % 13}.{i}-1+deb12u1", architecture="amd64",
            manager="dpkg", source=f"source-{i % 5000}", found_by="dpkg", evidence="/var/lib/dpkg/status")
    return inv.SerializeToString()


def small_report(n: int) -> bytes:
    inv = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=f"hostname:small{n}", method=pb.METHOD_LOCAL)
    inv.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    inv.host.hostname = f"small{n}"
    inv.os.id, inv.os.version_id, inv.os.family = "debian", "12", "linux"
    for i in range(50):
        inv.packages.add(name=f"pkg{i}", version="1.0-1", manager="dpkg")
    return inv.SerializeToString()


def test_small_receipts_under_a_second_while_a_40mb_report_is_stored_and_scored(tmp_path: Path) -> None:
    big = big_report()
    assert 36 * 1024**2 < len(big) < 48 * 1024**2
    collector = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log")
    try:
        with transport.open_channel(collector.address, None) as channel:
            transport.wait_for_channel(channel, 10)
            transport.stream_reports(channel, [small_report(-1)])  # warm: rules loaded, first scoring done
            big_receipt: list[ingest_pb.Receipt] = []
            big_done = threading.Event()

            def send_big() -> None:
                big_receipt.extend(transport.stream_reports(channel, [big]))
                big_done.set()

            sender = threading.Thread(target=send_big)
            sender.start()
            latencies = []
            started = time.monotonic()
            n = 0
            # Small reports all the while the big one is received, stored and then scored.
            while time.monotonic() - started < 25 and (not big_done.is_set() or
                                                          time.monotonic() - started < 8):
                begin = time.monotonic()
                receipts = transport.stream_reports(channel, [small_report(n)])
                latencies.append(time.monotonic() - begin)
                assert receipts[0].status == ingest_pb.Receipt.ACCEPTED
                n += 1
                time.sleep(0.1)
            sender.join(120)
            assert big_receipt and big_receipt[0].status == ingest_pb.Receipt.ACCEPTED, big_receipt
        assert len(latencies) >= 10
        # Nine in ten under a second, none over two: the 2 cores are shared with other work (load
        # 8-24 while this was written), which a single slow sample reflects more than the collector.
        ordered = sorted(latencies)
        assert ordered[int(len(ordered) * 0.9) - 1] < 1.0, ordered[-5:]
        assert ordered[-1] < 2.0, ordered[-5:]
    finally:
        assert collector.stop() == 0
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM current_packages WHERE asset_id = 'hostname:big'").fetchone() \
            == (BIG_PACKAGES,)
