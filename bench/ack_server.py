"""gRPC alone: the collector's Ingest.Stream and StreamBatches served by grpc.aio as the collector serves
them, acknowledging each report at once (its id read from the bytes, nothing checked, flattened or stored).

The ceiling any store behind the collector's Python server can reach on this machine: bench_store.py
compares end-to-end ingest with it. Prints "listening on 127.0.0.1:PORT", then serves until killed.

Usage: python bench/ack_server.py
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from estate.agent.transport import MAX_MESSAGE_BYTES
from estate.collector.server import INGEST_SERVICE
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb


async def stream(messages: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[ingest_pb.Receipt]:
    sequence = 0
    async for data in messages:
        sequence += 1
        report = pb.Inventory.FromString(data)
        yield ingest_pb.Receipt(report_id=report.report_id, status=ingest_pb.Receipt.ACCEPTED, sequence=sequence)


async def stream_batches(messages: AsyncIterator[bytes], context: grpc.aio.ServicerContext
                         ) -> AsyncIterator[ingest_pb.ReceiptBatch]:
    sequence = 0
    async for data in messages:
        receipts = []
        for report_data in ingest_pb.InventoryBatch.FromString(data).reports:
            sequence += 1
            report = pb.Inventory.FromString(report_data)
            receipts.append(ingest_pb.Receipt(report_id=report.report_id, status=ingest_pb.Receipt.ACCEPTED,
                                              sequence=sequence))
        yield ingest_pb.ReceiptBatch(receipts=receipts)


async def main() -> None:
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    server = grpc.aio.server(options=options)
    handler = grpc.method_handlers_generic_handler(INGEST_SERVICE, {
        "Stream": grpc.stream_stream_rpc_method_handler(
            stream, request_deserializer=None, response_serializer=ingest_pb.Receipt.SerializeToString),
        "StreamBatches": grpc.stream_stream_rpc_method_handler(
            stream_batches, request_deserializer=None,
            response_serializer=ingest_pb.ReceiptBatch.SerializeToString)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
