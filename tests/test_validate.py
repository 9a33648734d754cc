"""The contract every incoming report is checked against (collector/ingest/validate.py), at each bound's edge.

A bound is tested at exactly its value (accepted) and one past it (rejected, the reason naming it).
The list bounds are lowered for the edge tests (500,000 packages would only make the test slow) and
their shipped values are pinned separately.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from estate.collector.ingest import validate
from estate.collector.ingest.validate import Rejected, check_report, decode_report
from estate.v1 import inventory_pb2 as pb


def valid() -> pb.Inventory:
    report = pb.Inventory(report_id=str(uuid.uuid4()), asset_id="machine-id:abc", method=pb.METHOD_LOCAL)
    report.collected_at.FromSeconds(int(time.time()) - 60)
    return report


def test_the_shipped_bounds() -> None:
    assert validate.MAX_REPORT_BYTES == 48 * 1024 * 1024
    assert (validate.MAX_STRING_CHARS, validate.MAX_ASSET_ID_CHARS, validate.MAX_DISKS) == (4096, 256, 4096)
    assert validate.LIST_BOUNDS == {"packages": 500_000, "software": 10_000, "listeners": 100_000,
                                    "errors": 1_000, "labels": 64}
    assert validate.HOST_LIST_BOUNDS == {"interfaces": 4_096, "identity_warnings": 64}
    assert (validate.MAX_FUTURE_SKEW_S, validate.EARLIEST_COLLECTED_AT) == (86_400, 946_684_800)


def test_a_valid_report_gives_its_canonical_report_id() -> None:
    report = valid()
    report.report_id = report.report_id.upper()
    assert check_report(report) == report.report_id.lower()


def _sized(size: int) -> bytes:
    """A serialized valid report of exactly `size` bytes (padding in a label)."""
    report = valid()
    report.labels["padding"] = ""
    report.labels["padding"] = "x" * (size - report.ByteSize())
    while report.ByteSize() > size:  # the length prefix grew with the padding
        report.labels["padding"] = report.labels["padding"][:-1]
    data = report.SerializeToString()
    assert len(data) == size
    return data


def test_the_report_size_bound_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "MAX_REPORT_BYTES", 1000)
    assert decode_report(_sized(1000)).labels["padding"]
    with pytest.raises(Rejected, match="report is 1001 bytes, over the 1000-byte limit"):
        decode_report(_sized(1001))


def test_undecodable_bytes_are_rejected_by_name() -> None:
    with pytest.raises(Rejected, match=r"not a valid estate\.v1\.Inventory message"):
        decode_report(b"\xff\xfe garbage")


def _rejects(change: Callable[[pb.Inventory], object], reason: str) -> None:
    report = valid()
    change(report)
    with pytest.raises(Rejected, match=reason):
        check_report(report)


def _accepts(change: Callable[[pb.Inventory], object]) -> None:
    report = valid()
    change(report)
    assert check_report(report) == report.report_id


def test_identity_fields() -> None:
    _rejects(lambda r: setattr(r, "report_id", "not-a-uuid"), "report_id 'not-a-uuid' is not a UUID")
    _rejects(lambda r: setattr(r, "asset_id", ""), "asset_id is empty")
    _accepts(lambda r: setattr(r, "asset_id", "a" * 256))
    _rejects(lambda r: setattr(r, "asset_id", "a" * 257), "asset_id is longer than 256 characters")
    _rejects(lambda r: setattr(r, "method", pb.METHOD_UNSPECIFIED), "method is unspecified")
    _rejects(lambda r: r.ClearField("collected_at"), "collected_at is missing")


def test_collected_at_must_be_a_plausible_time() -> None:
    now = int(time.time())
    _accepts(lambda r: r.collected_at.FromSeconds(validate.EARLIEST_COLLECTED_AT))
    _rejects(lambda r: r.collected_at.FromSeconds(validate.EARLIEST_COLLECTED_AT - 1), "not a plausible time")
    _accepts(lambda r: r.collected_at.FromSeconds(now + validate.MAX_FUTURE_SKEW_S - 60))
    _rejects(lambda r: r.collected_at.FromSeconds(now + validate.MAX_FUTURE_SKEW_S + 60), "not a plausible time")


LIST_ADDERS: dict[str, Callable[[pb.Inventory], object]] = {
    "packages": lambda r: r.packages.add(name="p"),
    "software": lambda r: r.software.add(name="s"),
    "listeners": lambda r: r.listeners.add(port=1),
    "errors": lambda r: r.errors.add(message="e"),
    "labels": lambda r: r.labels.__setitem__(f"k{len(r.labels)}", "v"),
}


@pytest.mark.parametrize("field", sorted(LIST_ADDERS))
def test_each_list_bound_is_inclusive(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(validate.LIST_BOUNDS, field, 3)
    add = LIST_ADDERS[field]
    _accepts(lambda r: [add(r) for _ in range(3)])
    _rejects(lambda r: [add(r) for _ in range(4)], f"^{field} has 4 entries, over the limit of 3$")


HOST_ADDERS: dict[str, Callable[[pb.Inventory], object]] = {
    "interfaces": lambda r: r.host.interfaces.add(name="eth"),
    "identity_warnings": lambda r: r.host.identity_warnings.append("w"),
}


@pytest.mark.parametrize("field", sorted(HOST_ADDERS))
def test_each_host_list_bound_is_inclusive(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(validate.HOST_LIST_BOUNDS, field, 2)
    add = HOST_ADDERS[field]
    _accepts(lambda r: [add(r) for _ in range(2)])
    _rejects(lambda r: [add(r) for _ in range(3)], f"^host.{field} has 3 entries, over the limit of 2$")


def test_the_disk_bound_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "MAX_DISKS", 2)
    _accepts(lambda r: [r.host.hardware.disks.add() for _ in range(2)])
    _rejects(lambda r: [r.host.hardware.disks.add() for _ in range(3)], "host.hardware.disks over the limit of 2")


def test_label_keys_and_values_are_bounded() -> None:
    _accepts(lambda r: r.labels.__setitem__("k" * 64, "v" * 4096))
    _rejects(lambda r: r.labels.__setitem__("k" * 65, "v"), "label 'k{64}' is too long")
    _rejects(lambda r: r.labels.__setitem__("key", "v" * 4097), "label 'key' is too long")


def test_the_future_bound_is_inclusive_to_the_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_900_000_000
    monkeypatch.setattr("estate.collector.ingest.validate.time.time", lambda: float(now))
    _accepts(lambda r: r.collected_at.FromSeconds(now + validate.MAX_FUTURE_SKEW_S))
    _rejects(lambda r: r.collected_at.FromSeconds(now + validate.MAX_FUTURE_SKEW_S + 1), "not a plausible time")


def test_a_bad_report_id_is_echoed_bounded() -> None:
    report = valid()
    report.report_id = "A" * 64 + "B" * 1000
    with pytest.raises(Rejected) as raised:
        check_report(report)
    assert str(raised.value) == f"report_id {'A' * 64!r} is not a UUID"
