"""History by change: apply flattened reports to the interval tables, inside the caller's transaction.

For each report and part, against the asset's state (asset_state):
- a new asset: every row is inserted as an open interval, in one Arrow insert per part per group;
- an unchanged part (same content hash): nothing is written;
- a changed part: open intervals the report no longer shows are closed and rows it shows that are
  not open are inserted, by two set statements over all changed assets of the group at once;
- a report older than the asset's current one (a late resend): its header is recorded with
  in_history = false and the history is left alone.
Several reports of one asset in a group are applied in rounds, oldest first.

Packages, most of the rows, are kept by number (migration 0011): each report, asset and package
(apart from its version: package_catalog) gets a number, and an interval row holds only those
numbers, the version and the times. The views packages and current_packages resolve them.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from estate.collector.ingest.flatten import (
    CATALOG_COLUMNS,
    ERROR_COLUMNS,
    INTERVAL_COLUMNS,
    PART_BY_TABLE,
    PARTS,
    STR,
    TS,
    FlatPart,
    FlatReport,
    Part,
    flatten_part,
    header_table,
    part_batches,
    part_schema,
)

# Below this many rows per batch on average, batches are combined into one chunk before an insert.
SMALL_CHUNKS_ROWS = 16_384
HASH_COLUMNS = {part.table: f"{part.table}_hash" for part in PARTS}
# The part kept by number: its rows refer to package_catalog, asset_state and reports by number.
NUMBERED = "packages"
NUMBER = pa.int32()
# Order of package rows as stored: by first_seen (the order they are appended in anyway), then asset,
# where first_seen, asset_no and first_report_no form long runs (run-length encoded), and within an
# asset by package number, ascending for even assets and descending for odd ones: consecutive rows
# then differ little in package_no even across assets, which DuckDB bit-packs in a few bits a row
# instead of ten (bench/RESULTS.md, "Store by change").
PACKAGE_ORDER = ("{t}first_seen, {t}asset_no, "
                 "CASE WHEN {t}asset_no % 2 = 0 THEN {t}package_no ELSE -{t}package_no END")
# Stored order of each <part>_current table when it is rewritten.
CURRENT_ORDER = {NUMBERED: PACKAGE_ORDER.format(t="")}


@dataclass(frozen=True)
class AssetState:
    """What the store knows of an asset before a round: its numbers, current report and part hashes."""

    asset_no: int
    report_id: str
    report_no: int
    collected_at: dt.datetime
    hashes: dict[str, bytes | None]


@dataclass(frozen=True)
class Opening:
    """A report whose rows of a part open intervals: the asset and report, by id and by number."""

    asset_id: str
    asset_no: int
    report_id: str
    report_no: int
    collected_at: dt.datetime
    rows: int


@dataclass(frozen=True)
class Change:
    """A report that changes a part of a known asset, and the asset's report before it."""

    opening: Opening
    prev_report_id: str
    prev_report_no: int
    prev_collected_at: dt.datetime


@dataclass
class PartWork:
    """A part's rows to write in one round: new assets' rows, and changed assets' full rows to diff."""

    new: list[FlatPart] = field(default_factory=list)
    new_reports: list[Opening] = field(default_factory=list)
    changed: list[FlatPart] = field(default_factory=list)
    changed_assets: list[Change] = field(default_factory=list)


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
    rows = con.execute(f"SELECT asset_id, asset_no, report_id, report_no, collected_at, {hashes} "  # noqa: S608
                       "FROM asset_state WHERE list_contains(?::VARCHAR[], asset_id)", [assets]).fetchall()
    return {row[0]: AssetState(row[1], row[2], row[3], row[4], dict(zip(HASH_COLUMNS, row[5:], strict=True)))
            for row in rows}


def _numbers(con: duckdb.DuckDBPyConnection, sequence: str, count: int) -> list[int]:
    """count new numbers from a sequence (numbers of a rolled-back transaction are not reused: gaps are fine)."""
    if not count:
        return []
    rows = con.execute(f"SELECT nextval('{sequence}') FROM range(?)", [count]).fetchall()  # noqa: S608
    return [int(row[0]) for row in rows]


def _runs(openings: list[Opening], value: str, kind: pa.DataType) -> pa.Array:
    """One value per row: each opening's attribute repeated over its rows, in order (two Arrow calls)."""
    kept = [o for o in openings if o.rows]
    if not kept:
        return pa.array([], kind)
    ends = pa.array(list(itertools.accumulate(o.rows for o in kept)), pa.int64())
    values = pa.array([getattr(o, value) for o in kept], kind)
    # from_buffers, not from_arrays: from_arrays (pyarrow 26) tries to import dateutil on every call: 30 us.
    runs = pa.RunEndEncodedArray.from_buffers(pa.run_end_encoded(pa.int64(), kind), int(ends[-1].as_py()), [None],
                                             0, 0, [ends, values])
    return pc.run_end_decode(runs)


def _staged(parts: list[FlatPart], part: Part) -> pa.Table:
    """Reports' rows of a part as one table; many small batches (a group of small reports) as one contiguous chunk.

    DuckDB scans a table of many small Arrow batches several times slower. A huge report's big
    chunks are not copied.
    """
    batches = part_batches(part, parts)
    table = pa.Table.from_batches(batches, schema=part_schema(part))
    if table.num_rows < SMALL_CHUNKS_ROWS * len(batches):
        table = table.combine_chunks()
    return table


def _with_intervals(parts: list[FlatPart], part: Part, reports: list[Opening]) -> pa.Table:
    """New rows as open intervals: first report and first_seen per run of rows (packages: _numbered_rows)."""
    table = _staged(parts, part).append_column("first_report_id", _runs(reports, "report_id", STR))
    return table.append_column("first_seen", _runs(reports, "collected_at", TS))


# Rows per INSERT statement: one DuckDB row group. A huge report goes in several statements (one
# transaction still), which leaves the other writer lane room between them.
INSERT_ROWS = 122_880


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table | Iterator[pa.Table],
            distinct: bool = False) -> None:
    """Insert data (a table, or tables one by one) into table, INSERT_ROWS rows a statement at most.

    distinct: each distinct row once (within INSERT_ROWS rows: for small parts).
    """
    tables = [data] if isinstance(data, pa.Table) else data
    slices = (table.slice(start, INSERT_ROWS) for table in tables for start in range(0, max(table.num_rows, 1),
                                                                                     INSERT_ROWS))
    for rows in slices:
        con.register("incoming_rows", rows)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT {'DISTINCT ' if distinct else ''}* "  # noqa: S608
                        "FROM incoming_rows")
        finally:
            con.unregister("incoming_rows")


def _same(left: str, right: str, columns: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{name} IS NOT DISTINCT FROM {right}.{name}" for name in columns)


def _catalogue(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    """Number every package among the registered rows: package_keys(catalog columns, package_no).

    Packages package_catalog does not know yet are added. catalogue() runs this in a transaction of
    its own, committed before the writer's, so a package is numbered once whichever lane sees it
    first; the lowest number is taken all the same, should a catalog ever hold a package twice.
    """
    columns = ", ".join(CATALOG_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE package_keys AS SELECT DISTINCT {columns} FROM {rows}")  # noqa: S608
    con.execute(f"""
        INSERT INTO package_catalog BY NAME
        SELECT nextval('package_numbers') AS package_no, * FROM (
            SELECT * FROM package_keys k
            WHERE NOT EXISTS (SELECT 1 FROM package_catalog c WHERE {_same('c', 'k', CATALOG_COLUMNS)})
            ORDER BY ALL)""")  # noqa: S608
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE package_keys AS
        SELECT k.*, min(c.package_no)::INTEGER AS package_no
        FROM package_keys k JOIN package_catalog c ON {_same('c', 'k', CATALOG_COLUMNS)}
        GROUP BY ALL""")  # noqa: S608


# Held while a writer lane adds packages to the catalog and commits them (both lanes are threads of
# one collector process; DuckDB lets only one process write a file).
CATALOG_LOCK = threading.Lock()
# Package numbers kept per list of packages (Numbering), in package rows: 4 bytes each, so 64 MiB.
NUMBERING_CACHE_ROWS = 16 * 1024 * 1024
# Package rows numbered by one join (Numbering._look_up): a group of small reports in one go.
LOOKUP_ROWS = 131_072


def _positions(count: int) -> pa.Array:
    """0, 1, ..., count - 1 as an Arrow array, without a Python object per number."""
    if not count:
        return pa.array([], pa.int64())
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count)), 1)


class Numbering:
    """Each report's package numbers (package_catalog), row for row, shared by a store's writer lanes.

    Numbers come from package_catalog by a join on the ten catalog columns, the writer's dearest
    statement. Hosts built alike list the same packages in the same order, whatever their versions
    (FlatPart.catalog_key), so the numbers of each list seen lately are kept, bounded in rows: an
    estate's rescans and its look-alike hosts are numbered without touching the catalog. Numbers never
    change once given (the catalog is only appended to), so a kept list stays right.
    """

    def __init__(self, max_rows: int = NUMBERING_CACHE_ROWS) -> None:
        self.max_rows = max_rows
        self._kept: collections.OrderedDict[bytes, pa.Array] = collections.OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def rows(self) -> int:
        """Package numbers kept now, over all lists."""
        return self._rows

    def knows(self, key: bytes) -> bool:
        """Whether the numbers of the list of packages with this catalog key are kept (any thread)."""
        with self._lock:
            return key in self._kept

    def numbers(self, con: duckdb.DuckDBPyConnection, reports: Sequence[FlatReport],
                own_transaction: bool = True) -> dict[str, pa.Array]:
        """report_id -> package numbers of its flattened package rows, in order; new packages added to the catalog.

        own_transaction: new packages are committed in a transaction of their own, under
        CATALOG_LOCK, before the caller's (so a package gets one number whichever lane sees it
        first); else they are added inside the caller's open transaction.
        """
        found: dict[str, pa.Array] = {}
        missed = []
        with self._lock:
            for report in reports:
                part = report.parts[NUMBERED]
                if not part.flattened or not part.rows:
                    continue
                kept = self._kept.get(part.catalog_key) if part.catalog_key is not None else None
                if kept is not None and len(kept) == part.rows:
                    self._kept.move_to_end(part.catalog_key)  # type: ignore[arg-type]
                    found[report.report_id] = kept
                    self.hits += 1
                else:
                    missed.append(report)
                    self.misses += 1
        for report in missed:
            part = report.parts[NUMBERED]
            if part.versions_only:
                # Flattened against numbers kept then and gone since: the catalog columns are needed now.
                assert report.report is not None
                report.parts[NUMBERED] = flatten_part(PART_BY_TABLE[NUMBERED], report.report, report.asset_id,
                                                      part.digest, part.catalog_key)
        if missed:
            looked_up = self._look_up(con, missed, own_transaction)
            found.update(looked_up)
            if not own_transaction:
                # Packages added inside the caller's transaction vanish if it rolls back: their
                # numbers must not outlive it here.
                return found
            with self._lock:
                for report in missed:
                    key = report.parts[NUMBERED].catalog_key
                    if key is not None and key not in self._kept:
                        self._kept[key] = looked_up[report.report_id]
                        self._rows += len(looked_up[report.report_id])
                while self._rows > self.max_rows and self._kept:
                    self._rows -= len(self._kept.popitem(last=False)[1])
        return found

    def _look_up(self, con: duckdb.DuckDBPyConnection, reports: list[FlatReport],
                 own_transaction: bool) -> dict[str, pa.Array]:
        parts = [report.parts[NUMBERED] for report in reports]
        rows = _staged(parts, PART_BY_TABLE[NUMBERED]).select(list(CATALOG_COLUMNS))
        # A slice at a time: the join holds its rows' strings a few times over, so a huge report's
        # numbering would otherwise cost several times its size in memory at once.
        numbered = pa.concat_arrays([self._look_up_slice(con, rows.slice(start, LOOKUP_ROWS), own_transaction)
                                     for start in range(0, rows.num_rows, LOOKUP_ROWS)])
        if len(numbered) != rows.num_rows:  # one number per row, or the store is not what it should be
            raise duckdb.InternalException(f"numbered {len(numbered)} of {rows.num_rows} package rows")
        found, start = {}, 0
        for report in reports:
            count = report.parts[NUMBERED].rows
            found[report.report_id] = numbered.slice(start, count).cast(NUMBER)
            start += count
        return found


    @staticmethod
    def _look_up_slice(con: duckdb.DuckDBPyConnection, rows: pa.Table, own_transaction: bool) -> pa.Array:
        """Package numbers of rows (catalog columns), in order; packages the catalog lacks are added."""
        rows = rows.append_column("position", _positions(rows.num_rows))
        con.register("catalog_rows", rows)
        try:
            if own_transaction:
                with CATALOG_LOCK:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        _catalogue(con, "catalog_rows")
                        con.execute("COMMIT")
                    except BaseException:
                        with contextlib.suppress(duckdb.TransactionException):
                            con.execute("ROLLBACK")
                        raise
            else:
                _catalogue(con, "catalog_rows")
            return con.sql(f"""
                SELECT k.package_no FROM catalog_rows i JOIN package_keys k ON {_same('k', 'i', CATALOG_COLUMNS)}
                ORDER BY i.position""").to_arrow_table().column(0).combine_chunks()  # noqa: S608
        finally:
            con.unregister("catalog_rows")


def _numbered_rows(parts: list[FlatPart], reports: list[Opening], numbers: dict[str, pa.Array]) -> pa.Table:
    """Package rows by number: asset_no, package_no, version, and each row's report number and time."""
    batches = [batch for flat in parts for batch in flat.batches]
    versions = [batch.column("version") for batch in batches]
    table = pa.table({
        "asset_no": _runs(reports, "asset_no", NUMBER),
        "package_no": pa.chunked_array([numbers[o.report_id] for o in reports if o.rows], NUMBER),
        "version": pa.chunked_array(versions, STR),
        "first_report_no": _runs(reports, "report_no", NUMBER),
        "first_seen": _runs(reports, "collected_at", TS),
    })
    # Many small reports' chunks as one (DuckDB scans those several times slower); a huge report's not copied.
    return table.combine_chunks() if table.num_rows < SMALL_CHUNKS_ROWS * len(batches) else table


def _in_stored_order(rows: pa.Table, reports: list[Opening], numbers: dict[str, pa.Array]) -> Iterator[pa.Table]:
    """_numbered_rows of new reports in PACKAGE_ORDER, in tables of at most INSERT_ROWS rows, each report's
    repeated rows (same package and version) once.

    Sorted here, a report at a time by package number, then report by report: cheaper than an ORDER BY
    over the whole group in the INSERT (the writer alone, first-seen groups of 64 reports of 880
    packages: 0.74 instead of 0.84-0.87 ms a report). A huge report is sorted and handed over a slice
    of INSERT_ROWS at a time, as the ORDER BY of each INSERT sorted it before, so that only one
    slice's sorted copy is held at once.
    Only a report that repeats a package number can repeat a row (several versions of one package, as
    kernels are, repeat the number but not the row), and only its rows are compared.
    """
    spans, start = [], 0
    for opening in reports:
        if opening.rows:
            spans.append((opening.collected_at, opening.asset_no, start, opening))
            start += opening.rows
    spans.sort(key=lambda span: span[:2])
    sorted_pieces: list[pa.Table] = []
    held = 0
    for _, _, start, opening in spans:
        piece = rows.slice(start, opening.rows)
        if len(pc.unique(numbers[opening.report_id])) < opening.rows:
            piece = piece.group_by(piece.column_names, use_threads=False).aggregate([]).select(rows.column_names)
        for offset in range(0, piece.num_rows, INSERT_ROWS):
            part = piece.slice(offset, INSERT_ROWS)
            if held + part.num_rows > INSERT_ROWS and sorted_pieces:
                yield _contiguous(sorted_pieces)
                sorted_pieces, held = [], 0
            order = pc.array_sort_indices(part.column("package_no"),
                                          order="descending" if opening.asset_no % 2 else "ascending")
            sorted_pieces.append(part.take(order))
            held += part.num_rows
    if sorted_pieces:
        yield _contiguous(sorted_pieces)


def _contiguous(pieces: list[pa.Table]) -> pa.Table:
    """Many small reports' rows as one chunk (DuckDB scans many small Arrow batches several times slower)."""
    table = pa.concat_tables(pieces)
    return table.combine_chunks() if len(pieces) > 1 else table


def _changed_table(work: PartWork) -> pa.Table:
    return pa.Table.from_pylist(
        [{"asset_id": c.opening.asset_id, "asset_no": c.opening.asset_no, "report_id": c.opening.report_id,
          "report_no": c.opening.report_no, "collected_at": c.opening.collected_at,
          "prev_report_id": c.prev_report_id, "prev_report_no": c.prev_report_no,
          "prev_collected_at": c.prev_collected_at} for c in work.changed_assets],
        schema=pa.schema([("asset_id", STR), ("asset_no", NUMBER), ("report_id", STR), ("report_no", NUMBER),
                          ("collected_at", TS), ("prev_report_id", STR), ("prev_report_no", NUMBER),
                          ("prev_collected_at", TS)]))


def _apply_changes(con: duckdb.DuckDBPyConnection, part: Part, work: PartWork,
                   numbers: dict[str, pa.Array]) -> int:
    """Close the open intervals changed assets no longer show, open those they newly show; returns how many closed."""
    if part.table == NUMBERED:
        staged = _numbered_rows(work.changed, [c.opening for c in work.changed_assets], numbers).select(
            ["asset_no", "package_no", "version"])
    else:
        staged = _staged(work.changed, part)
        staged = staged.append_column("row_index", pa.array(range(staged.num_rows), pa.int64()))
    con.register("staged_rows", staged)
    con.register("changed_assets", _changed_table(work))
    try:
        if part.table == NUMBERED:
            return _apply_numbered_changes(con)
        current, closed = f"{part.table}_current", f"{part.table}_history"
        # As for packages (_apply_numbered_changes): one full join of the changed assets' open rows with
        # the staged rows (numbered by row_index) keeps only what changed, so its cost follows the group.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE part_changes AS
            SELECT o.row_number, s.row_index
            FROM (SELECT t.rowid AS row_number, t.* FROM {current} t
                  WHERE t.asset_id IN (SELECT asset_id FROM changed_assets)) o
            FULL OUTER JOIN staged_rows s ON s.asset_id = o.asset_id AND {_same("s", "o", list(part.columns))}
            WHERE o.row_number IS NULL OR s.row_index IS NULL""")  # noqa: S608
        # Rows the new report no longer shows move from the current table to the history table.
        con.execute(f"""
            INSERT INTO {closed} BY NAME
            SELECT t.*, c.prev_report_id AS last_report_id, c.prev_collected_at AS last_seen,
                   c.collected_at AS ended_at
            FROM {current} t JOIN part_changes d ON t.rowid = d.row_number JOIN changed_assets c USING (asset_id)
            WHERE d.row_index IS NULL""")  # noqa: S608
        row = con.execute(f"DELETE FROM {current} WHERE rowid IN "  # noqa: S608
                          "(SELECT row_number FROM part_changes WHERE row_index IS NULL)").fetchone()
        columns = ", ".join(f"s.{name}" for name in part.columns)
        con.execute(f"""
            INSERT INTO {current} BY NAME
            SELECT DISTINCT s.asset_id, {columns}, c.report_id AS first_report_id, c.collected_at AS first_seen
            FROM staged_rows s JOIN part_changes d ON s.row_index = d.row_index JOIN changed_assets c USING (asset_id)
            WHERE d.row_number IS NULL""")  # noqa: S608
        con.execute("DROP TABLE part_changes")
        return int(row[0]) if row else 0
    finally:
        con.unregister("staged_rows")
        con.unregister("changed_assets")


def _apply_numbered_changes(con: duckdb.DuckDBPyConnection) -> int:
    """_apply_changes for packages: rows compared by (asset, package number, version), all integers but one.

    A package has one number in the catalog (Numbering), so equal numbers and versions are equal rows.
    One full join of the changed assets' open intervals with the staged rows finds both sides of the
    change at once: open rows the reports no longer show (to close) and staged rows not open yet (to
    open). Its result is only what changed, so every later step is small, and a group's cost follows
    its own assets, not the estate's.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE package_changes AS
        SELECT o.row_number, o.asset_no AS open_asset_no, o.package_no AS open_package_no,
               o.version AS open_version, o.first_report_no, o.first_seen,
               s.asset_no, s.package_no, s.version
        FROM (SELECT t.rowid AS row_number, t.* FROM packages_current t
              WHERE t.asset_no IN (SELECT asset_no FROM changed_assets)) o
        FULL OUTER JOIN (SELECT DISTINCT asset_no, package_no, version FROM staged_rows) s
          ON s.asset_no = o.asset_no AND s.package_no = o.package_no AND s.version IS NOT DISTINCT FROM o.version
        WHERE o.row_number IS NULL OR s.asset_no IS NULL""")
    con.execute("""
        INSERT INTO packages_history BY NAME
        SELECT d.open_asset_no AS asset_no, d.open_package_no AS package_no, d.open_version AS version,
               d.first_report_no, d.first_seen, c.prev_report_no AS last_report_no,
               c.prev_collected_at AS last_seen, c.collected_at AS ended_at
        FROM package_changes d JOIN changed_assets c ON c.asset_no = d.open_asset_no
        WHERE d.asset_no IS NULL
        ORDER BY d.open_asset_no, d.open_package_no""")
    row = con.execute("DELETE FROM packages_current WHERE rowid IN "
                      "(SELECT row_number FROM package_changes WHERE asset_no IS NULL)").fetchone()
    con.execute(f"""
        INSERT INTO packages_current BY NAME
        SELECT d.asset_no, d.package_no, d.version, c.report_no AS first_report_no, c.collected_at AS first_seen
        FROM package_changes d JOIN changed_assets c USING (asset_no)
        WHERE d.row_number IS NULL
        ORDER BY {PACKAGE_ORDER.format(t="")}""")  # noqa: S608
    con.execute("DROP TABLE package_changes")
    return int(row[0]) if row else 0


def apply(con: duckdb.DuckDBPyConnection, reports: Sequence[FlatReport], commit: int,
          numbering: Numbering, numbers: dict[str, pa.Array]) -> dict[str, int]:
    """Write reports (new, not duplicates) into reports, the interval tables and asset_state.

    numbers: the reports' package numbers (numbering.numbers, just before this transaction); a part
    flattened here after all is numbered here. Returns the number of intervals closed per part
    (rows deleted from <part>_current).
    """
    in_history: dict[str, bool] = {}
    report_numbers = dict(zip((r.report_id for r in reports), _numbers(con, "report_numbers", len(reports)),
                              strict=True))
    closed = dict.fromkeys(PART_BY_TABLE, 0)
    for batch in _rounds(reports):
        states = _states(con, [r.asset_id for r in batch])
        fresh = [r.asset_id for r in batch if r.asset_id not in states]
        asset_numbers = {asset: state.asset_no for asset, state in states.items()}
        asset_numbers.update(zip(fresh, _numbers(con, "asset_numbers", len(fresh)), strict=True))
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
                    if part.table == NUMBERED and flat.rows:
                        numbers.update(numbering.numbers(con, [report], own_transaction=False))
                opening = Opening(report.asset_id, asset_numbers[report.asset_id], report.report_id,
                                  report_numbers[report.report_id], report.collected_at,
                                  flat.rows)  # used below only for a flattened part
                todo = work[part.table]
                if state is None:
                    if opening.rows:
                        todo.new.append(flat)
                        todo.new_reports.append(opening)
                elif state.hashes[part.table] != flat.digest:
                    todo.changed.append(flat)
                    todo.changed_assets.append(Change(opening, state.report_id, state.report_no, state.collected_at))
            state_rows.append(report)
        for part in PARTS:
            todo = work[part.table]
            if todo.new:
                # An interval table holds each row an asset shows once, as the diff of a change does
                # (a report may repeat a row: an rpm database after an interrupted transaction, say).
                if part.table == NUMBERED:
                    rows = _numbered_rows(todo.new, todo.new_reports, numbers)
                    _insert(con, "packages_current", _in_stored_order(rows, todo.new_reports, numbers))
                else:
                    _insert(con, f"{part.table}_current", _with_intervals(todo.new, part, todo.new_reports),
                            distinct=True)
            if todo.changed_assets:
                closed[part.table] += _apply_changes(con, part, todo, numbers)
        if state_rows:
            _upsert_states(con, state_rows, commit, asset_numbers, report_numbers, set(fresh))
    headers = header_table(reports)
    flags = pa.array([in_history[r.report_id] for r in reports], pa.bool_())
    headers = headers.set_column(headers.schema.get_field_index("in_history"), "in_history", flags)
    headers = headers.append_column("report_no", pa.array([report_numbers[r.report_id] for r in reports], NUMBER))
    _insert(con, "reports", headers)
    errors = [r.errors for r in reports if r.errors is not None]
    if errors:
        _insert(con, "discovery_errors", pa.Table.from_batches(errors, schema=pa.schema(list(ERROR_COLUMNS.items()))))
    return closed


def compact(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """Rewrite <part>_current without the rows closed intervals left deleted in it.

    DuckDB keeps deleted rows in their row group (a scan still passes over them, and appends refill
    the same group); a fresh table from the table's own DDL, with its comments copied, drops them, so
    reading current state stays proportional to the current rows however long the history. Rows are
    written in CURRENT_ORDER (asset, then when first seen), where equal values form runs that compress.
    One transaction; the views find the new table by name.
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
    order = CURRENT_ORDER.get(part.table, "asset_id, first_seen")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(str(ddl[0]).replace(f"CREATE TABLE {table}(", f"CREATE TABLE {fresh}(", 1))
        con.execute(f"INSERT INTO {fresh} SELECT * FROM {table} ORDER BY {order}")  # noqa: S608
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


def _upsert_states(con: duckdb.DuckDBPyConnection, reports: list[FlatReport], commit: int,
                   asset_numbers: dict[str, int], report_numbers: dict[str, int], fresh: set[str]) -> None:
    """asset_state after the reports: a row added for each fresh asset, updated for each known one.

    Fresh assets are added by a plain INSERT (a quarter of an upsert's time in first-seen groups of
    64: 0.019 against 0.074 ms a report). Should the other writer lane have added the same asset
    meanwhile, the primary key refuses it; that is a conflict, retried as one (database._transaction),
    so the asset keeps one asset_no, the one its rows were stored under.
    """
    columns: dict[str, list[object]] = {
        "asset_id": [r.asset_id for r in reports], "asset_no": [asset_numbers[r.asset_id] for r in reports],
        "report_id": [r.report_id for r in reports], "report_no": [report_numbers[r.report_id] for r in reports],
        "collected_at": [r.collected_at for r in reports], "received_at": [r.header["received_at"] for r in reports],
        "fresh": [r.asset_id in fresh for r in reports],
    }
    for part in PARTS:
        columns[HASH_COLUMNS[part.table]] = [r.parts[part.table].digest for r in reports]
    schema = pa.schema([("asset_id", STR), ("asset_no", NUMBER), ("report_id", STR), ("report_no", NUMBER),
                        ("collected_at", TS), ("received_at", TS), ("fresh", pa.bool_()),
                        *((name, pa.binary()) for name in HASH_COLUMNS.values())])
    con.register("new_states", pa.Table.from_pydict(columns, schema=schema))
    hashes = ", ".join(HASH_COLUMNS.values())
    updates = ", ".join(f"{name} = excluded.{name}" for name in HASH_COLUMNS.values())
    insert = f"""
        INSERT INTO asset_state (asset_id, asset_no, report_id, report_no, collected_at, received_at,
                                 first_report_id, first_seen, reports, changed_commit, {hashes})
        SELECT asset_id, asset_no, report_id, report_no, collected_at, received_at, report_id, collected_at, 1,
               {commit:d}, {hashes}
        FROM new_states"""  # noqa: S608
    try:
        if fresh:
            try:
                con.execute(f"{insert} WHERE fresh")
            except duckdb.ConstraintException as exc:
                raise duckdb.TransactionException(f"an asset was first stored by the other writer lane: {exc}") \
                    from exc
        if len(fresh) < len(reports):
            con.execute(f"""{insert} WHERE NOT fresh
                ON CONFLICT (asset_id) DO UPDATE SET report_id = excluded.report_id, report_no = excluded.report_no,
                    collected_at = excluded.collected_at, received_at = excluded.received_at,
                    reports = asset_state.reports + 1, changed_commit = excluded.changed_commit, {updates}""")
    finally:
        # After a refused statement the transaction is aborted and unregister raises too: the error
        # that says what happened is the one above.
        with contextlib.suppress(duckdb.TransactionException):
            con.unregister("new_states")


def current_columns(part: Part) -> dict[str, pa.DataType]:
    """Stored columns of a part's table of open intervals (<part>_current), for checks against the SQL."""
    if part.table == NUMBERED:
        return {"asset_no": NUMBER, "package_no": NUMBER, "version": STR, "first_report_no": NUMBER,
                "first_seen": TS}
    return {"asset_id": STR, **part.columns, "first_report_id": STR, "first_seen": TS}


def history_columns(part: Part) -> dict[str, pa.DataType]:
    """Stored columns of a part's table of closed intervals (<part>_history)."""
    if part.table == NUMBERED:
        return {**current_columns(part), "last_report_no": NUMBER, "last_seen": TS, "ended_at": TS}
    return {"asset_id": STR, **part.columns, **{k: v for k, v in INTERVAL_COLUMNS.items() if k != "open"}}


def catalog_columns() -> dict[str, pa.DataType]:
    """Stored columns of package_catalog."""
    return {"package_no": NUMBER, **{name: PART_BY_TABLE[NUMBERED].columns[name] for name in CATALOG_COLUMNS}}
