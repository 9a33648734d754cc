"""Getting reports to the collector: gRPC channel (mTLS by default), the on-disk spool, the stream.

Delivery is at-least-once: a report is written to the spool first and deleted only when the
collector's receipt says ACCEPTED or DUPLICATE. Storage is exactly-once because the collector
stores each report_id once.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from estate.v1 import ingest_pb2 as ingest_pb

STREAM_METHOD = "/estate.v1.Ingest/Stream"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SPOOL_MAX_FILES = 1000
SPOOL_MAX_BYTES = 512 * 1024 * 1024


class TransportError(Exception):
    """The collector could not be reached or refused the connection; reports stay in the spool."""


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


class Spool:
    """Reports waiting for a receipt, one file per report, bounded in count and bytes."""

    def __init__(self, directory: Path, max_files: int = SPOOL_MAX_FILES,
                 max_bytes: int = SPOOL_MAX_BYTES) -> None:
        self.directory = directory
        self.rejected = directory / "rejected"
        self.max_files, self.max_bytes = max_files, max_bytes
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def pending(self) -> list[Path]:
        """Spooled reports, oldest first."""
        files = [p for p in self.directory.glob("*.pb") if p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def add(self, report_id: str, data: bytes) -> tuple[Path, list[str]]:
        """Store a report atomically; drops the oldest reports past the bounds and says which."""
        path = self.directory / f"{report_id}.pb"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        dropped: list[str] = []
        files = self.pending()
        total = sum(p.stat().st_size for p in files)
        while files and (len(files) > self.max_files or total > self.max_bytes) and files[0] != path:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            dropped.append(oldest.stem)
        return path, dropped

    def settle(self, path: Path, receipt: ingest_pb.Receipt) -> None:
        """Act on a receipt: delete on ACCEPTED/DUPLICATE, set aside with the reason on REJECTED."""
        if receipt.status in (ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.DUPLICATE):
            path.unlink(missing_ok=True)
        elif receipt.status == ingest_pb.Receipt.REJECTED:
            self.rejected.mkdir(exist_ok=True, mode=0o700)
            path.replace(self.rejected / path.name)
            (self.rejected / f"{path.stem}.reason.txt").write_text(receipt.reason + "\n")


def stream_reports(channel: grpc.Channel, messages: list[bytes],
                   timeout_s: float = 300.0) -> list[ingest_pb.Receipt]:
    """Send serialized Inventory messages on one Ingest.Stream; returns one receipt per message, in order.

    Messages go as raw bytes so spooled files are sent without a parse and re-serialization.
    """
    call = channel.stream_stream(STREAM_METHOD, request_serializer=None,
                                 response_deserializer=ingest_pb.Receipt.FromString)

    def requests() -> Iterator[bytes]:
        yield from messages

    try:
        receipts = list(call(requests(), timeout=timeout_s))
    except grpc.RpcError as exc:
        raise TransportError(f"collector: {exc.code().name}: {exc.details()}") from exc
    if len(receipts) != len(messages):
        raise TransportError(f"collector answered {len(receipts)} receipts for {len(messages)} reports")
    return receipts


def flush_spool(channel: grpc.Channel, spool: Spool, batch: int = 64) -> list[tuple[str, ingest_pb.Receipt]]:
    """Send everything in the spool, settling each file by its receipt; returns (report file, receipt)."""
    settled: list[tuple[str, ingest_pb.Receipt]] = []
    files = spool.pending()
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        receipts = stream_reports(channel, [p.read_bytes() for p in chunk])
        for path, receipt in zip(chunk, receipts, strict=True):
            spool.settle(path, receipt)
            settled.append((path.stem, receipt))
    return settled


def default_spool_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/spool/legacy-estate")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "legacy-estate" / "spool"


def wait_for_channel(channel: grpc.Channel, timeout_s: float) -> None:
    """Block until the channel is connected or raise TransportError."""
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError as exc:
        raise TransportError(f"collector not reachable within {timeout_s:g} s") from exc
