"""A report's bytes as the agent sends and spools them: packages column by column.

A host has hundreds to hundreds of thousands of packages. Sent as `repeated Package`, the
collector reads them one field of one package at a time in Python; sent as PackageColumns (each
field a column in Arrow's layout for UTF-8 strings), it turns each column into an Arrow array in
one call. The agent pays one pass over its packages per report, spread over the fleet; the
collector, which receives every fleet's reports, pays nothing per package. Standard library only:
the agent stays lean.
"""

from __future__ import annotations

import array
import sys
from collections.abc import Iterable
from itertools import accumulate

from estate.v1 import inventory_pb2 as pb

# The Package fields sent as columns, in PackageColumns order (field numbers 2 to 12).
PACKAGE_COLUMNS = ("name", "version", "architecture", "manager", "source", "found_by", "evidence", "origin",
                   "maintainer", "distribution", "component")


def string_column(values: list[str], column: pb.StringColumn) -> None:
    """Fill column with values in Arrow's layout; an all-empty column is left empty (it is implied)."""
    encoded = [value.encode() for value in values]
    data = b"".join(encoded)
    if not data:
        return
    offsets = array.array("i", accumulate(map(len, encoded), initial=0))
    if sys.byteorder == "big":  # the wire is little-endian, as Arrow's buffers are
        offsets.byteswap()
    column.offsets = offsets.tobytes()
    column.data = data


def package_columns(packages: Iterable[pb.Package]) -> pb.PackageColumns:
    """The packages (a repeated Package field or a list of them) as PackageColumns."""
    entries = list(packages)
    columns = pb.PackageColumns(count=len(entries))
    for name in PACKAGE_COLUMNS:
        string_column([getattr(entry, name) for entry in entries], getattr(columns, name))
    return columns


def encode_report(report: pb.Inventory) -> bytes:
    """The report's bytes with its packages as PackageColumns; the report itself is left as it is."""
    if not report.packages:
        return report.SerializeToString()
    wire = pb.Inventory()
    wire.CopyFrom(report)
    wire.ClearField("packages")
    wire.package_columns.CopyFrom(package_columns(report.packages))
    return wire.SerializeToString()
