"""The gRPC side of the collector: the Ingest service, the standard health service, and the server.

The servicer only decodes, hands reports to the writer (ingest/writer.py) and turns outcomes into
receipts. Ingest.Stream carries one report per message; Ingest.StreamBatches carries InventoryBatch
messages of several reports (a spool being flushed, a sweep), so the work done per message (gRPC's,
the hand-over to the flattening thread, the receipt's) is paid once per batch. Both are registered with
a raw-bytes request deserializer so that a message which does not decode gets its own REJECTED
receipt and the stream goes on; with the generated servicer, gRPC would abort the whole stream,
receipts and all.

The server is gRPC's asyncio server: every stream is a pair of coroutines on one event loop (one
reads and submits, one sends receipts in order), so hundreds of open streams cost no threads and an
idle one costs nothing but its memory. No sender can starve the others: the number of open streams
is bounded (RESOURCE_EXHAUSTED beyond it), a stream that sends nothing for `idle_s` or stays open
longer than `max_stream_s` is ended (DEADLINE_EXCEEDED, after the receipts of what it already sent),
and reports waiting for the store are bounded in bytes, per stream and in total: a stream's reader
must reserve a message's size before submitting it and gets it back only once its receipts are sent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import functools
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from estate.agent.transport import MAX_MESSAGE_BYTES, is_loopback
from estate.collector.ingest.validate import MAX_REPORT_BYTES, Rejected, decode_report
from estate.collector.ingest.writer import Writer
from estate.collector.metrics import Metrics, log_report
from estate.collector.read.sandbox import LimitReached, Limits, Refused, SandboxedQuery
from estate.collector.security.certs import Scopes
from estate.collector.security.roles import (
    ADMIN_ROLES,
    INGEST_ROLES,
    QUERY_ROLES,
    SUMMARY_ROLES,
    caller_pem,
    caller_role,
)
from estate.collector.security.senders import Sender, certificate_sender, plaintext_sender
from estate.collector.security.trust import Trust
from estate.collector.store.database import Outcome, StoreError
from estate.collector.store.snapshot import SnapshotError, Snapshotter
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import query_pb2 as query_pb
from estate.v1 import summary_pb2 as summary_pb

# How far the stream reader may run ahead of the store, in messages (rejected ones included).
MAX_PENDING_PER_STREAM = 128
# Reports in one InventoryBatch (StreamBatches); a batch's bytes are bounded as a report's are.
MAX_BATCH_REPORTS = 1024
STATUS = {"ACCEPTED": ingest_pb.Receipt.ACCEPTED, "DUPLICATE": ingest_pb.Receipt.DUPLICATE,
          "REJECTED": ingest_pb.Receipt.REJECTED}
INGEST_SERVICE = "estate.v1.Ingest"
# gRPC's own cap, above ours: our refusal (with its message) answers first; health checks still get in.
SPARE_RPCS = 16
# Threads for services whose handlers are not coroutines (each call holds one while it runs).
SYNC_HANDLER_THREADS = 8
# Checking and flattening is mostly Python, so it runs one message at a time: a second thread only
# contends for the GIL (measured: 5-10% slower ingest). Messages over BULK_MESSAGE_BYTES (a huge
# report) get a thread of their own, so their second of flattening never holds small reports back.
BULK_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class StreamLimits:
    """What one sender may hold: streams, time and bytes waiting for the store."""

    max_streams: int = 256
    idle_s: float = 60.0
    max_stream_s: float = 900.0
    pending_bytes_per_stream: int = 64 * 1024 * 1024
    pending_bytes_total: int = 256 * 1024 * 1024

    def check(self) -> None:
        if self.max_streams < 1 or self.idle_s <= 0 or self.max_stream_s <= 0:
            raise ValueError("--max-streams, --idle-timeout and --stream-timeout must be positive")
        if min(self.pending_bytes_per_stream, self.pending_bytes_total) < MAX_REPORT_BYTES:
            raise ValueError(f"pending byte limits must be at least the report size limit ({MAX_REPORT_BYTES} "
                             "bytes), or the largest valid report could never be stored")


class ByteBudget:
    """Bytes that may be reserved at once; reserving waits until enough is returned (event loop only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, size: int) -> None:
        while self.used + size > self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        self.used += size

    def release(self, size: int) -> None:
        self.used -= size
        while self._waiters:  # every waiter looks again; those that still do not fit wait again
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


def receipt_for(sequence: int, outcome: Outcome) -> ingest_pb.Receipt:
    return ingest_pb.Receipt(report_id=outcome.report_id, status=STATUS[outcome.status],
                             reason=outcome.reason, sequence=sequence)


@dataclass
class _Pending:
    """A report read from the stream: its position, its outcome to come, its size and asset."""

    sequence: int
    future: Future[Outcome]
    size: int
    asset_id: str


@dataclass
class _Message:
    """A message read from the stream (one report, or a batch of them) and what it holds of the budgets.

    Its receipts go together (a ReceiptBatch for a batch) once every report in it has its outcome.
    """

    reports: list[_Pending]
    reserved: int
    arrived: float


def _rejected(sequence: int, size: int, reason: str) -> _Pending:
    outcome: Future[Outcome] = Future()
    outcome.set_result(Outcome("", "REJECTED", reason))
    return _Pending(sequence, outcome, size, "")


class Flattening:
    """The threads that check and flatten messages: one for messages of ordinary size, one for huge ones."""

    def __init__(self) -> None:
        self.ordinary = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flatten")
        self.bulk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flatten-bulk")

    def lane(self, size: int) -> ThreadPoolExecutor:
        return self.bulk if size > BULK_MESSAGE_BYTES else self.ordinary


class StreamEnded(Exception):
    """A stream limit ended the stream: the status code and the message to send."""

    def __init__(self, code: grpc.StatusCode, limit: str, message: str) -> None:
        super().__init__(message)
        self.code, self.limit = code, limit


_END = None  # the reader's last item: the sender closed its side


class _Stop:
    """Put in a stream's queue when the collector stops: receipts before it are sent, then the stream ends."""


_STOP = _Stop()
_Item = _Message | BaseException | _Stop | None


class IngestStream:
    """One Ingest.Stream or StreamBatches: a reader task decodes and submits, the handler sends receipts in order.

    batched: each message is an InventoryBatch (answered by a ReceiptBatch), not one Inventory.
    """

    def __init__(self, writer: Writer, limits: StreamLimits, budget: ByteBudget, sender: str = "",
                 metrics: Metrics | None = None, who: Sender | None = None,
                 flattening: Flattening | None = None, batched: bool = False) -> None:
        self.writer, self.limits, self.budget = writer, limits, budget
        self.sender, self.metrics, self.who = sender, metrics, who
        self.batched = batched
        # Decoding, checking and flattening reports (Writer.submit) is Python work: off the event
        # loop, so a huge report or batch never holds the other streams' receipts.
        self.flattening = flattening
        self.own_budget = ByteBudget(limits.pending_bytes_per_stream)
        self.pending: asyncio.Queue[_Item] = asyncio.Queue(MAX_PENDING_PER_STREAM)
        self.opened = time.monotonic()
        # When the reader started waiting for the sender's next message (None while it is busy with one).
        self.waiting_since: float | None = self.opened
        self.closing = False  # past the total deadline, or the collector stopping: no more messages are taken
        self.stopping = False  # the collector is stopping (stop())
        self.left_unread = False  # a message came after closing: not submitted, so it has no receipt
        self._getter: asyncio.Future[_Item] | None = None
        # Resolved when the collector stops waiting for the store on this stream's behalf (give_up).
        self._given_up: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """The collector is stopping: take no more messages, end the stream after the receipts owed.

        Ended here, with a status that says why, rather than cancelled by gRPC when its grace runs
        out (which logs a traceback and tells the sender only "Cancelling all calls").
        """
        self.closing = self.stopping = True
        with contextlib.suppress(asyncio.QueueFull):  # a full queue: its receipts come first anyway
            self.pending.put_nowait(_STOP)

    def give_up(self) -> None:
        """The collector's stop grace is nearly over: end the stream now, even with receipts owed.

        Its reports still in the writer's queue are stored all the same (the writer finishes its
        queue before the collector exits); their senders, told UNAVAILABLE, send them again and are
        answered DUPLICATE for those. Ended here with a status that says so, rather than cancelled
        by gRPC a moment later with a traceback in the log.
        """
        if self._given_up is not None and not self._given_up.done():
            self._given_up.set_result(None)

    async def _outcome(self, report: _Pending) -> Outcome:
        """The report's outcome once the store has it, or StreamEnded if the collector gives up first."""
        if report.future.done():
            return report.future.result()
        assert self._given_up is not None
        waiting: asyncio.Future[Outcome] = asyncio.wrap_future(report.future)
        given_up: asyncio.Future[Any] = self._given_up
        done, _ = await asyncio.wait({waiting, given_up}, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            return waiting.result()
        # Not cancelled (that would cancel the writer's future under it): left to resolve, unread.
        waiting.add_done_callback(lambda f: f.cancelled() or f.exception())
        raise StreamEnded(grpc.StatusCode.UNAVAILABLE, "",
                          "collector stopping before every report of this stream was stored: send those without "
                          "a receipt again (one stored meanwhile is answered DUPLICATE)")

    async def _read(self, messages: AsyncIterator[bytes]) -> None:
        sequence = 0  # reports so far (an undecodable batch counts one)
        try:
            async for data in messages:
                self.waiting_since = None
                if self.closing:
                    # Not submitted, so the sender keeps it and sends it again; the stream ends saying so.
                    self.left_unread = True
                    break
                message = await self._submit(sequence, data)
                sequence += len(message.reports)
                await self.pending.put(message)
                self.waiting_since = time.monotonic()
        except asyncio.CancelledError:
            raise
        except grpc.RpcError:
            pass  # the client went away; what was submitted is still answered or stored
        except Exception as exc:  # surfaced to the stream below
            await self.pending.put(exc)
        await self.pending.put(_END)

    async def _submit(self, sequence: int, data: bytes) -> _Message:
        """Reserve the message's size, then decode, check and queue its reports in the flattening pool."""
        arrived, size = time.monotonic(), len(data)
        if size > MAX_REPORT_BYTES:  # refused before reserving: more than a stream's budget may hold
            what = "batch" if self.batched else "report"
            return _Message([_rejected(sequence + 1, size, f"{what} is {size} bytes, over the "
                                       f"{MAX_REPORT_BYTES}-byte limit of a message")], 0, arrived)
        # Decoded reports hold about their wire size again; reserve that before the writer sees them.
        await self.own_budget.acquire(size)
        try:
            await self.budget.acquire(size)
        except BaseException:
            self.own_budget.release(size)
            raise
        try:
            # Each report's SHA-256 is taken in the flattening pool (prepare), not on the event loop.
            work = functools.partial(self._decode_and_submit, sequence, data)
            lane = None if self.flattening is None else self.flattening.lane(size)
            reports = await asyncio.get_running_loop().run_in_executor(lane, work)
        except BaseException:
            self.own_budget.release(size)
            self.budget.release(size)
            raise
        return _Message(reports, size, arrived)

    def _decode_and_submit(self, sequence: int, data: bytes) -> list[_Pending]:
        """In the flattening pool: the message's reports decoded and handed to the writer, in order."""
        if not self.batched:
            return [self._one(sequence + 1, data)]
        try:
            batch = ingest_pb.InventoryBatch.FromString(data)
        except DecodeError as exc:
            return [_rejected(sequence + 1, len(data), f"not a valid estate.v1.InventoryBatch message: {exc}")]
        count = len(batch.reports)
        if count > MAX_BATCH_REPORTS:
            reason = (f"batch of {count} reports, over the limit of {MAX_BATCH_REPORTS} per message: "
                      "send fewer reports per batch")
            return [_rejected(sequence + 1 + n, 0, reason) for n in range(count)]
        return [self._one(sequence + 1 + n, report) for n, report in enumerate(batch.reports)]

    def _one(self, sequence: int, data: bytes) -> _Pending:
        try:
            report = decode_report(data)
        except Rejected as exc:
            return _rejected(sequence, len(data), str(exc))
        future = self.writer.submit(report, sender=self.sender, data=data, who=self.who)
        return _Pending(sequence, future, len(data), report.asset_id)

    def _release(self, item: _Message) -> None:
        if item.reserved:
            self.own_budget.release(item.reserved)
            self.budget.release(item.reserved)
            item.reserved = 0

    def _settle_later(self, item: _Message) -> None:
        """Give back what a message holds once the store is done with it, with nobody waiting for its receipts."""
        if not item.reserved:
            return
        loop = asyncio.get_running_loop()
        left = [len(item.reports)]

        def one_done() -> None:  # on the event loop: no two run at once
            left[0] -= 1
            if not left[0]:
                self._release(item)

        for report in item.reports:
            report.future.add_done_callback(lambda _: loop.call_soon_threadsafe(one_done))
        if not item.reports:
            self._release(item)

    async def _next(self) -> _Message | BaseException | None:
        """The next item from the reader, enforcing the idle and total deadlines while waiting."""
        limits = self.limits
        while True:
            now = time.monotonic()
            waiting = self.waiting_since
            wake = self.opened + limits.max_stream_s
            if waiting is not None:
                wake = min(wake, waiting + limits.idle_s)
            # One get() kept across waits (not wait_for, which on Python < 3.12 can drop an item that
            # arrives just as the timeout fires).
            if self._getter is None:
                self._getter = asyncio.ensure_future(self.pending.get())
            done, _ = await asyncio.wait({self._getter}, timeout=max(0.05, wake - now))
            if done:
                item, self._getter = self._getter.result(), None
                if isinstance(item, _Stop):
                    if self._reader is not None and self._reader.done() and not self.left_unread:
                        return _END  # the sender had sent all it meant to, and all of it is answered
                    raise StreamEnded(grpc.StatusCode.UNAVAILABLE, "",
                                      "collector stopping: send reports without a receipt again later")
                return item
            now = time.monotonic()
            waiting = self.waiting_since
            if now - self.opened > limits.max_stream_s:
                self.closing = True
                if waiting is not None and self.pending.empty():
                    raise StreamEnded(grpc.StatusCode.DEADLINE_EXCEEDED, "too_long",
                                      f"stream open longer than {limits.max_stream_s:g} s (the collector's "
                                      "--stream-timeout): reports without a receipt must be sent on a new stream")
            elif waiting is not None and now - waiting > limits.idle_s and self.pending.empty():
                raise StreamEnded(grpc.StatusCode.DEADLINE_EXCEEDED, "idle",
                                  f"stream idle for {limits.idle_s:g} s (the collector's --idle-timeout): "
                                  "open a new stream to send more")

    async def receipts(self, messages: AsyncIterator[bytes]
                       ) -> AsyncIterator[ingest_pb.Receipt | ingest_pb.ReceiptBatch]:
        """Answer each message (a Receipt, or a ReceiptBatch when batched), in order, once the store has its reports."""
        self._given_up = asyncio.get_running_loop().create_future()
        reader = self._reader = asyncio.create_task(self._read(messages))
        item: _Message | BaseException | None = None
        try:
            while True:
                item = await self._next()
                if item is _END:
                    if self.left_unread and self.stopping:
                        raise StreamEnded(grpc.StatusCode.UNAVAILABLE, "",
                                          "collector stopping: send reports without a receipt again later")
                    if self.left_unread:
                        raise StreamEnded(grpc.StatusCode.DEADLINE_EXCEEDED, "too_long",
                                          f"stream open longer than {self.limits.max_stream_s:g} s (the "
                                          "collector's --stream-timeout): send the rest on a new stream")
                    return  # every message answered: the stream ends as the sender ended it
                if isinstance(item, BaseException):
                    raise item
                # The last report first: stored last as a rule (one writer lane takes a stream's reports in
                # order), so the others are done by then and cost no wait each.
                outcomes = [await self._outcome(report) for report in reversed(item.reports)][::-1]
                answered = []
                for report, outcome in zip(item.reports, outcomes, strict=True):
                    latency = time.monotonic() - item.arrived
                    if self.metrics is not None:
                        self.metrics.record(outcome.status, outcome.reason, latency)
                    log_report(outcome.report_id, report.asset_id, self.sender, outcome.status, outcome.reason,
                               report.size, latency)
                    answered.append(receipt_for(report.sequence, outcome))
                self._release(item)
                yield ingest_pb.ReceiptBatch(receipts=answered) if self.batched else answered[0]
        finally:
            reader.cancel()
            if isinstance(item, _Message):
                self._settle_later(item)
            if self._getter is not None:
                if self._getter.done() and not self._getter.cancelled():
                    got = self._getter.result()
                    if isinstance(got, _Message):
                        self._settle_later(got)
                else:
                    self._getter.cancel()
            while not self.pending.empty():
                entry = self.pending.get_nowait()
                if isinstance(entry, _Message):
                    self._settle_later(entry)


@dataclass(frozen=True)
class ServerTls:
    """PEM files: the collector's certificate and key, and the CA that client certificates must chain to."""

    cert: Path
    key: Path
    client_ca: Path


# A certificate chain or key file is a few KiB; bound what is read.
MAX_PEM_BYTES = 1 << 20


class IngestService:
    """Ingest.Stream. Over mTLS only certificates with an ingest role may send; plaintext is
    allowed only on loopback (or with an explicit --insecure), where the operator is trusted."""

    def __init__(self, writer: Writer, check_roles: bool, limits: StreamLimits | None = None,
                 metrics: Metrics | None = None, on_store_failure: Callable[[StoreError], None] | None = None,
                 trust: Trust | None = None, scanner_scopes: dict[str, Scopes] | None = None) -> None:
        self.writer = writer
        self.trust = trust
        self.scanner_scopes = scanner_scopes
        self.flattening = Flattening()
        self.check_roles = check_roles
        self.limits = limits or StreamLimits()
        self.budget = ByteBudget(self.limits.pending_bytes_total)
        self.metrics = metrics
        self.on_store_failure = on_store_failure
        self._open = 0
        self._streams: set[IngestStream] = set()
        if metrics is not None:
            metrics.watch_pending(lambda: self.budget.used)

    def stopping(self) -> None:
        """The collector is stopping: every open stream ends once the receipts it is owed are sent."""
        for stream in self._streams:
            stream.stop()

    def give_up(self) -> None:
        """The stop grace is nearly over: every stream still open ends now, receipts owed or not."""
        for stream in list(self._streams):
            stream.give_up()

    def _refused(self, limit: str) -> None:
        if self.metrics is not None:
            self.metrics.streams_refused.labels(limit).inc()

    async def stream(self, messages: AsyncIterator[bytes],
                     context: grpc.aio.ServicerContext[bytes, ingest_pb.Receipt]) -> AsyncIterator[ingest_pb.Receipt]:
        """Ingest.Stream: one report per message, one Receipt each."""
        async for receipt in self._serve(messages, context, batched=False):
            assert isinstance(receipt, ingest_pb.Receipt)
            yield receipt

    async def stream_batches(self, messages: AsyncIterator[bytes],
                             context: grpc.aio.ServicerContext[bytes, ingest_pb.ReceiptBatch]
                             ) -> AsyncIterator[ingest_pb.ReceiptBatch]:
        """Ingest.StreamBatches: an InventoryBatch per message, one ReceiptBatch each."""
        async for receipts in self._serve(messages, context, batched=True):
            assert isinstance(receipts, ingest_pb.ReceiptBatch)
            yield receipts

    async def _serve(self, messages: AsyncIterator[bytes], context: grpc.aio.ServicerContext[bytes, Any],
                     batched: bool) -> AsyncIterator[ingest_pb.Receipt | ingest_pb.ReceiptBatch]:
        sender = "peer:" + str(context.peer())[:256]
        who = plaintext_sender(context.peer())
        if self.check_roles:
            role = caller_role(context)
            if role not in INGEST_ROLES:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"a certificate with role "
                                    f"{role or '(none)'!r} may not ingest; agents need role 'agent', SSH and "
                                    "SNMP sweeps role 'scanner'")
            names = context.auth_context().get("x509_common_name") or []
            sender = "cert:" + names[0].decode("utf-8", "replace")[:256] if names else sender
            who = await self._certificate_sender(context)
        if self._open >= self.limits.max_streams:
            self._refused("busy")
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"collector busy: {self.limits.max_streams} streams open, its limit (--max-streams); "
                                "retry later")
        self._open += 1
        if self.metrics is not None:
            self.metrics.streams_open.inc()
        stream = IngestStream(self.writer, self.limits, self.budget, sender, self.metrics, who, self.flattening,
                              batched)
        self._streams.add(stream)
        try:
            async for answer in stream.receipts(messages):
                yield answer
        except StreamEnded as exc:
            if exc.limit:
                self._refused(exc.limit)
            await context.abort(exc.code, str(exc))
        except StoreError as exc:
            if self.on_store_failure is not None:
                self.on_store_failure(exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"store unavailable, report not stored: {exc}")
        finally:
            self._streams.discard(stream)
            self._open -= 1
            if self.metrics is not None:
                self.metrics.streams_open.dec()

    async def _certificate_sender(self, context: grpc.aio.ServicerContext[bytes, ingest_pb.Receipt]) -> Sender:
        """The verified caller; aborts the stream for a revoked certificate or a scanner without scopes."""
        pem = caller_pem(context)
        assert pem is not None  # the role came from it
        sender = certificate_sender(pem, self.trust, self.scanner_scopes)
        revoked = self.trust.revocation(sender.fingerprint) if self.trust is not None else None
        if revoked is not None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                f"{sender.name()} was revoked on {revoked.at:%Y-%m-%d %H:%M} UTC"
                                + (f" ({revoked.reason})" if revoked.reason else "") + "; nothing from it is accepted")
        if sender.role == "scanner" and not sender.scopes:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"scanner {sender.name()} has no scopes: issue it with --scope-org/--scope-cidr/"
                                "--scope-method or list its common name in the collector's --scanner-scopes file")
        return sender


# Sandboxed queries running at once (each bounded in time, memory and threads); more wait for none.
MAX_CONCURRENT_QUERIES = 2
SNAPSHOT_CHUNK_BYTES = 1 << 20


def _peer_is_loopback(context: grpc.ServicerContext) -> bool:
    peer: str = context.peer()  # "ipv4:127.0.0.1:5555", "ipv6:[::1]:5555", "unix:..."
    return bool(peer.startswith(("ipv4:127.", "ipv6:[::1]", "unix:")))


class QueryService:
    """Query.Run: one sandboxed SELECT on the latest snapshot, for callers with role `analyst` over mTLS.

    A coroutine, not a plain generator on the server's thread pool: gRPC's asyncio server cannot end a
    plain generator's call with an error while its last reply is still being sent (the abort fails with
    GRPC_CALL_ERROR_TOO_MANY_OPERATIONS and the caller waits for its deadline), which is exactly when a
    query over the row limit is refused. Here every reply is sent before the next step, and DuckDB's work
    runs on this service's own threads."""

    def __init__(self, snapshots: Snapshotter, check_roles: bool, limits: Limits | None = None) -> None:
        self.snapshots = snapshots
        self.check_roles = check_roles
        self.limits = limits or Limits()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_QUERIES)
        # A thread per running query: DuckDB's calls for it run there, one at a time.
        self._threads = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_QUERIES, thread_name_prefix="query")

    async def run(self, request: query_pb.QueryRequest, context: grpc.aio.ServicerContext
                  ) -> AsyncIterator[query_pb.QueryReply]:
        role = caller_role(context) if self.check_roles else ""
        if role not in QUERY_ROLES:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"a caller with role {role or '(none: no client certificate)'!r} may not query; "
                                "Query needs a client certificate with role 'analyst' over mTLS")
        if not self._slots.acquire(blocking=False):
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"refused: {MAX_CONCURRENT_QUERIES} queries are running already; try again shortly")
        limits = self.limits
        if request.max_rows:
            limits = Limits(limits.seconds, min(request.max_rows, limits.max_rows), limits.memory_limit,
                            limits.threads)
        latest = self.snapshots.latest
        query: SandboxedQuery | None = None
        # The DuckDB call running on this service's thread, if any.
        opening: Future[SandboxedQuery] = self._threads.submit(SandboxedQuery, self.snapshots.path, request.sql,
                                                                limits)
        step: Future[Any] = opening
        try:
            query = opened = await asyncio.wrap_future(opening)
            taken = latest.taken_at.isoformat().replace("+00:00", "Z") if latest else ""
            yield query_pb.QueryReply(arrow_schema=opened.schema.serialize().to_pybytes(), snapshot_taken_at=taken)
            batches = opened.batches()
            while True:
                step = self._threads.submit(next, batches, None)
                batch = await asyncio.wrap_future(step)
                if batch is None:
                    break
                yield query_pb.QueryReply(arrow_batch=batch.serialize().to_pybytes())
        except LimitReached as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except Refused as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        finally:
            # Normally the query is closed already (its batches close it at the end or on a refusal). If
            # the caller went away mid-query, stop DuckDB now; the connection is closed, and the slot
            # freed, once the call still running on the thread has returned.
            if query is not None:
                query.interrupt()
            step.add_done_callback(functools.partial(self._finish, query))

    def _finish(self, query: SandboxedQuery | None, step: Future[Any]) -> None:
        try:
            if query is None and not step.cancelled() and step.exception() is None:
                query = step.result()  # opened after its caller had gone
            if query is not None:
                query.close()
        finally:
            self._slots.release()


class AdminService:
    """Admin.Snapshot: a fresh snapshot streamed to the caller (loopback plaintext, or role `collector`)."""

    def __init__(self, snapshots: Snapshotter, check_roles: bool) -> None:
        self.snapshots = snapshots
        self.check_roles = check_roles

    def snapshot(self, request: query_pb.SnapshotRequest, context: grpc.ServicerContext
                 ) -> Iterator[query_pb.SnapshotChunk]:
        if self.check_roles:
            role = caller_role(context)
            if role not in ADMIN_ROLES:
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"a certificate with role {role or '(none)'!r} may not take snapshots; "
                              "that needs role 'collector'")
        elif not _peer_is_loopback(context):
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "snapshots in plaintext are for loopback callers only")
        try:
            info, fd = self.snapshots.open_latest()
        except SnapshotError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        with os.fdopen(fd, "rb") as handle:
            meta = query_pb.SnapshotInfo(taken_at=info.taken_at.isoformat().replace("+00:00", "Z"),
                                         size_bytes=info.size_bytes, seconds=info.seconds, reports=info.reports)
            first = True
            while True:
                data = handle.read(SNAPSHOT_CHUNK_BYTES)
                if not data and not first:
                    return
                yield query_pb.SnapshotChunk(data=data, info=meta if first else None)
                first = False


@dataclass(frozen=True)
class SummarySettings:
    """What the Summary RPC reads (a connection made before the writer starts) and how it withholds counts."""

    reader: Any  # a duckdb connection (a cursor of the store's)
    threshold: int = 5
    stale_days: int = 30


# Summaries are whole-estate queries: at most this many at once, so they never starve ingest.
MAX_CONCURRENT_SUMMARIES = 2


class SummaryService:
    """Summary.Get: the estate's aggregates, for callers with role `gds` over mTLS only."""

    def __init__(self, settings: SummarySettings, check_roles: bool) -> None:
        self.settings = settings
        self.check_roles = check_roles
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_SUMMARIES)

    def get(self, request: summary_pb.SummaryRequest, context: grpc.ServicerContext) -> summary_pb.SummaryReply:
        from estate.collector.read.summary import NoData, summarise
        from estate.collector.read.wire import to_proto

        role = caller_role(context) if self.check_roles else ""
        if role not in SUMMARY_ROLES:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"a caller with role {role or '(none: no client certificate)'!r} may not read the "
                          "summary; Summary needs a client certificate with role 'gds' over mTLS")
        as_of = None
        if request.as_of:
            try:
                as_of = dt.date.fromisoformat(request.as_of)
            except ValueError:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"as_of {request.as_of[:40]!r} is not a date")
        if not self._slots.acquire(timeout=30):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many summaries at once; try again later")
        try:
            with self._lock:  # one connection per call, each made from the reader
                cursor = self.settings.reader.cursor()
            try:
                summary = summarise(cursor, as_of, self.settings.threshold, self.settings.stale_days)
            finally:
                cursor.close()
        except NoData as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        finally:
            self._slots.release()
        return to_proto(summary)


def build_server(writer: Writer, listen: str, tls: ServerTls | None, insecure: bool = False,
                 limits: StreamLimits | None = None, metrics: Metrics | None = None,
                 on_store_failure: Callable[[StoreError], None] | None = None,
                 snapshots: Snapshotter | None = None, summary: SummarySettings | None = None,
                 trust: Trust | None = None, scanner_scopes: dict[str, Scopes] | None = None
                 ) -> tuple[grpc.aio.Server, int, Health, IngestService]:
    """An asyncio gRPC server with Ingest and health (and, given snapshots, Query and Admin) bound to
    `listen`; returns it (not started), the port and its health. Call from the event loop that will run it.

    Admin and Summary are plain functions, as written for the threaded server: they run on the server's
    migration thread pool, so a long snapshot never holds the event loop. Query runs its DuckDB work on
    threads of its own."""
    limits = limits or StreamLimits()
    limits.check()
    if tls is None and not (insecure or is_loopback(listen)):
        raise ValueError(f"refusing to listen in plaintext on {listen}: give --tls-cert/--tls-key/--tls-ca "
                         "(or --insecure on a network you trust)")
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    # Handlers written for the threaded server (plain functions and generators) still run, on this pool;
    # Ingest and health are coroutines on the event loop.
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=limits.max_streams + SPARE_RPCS,
                             migration_thread_pool=ThreadPoolExecutor(max_workers=SYNC_HANDLER_THREADS,
                                                                      thread_name_prefix="grpc-sync"))
    service = IngestService(writer, check_roles=tls is not None, limits=limits, metrics=metrics,
                            on_store_failure=on_store_failure, trust=trust, scanner_scopes=scanner_scopes)
    handler = grpc.method_handlers_generic_handler(INGEST_SERVICE, {
        "Stream": grpc.stream_stream_rpc_method_handler(
            service.stream, request_deserializer=None,
            response_serializer=ingest_pb.Receipt.SerializeToString),
        "StreamBatches": grpc.stream_stream_rpc_method_handler(
            service.stream_batches, request_deserializer=None,
            response_serializer=ingest_pb.ReceiptBatch.SerializeToString),
    })
    server.add_generic_rpc_handlers((handler,))
    health = Health(server)
    if snapshots is not None:
        query = QueryService(snapshots, check_roles=tls is not None)
        admin = AdminService(snapshots, check_roles=tls is not None)
        server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler("estate.v1.Query", {
                "Run": grpc.unary_stream_rpc_method_handler(
                    query.run, request_deserializer=query_pb.QueryRequest.FromString,
                    response_serializer=query_pb.QueryReply.SerializeToString)}),
            grpc.method_handlers_generic_handler("estate.v1.Admin", {
                "Snapshot": grpc.unary_stream_rpc_method_handler(
                    admin.snapshot, request_deserializer=query_pb.SnapshotRequest.FromString,
                    response_serializer=query_pb.SnapshotChunk.SerializeToString)}),
        ))
    if summary is not None:
        summary_service = SummaryService(summary, check_roles=tls is not None)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("estate.v1.Summary", {
            "Get": grpc.unary_unary_rpc_method_handler(
                summary_service.get, request_deserializer=summary_pb.SummaryRequest.FromString,
                response_serializer=summary_pb.SummaryReply.SerializeToString),
        }),))
    _, _, port_text = listen.rpartition(":")
    if not (port_text.isdigit() and int(port_text) <= 65535):
        # gRPC takes 99999 modulo 65536 and would listen on a port nobody asked for.
        raise ValueError(f"{listen}: the port must be a number from 0 to 65535")
    try:
        if tls is not None:
            creds = grpc.ssl_server_credentials([_checked_key_pair(tls)],
                                                root_certificates=_read_pem(tls.client_ca, "certificate"),
                                                require_client_auth=True)
            port = server.add_secure_port(listen, creds)
        else:
            port = server.add_insecure_port(listen)
    except RuntimeError as exc:  # gRPC's only word on a failed bind; the reason is in its log line above
        raise OSError(f"could not listen on {listen} (in use by another process, or not an address of "
                      "this host)") from exc
    if port == 0:
        raise OSError(f"could not bind {listen}")
    return server, port, health, service


class Health:
    """The standard gRPC health service (grpc.health.v1): SERVING while the store takes reports."""

    def __init__(self, server: grpc.aio.Server) -> None:
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        self._pb = health_pb2
        self.servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    async def set(self, serving: bool) -> None:
        status = self._pb.HealthCheckResponse.SERVING if serving else self._pb.HealthCheckResponse.NOT_SERVING
        for service in ("", INGEST_SERVICE):
            await self.servicer.set(service, status)


def _read_pem(path: Path, what: str) -> bytes:
    """The file's bytes if it holds a PEM `what` (certificate or private key); else a ValueError naming it."""
    data = path.read_bytes()[:MAX_PEM_BYTES + 1]
    marker = b"CERTIFICATE-----" if what == "certificate" else b"PRIVATE KEY-----"
    if len(data) > MAX_PEM_BYTES or b"-----BEGIN " not in data or marker not in data:
        raise ValueError(f"{path}: not a PEM {what}")
    return data


def _checked_key_pair(tls: ServerTls) -> tuple[bytes, bytes]:
    """The collector's (key, certificate), checked to belong together: gRPC's own failure is a bare
    RuntimeError that names neither file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_pem, key_pem = _read_pem(tls.cert, "certificate"), _read_pem(tls.key, "private key")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise ValueError(f"{tls.cert}: not a readable PEM certificate") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{tls.key}: not a readable unencrypted PEM private key") from exc
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*fmt) != cert.public_key().public_bytes(*fmt):
        raise ValueError(f"{tls.key} is not the private key of {tls.cert}")
    return key_pem, cert_pem
