"""Read a report the agent wrote (agent/wire.py) back with `repeated Package`: an independent decoder of
PackageColumns in plain Python, the oracle the wire tests compare the agent's encoding against."""

from __future__ import annotations

import array
import sys

from estate.agent.wire import PACKAGE_COLUMNS
from estate.v1 import inventory_pb2 as pb


def decode_rows(data: bytes) -> pb.Inventory:
    """A report's bytes back as an Inventory with `repeated Package`."""
    report = pb.Inventory()
    report.ParseFromString(data)
    if report.HasField("package_columns"):
        columns = report.package_columns
        values = {name: _strings(getattr(columns, name), columns.count) for name in PACKAGE_COLUMNS}
        for i in range(columns.count):
            report.packages.add(**{name: values[name][i] for name in PACKAGE_COLUMNS})
        report.ClearField("package_columns")
    return report


def _strings(column: pb.StringColumn, count: int) -> list[str]:
    if not column.offsets and not column.data:
        return [""] * count
    offsets = array.array("i")
    offsets.frombytes(column.offsets)
    if sys.byteorder == "big":
        offsets.byteswap()
    if len(offsets) != count + 1:
        raise ValueError(f"a package column has {len(offsets) - 1} values for {count} packages")
    data = column.data
    return [data[offsets[i]:offsets[i + 1]].decode() for i in range(count)]
