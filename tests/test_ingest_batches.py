"""Ingest.StreamBatches: several reports per message, one ReceiptBatch per message, each report on its own.

The real `estate-collector serve` on loopback, sent raw InventoryBatch bytes (so broken batches can be
sent too) and the agent's own transport.stream_batches; what was stored is read from the DuckDB file.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import grpc
import pytest

from estate.agent import transport
from estate.collector.metrics import reject_reason
from estate.collector.process import CollectorProcess
from estate.collector.server import INGEST_SERVICE, MAX_BATCH_REPORTS
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

pytestmark = pytest.mark.integration
ACCEPTED, DUPLICATE, REJECTED = (ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.DUPLICATE,
                                 ingest_pb.Receipt.REJECTED)


def report(packages: int = 3) -> pb.Inventory:
    inv = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=f"asset-{uuid.uuid4()}", method=pb.METHOD_LOCAL,
                       agent_version="test")
    inv.collected_at.GetCurrentTime()
    inv.os.id, inv.os.version_id = "debian", "12"
    for index in range(packages):
        inv.packages.add(name=f"pkg{index}", version="1.0", manager="dpkg")
    return inv


def raw_batches(collector: CollectorProcess, messages: list[bytes]) -> list[ingest_pb.ReceiptBatch]:
    """Send each of messages (serialized InventoryBatch, or anything) as one StreamBatches message."""
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        call = channel.stream_stream(transport.BATCH_METHOD, request_serializer=None,
                                     response_deserializer=ingest_pb.ReceiptBatch.FromString)
        return list(call(iter(messages), timeout=60))


def batch(*reports: bytes) -> bytes:
    return ingest_pb.InventoryBatch(reports=list(reports)).SerializeToString()


def stored(collector: CollectorProcess, db: Path) -> set[str]:
    assert collector.stop() == 0
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute("SELECT report_id FROM reports").fetchall()}


def test_each_report_of_a_batch_is_answered_in_order_and_a_bad_one_alone(collector: CollectorProcess,
                                                                         tmp_path: Path) -> None:
    first, second, third = report(), report(), report()
    no_uuid = report()
    no_uuid.report_id = "not-a-uuid"
    answers = raw_batches(collector, [
        batch(first.SerializeToString(), b"\xff\xff garbage", no_uuid.SerializeToString(), second.SerializeToString()),
        batch(),  # empty: answered with no receipts
        b"\x0a\xff\xff\xff\xff\x0f",  # not an InventoryBatch: one REJECTED receipt, the stream goes on
        batch(third.SerializeToString(), first.SerializeToString()),
    ])
    assert [[(r.sequence, r.status, r.report_id) for r in answer.receipts] for answer in answers] == [
        [(1, ACCEPTED, first.report_id), (2, REJECTED, ""), (3, REJECTED, "not-a-uuid"),
         (4, ACCEPTED, second.report_id)],
        [],
        [(5, REJECTED, "")],
        [(6, ACCEPTED, third.report_id), (7, DUPLICATE, first.report_id)],
    ]
    assert "not a valid estate.v1.Inventory" in answers[0].receipts[1].reason
    assert "not a UUID" in answers[0].receipts[2].reason
    assert "not a valid estate.v1.InventoryBatch" in answers[2].receipts[0].reason
    assert reject_reason(answers[2].receipts[0].reason) == "malformed"  # the metric's label
    assert stored(collector, tmp_path / "estate.duckdb") == {first.report_id, second.report_id, third.report_id}


def test_an_over_full_batch_is_refused_whole_and_the_stream_goes_on(collector: CollectorProcess,
                                                                    tmp_path: Path) -> None:
    tiny = report(0).SerializeToString()  # one report many times: none of it may be stored
    later = report()
    answers = raw_batches(collector, [batch(*[tiny] * (MAX_BATCH_REPORTS + 1)), batch(later.SerializeToString())])
    refused = answers[0].receipts
    assert len(refused) == MAX_BATCH_REPORTS + 1 and {r.status for r in refused} == {REJECTED}
    assert [r.sequence for r in refused] == list(range(1, MAX_BATCH_REPORTS + 2))
    assert f"over the limit of {MAX_BATCH_REPORTS} per message" in refused[0].reason
    assert reject_reason(refused[0].reason) == "too_large"
    assert [(r.sequence, r.status) for r in answers[1].receipts] == [(MAX_BATCH_REPORTS + 2, ACCEPTED)]
    assert stored(collector, tmp_path / "estate.duckdb") == {later.report_id}


def test_a_batch_over_the_byte_limit_is_refused_unread(collector: CollectorProcess, tmp_path: Path) -> None:
    big = report(1)
    big.packages[0].evidence = "x" * 4000
    data = big.SerializeToString()
    copies = 48 * 1024 * 1024 // len(data) + 2  # over 48 MiB in all, each report small
    later = report()
    answers = raw_batches(collector, [batch(*[data] * copies), batch(later.SerializeToString())])
    assert [(r.sequence, r.status) for r in answers[0].receipts] == [(1, REJECTED)]
    assert "batch is" in answers[0].receipts[0].reason and "byte limit of a message" in answers[0].receipts[0].reason
    assert reject_reason(answers[0].receipts[0].reason) == "too_large"
    assert [(r.sequence, r.status) for r in answers[1].receipts] == [(2, ACCEPTED)]
    assert stored(collector, tmp_path / "estate.duckdb") == {later.report_id}


def test_stream_batches_sends_many_in_batches_and_all_are_stored(collector: CollectorProcess, tmp_path: Path) -> None:
    reports = [report(50) for _ in range(7)]
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        # Three reports a batch: three batches, the last one short.
        receipts = transport.stream_batches(channel, [r.SerializeToString() for r in reports], max_reports=3)
    assert [(r.report_id, r.status, r.sequence) for r in receipts] == [
        (r.report_id, ACCEPTED, n) for n, r in enumerate(reports, 1)]
    assert stored(collector, tmp_path / "estate.duckdb") == {r.report_id for r in reports}


def test_a_report_at_the_limit_is_not_framed_over_it(collector: CollectorProcess, tmp_path: Path) -> None:
    """A report a few bytes under 48 MiB would be over it inside a batch: the flush sends it one per message."""
    big = report(0)
    big.packages.add(name="p000000", version="1", evidence="e" * 4000)
    per_package = big.ByteSize() - report(0).ByteSize()
    target = transport.MAX_REPORT_BYTES - 4  # a few bytes under the limit
    for index in range(1, (target - big.ByteSize()) // per_package + 1):  # then less than one package is left
        big.packages.add(name=f"p{index:06d}", version="1", evidence="e" * 4000)
    last = big.packages.add(name="last", version="1")
    while big.ByteSize() < target:  # at most a few rounds: only the last length's varint can grow
        last.evidence += "e" * (target - big.ByteSize())
    data = big.SerializeToString()
    assert transport.MAX_REPORT_BYTES - 8 <= len(data) <= transport.MAX_REPORT_BYTES
    small = report()
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        receipts = transport.stream_batches(channel, [small.SerializeToString(), data], timeout_s=120)
    assert [(r.report_id, r.status, r.reason) for r in receipts] == [
        (small.report_id, ACCEPTED, ""), (big.report_id, ACCEPTED, "")]
    assert stored(collector, tmp_path / "estate.duckdb") == {small.report_id, big.report_id}


def test_batches_cut_by_count_and_bytes_and_a_big_report_goes_alone() -> None:
    messages = [b"a" * 10, b"b" * 10, b"c" * 50, b"d" * 10, b"e" * 10, b"f" * 10]
    assert list(transport.batches(messages, max_reports=2, max_bytes=40)) == [
        [b"a" * 10, b"b" * 10], [b"c" * 50], [b"d" * 10, b"e" * 10], [b"f" * 10]]
    assert list(transport.batches([], max_reports=2, max_bytes=40)) == []


@pytest.fixture
def stream_only_collector() -> Iterator[tuple[str, list[int]]]:
    """A gRPC server with Ingest.Stream alone (a collector from before StreamBatches): it acknowledges each
    report and counts the messages; StreamBatches is UNIMPLEMENTED there, as gRPC answers for any unknown method."""
    seen: list[int] = []
    lock = threading.Lock()

    def stream(messages: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[ingest_pb.Receipt]:
        for number, data in enumerate(messages, 1):
            with lock:
                seen.append(number)
            yield ingest_pb.Receipt(report_id=pb.Inventory.FromString(data).report_id,
                                    status=ingest_pb.Receipt.ACCEPTED, sequence=number)

    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(INGEST_SERVICE, {
        "Stream": grpc.stream_stream_rpc_method_handler(
            stream, request_deserializer=None, response_serializer=ingest_pb.Receipt.SerializeToString)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", seen
    finally:
        server.stop(None)


def test_an_older_collector_gets_one_report_per_message(stream_only_collector: tuple[str, list[int]]) -> None:
    address, seen = stream_only_collector
    reports = [report() for _ in range(5)]
    with transport.open_channel(address, None) as channel:
        transport.wait_for_channel(channel, 10)
        receipts = transport.stream_batches(channel, [r.SerializeToString() for r in reports], max_reports=2)
    assert [(r.report_id, r.status) for r in receipts] == [(r.report_id, ACCEPTED) for r in reports]
    assert seen == [1, 2, 3, 4, 5]  # sent again, one per message, on Ingest.Stream
