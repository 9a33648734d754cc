"""Getting reports to the collector: gRPC channel (mTLS by default), the on-disk spool, the stream.

Delivery is at-least-once: a report is written to the spool first and deleted only when the
collector's receipt says ACCEPTED or DUPLICATE. Storage is exactly-once because the collector
stores each report_id once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import ssl
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from estate.v1 import ingest_pb2 as ingest_pb

STREAM_METHOD = "/estate.v1.Ingest/Stream"
BATCH_METHOD = "/estate.v1.Ingest/StreamBatches"
# Reports per InventoryBatch and bytes a batch aims at (a bigger report goes in a batch alone): few
# enough that a batch's receipts come back within a second or two, many enough that gRPC's cost per
# message is spread thin. The collector takes up to 1,024 reports and 48 MiB in one batch.
BATCH_REPORTS = 64
BATCH_BYTES = 8 * 1024 * 1024
# What framing a report in an InventoryBatch adds (a tag and a length): a report within this of the
# limit would go over it in a batch, so a flush holding one goes one report per message.
BATCH_FRAMING_BYTES = 16
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# The largest report the collector accepts (collector/ingest/validate.py MAX_REPORT_BYTES): a spooled
# report over it can never be delivered, so it is set aside instead of blocking the spool.
MAX_REPORT_BYTES = 48 * 1024 * 1024
SPOOL_MAX_FILES = 1000
SPOOL_MAX_BYTES = 512 * 1024 * 1024
SPOOL_SUFFIX = ".report"
# A spool file: magic and format version, the payload's length and SHA-256, then the payload (one
# serialized Inventory). A file cut short or changed anywhere fails the length or checksum test.
SPOOL_MAGIC = b"ESTATE-SPOOL\x00\x01"
SPOOL_HEADER = struct.Struct(f">{len(SPOOL_MAGIC)}sQ32s")


class TransportError(Exception):
    """The collector could not be reached or refused the connection; reports stay in the spool."""


class PermanentError(TransportError):
    """A refusal that no retry fixes (certificates, roles): the operator has to act. `kind` names it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class SpoolError(Exception):
    """The spool could not be written (disk full, read-only): the report is not kept."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for mutual TLS: the CA that signed the peer, and our own certificate and key."""

    ca: Path
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()


def is_loopback(address: str) -> bool:
    """True for HOST:PORT (or [v6]:PORT) whose host is a loopback address or 'localhost'."""
    host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_channel(target: str, tls: TlsFiles | None, insecure: bool = False) -> grpc.Channel:
    """A channel to the collector: mTLS, or plaintext only to loopback or with an explicit `insecure`."""
    options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    if tls is not None:
        ca, cert, key = tls.read()
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
        return grpc.secure_channel(target, creds, options=options)
    if not (insecure or is_loopback(target)):
        raise TransportError(f"refusing plaintext to {target}: give --tls-ca/--tls-cert/--tls-key "
                             "(or --insecure on a network you trust)")
    return grpc.insecure_channel(target, options=options)


@dataclass(frozen=True)
class SetAside:
    """A spooled report moved out of the way: where to, and why."""

    report_id: str
    folder: str
    reason: str


class Spool:
    """Reports waiting for a receipt, one checksummed file per report, bounded in count and bytes.

    Files that can never be delivered are set aside with a reason file beside them, so the rest of
    the spool still goes: `corrupt/` (torn or altered: the length or checksum does not match) and
    `rejected/` (over the collector's size limit, or refused by the collector's receipt).
    """

    def __init__(self, directory: Path, max_files: int = SPOOL_MAX_FILES,
                 max_bytes: int = SPOOL_MAX_BYTES) -> None:
        self.directory = directory
        self.rejected = directory / "rejected"
        self.corrupt = directory / "corrupt"
        self.max_files, self.max_bytes = max_files, max_bytes
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._adopt_legacy_files()

    def _adopt_legacy_files(self) -> None:
        """Frame the raw `REPORT_ID.pb` files older agents spooled, so they are still delivered.

        They carry no checksum: one torn by a crash is sent as it is (the collector checks what it can),
        as the agent that wrote it would have done.
        """
        for legacy in sorted(self.directory.glob("*.pb")):
            try:
                if legacy.stat().st_size > MAX_REPORT_BYTES:
                    self._set_aside(legacy, self.rejected, "report over the collector's size limit")
                    continue
                self.add(legacy.stem, legacy.read_bytes())
                legacy.unlink()
            except (OSError, SpoolError):
                return  # a full disk: try again next run; the legacy file stays

    def pending(self) -> list[Path]:
        """Spooled reports, oldest first."""
        files = [p for p in self.directory.iterdir() if p.suffix == SPOOL_SUFFIX and p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def add(self, report_id: str, data: bytes) -> tuple[Path, list[str]]:
        """Store a report durably (written, fsynced, then renamed); drops the oldest past the bounds.

        Raises SpoolError if it cannot be written (a full disk), leaving no partial file behind.
        """
        path = self.directory / f"{report_id}{SPOOL_SUFFIX}"
        tmp = self.directory / f".{report_id}.tmp"
        header = SPOOL_HEADER.pack(SPOOL_MAGIC, len(data), hashlib.sha256(data).digest())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(header)
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                tmp.replace(path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            fsync_dir(self.directory)
        except OSError as exc:
            raise SpoolError(f"cannot keep the report in the spool {self.directory}: "
                             f"{exc.strerror or exc}; it is not kept") from exc
        dropped: list[str] = []
        files = self.pending()
        total = sum(p.stat().st_size for p in files)
        while files and (len(files) > self.max_files or total > self.max_bytes) and files[0] != path:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            dropped.append(oldest.stem)
        return path, dropped

    def read(self, path: Path) -> bytes:
        """The report in a spool file; raises ValueError saying why the file cannot be trusted."""
        with open(path, "rb") as handle:
            head = handle.read(SPOOL_HEADER.size)
            if len(head) < SPOOL_HEADER.size or not head.startswith(SPOOL_MAGIC):
                raise ValueError("not a spool file of this agent (no header: torn or foreign)")
            _, length, digest = SPOOL_HEADER.unpack(head)
            if length > MAX_REPORT_BYTES:
                raise OverflowError(f"report is {length} bytes, over the collector's limit of {MAX_REPORT_BYTES}")
            data = handle.read(length + 1)
        if len(data) != length:
            raise ValueError(f"torn: {len(data)} of {length} bytes" if len(data) < length else
                             "longer than its header says")
        if hashlib.sha256(data).digest() != digest:
            raise ValueError("checksum mismatch: the file was altered or damaged")
        return data

    def load(self, limit: int | None = None) -> tuple[list[tuple[Path, bytes]], list[SetAside]]:
        """Up to `limit` deliverable reports (oldest first), setting aside every file that is not."""
        ready: list[tuple[Path, bytes]] = []
        set_aside: list[SetAside] = []
        for path in self.pending():
            if limit is not None and len(ready) >= limit:
                break
            try:
                ready.append((path, self.read(path)))
            except OverflowError as exc:
                set_aside.append(self._set_aside(path, self.rejected, str(exc)))
            except ValueError as exc:
                set_aside.append(self._set_aside(path, self.corrupt, str(exc)))
            except FileNotFoundError:
                continue  # another run delivered it meanwhile
        return ready, set_aside

    def _set_aside(self, path: Path, folder: Path, reason: str) -> SetAside:
        folder.mkdir(exist_ok=True, mode=0o700)
        path.replace(folder / path.name)
        (folder / f"{path.stem}.reason.txt").write_text(reason + "\n")
        return SetAside(path.stem, folder.name, reason)

    def settle(self, path: Path, receipt: ingest_pb.Receipt) -> None:
        """Act on a receipt: delete on ACCEPTED/DUPLICATE, set aside with the reason on REJECTED."""
        if receipt.status in (ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.DUPLICATE):
            path.unlink(missing_ok=True)
        elif receipt.status == ingest_pb.Receipt.REJECTED:
            self._set_aside(path, self.rejected, receipt.reason)

    def depth(self) -> tuple[int, int]:
        """Reports waiting, and their bytes."""
        files = self.pending()
        return len(files), sum(p.stat().st_size for p in files)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (the spool here, snapshots in the collector)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# gRPC status codes that no retry fixes: the collector said this caller may not send.
PERMANENT_CODES = {"PERMISSION_DENIED": "permission", "UNAUTHENTICATED": "unauthenticated"}


def stream_reports(channel: grpc.Channel, messages: list[bytes],
                   timeout_s: float = 300.0) -> list[ingest_pb.Receipt]:
    """Send serialized Inventory messages on one Ingest.Stream; returns one receipt per message, in order.

    Messages go as raw bytes so spooled files are sent without a parse and re-serialization.
    """
    call = channel.stream_stream(STREAM_METHOD, request_serializer=None,
                                 response_deserializer=ingest_pb.Receipt.FromString)

    def requests() -> Iterator[bytes]:
        yield from messages

    receipts: list[ingest_pb.Receipt] = []
    try:
        receipts.extend(call(requests(), timeout=timeout_s))
    except grpc.RpcError as exc:
        if len(receipts) != len(messages):
            raise _failure(exc) from exc
        # Every report has its receipt: how the stream ended after that (a collector stopping) changes nothing.
    if len(receipts) != len(messages):
        raise TransportError(f"collector answered {len(receipts)} receipts for {len(messages)} reports")
    return receipts


def _failure(exc: grpc.RpcError) -> TransportError:
    code = exc.code().name
    if code in PERMANENT_CODES:
        return PermanentError(PERMANENT_CODES[code], f"the collector refused this agent: {code}: {exc.details()}")
    return TransportError(f"collector: {code}: {exc.details()}")


def batches(messages: list[bytes], max_reports: int = BATCH_REPORTS, max_bytes: int = BATCH_BYTES
            ) -> Iterator[list[bytes]]:
    """messages cut, in order, into runs of at most max_reports and about max_bytes (a bigger one alone)."""
    run: list[bytes] = []
    size = 0
    for data in messages:
        if run and (len(run) >= max_reports or size + len(data) > max_bytes):
            yield run
            run, size = [], 0
        run.append(data)
        size += len(data)
    if run:
        yield run


def stream_batches(channel: grpc.Channel, messages: list[bytes], timeout_s: float = 300.0,
                   max_reports: int = BATCH_REPORTS, max_bytes: int = BATCH_BYTES) -> list[ingest_pb.Receipt]:
    """As stream_reports, several reports per message (Ingest.StreamBatches); one receipt per report, in order.

    A collector that predates StreamBatches answers UNIMPLEMENTED before storing anything: the
    messages then go one per message on Ingest.Stream.
    """
    if any(len(data) > MAX_REPORT_BYTES - BATCH_FRAMING_BYTES for data in messages):
        return stream_reports(channel, messages, timeout_s)
    call = channel.stream_stream(BATCH_METHOD, request_serializer=ingest_pb.InventoryBatch.SerializeToString,
                                 response_deserializer=ingest_pb.ReceiptBatch.FromString)
    runs = list(batches(messages, max_reports, max_bytes))

    def requests() -> Iterator[ingest_pb.InventoryBatch]:
        for run in runs:
            yield ingest_pb.InventoryBatch(reports=run)

    receipts: list[ingest_pb.Receipt] = []
    responses = call(requests(), timeout=timeout_s)
    try:
        for answered, run in zip(responses, runs, strict=False):
            if len(answered.receipts) != len(run):
                responses.cancel()
                raise TransportError(f"collector answered {len(answered.receipts)} receipts for a batch of "
                                     f"{len(run)} reports")
            receipts.extend(answered.receipts)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED and not receipts:
            return stream_reports(channel, messages, timeout_s)
        if len(receipts) != len(messages):
            raise _failure(exc) from exc
    if len(receipts) != len(messages):
        raise TransportError(f"collector answered {len(receipts)} receipts for {len(messages)} reports")
    return receipts


@dataclass
class Flushed:
    """What one flush of the spool did."""

    settled: list[tuple[str, ingest_pb.Receipt]]
    set_aside: list[SetAside]


def flush_spool(channel: grpc.Channel, spool: Spool, batch: int = 64) -> Flushed:
    """Send everything in the spool, settling each file by its receipt; unsendable files are set aside."""
    done = Flushed([], [])
    sent: set[Path] = set()
    while True:
        ready, set_aside = spool.load(limit=batch)
        done.set_aside += set_aside
        chunk = [(path, data) for path, data in ready if path not in sent]
        if not chunk:
            return done
        receipts = stream_batches(channel, [data for _, data in chunk])
        for (path, _), receipt in zip(chunk, receipts, strict=True):
            spool.settle(path, receipt)
            sent.add(path)
            done.settled.append((path.stem, receipt))


def default_spool_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/spool/legacy-estate")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "legacy-estate" / "spool"


def wait_for_channel(channel: grpc.Channel, timeout_s: float, target: str = "",
                     tls: TlsFiles | None = None) -> None:
    """Block until the channel is connected or raise TransportError (PermanentError for a TLS refusal).

    gRPC reports a failed TLS handshake the same way as a collector that is down; a direct handshake
    with Python's ssl module tells them apart, so certificate problems are not retried for ever.
    """
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError as exc:
        if tls is not None and target:
            diagnose_tls(target, tls)
        raise TransportError(f"collector not reachable within {timeout_s:g} s") from exc


# TLS alerts by which the collector refuses this agent's certificate.
REFUSED_ALERTS = ("CERTIFICATE_EXPIRED", "UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_REVOKED",
                  "CERTIFICATE_REQUIRED", "UNSUPPORTED_CERTIFICATE", "ACCESS_DENIED", "DECRYPT_ERROR")


def diagnose_tls(target: str, tls: TlsFiles, timeout_s: float = 5.0) -> None:
    """Raise PermanentError if a TLS handshake with `target` fails because of a certificate."""
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca))
    context.set_alpn_protocols(["h2"])
    try:
        context.load_cert_chain(str(tls.cert), str(tls.key))
    except ssl.SSLError as exc:
        raise PermanentError("certificate", f"{tls.cert}, {tls.key}: not a usable certificate and key "
                                            f"({exc.reason or exc})") from exc
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as conn:
            # Under TLS 1.3 the server judges the client certificate after the client's handshake
            # ends: its verdict arrives as an alert on the first read.
            conn.settimeout(2.0)
            try:
                first = conn.recv(1)
            except TimeoutError:
                return
            if not first:  # a gRPC server speaks first (HTTP/2 SETTINGS); closing instead is a refusal
                raise PermanentError("certificate", f"the collector refused this agent's certificate {tls.cert}: "
                                                    "it closed the connection after the TLS handshake (the "
                                                    "certificate has expired, or another CA signed it)")
    except ssl.SSLCertVerificationError as exc:
        raise PermanentError("untrusted-collector",
                             f"the collector's certificate is not trusted: {exc.verify_message} "
                             f"(checked against --tls-ca {tls.ca})") from exc
    except ssl.SSLError as exc:
        reason = (exc.reason or "").upper()
        alert = next((name for name in REFUSED_ALERTS if name in reason), None)
        if alert is not None:
            raise PermanentError("certificate", f"the collector refused this agent's certificate {tls.cert}: "
                                                f"{alert.lower().replace('_', ' ')}") from exc
    except (OSError, ValueError):
        return  # not reachable at all: a transient problem, reported by the caller
