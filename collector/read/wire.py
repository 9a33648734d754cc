"""Aggregate tables to and from the Summary messages: the one pair of conversions for the wire."""

from __future__ import annotations

import datetime as dt

from estate.collector.read.summary import Count, Cube, Row, Summary
from estate.v1 import summary_pb2 as pb

# Bounds on what an aggregator accepts from one collector (a reply is a few hundred KiB at most).
MAX_TABLES = 32
MAX_ROWS = 100_000
MAX_COLUMNS = 64
MAX_KEY_PARTS = 4


def _count(count: Count) -> pb.AggregateCount:
    # A withheld count never leaves with its value, whatever the caller put in it.
    return pb.AggregateCount(value=0 if count.withheld else count.value, withheld=count.withheld)


def _row(row: Row) -> pb.AggregateRow:
    return pb.AggregateRow(key=list(row.key), cells=[_count(c) for c in row.cells], total=_count(row.total))


def to_proto(summary: Summary) -> pb.SummaryReply:
    reply = pb.SummaryReply(as_of=summary.as_of.isoformat(), threshold=summary.threshold,
                            stale_days=summary.stale_days)
    reply.generated_at.FromDatetime(summary.generated_at)
    for cube in summary.cubes.values():
        reply.tables.append(pb.AggregateTable(name=cube.name, unit=cube.unit, row_dimensions=list(cube.row_dims),
                                              columns=list(cube.columns), rows=[_row(r) for r in cube.rows],
                                              totals=_row(cube.totals)))
    return reply


class BadSummary(ValueError):
    """A reply that does not hold well-formed aggregate tables."""


def _from_row(row: pb.AggregateRow, width: int, key_parts: int, what: str) -> Row:
    if len(row.cells) != width or len(row.key) != key_parts:
        raise BadSummary(f"{what}: a row has {len(row.cells)} cells and {len(row.key)} key parts, "
                         f"expected {width} and {key_parts}")
    cells = [Count(int(c.value), c.withheld) for c in row.cells]
    return Row(tuple(row.key), cells, Count(int(row.total.value), row.total.withheld))


def from_proto(reply: pb.SummaryReply) -> Summary:
    """The reply as aggregate tables; raises BadSummary naming what is malformed."""
    from estate.collector.read.summary import clean_key

    if len(reply.tables) > MAX_TABLES:
        raise BadSummary(f"{len(reply.tables)} tables, over the limit of {MAX_TABLES}")
    try:
        as_of = dt.date.fromisoformat(reply.as_of)
    except ValueError as exc:
        raise BadSummary(f"as_of {reply.as_of[:40]!r} is not a date") from exc
    cubes: dict[str, Cube] = {}
    for table in reply.tables:
        name = clean_key(table.name)
        if len(table.rows) > MAX_ROWS or len(table.columns) > MAX_COLUMNS or len(table.row_dimensions) > MAX_KEY_PARTS:
            raise BadSummary(f"table {name}: over the bounds ({MAX_ROWS} rows, {MAX_COLUMNS} columns, "
                             f"{MAX_KEY_PARTS} key parts)")
        width, parts = len(table.columns), len(table.row_dimensions)
        rows = [_from_row(r, width, parts, f"table {name}") for r in table.rows]
        rows = [Row(tuple(clean_key(k) for k in r.key), r.cells, r.total) for r in rows]
        totals = _from_row(table.totals, width, 0, f"table {name} totals")
        cubes[name] = Cube(name, clean_key(table.unit), tuple(clean_key(d) for d in table.row_dimensions),
                           tuple(clean_key(c) for c in table.columns), rows, totals)
    generated = reply.generated_at.ToDatetime(tzinfo=dt.timezone.utc)
    return Summary(generated, as_of, int(reply.threshold), int(reply.stale_days), cubes)
