"""Clients of the Query and Admin services: a query's Arrow table, a snapshot fetched into a file."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import pyarrow as pa

from estate.agent.transport import TlsFiles, open_channel
from estate.v1 import query_pb2 as query_pb

QUERY_METHOD = "/estate.v1.Query/Run"
SNAPSHOT_METHOD = "/estate.v1.Admin/Snapshot"
# Bounds what a client accepts, whatever the server sends.
MAX_SNAPSHOT_BYTES = 64 << 30


class RemoteError(Exception):
    """The collector refused or failed the call; the message is its one-line reason."""


@dataclass(frozen=True)
class FetchedSnapshot:
    path: Path
    taken_at: str
    size_bytes: int
    seconds: float
    reports: int


def _details(exc: grpc.RpcError) -> str:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    text = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return f"{text} ({code.name})" if code is not None and code in (grpc.StatusCode.UNAVAILABLE,
                                                                   grpc.StatusCode.DEADLINE_EXCEEDED) else str(text)


def run_query(address: str, tls: TlsFiles | None, sql: str, max_rows: int = 0, timeout_s: float = 120.0
              ) -> tuple[pa.Table, str]:
    """Run sql through Query.Run; the result and the time its snapshot was taken. Raises RemoteError."""
    with open_channel(address, tls) as channel:
        call = channel.unary_stream(QUERY_METHOD, request_serializer=query_pb.QueryRequest.SerializeToString,
                                    response_deserializer=query_pb.QueryReply.FromString)
        schema: pa.Schema | None = None
        taken = ""
        batches: list[pa.RecordBatch] = []
        try:
            for reply in call(query_pb.QueryRequest(sql=sql, max_rows=max_rows), timeout=timeout_s):
                if reply.WhichOneof("part") == "arrow_schema":
                    schema = pa.ipc.read_schema(pa.py_buffer(reply.arrow_schema))
                    taken = reply.snapshot_taken_at
                elif schema is not None:
                    batches.append(pa.ipc.read_record_batch(pa.py_buffer(reply.arrow_batch), schema))
        except grpc.RpcError as exc:
            raise RemoteError(_details(exc)) from exc
    if schema is None:
        raise RemoteError("the collector answered without a result schema")
    return pa.Table.from_batches(batches, schema=schema), taken


def fetch_snapshot(address: str, tls: TlsFiles | None, out: Path, timeout_s: float = 3600.0) -> FetchedSnapshot:
    """Ask the collector for a fresh snapshot and write it to `out`: aside, fsync, atomic rename."""
    out = out.absolute()
    aside = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    info: query_pb.SnapshotInfo | None = None
    size = 0
    try:
        with open_channel(address, tls) as channel, open(aside, "wb") as handle:
            call = channel.unary_stream(SNAPSHOT_METHOD,
                                        request_serializer=query_pb.SnapshotRequest.SerializeToString,
                                        response_deserializer=query_pb.SnapshotChunk.FromString)
            for chunk in call(query_pb.SnapshotRequest(), timeout=timeout_s):
                if info is None:
                    info = chunk.info
                size += len(chunk.data)
                if size > MAX_SNAPSHOT_BYTES or (info is not None and size > info.size_bytes):
                    raise RemoteError(f"the collector sent more than the {info.size_bytes if info else 0} "
                                      "bytes it announced")
                handle.write(chunk.data)
            handle.flush()
            os.fsync(handle.fileno())
        if info is None or size != info.size_bytes:
            raise RemoteError(f"the snapshot arrived incomplete ({size} of {info.size_bytes if info else '?'} bytes)")
        aside.chmod(0o444)
        aside.replace(out)
    except grpc.RpcError as exc:
        aside.unlink(missing_ok=True)
        raise RemoteError(_details(exc)) from exc
    except BaseException:
        aside.unlink(missing_ok=True)
        raise
    return FetchedSnapshot(out, info.taken_at, size, info.seconds, info.reports)
