"""The gRPC side of the collector: Ingest.Stream, the single writer thread, and the server itself.

The servicer only decodes, hands reports to the writer and turns outcomes into receipts. The
stream is registered with a raw-bytes request deserializer so that a message which does not
decode gets its own REJECTED receipt and the stream goes on; with the generated servicer, gRPC
would abort the whole stream, receipts and all.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc

from estate.agent.transport import MAX_MESSAGE_BYTES, is_loopback
from estate.collector.store import Outcome, Store, StoreError
from estate.collector.validate import Rejected, decode_report
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

log = logging.getLogger("estate.collector")

MAX_WRITE_BATCH = 64
# How far the stream reader may run ahead of the store: bounds memory per stream.
MAX_PENDING_PER_STREAM = 128
STATUS = {"ACCEPTED": ingest_pb.Receipt.ACCEPTED, "DUPLICATE": ingest_pb.Receipt.DUPLICATE,
          "REJECTED": ingest_pb.Receipt.REJECTED}


class Writer:
    """The one thread that writes to the store, committing queued reports in groups."""

    def __init__(self, store: Store, max_batch: int = MAX_WRITE_BATCH,
                 on_commit: Callable[[Sequence[str]], None] | None = None) -> None:
        self.store = store
        self.max_batch = max_batch
        # Called in this thread with the asset ids just stored, after their receipts are released.
        self.on_commit = on_commit
        self._queue: queue.Queue[tuple[pb.Inventory, Future[Outcome]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, report: pb.Inventory) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        self._queue.put((report, future))
        return future

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            work = [item]
            stop = False
            while len(work) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                work.append(more)
            try:
                outcomes = self.store.write_reports([report for report, _ in work], via="grpc")
            except StoreError as exc:
                log.error("store failed, %d reports not stored: %s", len(work), exc)
                for _, future in work:
                    future.set_exception(exc)
            else:
                for (_, future), outcome in zip(work, outcomes, strict=True):
                    future.set_result(outcome)
                stored = [report.asset_id for (report, _), o in zip(work, outcomes, strict=True)
                          if o.status == "ACCEPTED"]
                if stored and self.on_commit is not None:
                    self.on_commit(stored)
            if stop:
                return


def receipt_for(sequence: int, outcome: Outcome) -> ingest_pb.Receipt:
    return ingest_pb.Receipt(report_id=outcome.report_id, status=STATUS[outcome.status],
                             reason=outcome.reason, sequence=sequence)


def handle_stream(messages: Iterator[bytes], writer: Writer) -> Iterator[ingest_pb.Receipt]:
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
                    future = writer.submit(decode_report(data))
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


@dataclass(frozen=True)
class ServerTls:
    """PEM files: the collector's certificate and key, and the CA that client certificates must chain to."""

    cert: Path
    key: Path
    client_ca: Path


INGEST_ROLES = frozenset({"agent"})


def caller_role(context: grpc.ServicerContext) -> str:
    """The role in the caller's verified client certificate (its subject OU), '' without one."""
    from estate.collector.certs import role_of

    pems = context.auth_context().get("x509_pem_cert") or []
    return role_of(pems[0]) if pems else ""


class IngestService:
    """Ingest.Stream. Over mTLS only certificates with an ingest role may send; plaintext is
    allowed only on loopback (or with an explicit --insecure), where the operator is trusted."""

    def __init__(self, writer: Writer, check_roles: bool) -> None:
        self.writer = writer
        self.check_roles = check_roles

    def stream(self, messages: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[ingest_pb.Receipt]:
        if self.check_roles:
            role = caller_role(context)
            if role not in INGEST_ROLES:
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"a certificate with role {role or '(none)'!r} may not ingest; agents need role 'agent'")
        try:
            yield from handle_stream(messages, self.writer)
        except StoreError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"store unavailable, report not stored: {exc}")


def build_server(writer: Writer, listen: str, tls: ServerTls | None, insecure: bool = False,
                 max_workers: int = 16) -> tuple[grpc.Server, int]:
    """A gRPC server with Ingest bound to `listen`; returns it (not started) and the bound port."""
    if tls is None and not (insecure or is_loopback(listen)):
        raise ValueError(f"refusing to listen in plaintext on {listen}: give --tls-cert/--tls-key/--tls-ca "
                         "(or --insecure on a network you trust)")
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    server = grpc.server(ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"), options=options)
    service = IngestService(writer, check_roles=tls is not None)
    handler = grpc.method_handlers_generic_handler("estate.v1.Ingest", {
        "Stream": grpc.stream_stream_rpc_method_handler(
            service.stream, request_deserializer=None,
            response_serializer=ingest_pb.Receipt.SerializeToString),
    })
    server.add_generic_rpc_handlers((handler,))
    if tls is not None:
        creds = grpc.ssl_server_credentials([(tls.key.read_bytes(), tls.cert.read_bytes())],
                                            root_certificates=tls.client_ca.read_bytes(),
                                            require_client_auth=True)
        port = server.add_secure_port(listen, creds)
    else:
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"could not bind {listen}")
    return server, port
