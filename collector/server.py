"""The gRPC side of the collector: the Ingest service and the server itself.

The servicer only decodes, hands reports to the writer (ingest/writer.py) and turns outcomes into
receipts. The
stream is registered with a raw-bytes request deserializer so that a message which does not
decode gets its own REJECTED receipt and the stream goes on; with the generated servicer, gRPC
would abort the whole stream, receipts and all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from estate.agent.transport import MAX_MESSAGE_BYTES, is_loopback
from estate.collector.ingest.validate import Rejected, decode_report
from estate.collector.ingest.writer import Writer
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

# How far the stream reader may run ahead of the store: bounds memory per stream.
MAX_PENDING_PER_STREAM = 128
STATUS = {"ACCEPTED": ingest_pb.Receipt.ACCEPTED, "DUPLICATE": ingest_pb.Receipt.DUPLICATE,
          "REJECTED": ingest_pb.Receipt.REJECTED}


def receipt_for(sequence: int, outcome: Outcome) -> ingest_pb.Receipt:
    return ingest_pb.Receipt(report_id=outcome.report_id, status=STATUS[outcome.status],
                             reason=outcome.reason, sequence=sequence)


def handle_stream(messages: Iterator[bytes], writer: Writer, sender: str = "",
                  who: Sender | None = None) -> Iterator[ingest_pb.Receipt]:
    """Answer each message with a receipt, in order; a receipt is yielded only after the store has it.

    A reader thread decodes and submits ahead of the receipts, so the writer can commit many
    reports at once; the bounded queue between them is the back-pressure on the sender.
    """
    pending: queue.Queue[tuple[int, Future[Outcome]] | BaseException | None] = queue.Queue(
        maxsize=MAX_PENDING_PER_STREAM)

    def read() -> None:
        try:
            for sequence, data in enumerate(messages, start=1):
                try:
                    future = writer.submit(decode_report(data), sender=sender,
                                           sha256=hashlib.sha256(data).hexdigest(), data=data, who=who)
                except Rejected as exc:
                    future = Future()
                    future.set_result(Outcome("", "REJECTED", str(exc)))
                pending.put((sequence, future))
        except grpc.RpcError:
            pass  # the client went away; what was submitted is still answered or stored
        except Exception as exc:  # surfaced to the stream below
            pending.put(exc)
        pending.put(None)

    threading.Thread(target=read, name="stream-reader", daemon=True).start()
    while True:
        item = pending.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        sequence, future = item
        yield receipt_for(sequence, future.result())


def sender_of(context: grpc.ServicerContext) -> str:
    """Who is sending, for the reports table: the client certificate's common name, else the peer address."""
    names = context.auth_context().get("x509_common_name") or []
    if names:
        return "cert:" + bytes(names[0]).decode("utf-8", "replace")[:256]
    return "peer:" + str(context.peer())[:256]


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

    def __init__(self, writer: Writer, check_roles: bool, trust: Trust | None = None,
                 scanner_scopes: dict[str, Scopes] | None = None) -> None:
        self.writer = writer
        self.check_roles = check_roles
        self.trust = trust
        self.scanner_scopes = scanner_scopes

    def stream(self, messages: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[ingest_pb.Receipt]:
        sender = plaintext_sender(context.peer())
        if self.check_roles:
            role = caller_role(context)
            if role not in INGEST_ROLES:
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"a certificate with role {role or '(none)'!r} may not ingest; agents need role "
                              "'agent', SSH and SNMP sweeps role 'scanner'")
            sender = self._certificate_sender(context)
        try:
            yield from handle_stream(messages, self.writer, sender_of(context), sender)
        except StoreError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"store unavailable, report not stored: {exc}")


    def _certificate_sender(self, context: grpc.ServicerContext) -> Sender:
        """The verified caller; aborts the stream for a revoked certificate or a scanner without scopes."""
        pem = caller_pem(context)
        assert pem is not None  # the role came from it
        sender = certificate_sender(pem, self.trust, self.scanner_scopes)
        revoked = self.trust.revocation(sender.fingerprint) if self.trust is not None else None
        if revoked is not None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          f"{sender.name()} was revoked on {revoked.at:%Y-%m-%d %H:%M} UTC"
                          + (f" ({revoked.reason})" if revoked.reason else "") + "; nothing from it is accepted")
        if sender.role == "scanner" and not sender.scopes:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
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
    """Query.Run: one sandboxed SELECT on the latest snapshot, for callers with role `analyst` over mTLS."""

    def __init__(self, snapshots: Snapshotter, check_roles: bool, limits: Limits | None = None) -> None:
        self.snapshots = snapshots
        self.check_roles = check_roles
        self.limits = limits or Limits()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_QUERIES)

    def run(self, request: query_pb.QueryRequest, context: grpc.ServicerContext) -> Iterator[query_pb.QueryReply]:
        role = caller_role(context) if self.check_roles else ""
        if role not in QUERY_ROLES:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"a caller with role {role or '(none: no client certificate)'!r} may not query; "
                          "Query needs a client certificate with role 'analyst' over mTLS")
        if not self._slots.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"refused: {MAX_CONCURRENT_QUERIES} queries are running already; try again shortly")
        try:
            yield from self._answer(request, context)
        finally:
            self._slots.release()

    def _answer(self, request: query_pb.QueryRequest, context: grpc.ServicerContext
                ) -> Iterator[query_pb.QueryReply]:
        limits = self.limits
        if request.max_rows:
            limits = Limits(limits.seconds, min(request.max_rows, limits.max_rows), limits.memory_limit,
                            limits.threads)
        latest = self.snapshots.latest
        try:
            query = SandboxedQuery(self.snapshots.path, request.sql, limits)
            taken = latest.taken_at.isoformat().replace("+00:00", "Z") if latest else ""
            yield query_pb.QueryReply(arrow_schema=query.schema.serialize().to_pybytes(), snapshot_taken_at=taken)
            for batch in query.batches():
                yield query_pb.QueryReply(arrow_batch=batch.serialize().to_pybytes())
        except LimitReached as exc:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except Refused as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


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
                 max_workers: int = 16, snapshots: Snapshotter | None = None,
                 summary: SummarySettings | None = None, trust: Trust | None = None,
                 scanner_scopes: dict[str, Scopes] | None = None) -> tuple[grpc.Server, int]:
    """A gRPC server with Ingest (and, given snapshots, Query and Admin; given summary settings,
    Summary) bound to `listen`; returns it (not started) and the bound port."""
    if tls is None and not (insecure or is_loopback(listen)):
        raise ValueError(f"refusing to listen in plaintext on {listen}: give --tls-cert/--tls-key/--tls-ca "
                         "(or --insecure on a network you trust)")
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    server = grpc.server(ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"), options=options)
    service = IngestService(writer, check_roles=tls is not None, trust=trust, scanner_scopes=scanner_scopes)
    handler = grpc.method_handlers_generic_handler("estate.v1.Ingest", {
        "Stream": grpc.stream_stream_rpc_method_handler(
            service.stream, request_deserializer=None,
            response_serializer=ingest_pb.Receipt.SerializeToString),
    })
    server.add_generic_rpc_handlers((handler,))
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
    return server, port


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
