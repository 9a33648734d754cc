"""The GDS aggregator: pull Summary from many collectors at once, keep the merged view in DuckDB.

Each collector answers with aggregate tables in which small counts are already withheld; the
aggregator never sees anything else. A collector that cannot be reached, refuses, or answers with
something malformed is reported by its name and left out; the others are stored. The aggregator's
database holds pulls (gds_pulls), who answered (gds_sources), the tables (gds_tables, gds_cells)
and their sum across collectors (the view gds_merged).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import grpc
import pyarrow as pa

from estate.agent.transport import TlsFiles, TransportError, open_channel
from estate.collector.read.summary import Count, Cube, Summary, clean_key, merge
from estate.collector.read.wire import BadSummary, from_proto
from estate.v1 import summary_pb2 as pb

MAX_SOURCES = 1000
DEFAULT_TIMEOUT_S = 60.0



@dataclass(frozen=True)
class Source:
    name: str
    address: str


def parse_source(text: str) -> Source:
    """NAME=ADDR or ADDR (then named by its address)."""
    name, sep, address = text.partition("=")
    if not sep:
        name, address = text, text
    if not name or not address or ":" not in address:
        raise ValueError(f"--from {text!r}: give ADDR (host:port) or NAME=ADDR")
    return Source(clean_key(name), address)


@dataclass(frozen=True)
class Pulled:
    """One collector's answer: its summary, or why there is none."""

    source: Source
    summary: Summary | None
    error: str
    reply_bytes: int
    seconds: float


def pull_one(source: Source, tls: TlsFiles | None, insecure: bool, as_of: dt.date | None,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> Pulled:
    """Ask one collector for its summary; never raises: a failure is the answer's error."""
    started = time.perf_counter()
    size = 0
    try:
        with open_channel(source.address, tls, insecure) as channel:
            # Raw bytes in: the reply's size is known and it is parsed (and bounded) here.
            call = channel.unary_unary("/estate.v1.Summary/Get",
                                       request_serializer=pb.SummaryRequest.SerializeToString,
                                       response_deserializer=None)
            data = call(pb.SummaryRequest(as_of=as_of.isoformat() if as_of else ""), timeout=timeout_s)
            size = len(data)
            summary = from_proto(pb.SummaryReply.FromString(data))
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return Pulled(source, None, f"{code.name if code else 'ERROR'}: {clean_key(details)}", size,
                      time.perf_counter() - started)
    except (TransportError, BadSummary, OSError, ValueError) as exc:
        return Pulled(source, None, clean_key(str(exc)), size, time.perf_counter() - started)
    return Pulled(source, summary, "", size, time.perf_counter() - started)


def pull_all(sources: Sequence[Source], tls: TlsFiles | None, insecure: bool = False,
             as_of: dt.date | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
             workers: int = 16) -> list[Pulled]:
    """Ask every collector at once (at most `workers` at a time); answers in the order asked."""
    if len(sources) > MAX_SOURCES:
        raise ValueError(f"{len(sources)} collectors, over the limit of {MAX_SOURCES}")
    names = [s.name for s in sources]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ValueError(f"collector names must differ: {', '.join(doubled)} given twice")
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources)))) as pool:
        return list(pool.map(lambda s: pull_one(s, tls, insecure, as_of, timeout_s), sources))


def open_gds(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute((resources.files("estate.collector.read") / "gds_schema.sql").read_text())
    return con


def is_gds_database(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'gds_pulls' "
                      "AND database_name = current_database()").fetchone()
    return bool(row and row[0])


def store_pull(con: duckdb.DuckDBPyConnection, pulled: Sequence[Pulled], as_of: dt.date | None,
               pulled_at: dt.datetime) -> int:
    """Record one pull and every answer in one transaction; returns its pull_id."""
    tables: dict[str, list[Any]] = {k: [] for k in ("source", "table_name", "unit", "row_dims", "columns")}
    cells: dict[str, list[Any]] = {k: [] for k in ("source", "table_name", "row_key", "category", "count",
                                                   "withheld")}
    for answer in pulled:
        if answer.summary is None:
            continue
        for cube in answer.summary.cubes.values():
            layout: dict[str, Any] = {"source": answer.source.name, "table_name": cube.name, "unit": cube.unit,
                                      "row_dims": list(cube.row_dims), "columns": list(cube.columns)}
            for key, value in layout.items():
                tables[key].append(value)
            for cube_row in [*cube.rows, cube.totals]:
                counts: list[tuple[str | None, Count]] = [*zip(cube.columns, cube_row.cells, strict=True),
                                                          (None, cube_row.total)]
                for category, count in counts:
                    cell: dict[str, Any] = {"source": answer.source.name, "table_name": cube.name,
                                            "row_key": list(cube_row.key), "category": category,
                                            "count": count.value, "withheld": count.withheld}
                    for key, value in cell.items():
                        cells[key].append(value)
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute("INSERT INTO gds_pulls (pulled_at, as_of, sources, failed) VALUES (?, ?, ?, ?) "
                          "RETURNING pull_id", [pulled_at, as_of, len(pulled),
                                                sum(p.summary is None for p in pulled)]).fetchone()
        assert row is not None
        pull_id = int(row[0])
        for answer in pulled:
            s = answer.summary
            con.execute("INSERT INTO gds_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [pull_id, answer.source.name, s is not None, answer.error or None,
                         s.as_of if s else None, s.generated_at if s else None, s.threshold if s else None,
                         s.stale_days if s else None, answer.reply_bytes, answer.seconds])
        for name, columns in (("gds_tables", tables), ("gds_cells", cells)):
            if columns["source"]:
                data = pa.table({"pull_id": pa.array([pull_id] * len(columns["source"]), pa.int64()),
                                 **{k: pa.array(v) for k, v in columns.items()}})
                con.register("incoming_gds", data)
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming_gds")  # noqa: S608
                con.unregister("incoming_gds")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return pull_id


@dataclass(frozen=True)
class MergedView:
    """The cross-government view of one pull: every answering collector's tables added up."""

    pull_id: int
    pulled_at: dt.datetime
    as_of: dt.date
    threshold: int
    stale_days: int
    sources: list[dict[str, Any]]
    cubes: dict[str, Cube]


def load_merged(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> MergedView:
    """The latest pull (for as_of: the latest whose collectors answered for that date), merged."""
    from estate.collector.read.summary import NoData, Row

    where = "" if as_of is None else "WHERE pull_id IN (SELECT pull_id FROM gds_sources WHERE ok AND as_of = $day)"
    found = con.execute(f"SELECT pull_id, pulled_at FROM gds_pulls {where} ORDER BY pull_id DESC LIMIT 1",  # noqa: S608
                        {"day": as_of} if as_of else {}).fetchone()
    if found is None:
        raise NoData("no pull stored" + (f" with results for {as_of}" if as_of else "")
                     + ": run 'estate-collector gds pull' first")
    pull_id, pulled_at = int(found[0]), found[1]
    cursor = con.execute("SELECT source, ok, error, as_of, generated_at, threshold, stale_days, reply_bytes, seconds "
                         "FROM gds_sources WHERE pull_id = ? ORDER BY source", [pull_id])
    names = [d[0] for d in cursor.description or ()]
    sources = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    answered = [s for s in sources if s["ok"]]
    if not answered:
        raise NoData(f"pull {pull_id}: no collector answered")
    layouts = con.execute("SELECT source, table_name, unit, row_dims, columns FROM gds_tables WHERE pull_id = ?",
                          [pull_id]).fetchall()
    per_source: dict[tuple[str, str], Cube] = {}
    for source, table, unit, row_dims, columns in layouts:
        per_source[(source, table)] = Cube(table, unit, tuple(row_dims), tuple(columns))
    rows: dict[tuple[str, str, tuple[str, ...]], dict[str | None, Count]] = {}
    for source, table, key, category, count, withheld in con.execute(
            "SELECT source, table_name, row_key, category, count, withheld FROM gds_cells WHERE pull_id = ?",
            [pull_id]).fetchall():
        rows.setdefault((source, table, tuple(key)), {})[category] = Count(int(count), bool(withheld))
    for (source, table, key), values in rows.items():
        cube = per_source.get((source, table))
        if cube is None:
            continue
        row = Row(key, [values.get(c, Count(0)) for c in cube.columns], values.get(None, Count(0)))
        if key:
            cube.rows.append(row)
        else:
            cube.totals = row
    by_table: dict[str, list[Cube]] = {}
    for (_, table), cube in sorted(per_source.items()):
        by_table.setdefault(table, []).append(cube)
    cubes = {table: merge(items) for table, items in by_table.items()}
    day = max(s["as_of"] for s in answered)
    threshold = max(int(s["threshold"] or 0) for s in answered)
    stale = max(int(s["stale_days"] or 0) for s in answered)
    return MergedView(pull_id, pulled_at, day, threshold, stale, sources, cubes)
