"""estate-collector snapshot | export | sql: reading the estate without stopping the collector."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

COMMANDS = ("snapshot", "export", "sql")
DEFAULT_DB = "estate.duckdb"
OUTPUT_FORMATS = ("table", "csv", "json", "parquet")


def _tls_options(parser: argparse.ArgumentParser, role: str) -> None:
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help=f"client certificate (role {role}) for mTLS")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key")
    parser.add_argument("--tls-ca", type=Path, metavar="PEM", help="CA the collector's certificate chains to")


def add_parser(commands: Any) -> None:
    snap = commands.add_parser(
        "snapshot", help="write a consistent read-only copy of the store (asks a running collector)",
        description="Write a snapshot of the store that the stock duckdb CLI opens (duckdb -readonly FILE). "
                    "When 'serve' holds the database, the running collector takes it (Admin.Snapshot); "
                    "otherwise it is taken from the file directly.")
    snap.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")
    snap.add_argument("--out", type=Path, default=None, metavar="FILE",
                      help="where to write it (default: DB's snapshot, e.g. estate.snapshot.duckdb)")
    snap.add_argument("--server", default=None, metavar="ADDR",
                      help="the collector to ask (default: the one serving DB, from DB.serve.json)")
    _tls_options(snap, "collector")

    export = commands.add_parser(
        "export", help="write Parquet (hive-partitioned by org and scan date), CSV or JSON lines",
        description="Export assets, findings, packages, software, listeners and risks from the latest "
                    "snapshot (taking a fresh one first) into a new folder.")
    export.add_argument("--format", choices=("parquet", "csv", "json"), default="parquet")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="new folder to write")
    export.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")
    export.add_argument("--snapshot", type=Path, default=None, metavar="FILE",
                        help="export this snapshot instead of taking a fresh one")
    _tls_options(export, "collector")

    sql = commands.add_parser(
        "sql", help="run one read-only SELECT on the latest snapshot, in a sandbox",
        description="Run one SELECT on the latest snapshot (never the live store) with no file, network "
                    "or extension access, no settings changes, and limits on time, memory, threads and "
                    "rows. With --server, the collector runs it (Query RPC, needs an analyst certificate).")
    sql.add_argument("query", metavar="SQL")
    sql.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file whose snapshot to read (default ./{DEFAULT_DB})")
    sql.add_argument("--snapshot", type=Path, default=None, metavar="FILE", help="read this snapshot file")
    sql.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    sql.add_argument("--out", type=Path, default=None, metavar="FILE", help="write here (needed for parquet)")
    sql.add_argument("--max-rows", type=int, default=10_000, metavar="N", help="refuse results over N rows")
    sql.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="stop the query after this")
    sql.add_argument("--server", default=None, metavar="ADDR", help="run it on this collector (Query RPC)")
    _tls_options(sql, "analyst")


def run(args: argparse.Namespace) -> int:
    if args.command == "snapshot":
        return cmd_snapshot(args)
    if args.command == "export":
        return cmd_export(args)
    return cmd_sql(args)


def _fail(message: str, code: int = 1) -> int:
    print(f"estate-collector: {message}", file=sys.stderr)
    return code


def _tls(args: argparse.Namespace) -> Any:
    from estate.agent.transport import TlsFiles

    given = (args.tls_cert, args.tls_key, args.tls_ca)
    if any(given) and not all(given):
        raise ValueError("--tls-cert, --tls-key and --tls-ca go together")
    return TlsFiles(args.tls_ca, args.tls_cert, args.tls_key) if all(given) else None


def server_of(db: str) -> str | None:
    """The address of the collector serving `db`, from the DB.serve.json it writes while running."""
    try:
        data = json.loads(Path(f"{db}.serve.json").read_text()[:4096])
    except (OSError, ValueError):
        return None
    address = data.get("address") if isinstance(data, dict) else None
    return address if isinstance(address, str) else None


def serves_tls(db: str) -> bool:
    """True when DB.serve.json says the collector serving `db` takes only mTLS."""
    try:
        data = json.loads(Path(f"{db}.serve.json").read_text()[:4096])
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tls") is True


def take_snapshot(db: str, out: Path, server: str | None, tls: Any) -> str:
    """A fresh snapshot of db at out, directly or through the collector serving db; a summary line."""
    import duckdb

    from estate.collector.read.client import fetch_snapshot
    from estate.collector.store.snapshot import snapshot_file

    if server is None:
        try:
            info = snapshot_file(Path(db), out)
            return (f"wrote {info.path}: {info.reports} reports, {info.size_bytes} bytes, as of "
                    f"{info.taken_at:%Y-%m-%dT%H:%M:%SZ}, in {info.seconds:.2f} s")
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            server = server_of(db)
            if server is None:
                raise ValueError(f"{db} is held by another process and no collector address is known: "
                                 "give --server ADDR") from exc
            if tls is None and serves_tls(db):
                raise ValueError(f"the collector at {server} serving {db} uses mTLS: give --tls-cert, --tls-key "
                                 "and --tls-ca of a certificate with role collector") from exc
    fetched = fetch_snapshot(server, tls, out)
    return (f"wrote {fetched.path}: {fetched.reports} reports, {fetched.size_bytes} bytes, as of "
            f"{fetched.taken_at} (taken by the collector at {server} in {fetched.seconds:.2f} s)")


def cmd_snapshot(args: argparse.Namespace) -> int:
    from estate.collector.read.client import RemoteError
    from estate.collector.store.snapshot import SnapshotError, default_snapshot_path

    out = args.out if args.out is not None else default_snapshot_path(args.db)
    try:
        print(take_snapshot(args.db, out, args.server, _tls(args)))
    except (SnapshotError, RemoteError, ValueError, OSError) as exc:
        return _fail(str(exc))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import tempfile

    from estate.collector.read.client import RemoteError
    from estate.collector.store.export import ExportError, export
    from estate.collector.store.snapshot import SnapshotError

    try:
        if args.snapshot is not None:
            done = export(args.snapshot, args.out, args.format)
        else:
            with tempfile.TemporaryDirectory(dir=args.out.absolute().parent, prefix=".export-") as tmp:
                snapshot = Path(tmp) / "export.duckdb"
                take_snapshot(args.db, snapshot, None, _tls(args))
                done = export(snapshot, args.out, args.format)
    except (ExportError, SnapshotError, RemoteError, ValueError, OSError) as exc:
        return _fail(str(exc))
    for item in done:
        print(f"{item.path}: {item.rows} rows")
    return 0


def _printable(value: Any) -> str:
    """A cell for the terminal: control characters from host data shown escaped, never interpreted."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def cmd_sql(args: argparse.Namespace) -> int:
    from estate.collector.read.client import RemoteError, run_query
    from estate.collector.read.sandbox import Limits, Refused, run_sql
    from estate.collector.store.snapshot import default_snapshot_path

    if args.format == "parquet" and args.out is None:
        return _fail("--format parquet writes a file: give --out FILE", 2)
    try:
        if args.server is not None:
            table, _ = run_query(args.server, _tls(args), args.query, args.max_rows)
        else:
            snapshot = args.snapshot if args.snapshot is not None else default_snapshot_path(args.db)
            table = run_sql(snapshot, args.query, Limits(seconds=args.timeout, max_rows=args.max_rows))
    except (Refused, RemoteError, ValueError) as exc:
        return _fail(str(exc))
    write_table(table, args.format, args.out)
    return 0


def write_table(table: Any, fmt: str, out: Path | None) -> None:
    """The result in fmt, to out or stdout."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        assert out is not None
        pq.write_table(table, out)
        return
    handle = open(out, "w", encoding="utf-8") if out is not None else sys.stdout  # noqa: SIM115
    try:
        if fmt == "csv":
            if out is not None:
                handle.close()
                pcsv.write_csv(table, out)
                return
            import io

            buffer = io.BytesIO()
            pcsv.write_csv(table, buffer)
            handle.write(buffer.getvalue().decode("utf-8"))
        elif fmt == "json":
            for row in table.to_pylist():
                handle.write(json.dumps(row, default=str) + "\n")
        else:
            names = table.column_names
            cells = [[_printable(v) for v in row.values()] for row in table.to_pylist()]
            widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
            handle.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
            for c in cells:
                handle.write("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip() + "\n")
            handle.write(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})\n")
    finally:
        if out is not None and not handle.closed:
            handle.close()
