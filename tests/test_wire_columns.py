"""Packages sent column-wise (PackageColumns, issue 9): the agent's form round-trips, the collector
stores exactly what the row form stores, and a broken or hostile column is rejected alone, with a
reason naming the column, through the real collector."""

from __future__ import annotations

import array
import datetime as dt
import uuid
from pathlib import Path

import pytest

from estate.agent import transport
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.agent.wire import PACKAGE_COLUMNS, encode_report
from estate.collector.ingest.validate import decode_report
from estate.collector.process import start_collector
from estate.collector.store.database import Incoming, Outcome, Store, prepare
from estate.v1 import ingest_pb2
from estate.v1 import inventory_pb2 as pb

from .conftest import HOST_FIXTURES
from .wire_rows import decode_rows

COLUMNS = ", ".join(PACKAGE_COLUMNS)


def debian12() -> pb.Inventory:
    """The captured Debian 12 host's report (its real dpkg status: maintainers, sources, sections)."""
    report = build_report(LocalHost(str(HOST_FIXTURES / "debian12")), pb.METHOD_FILE)
    assert len(report.packages) >= 40
    return report


def with_odd_values() -> pb.Inventory:
    """Values the layout must keep: empty, non-ASCII, a whole column empty, one column only set once."""
    report = pb.Inventory(report_id=str(uuid.uuid4()), asset_id="hostname:odd", method=pb.METHOD_LOCAL)
    report.collected_at.FromDatetime(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))
    report.packages.add(name="libc6", version="2.36-9+deb12u4", manager="dpkg", maintainer="GNU Libc Maintainers")
    report.packages.add(name="", version="", manager="rpm", distribution="SUSE Linux Enterprise 15")
    report.packages.add(name="naïve-tool", version="1.0~β2", manager="dpkg", maintainer="Jörg Müller <j@ex.org>")
    return report


@pytest.mark.parametrize("make", [debian12, with_odd_values])
def test_columns_round_trip_to_the_same_report(make: object) -> None:
    report = make()  # type: ignore[operator]
    data = encode_report(report)
    wire = pb.Inventory.FromString(data)
    assert not wire.packages and wire.package_columns.count == len(report.packages)
    assert decode_rows(data) == report
    assert len(report.packages) > 0  # encode_report leaves the agent's report as it was


def test_an_all_empty_column_is_left_out() -> None:
    wire = pb.Inventory.FromString(encode_report(with_odd_values()))
    assert not wire.package_columns.origin.offsets and not wire.package_columns.origin.data
    assert wire.package_columns.distribution.data == b"SUSE Linux Enterprise 15"


def _stored(store: Store, asset: str) -> list[tuple[object, ...]]:
    return store.con.execute(f"SELECT {COLUMNS} FROM current_packages WHERE asset_id = ? ORDER BY ALL",
                             [asset]).fetchall()


def test_columns_store_exactly_what_rows_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.duckdb")
    as_rows, as_columns = debian12(), debian12()
    as_rows.asset_id, as_columns.asset_id = "hostname:rows", "hostname:columns"
    rows_data, columns_data = as_rows.SerializeToString(), encode_report(as_columns)
    outcomes = store.write_reports([Incoming(decode_report(rows_data), data=rows_data),
                                    Incoming(decode_report(columns_data), data=columns_data)], via="file")
    assert [o.status for o in outcomes] == ["ACCEPTED", "ACCEPTED"]
    assert _stored(store, "hostname:columns") == _stored(store, "hostname:rows")
    assert len(_stored(store, "hostname:rows")) == len(as_rows.packages)
    counts = store.con.execute("SELECT asset_id, package_count FROM reports ORDER BY 1").fetchall()
    assert counts == [("hostname:columns", len(as_rows.packages)), ("hostname:rows", len(as_rows.packages))]


def test_an_unchanged_column_rescan_adds_no_rows_and_a_change_is_diffed(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.duckdb")
    report = debian12()
    for day in range(3):
        report.report_id = str(uuid.uuid4())
        report.collected_at.FromDatetime(dt.datetime(2026, 11, 1 + day, tzinfo=dt.timezone.utc))
        if day == 2:
            report.packages[0].version += "+u1"
        data = encode_report(report)
        assert store.write_reports([Incoming(decode_report(data), data=data)], via="file")[0].status == "ACCEPTED"
    row = store.con.execute("SELECT count(*), count(*) FILTER (open) FROM packages").fetchone()
    assert row == (len(report.packages) + 1, len(report.packages))


def _broken(change: str) -> bytes:
    """A Debian 12 report in column form, broken in one way."""
    report = with_odd_values()
    wire = pb.Inventory.FromString(encode_report(report))
    columns = wire.package_columns
    if change == "short offsets":
        columns.name.offsets = columns.name.offsets[:-4]
    elif change == "falling offsets":
        offsets = array.array("i", columns.version.offsets)
        offsets[1], offsets[2] = offsets[2], offsets[1] - 1
        columns.version.offsets = offsets.tobytes()
    elif change == "offset past the data":
        offsets = array.array("i", columns.maintainer.offsets)
        offsets[-1] += 1000
        columns.maintainer.offsets = offsets.tobytes()
    elif change == "not UTF-8":
        columns.name.data = b"\xff\xfe" + columns.name.data[2:]
    elif change == "too long":
        columns.source.data = b"x" * 5000
        columns.source.offsets = array.array("i", [0, 5000, 5000, 5000]).tobytes()
    elif change == "both forms":
        wire.packages.add(name="bash", version="5.2", manager="dpkg")
    elif change == "too many":
        columns.count = 500_001
    return wire.SerializeToString()


CASES = {
    "short offsets": "package_columns.name has 12 bytes of offsets; 3 packages need 16",
    "falling offsets": "package_columns.version is not a valid string column",
    "offset past the data": "package_columns.maintainer is not a valid string column",
    "not UTF-8": "package_columns.name is not a valid string column",
    "too long": "package_columns.source has a value of 5000 characters, over the limit of 4096",
    "both forms": "packages come both as rows and as package_columns",
    "too many": "package_columns has 500001 packages, over the limit of 500000",
}


@pytest.mark.parametrize("change", CASES)
def test_a_broken_column_is_rejected_naming_it(change: str) -> None:
    data = _broken(change)
    outcome = prepare(Incoming(decode_report(data), data=data), dt.datetime.now(dt.timezone.utc), "file")
    assert isinstance(outcome, Outcome) and outcome.status == "REJECTED"
    assert CASES[change] in outcome.reason


def test_hostile_columns_through_the_real_collector_lose_nothing(tmp_path: Path) -> None:
    """Every broken form in one stream, between good reports: each rejected alone, the good ones stored."""
    good = [debian12() for _ in range(2)]
    good[1].asset_id = "hostname:second"
    messages = [encode_report(good[0]), *(_broken(change) for change in CASES), encode_report(good[1])]
    collector = start_collector(tmp_path / "h.duckdb", tmp_path / "h.log")
    try:
        with transport.open_channel(collector.address, None) as channel:
            transport.wait_for_channel(channel, 30)
            receipts = transport.stream_reports(channel, messages, timeout_s=120)
    finally:
        collector.stop()
    statuses = [r.status for r in receipts]
    accepted, rejected = ingest_pb2.Receipt.ACCEPTED, ingest_pb2.Receipt.REJECTED
    assert statuses == [accepted, *[rejected] * len(CASES), accepted]
    reasons = [r.reason for r in receipts[1:-1]]
    for reason, expected in zip(reasons, CASES.values(), strict=True):
        assert expected in reason
    store = Store(tmp_path / "h.duckdb", read_only=True)
    try:
        row = store.con.execute("SELECT count(DISTINCT asset_id), count(*) FROM current_packages").fetchone()
    finally:
        store.close()
    assert row == (2, 2 * len(good[0].packages))

