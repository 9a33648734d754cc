"""One report never kills the writer (issue 14, item 1): every value is checked against its stored type,
and any error in one report rejects that report only; the rest of its group is stored."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from google.protobuf import json_format

from estate.agent import transport
from estate.collector.process import CollectorProcess
from estate.collector.store.database import Outcome, Store, prepare
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

ACCEPTED, REJECTED = ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.REJECTED


def good(asset: str = "hostname:good") -> pb.Inventory:
    inv = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=asset, method=pb.METHOD_LOCAL)
    inv.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))
    inv.host.hostname = asset.split(":")[-1]
    inv.packages.add(name="openssl", version="3.0.11-1", manager="dpkg")
    inv.listeners.add(protocol="tcp", address="0.0.0.0", port=22, pid=1, exposed=True)
    return inv


def _nanos(inv: pb.Inventory) -> None:
    inv.collected_at.nanos = 2_000_000_000


def _far_future(inv: pb.Inventory) -> None:
    inv.collected_at.seconds = 2**62


def _cpus(inv: pb.Inventory) -> None:
    inv.host.hardware.cpu_count = 2**32 - 1


def _port(inv: pb.Inventory) -> None:
    inv.listeners[0].port = 2**31 + 7


def _pid(inv: pb.Inventory) -> None:
    inv.listeners[0].pid = 2**32 - 1


def _long_interface(inv: pb.Inventory) -> None:
    inv.host.interfaces.add(name="x" * 5000)


BAD: dict[str, tuple[Callable[[pb.Inventory], None], str]] = {
    "nanos": (_nanos, "collected_at nanos 2000000000 is out of range"),
    "far_future": (_far_future, "is not a plausible time"),
    "cpu_count": (_cpus, "reports.hw_cpu_count value 4294967295 does not fit the stored INTEGER"),
    "port": (_port, "listeners.port value 2147483655 does not fit the stored INTEGER"),
    "pid": (_pid, "listeners.pid value 4294967295 does not fit the stored INTEGER"),
    "interface_name": (_long_interface, "interfaces has a value of 5000 characters"),
}


def bad(kind: str) -> pb.Inventory:
    inv = good(f"hostname:{kind}")
    BAD[kind][0](inv)
    return inv


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_value_that_does_not_fit_rejects_that_report_only(tmp_path: Path, kind: str) -> None:
    store = Store(tmp_path / "v.duckdb")
    before, after = good("hostname:before"), good("hostname:after")
    outcomes = store.write_reports([before, bad(kind), after], via="file")
    assert [o.status for o in outcomes] == ["ACCEPTED", "REJECTED", "ACCEPTED"]
    assert BAD[kind][1] in outcomes[1].reason
    assert store.con.execute("SELECT count(*) FROM reports").fetchone() == (2,)


def test_an_error_the_store_raises_rejects_only_its_report(tmp_path: Path) -> None:
    """A value that gets past the checks and fails in the insert: the group is stored without it."""
    store = Store(tmp_path / "v.duckdb")
    received = dt.datetime.now(dt.timezone.utc)
    prepared = [prepare(good(f"hostname:h{i}"), received, "file") for i in range(3)]
    broken = prepared[1]
    assert not isinstance(broken, Outcome)
    broken.header["hw_memory_bytes"] = -1  # not a UBIGINT: Arrow refuses it when the group is built
    outcomes = store.write_prepared(prepared)
    assert [o.status for o in outcomes] == ["ACCEPTED", "REJECTED", "ACCEPTED"]
    assert "could not be stored" in outcomes[1].reason
    assert store.con.execute("SELECT count(*) FROM reports").fetchone() == (2,)
    assert store.con.execute("SELECT count(*) FROM packages").fetchone() == (2,)


@pytest.mark.integration
def test_the_collector_survives_every_bad_value(collector: CollectorProcess, tmp_path: Path) -> None:
    messages, expected = [], []
    for kind in sorted(BAD):
        messages += [bad(kind).SerializeToString(), good(f"hostname:after-{kind}").SerializeToString()]
        expected += [REJECTED, ACCEPTED]
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        receipts = transport.stream_reports(channel, messages)
        assert [r.status for r in receipts] == expected
        # The writer is alive: a later stream is answered too.
        assert [r.status for r in transport.stream_reports(channel, [good().SerializeToString()])] == [ACCEPTED]
    assert collector.stop() == 0  # SIGTERM is obeyed
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM reports").fetchone() == (len(BAD) + 1,)


def test_ingest_stores_the_rest_of_a_batch(tmp_path: Path) -> None:
    files = []
    for name, inv in (("a", good("hostname:a")), ("cpus", bad("cpu_count")), ("b", good("hostname:b")),
                      ("port", bad("port"))):
        path = tmp_path / f"{name}.json"
        path.write_text(json_format.MessageToJson(inv, preserving_proto_field_name=True))
        files.append(path)
    db = tmp_path / "estate.duckdb"
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "ingest", "--db", str(db),
                             *map(str, files)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"{files[0]}: ACCEPTED" in result.stdout and f"{files[2]}: ACCEPTED" in result.stdout
    assert f"{files[1]}: REJECTED: reports.hw_cpu_count value 4294967295" in result.stderr
    assert f"{files[3]}: REJECTED: listeners.port value 2147483655" in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sender FROM reports ORDER BY asset_id").fetchall() == [
            (f"file:{files[0]}",), (f"file:{files[2]}",)]
