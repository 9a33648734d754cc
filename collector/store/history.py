"""History by change: apply flattened reports to the interval tables, inside the caller's transaction.

For each report and part, against the asset's state (asset_state):
- a new asset: every row is inserted as an open interval, in one Arrow insert per part per group;
- an unchanged part (same content hash): nothing is written;
- a changed part: open intervals the report no longer shows are closed and rows it shows that are
  not open are inserted, by two set statements over all changed assets of the group at once;
- a report older than the asset's current one (a late resend): its header is recorded with
  in_history = false and the history is left alone.
Several reports of one asset in a group are applied in rounds, oldest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from estate.collector.ingest.flatten import (
    ERROR_COLUMNS,
    INTERVAL_COLUMNS,
    PART_BY_TABLE,
    PARTS,
    STR,
    TS,
    FlatReport,
    Part,
    flatten_part,
    header_table,
    part_schema,
)

# Below this many rows per batch on average, batches are combined into one chunk before an insert.
SMALL_CHUNKS_ROWS = 16_384
HASH_COLUMNS = {part.table: f"{part.table}_hash" for part in PARTS}


@dataclass(frozen=True)
class AssetState:
    """What the store knows of an asset before a round: its current report and part hashes."""

    report_id: str
    collected_at: dt.datetime
    hashes: dict[str, bytes | None]


@dataclass
class PartWork:
    """A part's rows to write in one round: new assets' rows, and changed assets' full rows to diff."""

    new: list[pa.RecordBatch] = field(default_factory=list)
    new_reports: list[tuple[str, dt.datetime, int]] = field(default_factory=list)
    changed: list[pa.RecordBatch] = field(default_factory=list)
    changed_assets: list[tuple[str, str, dt.datetime, str, dt.datetime]] = field(default_factory=list)


def _rounds(reports: Sequence[FlatReport]) -> list[list[FlatReport]]:
    """Reports split so that each round has at most one report per asset, oldest first."""
    ordered = sorted(reports, key=lambda r: r.report_id, reverse=True)
    ordered.sort(key=lambda r: (r.asset_id, r.collected_at))
    rounds: list[list[FlatReport]] = []
    seen: dict[str, int] = {}
    for report in ordered:
        index = seen.get(report.asset_id, 0)
        seen[report.asset_id] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(report)
    return rounds


def _states(con: duckdb.DuckDBPyConnection, assets: list[str]) -> dict[str, AssetState]:
    hashes = ", ".join(HASH_COLUMNS.values())
    rows = con.execute(f"SELECT asset_id, report_id, collected_at, {hashes} FROM asset_state "  # noqa: S608
                       "WHERE asset_id IN (SELECT unnest(?::VARCHAR[]))", [assets]).fetchall()
    return {row[0]: AssetState(row[1], row[2], dict(zip(HASH_COLUMNS, row[3:], strict=True))) for row in rows}


def _with_intervals(batches: list[pa.RecordBatch], part: Part,
                    reports: list[tuple[str, dt.datetime, int]]) -> pa.Table:
    """New rows as open intervals: first_report_id and first_seen from the report of each run of rows.

    Many small batches (a group of small reports) become one contiguous chunk: DuckDB scans a table
    of many small Arrow batches several times slower. A huge report's big chunks are not copied.
    """
    table = pa.Table.from_batches(batches, schema=part_schema(part))
    if table.num_rows < SMALL_CHUNKS_ROWS * len(batches):
        table = table.combine_chunks()
    ids = pa.concat_arrays([pa.repeat(pa.scalar(report_id, STR), rows) for report_id, _, rows in reports])
    seen = pa.concat_arrays([pa.repeat(pa.scalar(when, TS), rows) for _, when, rows in reports])
    return table.append_column("first_report_id", ids).append_column("first_seen", seen)


# Rows per INSERT statement: one DuckDB row group. A huge report goes in several statements (one
# transaction still), which leaves the other writer lane room between them.
INSERT_ROWS = 122_880


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    for start in range(0, max(data.num_rows, 1), INSERT_ROWS):
        con.register("incoming_rows", data.slice(start, INSERT_ROWS))
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")  # noqa: S608
        finally:
            con.unregister("incoming_rows")


def _apply_changes(con: duckdb.DuckDBPyConnection, part: Part, work: PartWork) -> int:
    """Close the open intervals changed assets no longer show, open those they newly show; returns how many closed."""
    staged = pa.Table.from_batches(work.changed, schema=part_schema(part))
    if staged.num_rows < SMALL_CHUNKS_ROWS * len(work.changed):
        staged = staged.combine_chunks()
    changed = pa.Table.from_pylist(
        [{"asset_id": a, "report_id": r, "collected_at": c, "prev_report_id": pr, "prev_collected_at": pc}
         for a, r, c, pr, pc in work.changed_assets],
        schema=pa.schema([("asset_id", STR), ("report_id", STR), ("collected_at", TS), ("prev_report_id", STR),
                          ("prev_collected_at", TS)]))
    same = " AND ".join(f"s.{name} IS NOT DISTINCT FROM t.{name}" for name in part.columns)
    current, closed = f"{part.table}_current", f"{part.table}_history"
    con.register("staged_rows", staged)
    con.register("changed_assets", changed)
    try:
        # Rows the new report no longer shows move from the current table to the history table.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE closing AS
            SELECT t.rowid AS row_number, c.prev_report_id, c.prev_collected_at, c.collected_at
            FROM {current} t JOIN changed_assets c USING (asset_id)
            WHERE NOT EXISTS (SELECT 1 FROM staged_rows s WHERE s.asset_id = t.asset_id AND {same})""")  # noqa: S608
        con.execute(f"""
            INSERT INTO {closed} BY NAME
            SELECT t.*, c.prev_report_id AS last_report_id, c.prev_collected_at AS last_seen,
                   c.collected_at AS ended_at
            FROM {current} t JOIN closing c ON t.rowid = c.row_number""")  # noqa: S608
        row = con.execute(f"DELETE FROM {current} WHERE rowid IN (SELECT row_number FROM closing)").fetchone()  # noqa: S608
        con.execute("DROP TABLE closing")
        columns = ", ".join(f"s.{name}" for name in part.columns)
        con.execute(f"""
            INSERT INTO {current} BY NAME
            SELECT DISTINCT s.asset_id, {columns}, c.report_id AS first_report_id, c.collected_at AS first_seen
            FROM staged_rows s JOIN changed_assets c USING (asset_id)
            WHERE NOT EXISTS (SELECT 1 FROM {current} t WHERE t.asset_id = s.asset_id AND {same})""")  # noqa: S608
    finally:
        con.unregister("staged_rows")
        con.unregister("changed_assets")
    return int(row[0]) if row else 0


def apply(con: duckdb.DuckDBPyConnection, reports: Sequence[FlatReport], commit: int) -> dict[str, int]:
    """Write reports (new, not duplicates) into reports, the interval tables and asset_state.

    Returns the number of intervals closed per part (rows deleted from <part>_current).
    """
    in_history: dict[str, bool] = {}
    closed = dict.fromkeys(PART_BY_TABLE, 0)
    for batch in _rounds(reports):
        states = _states(con, [r.asset_id for r in batch])
        work = {part.table: PartWork() for part in PARTS}
        state_rows = []
        for report in batch:
            state = states.get(report.asset_id)
            if state is not None and report.collected_at < state.collected_at:
                in_history[report.report_id] = report.header["in_history"] = False
                continue
            in_history[report.report_id] = True
            for part in PARTS:
                flat = report.parts[part.table]
                known = state.hashes[part.table] if state is not None else None
                if not flat.flattened and known != flat.digest:
                    # The hint it was prepared against is stale: flatten it now after all.
                    assert report.report is not None
                    flat = flatten_part(part, report.report, report.asset_id, flat.digest)
                    report.parts[part.table] = flat
                todo = work[part.table]
                if state is None:
                    if flat.rows:
                        todo.new.extend(flat.batches)
                        todo.new_reports.append((report.report_id, report.collected_at, flat.rows))
                elif state.hashes[part.table] != flat.digest:
                    todo.changed.extend(flat.batches)
                    todo.changed_assets.append((report.asset_id, report.report_id, report.collected_at,
                                                state.report_id, state.collected_at))
            state_rows.append(report)
        for part in PARTS:
            todo = work[part.table]
            if todo.new:
                _insert(con, f"{part.table}_current", _with_intervals(todo.new, part, todo.new_reports))
            if todo.changed_assets:
                closed[part.table] += _apply_changes(con, part, todo)
        if state_rows:
            _upsert_states(con, state_rows, commit)
    headers = header_table(reports)
    flags = pa.array([in_history[r.report_id] for r in reports], pa.bool_())
    headers = headers.set_column(headers.schema.get_field_index("in_history"), "in_history", flags)
    _insert(con, "reports", headers)
    errors = [r.errors for r in reports if r.errors is not None]
    if errors:
        _insert(con, "discovery_errors", pa.Table.from_batches(errors, schema=pa.schema(list(ERROR_COLUMNS.items()))))
    return closed


def compact(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """Rewrite <part>_current without the rows closed intervals left deleted in it.

    DuckDB keeps deleted rows in their row group (a scan still passes over them, and appends refill
    the same group); a fresh table from the table's own DDL, with its comments copied, drops them, so
    reading current state stays proportional to the current rows however long the history. One
    transaction; the views find the new table by name.
    """
    table = f"{part.table}_current"
    fresh = f"{table}_compacted"
    ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = ? AND database_name = current_database()",
                      [table]).fetchone()
    assert ddl is not None
    comments = con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ? "
                           "AND database_name = current_database() AND comment IS NOT NULL", [table]).fetchall()
    described = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = ? "
                            "AND database_name = current_database()", [table]).fetchone()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(str(ddl[0]).replace(f"CREATE TABLE {table}(", f"CREATE TABLE {fresh}(", 1))
        con.execute(f"INSERT INTO {fresh} SELECT * FROM {table} ORDER BY asset_id")  # noqa: S608
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {fresh} RENAME TO {table}")
        if described and described[0]:
            con.execute(f"COMMENT ON TABLE {table} IS $c${described[0]}$c$")
        for column, comment in comments:
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS $c${comment}$c$")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _upsert_states(con: duckdb.DuckDBPyConnection, reports: list[FlatReport], commit: int) -> None:
    columns: dict[str, list[object]] = {
        "asset_id": [r.asset_id for r in reports], "report_id": [r.report_id for r in reports],
        "collected_at": [r.collected_at for r in reports], "received_at": [r.header["received_at"] for r in reports],
    }
    for part in PARTS:
        columns[HASH_COLUMNS[part.table]] = [r.parts[part.table].digest for r in reports]
    schema = pa.schema([("asset_id", STR), ("report_id", STR), ("collected_at", TS), ("received_at", TS),
                        *((name, pa.binary()) for name in HASH_COLUMNS.values())])
    con.register("new_states", pa.Table.from_pydict(columns, schema=schema))
    hashes = ", ".join(HASH_COLUMNS.values())
    updates = ", ".join(f"{name} = excluded.{name}" for name in HASH_COLUMNS.values())
    try:
        con.execute(f"""
            INSERT INTO asset_state (asset_id, report_id, collected_at, received_at, first_report_id, first_seen,
                                     reports, changed_commit, {hashes})
            SELECT asset_id, report_id, collected_at, received_at, report_id, collected_at, 1, {commit:d}, {hashes}
            FROM new_states
            ON CONFLICT (asset_id) DO UPDATE SET report_id = excluded.report_id,
                collected_at = excluded.collected_at, received_at = excluded.received_at,
                reports = asset_state.reports + 1, changed_commit = excluded.changed_commit, {updates}""")  # noqa: S608
    finally:
        con.unregister("new_states")


def current_columns(part: Part) -> dict[str, pa.DataType]:
    """Stored columns of a part's table of open intervals (<part>_current), for checks against the SQL."""
    return {"asset_id": STR, **part.columns, "first_report_id": STR, "first_seen": TS}


def history_columns(part: Part) -> dict[str, pa.DataType]:
    """Stored columns of a part's table of closed intervals (<part>_history)."""
    return {"asset_id": STR, **part.columns, **{k: v for k, v in INTERVAL_COLUMNS.items() if k != "open"}}
