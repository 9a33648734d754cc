"""Snapshots: a consistent, read-only copy of the live store in a file the stock `duckdb` CLI opens.

While `estate-collector serve` runs, its DuckDB file is locked (no other process may open it, not even
read-only) and most recent data sits in the write-ahead log, so neither opening nor copying the file
gives analysts anything. The writer's own database object is the only thing that can read it: a
cursor of it (a second connection to the same database, usable from another thread) attaches a new
file in an older storage version and runs `COPY FROM DATABASE` in one transaction. DuckDB's MVCC lets
the writer keep committing meanwhile; the copy holds what was committed when its transaction began.
The copy is written beside its destination, fsynced, made read-only and renamed over it, so a reader
that has the previous snapshot open keeps reading the old file and new readers get the new one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from estate.agent.transport import fsync_dir

log = logging.getLogger("estate.collector")

# duckdb-cli 1.5.6 (the newest stock CLI on PyPI) reads storage versions 64 to 68; duckdb 2.x writes 69
# by default. v1.4.0 is the oldest format that holds everything the store uses (MAP, lists, comments,
# table macros), so CLIs from 1.4 on open the snapshot.
SNAPSHOT_STORAGE_VERSION = "v1.4.0"
DEFAULT_SNAPSHOT_EVERY_S = 300.0
_ALIAS = "estate_snapshot"


class SnapshotError(Exception):
    """A snapshot could not be taken or written; the message names the file and the reason."""


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot written: where, as of when, how big, how long it took, how many reports it holds."""

    path: Path
    taken_at: dt.datetime
    size_bytes: int
    seconds: float
    reports: int


def default_snapshot_path(db: str | Path) -> Path:
    """Where the snapshot of `db` lives unless told otherwise: estate.duckdb -> estate.snapshot.duckdb."""
    path = Path(db)
    return path.with_name(f"{path.stem}.snapshot{path.suffix or '.duckdb'}")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _discard(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def write_snapshot(cursor: duckdb.DuckDBPyConnection, out: Path, source: str | None = None) -> SnapshotInfo:
    """Copy the database `source` (default: the cursor's current one) into `out`, replacing it atomically.

    `cursor` must be a connection the caller does not use elsewhere meanwhile (a cursor of the
    writer's connection, in the collector). Raises SnapshotError naming `out` on failure; the previous
    snapshot at `out`, if any, is then left as it was.
    """
    out = out.absolute()
    aside = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    alias = f"{_ALIAS}_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    try:
        if source is None:
            row = cursor.execute("SELECT current_database()").fetchone()
            assert row is not None
            source = str(row[0])
        cursor.execute(f"ATTACH {_sql_string(str(aside))} AS {alias} (STORAGE_VERSION '{SNAPSHOT_STORAGE_VERSION}')")
        try:
            cursor.execute("BEGIN TRANSACTION")
            try:
                # current_timestamp is the start of this transaction: the snapshot holds what was committed before.
                row = cursor.execute(f"SELECT current_timestamp, (SELECT count(*) FROM \"{source}\".main.reports)"  # noqa: S608
                                     ).fetchone()
                assert row is not None
                taken_at, reports = row
                cursor.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.execute(f"DETACH {alias}")  # checkpoints the new file: no .wal is left beside it
        seconds = time.perf_counter() - started
        if aside.with_name(aside.name + ".wal").exists():
            raise SnapshotError(f"{out}: DuckDB left a write-ahead log beside the copy; not a complete snapshot")
        with open(aside, "rb") as handle:
            os.fsync(handle.fileno())
        aside.chmod(0o444)
        aside.replace(out)
        fsync_dir(out.parent)
    except (duckdb.Error, OSError) as exc:
        _discard(aside)
        raise SnapshotError(f"{out}: snapshot failed: {str(exc).splitlines()[0]}") from exc
    except BaseException:
        _discard(aside)
        raise
    return SnapshotInfo(out, taken_at.astimezone(dt.timezone.utc), out.stat().st_size, seconds, int(reports))


def snapshot_file(db: Path, out: Path) -> SnapshotInfo:
    """Snapshot a database file no process holds (the collector is not running), without writing to it.

    Raises SnapshotError when the file is missing, and duckdb.IOException when another process holds
    it (the caller then asks that process).
    """
    if not db.exists():
        raise SnapshotError(f"{db}: no such database (run 'estate-collector serve' or 'ingest' first)")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {_sql_string(str(db.absolute()))} AS live (READ_ONLY)")
        return write_snapshot(con, out, source="live")
    finally:
        con.close()


class Snapshotter:
    """Takes snapshots of the live store on a schedule and on demand, one at a time, off the writer thread."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, path: Path, every_s: float | None,
                 on_snapshot: Callable[[SnapshotInfo], None] | None = None) -> None:
        self.path = path
        self.every_s = every_s
        self.latest: SnapshotInfo | None = None
        self._cursor = cursor
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._on_snapshot = on_snapshot
        self._thread: threading.Thread | None = None

    def take(self) -> SnapshotInfo:
        """A fresh snapshot at self.path (waits for one in progress first)."""
        with self._lock:
            info = write_snapshot(self._cursor, self.path)
            self.latest = info
        log.info("snapshot %s: %d reports, %.1f MB in %.2f s", info.path, info.reports, info.size_bytes / 1e6,
                 info.seconds)
        if self._on_snapshot is not None:
            self._on_snapshot(info)
        return info

    def open_latest(self) -> tuple[SnapshotInfo, int]:
        """A fresh snapshot and a file descriptor on it: the bytes stay this snapshot's even if a newer one
        replaces the file while the caller reads."""
        with self._lock:
            info = write_snapshot(self._cursor, self.path)
            self.latest = info
            return info, os.open(info.path, os.O_RDONLY)

    def start(self) -> None:
        """Take one snapshot now and then one every `every_s` seconds (when set) until stop()."""
        self._thread = threading.Thread(target=self._run, name="snapshotter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.take()
            except SnapshotError as exc:
                # Analysts keep the previous snapshot; the next one is tried on schedule.
                log.error("%s", exc)
            if self.every_s is None or self._stopping.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._cursor.close()
