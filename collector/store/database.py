"""The DuckDB store: numbered migrations, and reports written by change in one transaction per group.

Only the writer (one connection, one thread) writes reports. Each report is checked and flattened
on its own (ingest/flatten.py), so a value that does not fit rejects that report only; the group is
then written in one transaction by store/history.py: report headers, and the interval tables by
change (an unchanged rescan writes its header and nothing else).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from estate.collector.ingest.flatten import (
    ERROR_COLUMNS,
    PART_BY_TABLE,
    PARTS,
    REPORT_COLUMNS,
    FlatReport,
    flatten,
    raw_digests,
)
from estate.collector.ingest.validate import Rejected, check_report
from estate.collector.security.senders import Sender, admit
from estate.collector.store import history
from estate.v1 import inventory_pb2 as pb

log = logging.getLogger("estate.collector")

# Stored columns of every table the writer fills, as Arrow types; the SQL in migrations/ is the
# authority for the stored types and descriptions, and a test checks the two agree.
TABLE_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "reports": {**REPORT_COLUMNS, "report_no": history.NUMBER},
    "package_catalog": history.catalog_columns(),
    **{f"{part.table}_current": history.current_columns(part) for part in PARTS},
    **{f"{part.table}_history": history.history_columns(part) for part in PARTS},
    "discovery_errors": ERROR_COLUMNS,
}
# DuckDB errors that a report's own values cause (a value the column refuses), as opposed to a
# store that cannot write at all (I/O, a missing table): the first reject a report, the second stop.
REPORT_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.ConversionException, duckdb.ConstraintException, duckdb.InvalidInputException,
    duckdb.OutOfRangeException, pa.ArrowException, ValueError, TypeError, OverflowError, UnicodeError)


# Block size of a new database file (DuckDB's default is 256 KiB). Every table with rows takes at least
# a block, and each column of a row group at least a block unless it shares one: at 64 KiB the ~50
# tables of the store and the interval tables' column segments waste less. Scans and inserts measured
# the same (bench/RESULTS.md, "Store by change"). An existing file keeps the block size it has.
BLOCK_SIZE = 65_536
# Attempts after a write-write conflict between the writer's two lanes.
CONFLICT_RETRIES = 5
# Share of deleted (closed) rows in a <part>_current table above which it is rewritten: reads of
# current state cost at most about that much more than a table without history.
COMPACT_DEAD_SHARE = 0.1


def _unwritable(exc: duckdb.Error) -> bool:
    """True when a commit failed because the database's files could not be written (not a conflict)."""
    return "Failed to commit" in str(exc) and ("Could not write" in str(exc) or "No space left" in str(exc))


class StoreError(Exception):
    """The store itself failed (disk full, locked, corrupt): not the report's fault."""


@dataclass(frozen=True)
class Incoming:
    """A report with what the collector knows of its arrival: who sent it and the hash of its bytes."""

    report: pb.Inventory
    sender: str = ""
    sha256: str = ""
    data: bytes = b""  # the bytes it was decoded from, when there were any
    # Who sent it, to record and to check it may speak for its asset (security/senders.py).
    who: Sender | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one report: ACCEPTED, DUPLICATE or REJECTED (with the reason)."""

    report_id: str
    status: str
    reason: str = ""


def prepare(item: pb.Inventory | Incoming, received_at: dt.datetime, via: str,
            known: Callable[[str], dict[str, bytes | None] | None] | None = None,
            numbered: Callable[[bytes], bool] | None = None) -> FlatReport | Outcome:
    """Check and flatten one report (in the caller's thread), or the REJECTED outcome saying why.

    known(asset_id) gives the asset's part hashes as last stored, if known: parts still equal to
    them are not flattened (the store checks again under its transaction, see history.apply).
    numbered(catalog key): whether the store keeps the numbers of that list of packages
    (history.Numbering.knows): if so, only its versions are flattened.
    """
    incoming = item if isinstance(item, Incoming) else Incoming(item)
    report = incoming.report
    try:
        report_id = check_report(report)
        who = incoming.who
        data = incoming.data or report.SerializeToString()
        sha256 = incoming.sha256 or hashlib.sha256(data).hexdigest()
        flat = flatten(report, report_id, received_at, via, incoming.sender or via, sha256,
                       raw_digests(data), known(report.asset_id) if known is not None else None,
                       audit=(who or Sender(kind=via)).columns(report), numbered=numbered)
        flat.who = who
        # Revoked, a role that may not ingest, a scanner out of its scopes: decided with the group
        # (security/senders.admit), which also records the revocations it saw.
        flat.refusal = who.refusal(report) if who is not None else None
        return flat
    except Rejected as exc:
        return Outcome(report.report_id[:64], "REJECTED", str(exc))
    except Exception as exc:
        log.exception("report %.64r could not be flattened", report.report_id)
        return Outcome(report.report_id[:64], "REJECTED",
                       f"a value could not be stored: {type(exc).__name__}: {str(exc)[:200]}")


def _refused(flat: FlatReport, exc: BaseException) -> Outcome:
    log.error("report %s refused by the store: %s", flat.report_id, exc)
    return Outcome(flat.report_id, "REJECTED", f"a value could not be stored: {type(exc).__name__}: {str(exc)[:200]}")


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("estate.collector.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text()))
    return sorted(found)


class Store:
    """One DuckDB database file; use from one thread (the writer) at a time."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = str(path)
        # Intervals closed (rows deleted from <part>_current) since its last compaction, per part.
        self.closed = dict.fromkeys(PART_BY_TABLE, 0)
        self.numbering = history.Numbering()
        try:
            if not read_only and not Path(self.path).exists():
                duckdb.connect(self.path, config={"default_block_size": str(BLOCK_SIZE)}).close()
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        if not read_only:
            self.migrate()

    @classmethod
    def lane(cls, store: Store) -> Store:
        """A second writer on the same database (its own connection), for a writer thread of its own.

        DuckDB runs the two lanes' transactions concurrently; appends never conflict, and a rare
        write-write conflict (both lanes changing one asset at once) is retried (_transaction).
        """
        other = cls.__new__(cls)
        other.path = store.path
        other.con = store.con.cursor()
        other.closed = dict.fromkeys(PART_BY_TABLE, 0)
        other.numbering = store.numbering  # package numbers are the database's, whichever lane asks
        return other

    def close(self) -> None:
        self.con.close()

    def migrate(self) -> list[str]:
        """Apply the numbered migrations not yet recorded; returns the names applied."""
        con = self.con
        con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        con.execute("COMMENT ON TABLE schema_migrations IS 'Numbered schema migrations applied to this database.'")
        for column, text in (("version", "Migration number."), ("name", "Migration file name."),
                             ("applied_at", "When it was applied.")):
            con.execute(f"COMMENT ON COLUMN schema_migrations.{column} IS '{text}'")
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, name, sql in _migrations():
            if version in done:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
                con.execute("COMMIT")
            except duckdb.Error:
                con.execute("ROLLBACK")
                raise
            applied.append(name)
        return applied

    def part_hashes(self) -> dict[str, dict[str, bytes | None]]:
        """Every asset's part hashes as stored (asset_state), for the writer's hints."""
        columns = ", ".join(history.HASH_COLUMNS.values())
        rows = self.con.execute(f"SELECT asset_id, {columns} FROM asset_state").fetchall()  # noqa: S608
        return {row[0]: dict(zip(history.HASH_COLUMNS, row[1:], strict=True)) for row in rows}

    def schema_version(self) -> int:
        row = self.con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def write_reports(self, reports: Iterable[pb.Inventory | Incoming], via: str,
                      senders: Sequence[Sender | None] | None = None) -> list[Outcome]:
        """Store new reports in one transaction; duplicates and invalid reports are not stored.

        Returns one outcome per report, in order. A report whose values do not fit the store is
        REJECTED alone, whatever the error; the rest of the group is stored. `senders` (one per
        report) are recorded, and each must be allowed to speak for its report's asset
        (security/senders.py). Raises StoreError if the database itself fails, in which case
        nothing from this call was stored.
        """
        received_at = dt.datetime.now(dt.timezone.utc)
        items = list(reports)
        if senders is not None:
            items = [Incoming(item.report if isinstance(item, Incoming) else item, who=who)
                     for item, who in zip(items, senders, strict=True)]
        return self.write_prepared([prepare(item, received_at, via, numbered=self.numbering.knows) for item in items])

    def write_prepared(self, prepared: Sequence[FlatReport | Outcome]) -> list[Outcome]:
        """Store the flattened reports among prepared (outcomes pass through), as write_reports."""
        outcomes: list[Outcome] = []
        candidates: list[tuple[int, FlatReport]] = []
        for index, item in enumerate(prepared):
            if isinstance(item, Outcome):
                outcomes.append(item)
            else:
                candidates.append((index, item))
                outcomes.append(Outcome(item.report_id, "PENDING"))
        if any(flat.who is not None for _, flat in candidates):
            # May each agent speak for its report's asset? One lookup of asset_bindings for the group.
            try:
                refusals = admit(self.con, [(flat.who, flat.asset_id, flat.refusal) for _, flat in candidates])
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            for (index, flat), reason in zip(candidates, refusals, strict=True):
                if reason is not None:
                    outcomes[index] = Outcome(flat.report_id, "REJECTED", reason)
            candidates = [c for c, reason in zip(candidates, refusals, strict=True) if reason is None]
        if not candidates:
            return outcomes
        try:
            ids = [flat.report_id for _, flat in candidates]
            # list_contains, not IN (SELECT unnest(?)): DuckDB answers it from the primary key's index,
            # where the semi-join scans every report ever stored (92 ms against 1.2 ms at 10 M reports).
            stored = {row[0] for row in self.con.execute(
                "SELECT report_id FROM reports WHERE list_contains(?::VARCHAR[], report_id)", [ids]).fetchall()}
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        fresh: list[tuple[int, FlatReport]] = []
        seen: set[str] = set()
        for index, flat in candidates:
            if flat.report_id in stored or flat.report_id in seen:
                outcomes[index] = Outcome(flat.report_id, "DUPLICATE")
                continue
            seen.add(flat.report_id)
            fresh.append((index, flat))
        if not fresh:
            return outcomes
        try:
            self._transaction([flat for _, flat in fresh])
        except REPORT_ERRORS as exc:
            if len(fresh) == 1:
                index, flat = fresh[0]
                outcomes[index] = _refused(flat, exc)
                return outcomes
            # Find the report at fault: each alone, the others still stored.
            for index, flat in fresh:
                outcomes[index] = self.write_flat(flat)
            return outcomes
        for index, flat in fresh:
            outcomes[index] = Outcome(flat.report_id, "ACCEPTED")
        return outcomes

    def write_flat(self, flat: FlatReport) -> Outcome:
        """Store one flattened report alone; REJECTED if its values are refused."""
        try:
            self._transaction([flat])
        except REPORT_ERRORS as exc:
            return _refused(flat, exc)
        return Outcome(flat.report_id, "ACCEPTED")

    def compact_if_needed(self, dead_share: float = COMPACT_DEAD_SHARE) -> list[str]:
        """Compact the <part>_current tables whose deleted rows exceed dead_share of them; returns those compacted.

        The writer calls this when its queue is empty. A failure is a StoreError.
        """
        done = []
        try:
            for table, dead in self.closed.items():
                if not dead:
                    continue
                row = self.con.execute(f"SELECT count(*) FROM {table}_current").fetchone()  # noqa: S608
                live = int(row[0]) if row else 0
                if dead / (dead + live) <= dead_share:
                    continue
                history.compact(self.con, PART_BY_TABLE[table])
                self.closed[table] = 0
                done.append(table)
            if done:
                with contextlib.suppress(duckdb.TransactionException):
                    self.con.execute("CHECKPOINT")  # only when no other transaction runs; else later
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        return done

    def _still_writable(self, failed: duckdb.Error) -> duckdb.Error:
        """After a commit that could not be written: the checkpoint's error if the store cannot write either.

        A commit whose log write fails (a full disk) leaves DuckDB usable, so the writer would refuse
        every report for ever; a checkpoint on that disk fails and invalidates the database
        (FatalException), which the collector answers by exiting for its supervisor to restart it.
        """
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            return exc
        return failed

    def _transaction(self, flats: Sequence[FlatReport]) -> None:
        """Write flats in one transaction; REPORT_ERRORS pass through, anything else is a StoreError."""
        con = self.con
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                # Packages numbered and new ones committed first (history.Numbering), so that rows are
                # stored and compared by number.
                numbers = self.numbering.numbers(con, flats)
                con.execute("BEGIN TRANSACTION")
                try:
                    row = con.execute("SELECT nextval('store_commits')").fetchone()
                    assert row is not None
                    closed = history.apply(con, flats, int(row[0]), self.numbering, numbers)
                    con.execute("COMMIT")
                except BaseException:
                    # A COMMIT that failed (a conflict, a full disk) has ended the transaction already: its
                    # error, not ROLLBACK's "no transaction is active", says what happened.
                    with contextlib.suppress(duckdb.TransactionException):
                        con.execute("ROLLBACK")
                    raise
                for table, count in closed.items():
                    self.closed[table] += count
                return
            except REPORT_ERRORS:
                raise
            except duckdb.TransactionException as exc:
                if _unwritable(exc):
                    cause = self._still_writable(exc)
                    raise StoreError(f"{self.path}: {cause}") from cause
                # The other lane changed the same asset at the same moment: try again after it.
                if attempt == CONFLICT_RETRIES:
                    raise StoreError(f"{self.path}: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
