"""Sandboxed SQL for analysts: one read-only SELECT on a snapshot, never on the live store.

The guards are layered, so a gap in one is caught by the next:
- the statement: exactly one, of type SELECT (SET, PRAGMA, COPY, ATTACH, INSTALL, LOAD, CREATE... are
  refused by name before anything runs);
- the table functions it calls: only those in ALLOWED_TABLE_FUNCTIONS and the database's own table
  macros (read_csv, read_text, glob, query, ... are refused by name);
- the connection: an in-memory database (no temporary directory: nothing spills to disk) that attaches
  the snapshot READ_ONLY, then turns off file and network access (enable_external_access=false),
  extension autoloading and autoinstalling, and locks its configuration (lock_configuration=true), so
  no statement can undo any of it;
- the limits: a timer interrupts the query at `seconds`, DuckDB stops it at `memory_limit`, `threads`
  bounds the CPU, and more than `max_rows` rows is refused rather than sent.
Every refusal is a Refused exception whose message is one line naming what was refused.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

SNAPSHOT_ALIAS = "snapshot"
# Table functions an analyst may call: generators and DuckDB's own catalogue of the snapshot.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "duckdb_tables", "duckdb_views", "duckdb_columns",
    "duckdb_functions", "duckdb_constraints", "duckdb_indexes", "duckdb_schemas", "duckdb_types",
    "pragma_table_info", "pragma_show", "pragma_storage_info",
})
# Statement types with a word for people (duckdb.StatementType names otherwise).
STATEMENT_WORDS = {"VARIABLE_SET": "SET", "LOAD": "INSTALL/LOAD", "EXPORT": "EXPORT DATABASE"}
MAX_SQL_CHARS = 100_000
BATCH_ROWS = 8192


class Refused(Exception):
    """The query was refused or stopped; the message (one line) names the statement, function or limit."""


class LimitReached(Refused):
    """A limit (time, memory, rows, concurrent queries) stopped the query."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed query may use."""

    seconds: float = 10.0
    max_rows: int = 100_000
    memory_limit: str = "512MB"
    threads: int = 2


def check_statement(sql: str) -> None:
    """Refuse anything but exactly one SELECT, naming what was given instead."""
    if len(sql) > MAX_SQL_CHARS:
        raise Refused(f"refused: the query is {len(sql)} characters, over the limit of {MAX_SQL_CHARS}")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"not valid SQL: {_first_line(exc)}") from exc
    if not statements:
        raise Refused("refused: no statement given")
    if len(statements) > 1:
        raise Refused(f"refused: {len(statements)} statements given; one SELECT at a time")
    kind = statements[0].type.name
    if kind != "SELECT":
        # The first word is what people typed (DuckDB files PRAGMA x=1 under SET, INSTALL under LOAD).
        first = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else kind
        word = first if first.isalpha() and first not in ("WITH", "FROM") else STATEMENT_WORDS.get(kind, kind)
        raise Refused(f"refused: {word} statements are not allowed (read-only SELECT queries only)")


# A table name that is really a file (DuckDB's replacement scans read 'x.csv', 's3://...' as tables).
FILE_LIKE = re.compile(r"[/\\:]|\.(csv|tsv|txt|json|jsonl|ndjson|parquet|gz|zst|xlsx|duckdb|db|sqlite|arrow)$",
                       re.IGNORECASE)


def _references(node: Any, table_functions: set[str], tables: set[str], in_table: bool = False) -> None:
    if isinstance(node, dict):
        is_table_function = node.get("type") == "TABLE_FUNCTION"
        name = node.get("function_name")
        if in_table and isinstance(name, str):
            table_functions.add(name.lower())
        if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
            tables.add(node["table_name"])
        for key, value in node.items():
            _references(value, table_functions, tables, in_table=is_table_function and key == "function")
    elif isinstance(node, list):
        for item in node:
            _references(item, table_functions, tables)


def check_functions(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse table functions outside the allowed set and the database's own table macros, by name."""
    rows = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchall()
    tree = json.loads(rows[0][0]) if rows else {}
    if tree.get("error"):
        raise Refused(f"not valid SQL: {tree.get('error_message', 'cannot be parsed')}")
    table_functions: set[str] = set()
    tables: set[str] = set()
    _references(tree, table_functions, tables)
    for name in sorted(tables):
        if FILE_LIKE.search(name):
            raise Refused(f"refused: reading the file {name!r} is not allowed in the sandbox (no file access)")
    unknown = table_functions - ALLOWED_TABLE_FUNCTIONS
    if not unknown:
        return  # listing the catalogue's functions costs tens of milliseconds: only when needed
    macros = {r[0].lower() for r in con.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_type = 'table_macro' AND NOT internal"
    ).fetchall()}
    for name in sorted(unknown - macros):
        raise Refused(f"refused: table function {name}() is not allowed in the sandbox "
                      "(no file, network or nested-query access)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def open_sandbox(snapshot: Path, limits: Limits) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the snapshot attached read-only, then locked down."""
    if not snapshot.is_file():
        raise Refused(f"no snapshot at {snapshot}: run 'estate-collector snapshot' (or serve, which takes them)")
    con = duckdb.connect(":memory:", config={
        "autoload_known_extensions": False, "autoinstall_known_extensions": False,
        "allow_community_extensions": False, "threads": limits.threads, "memory_limit": limits.memory_limit,
        # No spilling to disk: memory_limit is the whole budget, and the sandbox writes no files.
        "temp_directory": "",
    })
    try:
        con.execute(f"ATTACH '{str(snapshot.absolute()).replace(chr(39), chr(39) * 2)}' AS {SNAPSHOT_ALIAS} "
                    "(READ_ONLY)")
        con.execute(f"USE {SNAPSHOT_ALIAS}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise Refused(f"cannot open the snapshot {snapshot}: {_first_line(exc)}") from exc
    return con


def _refusal(exc: duckdb.Error, limits: Limits, interrupted: bool) -> Refused:
    if interrupted or isinstance(exc, duckdb.InterruptException):
        return LimitReached(f"refused: the query ran over the time limit of {limits.seconds:g} s")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return LimitReached(f"refused: the query needed more than the memory limit of {limits.memory_limit}")
    if isinstance(exc, duckdb.PermissionException):
        return Refused(f"refused: file, network and extension access are disabled in the sandbox "
                       f"({_first_line(exc)})")
    return Refused(_first_line(exc))


class SandboxedQuery:
    """One query running in the sandbox: its Arrow schema, then its batches; close() in all cases."""

    def __init__(self, snapshot: Path, sql: str, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        check_statement(sql)
        self._con = open_sandbox(snapshot, self.limits)
        self._interrupted = threading.Event()
        self._closing = threading.Lock()
        self._closed = False
        self._timer = threading.Timer(self.limits.seconds, self._interrupt)
        self._timer.daemon = True
        try:
            check_functions(self._con, sql)
            self._timer.start()
            self._reader = self._con.sql(sql).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            self.close()
            raise _refusal(exc, self.limits, self._interrupted.is_set()) from exc
        except BaseException:
            self.close()
            raise
        self.schema: pa.Schema = self._reader.schema

    def _interrupt(self) -> None:
        self._interrupted.set()
        self.interrupt()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The result in Arrow batches; raises Refused when a limit stops it (batches already given stand)."""
        rows = 0
        try:
            while True:
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    return
                rows += batch.num_rows
                if rows > self.limits.max_rows:
                    raise LimitReached(f"refused: the result has more than the limit of {self.limits.max_rows} rows "
                                  "(add a LIMIT or aggregate)")
                yield batch
        except (duckdb.Error, pa.ArrowException) as exc:
            if isinstance(exc, pa.ArrowException) and not self._interrupted.is_set():
                raise Refused(f"the query failed: {_first_line(exc)}") from exc
            raise _refusal(exc if isinstance(exc, duckdb.Error) else duckdb.InterruptException(str(exc)),
                           self.limits, self._interrupted.is_set()) from exc
        finally:
            self.close()

    def table(self) -> pa.Table:
        """The whole result (within the row limit) as one table."""
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def interrupt(self) -> None:
        """Stop the query from any thread (a caller gone away); its reader then raises."""
        with self._closing:
            if not self._closed:
                self._con.interrupt()

    def close(self) -> None:
        """Release the connection; idempotent. Not while another thread reads batches: interrupt() first."""
        self._timer.cancel()
        with self._closing:
            if self._closed:
                return
            self._closed = True
            # A query refused mid-stream (over the row limit) may still be producing rows: stop it first,
            # so closing never waits on it.
            self._con.interrupt()
            self._con.close()


def run_sql(snapshot: Path, sql: str, limits: Limits | None = None) -> pa.Table:
    """Run one SELECT on the snapshot in the sandbox; the result as an Arrow table, or Refused."""
    return SandboxedQuery(snapshot, sql, limits).table()
