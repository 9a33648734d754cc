"""Decoding and bounds-checking incoming reports, before anything touches the store.

Every size is bounded: a report over any bound is rejected with a reason that names the bound,
and nothing else in the stream or the store is affected.
"""

from __future__ import annotations

import time
import uuid

from google.protobuf.message import DecodeError

from estate.v1 import inventory_pb2 as pb

MAX_REPORT_BYTES = 48 * 1024 * 1024
MAX_STRING_CHARS = 4096
MAX_ASSET_ID_CHARS = 256
# Per-report list bounds, far above any real host.
LIST_BOUNDS = {
    "packages": 500_000,
    "software": 10_000,
    "listeners": 100_000,
    "errors": 1_000,
    "labels": 64,
}
HOST_LIST_BOUNDS = {"interfaces": 4_096, "identity_warnings": 64}
MAX_DISKS = 4_096
# Clocks drift, but a report from the far future is a broken agent clock or a forgery.
MAX_FUTURE_SKEW_S = 24 * 3600
EARLIEST_COLLECTED_AT = 946_684_800  # 2000-01-01


class Rejected(Exception):
    """A report that breaks the contract; the message is the reason sent back in the receipt."""


def decode_report(data: bytes) -> pb.Inventory:
    """Parse one serialized Inventory, or raise Rejected saying why it cannot be read."""
    if len(data) > MAX_REPORT_BYTES:
        raise Rejected(f"report is {len(data)} bytes, over the {MAX_REPORT_BYTES}-byte limit")
    report = pb.Inventory()
    try:
        report.ParseFromString(data)
    except DecodeError as exc:
        raise Rejected(f"not a valid estate.v1.Inventory message: {exc}") from exc
    return report


def check_report(report: pb.Inventory) -> str:
    """Check a decoded report against the contract; returns its canonical report_id or raises Rejected."""
    try:
        report_id = str(uuid.UUID(report.report_id))
    except ValueError as exc:
        raise Rejected(f"report_id {report.report_id[:64]!r} is not a UUID") from exc
    if not report.asset_id:
        raise Rejected("asset_id is empty")
    if len(report.asset_id) > MAX_ASSET_ID_CHARS:
        raise Rejected(f"asset_id is longer than {MAX_ASSET_ID_CHARS} characters")
    if report.method == pb.METHOD_UNSPECIFIED:
        raise Rejected("method is unspecified")
    if not report.HasField("collected_at"):
        raise Rejected("collected_at is missing")
    seconds, nanos = report.collected_at.seconds, report.collected_at.nanos
    if not 0 <= nanos < 1_000_000_000:
        raise Rejected(f"collected_at nanos {nanos} is out of range (0 to 999999999)")
    if seconds < EARLIEST_COLLECTED_AT or seconds > time.time() + MAX_FUTURE_SKEW_S:
        # Named by its seconds: a value this far off has no calendar form to print.
        raise Rejected(f"collected_at {seconds} s after 1970 is not a plausible time")
    for field, bound in LIST_BOUNDS.items():
        count = len(getattr(report, field))
        if count > bound:
            raise Rejected(f"{field} has {count} entries, over the limit of {bound}")
    if report.HasField("package_columns"):
        if report.packages:
            raise Rejected("packages come both as rows and as package_columns; send one form")
        if report.package_columns.count > LIST_BOUNDS["packages"]:
            raise Rejected(f"package_columns has {report.package_columns.count} packages, over the limit of "
                           f"{LIST_BOUNDS['packages']}")
    for field, bound in HOST_LIST_BOUNDS.items():
        count = len(getattr(report.host, field))
        if count > bound:
            raise Rejected(f"host.{field} has {count} entries, over the limit of {bound}")
    if len(report.host.hardware.disks) > MAX_DISKS:
        raise Rejected(f"host.hardware.disks over the limit of {MAX_DISKS}")
    for key, value in report.labels.items():
        if len(key) > 64 or len(value) > MAX_STRING_CHARS:
            raise Rejected(f"label {key[:64]!r} is too long")
    check_nested_strings(report)
    return report_id


# Bounds for the strings inside nested parts that the per-table flattening does not see.
MAX_ADDRESSES_PER_INTERFACE = 1_024
MAX_ID_LIKE = 32
MAX_DEVICE_EVIDENCE = 256


def check_nested_strings(report: pb.Inventory) -> None:
    """Bound every string in interfaces, disks, identity warnings, os id_like and device evidence."""
    def bounded(where: str, values: list[str]) -> None:
        for value in values:
            if len(value) > MAX_STRING_CHARS:
                raise Rejected(f"{where} has a value of {len(value)} characters, over the limit of "
                               f"{MAX_STRING_CHARS}")

    host = report.host
    for nic in host.interfaces:
        if len(nic.addresses) > MAX_ADDRESSES_PER_INTERFACE:
            raise Rejected(f"host.interfaces.addresses has {len(nic.addresses)} entries, over the limit of "
                           f"{MAX_ADDRESSES_PER_INTERFACE}")
        bounded("host.interfaces", [nic.name, nic.mac, *nic.addresses])
    for disk in host.hardware.disks:
        bounded("host.hardware.disks", [disk.device, disk.mountpoint, disk.fstype])
    bounded("host.identity_warnings", list(host.identity_warnings))
    if len(report.os.id_like) > MAX_ID_LIKE:
        raise Rejected(f"os.id_like has {len(report.os.id_like)} entries, over the limit of {MAX_ID_LIKE}")
    bounded("os.id_like", list(report.os.id_like))
    evidence = report.device.evidence
    if len(evidence) > MAX_DEVICE_EVIDENCE:
        raise Rejected(f"device.evidence has {len(evidence)} entries, over the limit of {MAX_DEVICE_EVIDENCE}")
    for key, value in evidence.items():
        bounded("device.evidence", [key, value])
