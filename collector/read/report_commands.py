"""estate-collector report | gds pull: the estate report, and the GDS aggregator's pull."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

COMMANDS = ("report", "gds")
DEFAULT_DB = "estate.duckdb"
DEFAULT_GDS_DB = "gds.duckdb"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _stale_days(text: str) -> int:
    if not text.isdigit() or not 8 <= int(text) <= 3650:
        raise argparse.ArgumentTypeError(f"stale days must be a whole number from 8 to 3650: {text!r}")
    return int(text)


def add_parser(commands: Any) -> None:
    from estate.collector.read.report import BY, FORMATS

    report = commands.add_parser(
        "report", help="write the estate report (HTML, CSV or JSON)",
        description="Write the estate report from a collector's store or snapshot, or, from a GDS aggregator's "
                    "database (gds pull), the same report across government by organisation.")
    report.add_argument("--db", default=DEFAULT_DB,
                        help="DuckDB file: a collector's store or snapshot, or a GDS database "
                             f"(default ./{DEFAULT_DB})")
    report.add_argument("--format", choices=FORMATS, default="html")
    report.add_argument("--as-of", type=_date, default=None, metavar="DATE",
                        help="report the scoring runs for this date (default: today's results)")
    report.add_argument("--by", choices=BY, default="org", help="group the tables by this label (default org)")
    report.add_argument("--out", type=Path, default=None, metavar="FILE", help="write here (default: standard output)")
    report.add_argument("--stale-days", type=_stale_days, default=None, metavar="DAYS",
                        help="an asset not seen for more than DAYS is stale (default: scoring.yaml's "
                             "status.stale_after_days in the store's rules, else 30)")
    report.add_argument("--title", default=None, help="title of the report")

    gds = commands.add_parser("gds", help="GDS aggregator: pull summaries from many collectors",
                              description="Pull the Summary (aggregates only) from departmental collectors "
                                          "and keep the merged view in the aggregator's own DuckDB.")
    sub = gds.add_subparsers(dest="gds_command", required=True, metavar="ACTION")
    pull = sub.add_parser("pull", help="pull Summary from every collector at once and store the merged view")
    pull.add_argument("--from", dest="sources", action="append", required=True, metavar="[NAME=]ADDR",
                      help="a collector to pull from (repeatable); NAME names it in reports and errors")
    pull.add_argument("--db", default=DEFAULT_GDS_DB, help=f"the aggregator's DuckDB file (default ./{DEFAULT_GDS_DB})")
    pull.add_argument("--as-of", type=_date, default=None, metavar="DATE",
                      help="ask for each collector's scoring runs for this date (default: their results of today)")
    pull.add_argument("--tls-ca", type=Path, metavar="PEM", help="CA the collectors' certificates chain to")
    pull.add_argument("--tls-cert", type=Path, metavar="PEM", help="the aggregator's certificate (role gds)")
    pull.add_argument("--tls-key", type=Path, metavar="PEM", help="the aggregator's private key")
    pull.add_argument("--insecure", action="store_true", help="allow plaintext to addresses that are not loopback")
    pull.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per collector (default 60)")


def run(args: argparse.Namespace) -> int:
    return cmd_report(args) if args.command == "report" else cmd_pull(args)


def _fail(message: str, code: int = 1) -> int:
    print(f"estate-collector: {message}", file=sys.stderr)
    return code


def cmd_report(args: argparse.Namespace) -> int:
    import duckdb

    from estate.collector.read import report
    from estate.collector.read.gds import is_gds_database
    from estate.collector.read.summary import NoData, stale_days_in_force

    if not Path(args.db).exists():
        return _fail(f"{args.db}: no such database (run 'estate-collector serve', 'ingest' or 'gds pull' first)")
    try:
        con = duckdb.connect(args.db, read_only=True)
    except duckdb.Error as exc:
        return _fail(f"cannot open {args.db}: {exc} (a running collector holds its file: report from a snapshot)")
    try:
        if is_gds_database(con):
            if args.by != "org":
                return _fail("a GDS database is reported by organisation only (--by org)", 2)
            data = report.from_gds(con, args.as_of, **({"title": args.title} if args.title else {}))
        else:
            stale_days = args.stale_days if args.stale_days is not None else stale_days_in_force(con)
            data = report.from_store(con, args.by, args.as_of, stale_days,
                                     **({"title": args.title} if args.title else {}))
        text = report.render(data, args.format)
    except NoData as exc:
        return _fail(str(exc))
    except duckdb.CatalogException as exc:
        return _fail(f"{args.db} is neither a collector's store nor a GDS database ({exc})")
    finally:
        con.close()
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}")
    print(f"wrote {args.out} ({args.format}, {len(text.encode()):,} bytes, as of {data.as_of})")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from estate.agent.transport import TlsFiles
    from estate.collector.read import gds

    tls = None
    if args.tls_ca or args.tls_cert or args.tls_key:
        if not (args.tls_ca and args.tls_cert and args.tls_key):
            return _fail("--tls-ca, --tls-cert and --tls-key go together", 2)
        tls = TlsFiles(args.tls_ca, args.tls_cert, args.tls_key)
    try:
        sources = [gds.parse_source(text) for text in args.sources]
    except ValueError as exc:
        return _fail(str(exc), 2)
    started = dt.datetime.now(dt.timezone.utc)
    try:
        pulled = gds.pull_all(sources, tls, args.insecure, args.as_of, args.timeout)
    except ValueError as exc:
        return _fail(str(exc), 2)
    for answer in pulled:
        if answer.summary is None:
            print(f"{answer.source.name}: FAILED: {answer.error}", file=sys.stderr)
        else:
            total = answer.summary.cubes["status"].totals.total
            # A withheld total is sent as 0: say it is small rather than that there are no assets.
            assets = (f"fewer than {answer.summary.threshold} assets (withheld)" if total.withheld
                      else f"{total.value:,} assets")
            print(f"{answer.source.name}: {assets} as of "
                  f"{answer.summary.as_of} ({answer.reply_bytes:,} bytes in {answer.seconds:.2f} s)")
    answered = sum(p.summary is not None for p in pulled)
    con = gds.open_gds(args.db)
    try:
        pull_id = gds.store_pull(con, pulled, args.as_of, started)
    finally:
        con.close()
    print(f"pull {pull_id}: {answered} of {len(pulled)} collectors merged into {args.db}")
    return 0 if answered == len(pulled) else 1
