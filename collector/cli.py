"""estate-collector: receive reports (gRPC or files), store them in DuckDB, and list what is known."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from estate.agent import __version__, config
from estate.agent.text import printable
from estate.collector.ingest.validate import MAX_REPORT_BYTES, Rejected, decode_report
from estate.collector.read import commands as read_cli
from estate.collector.read import report_commands as report_cli
from estate.collector.ruleset import commands as rules_cli
from estate.collector.store.database import Incoming, Outcome, Store, StoreError
from estate.collector.store.history import NUMBERING_CACHE_ROWS, Numbering
from estate.v1 import inventory_pb2 as pb

DEFAULT_DB = "estate.duckdb"
DEFAULT_LISTEN = "127.0.0.1:50051"
INGEST_BATCH = 64
# On SIGTERM, how long serve lets the scorer finish what is pending before interrupting it.
SCORER_GRACE_S = 5.0
# Seconds open streams get to finish when the collector is asked to stop.
STOP_GRACE_S = 10.0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="estate-collector", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    config.add_config_option(parser, "collector")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gRPC collector",
                                description="Receive reports over gRPC and store them in DuckDB.")
    serve.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")
    serve.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR",
                       help=f"address to listen on (default {DEFAULT_LISTEN}; port 0 picks a free one)")
    serve.add_argument("--tls-cert", type=Path, metavar="PEM", help="the collector's certificate")
    serve.add_argument("--tls-key", type=Path, metavar="PEM", help="the collector's private key")
    serve.add_argument("--tls-ca", type=Path, metavar="PEM", help="CA that agents' client certificates chain to")
    serve.add_argument("--insecure", action="store_true",
                       help="allow plaintext on an address that is not loopback")
    serve.add_argument("--rules", type=Path, default=None, metavar="DIR",
                       help="rules to score with after each ingest (default: the rules shipped)")
    _add_limit_options(serve)
    serve.add_argument("--metrics", metavar="ADDR",
                       help="serve Prometheus metrics on HOST:PORT (/metrics), e.g. 127.0.0.1:9464")
    serve.add_argument("--snapshot-every", type=duration, default="5m", metavar="DURATION",
                       help="take a read-only snapshot for analysts this often (e.g. 30s, 5m, 1h; 0: only on "
                            "demand; default 5m)")
    serve.add_argument("--snapshot", type=Path, default=None, metavar="FILE",
                       help="where snapshots go (default: beside DB, e.g. estate.snapshot.duckdb)")
    rules_cli.rules_dir_option(serve)
    serve.add_argument("--summary-threshold", type=_positive, default=5, metavar="N",
                       help="the Summary RPC (for role gds) withholds counts from 1 to N-1 (default 5)")
    serve.add_argument("--stale-days", type=_positive, default=None, metavar="DAYS",
                       help="an asset not seen for more than DAYS is stale in the summary (default: "
                            "scoring.yaml's status.stale_after_days in the rules in force, else 30)")
    _trust_dir_option(serve)
    serve.add_argument("--scanner-scopes", type=Path, metavar="FILE",
                       help="YAML: scopes of scanner certificates by common name (orgs, cidrs, methods)")

    ingest = commands.add_parser("ingest", help="load report files written by 'estate-agent scan --output'",
                                 description="Load report files (JSON or binary protobuf) from air-gapped hosts.")
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")
    ingest.add_argument("--rules", type=Path, default=None, metavar="DIR",
                        help="rules to score with after ingest (default: the rules shipped)")
    rules_cli.rules_dir_option(ingest)

    certs = commands.add_parser("certs", help="create a CA and issue mTLS certificates",
                                description="Create a certificate authority and issue certificates whose "
                                            "role (agent, scanner, analyst, gds, collector) decides what the holder "
                                            "may call; revoke certificates.")
    certs_commands = certs.add_subparsers(dest="certs_command", required=True, metavar="ACTION")
    certs_init = certs_commands.add_parser("init", help="create the CA in DIR")
    certs_init.add_argument("--dir", type=Path, required=True, help="where the CA's ca.pem and ca.key go")
    certs_issue = certs_commands.add_parser("issue", help="issue NAME.pem and NAME.key signed by the CA in DIR")
    certs_issue.add_argument("--dir", type=Path, required=True, help="the CA's folder; the new files go there too")
    certs_issue.add_argument("--name", required=True, help="certificate name (its common name and file name)")
    certs_issue.add_argument("--role", required=True, choices=("agent", "scanner", "analyst", "gds", "collector"))
    certs_issue.add_argument("--host", action="append", default=[], metavar="NAME|IP",
                             help="a name or address the collector is reached by (repeatable; role collector)")
    certs_issue.add_argument("--days", type=int, default=825, metavar="N", help="lifetime in days (default 825)")
    certs_issue.add_argument("--scope-org", action="append", default=[], metavar="ORG",
                             help="role scanner: an organisation it may report (repeatable)")
    certs_issue.add_argument("--scope-cidr", action="append", default=[], metavar="CIDR",
                             help="role scanner: an address range it may report (repeatable)")
    certs_issue.add_argument("--scope-method", action="append", default=[], choices=("ssh", "snmp"),
                             help="role scanner: a method it may use (repeatable; default both)")
    # --scope-org values are checked against the label vocabulary of the rules the collector uses.
    rules_cli.rules_dir_option(certs_issue)
    certs_revoke = certs_commands.add_parser("revoke", help="refuse a certificate from now on",
                                             description="Revoke a client certificate: the collector refuses it "
                                                         "from the next report on (it rereads the trust folder).")
    _certificate_option(certs_revoke)
    certs_revoke.add_argument("--reason", default="", help="why (kept with the revocation)")
    certs_revoke.add_argument("--db", default=DEFAULT_DB, help=f"the collector's DuckDB file (default ./{DEFAULT_DB})")
    _trust_dir_option(certs_revoke)

    enrol = commands.add_parser("enrol", help="bind an agent certificate to its asset ahead of first contact",
                                description="Bind an agent certificate to the one asset it may report, before "
                                            "(or instead of) trust on first use.")
    _certificate_option(enrol)
    enrol.add_argument("--asset", required=True, metavar="ASSET_ID", help="the asset the certificate speaks for")
    enrol.add_argument("--db", default=DEFAULT_DB, help=f"the collector's DuckDB file (default ./{DEFAULT_DB})")
    _trust_dir_option(enrol)

    retire = commands.add_parser("retire", help="record that an asset was decommissioned",
                                 description="Retire an asset: it leaves current risk but stays in the store; "
                                             "if it reports again it is flagged (status reported-after-retirement).")
    retire.add_argument("asset", metavar="ASSET", help="asset id")
    retire.add_argument("--reason", required=True, help="why (change ticket, decommissioning note)")
    retire.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")

    assets = commands.add_parser("assets", help="list current assets (latest report of each)",
                                 description="List the current assets: the latest report of each.")
    assets.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")
    assets.add_argument("--format", choices=("table", "json", "csv"), default="table")
    rules_cli.add_parser(commands)
    config.add_check_command(commands, "collector")
    read_cli.add_parser(commands)
    report_cli.add_parser(commands)
    return parser


EXIT_STORE_FAILED = 74  # sysexits EX_IOERR: the database failed (disk full); the supervisor restarts us
MIB = 1024 * 1024


def _add_limit_options(serve: argparse.ArgumentParser) -> None:
    from estate.collector.server import StreamLimits

    d = StreamLimits()
    serve.add_argument("--max-streams", type=int, default=d.max_streams, metavar="N",
                       help=f"streams open at once; more are refused with RESOURCE_EXHAUSTED (default {d.max_streams})")
    serve.add_argument("--idle-timeout", type=float, default=d.idle_s, metavar="SECONDS",
                       help=f"end a stream that sends nothing for this long (default {d.idle_s:g})")
    serve.add_argument("--stream-timeout", type=float, default=d.max_stream_s, metavar="SECONDS",
                       help=f"end a stream open longer than this (default {d.max_stream_s:g})")
    serve.add_argument("--stop-grace", type=float, default=STOP_GRACE_S, metavar="SECONDS",
                       help="on SIGTERM, how long streams in progress may take to get their receipts; a second "
                            f"before it ends, streams still owed receipts are ended with UNAVAILABLE (default "
                            f"{STOP_GRACE_S:g}; at least 1)")
    serve.add_argument("--max-pending-mib", type=int, default=d.pending_bytes_total // MIB, metavar="MIB",
                       help="reports received and waiting for the store, all streams together "
                            f"(default {d.pending_bytes_total // MIB}; at least 48)")
    serve.add_argument("--max-pending-mib-per-stream", type=int, default=d.pending_bytes_per_stream // MIB,
                       metavar="MIB", help="the same for one stream "
                                           f"(default {d.pending_bytes_per_stream // MIB}; at least 48)")
    serve.add_argument("--package-lists-mib", type=int, default=NUMBERING_CACHE_ROWS * 4 // MIB, metavar="MIB",
                       help="memory for the package numbers of the lists of packages seen lately, 4 bytes a "
                            "package: rescans of a list kept skip the catalog join (default "
                            f"{NUMBERING_CACHE_ROWS * 4 // MIB}: about 16,000 distinct lists of 1,000 packages; "
                            "0 keeps none)")


def duration(text: str) -> float:
    """Seconds from '90', '30s', '5m' or '1h'; 0 turns the schedule off."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a duration (like 30s, 5m, 1h): {text!r}") from exc
    if seconds < 0 or seconds != seconds:
        raise argparse.ArgumentTypeError(f"not a duration (like 30s, 5m, 1h): {text!r}")
    return seconds
def _trust_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-dir", type=Path, metavar="DIR",
                        help="folder of enrolled.jsonl and revoked.jsonl (default: the folder of --db)")


def _certificate_option(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--cert", type=Path, metavar="PEM", help="the certificate file")
    which.add_argument("--cert-fingerprint", metavar="SHA256", help="its SHA-256 fingerprint (hex, colons allowed)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = config.parse_args("collector", parser, argv)
    if args.command == "config":
        return config.run_check("collector", parser, args.file)
    logging.basicConfig(level=logging.INFO, format="estate-collector: %(message)s")
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # inside the try: a reader that has gone shows here, not at exit
        return code
    except StoreError as exc:
        print(f"estate-collector: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into head or a pager that quit: stop quietly (and let the exit-time flush go
        # to /dev/null, as the Python docs advise). What was stored or scored is already committed.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "ingest":
        return cmd_ingest(args)
    if args.command == "certs":
        return cmd_certs(args)
    if args.command == "enrol":
        return cmd_enrol(args)
    if args.command == "retire":
        return cmd_retire(args)
    if args.command in rules_cli.COMMANDS:
        return rules_cli.run(args)
    if args.command in read_cli.COMMANDS:
        return read_cli.run(args)
    if args.command in report_cli.COMMANDS:
        return report_cli.run(args)
    return cmd_assets(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from estate.collector.ingest.writer import Writer
    from estate.collector.metrics import Metrics, configure_report_log
    from estate.collector.read.summary import stale_days_in_force
    from estate.collector.security.certs import CertError
    from estate.collector.security.senders import load_scanner_scopes, sync_trust
    from estate.collector.security.trust import Trust, default_trust_dir
    from estate.collector.server import ServerTls, StreamLimits, SummarySettings
    from estate.collector.store.snapshot import Snapshotter, default_snapshot_path

    tls = None
    if args.tls_cert or args.tls_key or args.tls_ca:
        if not (args.tls_cert and args.tls_key and args.tls_ca):
            print("estate-collector: --tls-cert, --tls-key and --tls-ca go together", file=sys.stderr)
            return 2
        tls = ServerTls(args.tls_cert, args.tls_key, args.tls_ca)
    try:
        scanner_scopes = load_scanner_scopes(args.scanner_scopes) if args.scanner_scopes else None
        for name, scopes in (scanner_scopes or {}).items():
            _check_scope_orgs(sorted(scopes.orgs), args.rules_dir, args.rules,
                              f"{args.scanner_scopes}: scanners.{printable(name)}: org")
    except CertError as exc:
        print(f"estate-collector: {exc}", file=sys.stderr)
        return 2
    if not args.stop_grace >= 1:
        print(f"estate-collector: --stop-grace must be at least 1 second, not {args.stop_grace:g}", file=sys.stderr)
        return 2
    if args.package_lists_mib < 0:
        print(f"estate-collector: --package-lists-mib must be 0 or more, not {args.package_lists_mib}", file=sys.stderr)
        return 2
    trust = Trust(args.trust_dir or default_trust_dir(args.db))
    limits = StreamLimits(max_streams=args.max_streams, idle_s=args.idle_timeout, max_stream_s=args.stream_timeout,
                          pending_bytes_total=args.max_pending_mib * MIB,
                          pending_bytes_per_stream=args.max_pending_mib_per_stream * MIB)
    configure_report_log()
    metrics = Metrics()
    metrics.watch_store(args.db)
    # Many threads share the GIL (a flattening thread and one for huge messages, two writer lanes, the scorer):
    # hand it over every millisecond rather than every five, so a small report's few steps are not
    # queued behind a huge report's flattening.
    sys.setswitchinterval(0.001)
    store = Store(args.db)
    store.numbering = Numbering(max_rows=args.package_lists_mib * MIB // 4)  # before the writer's lanes share it
    metrics.watch_package_lists(store.numbering)
    sync_trust(store.con, trust)  # enrolments and revocations made while the collector was stopped
    # Cursors made here, before the writer thread starts: the snapshot thread's and the Summary's own
    # connections to the writer's database, the only ones that can read the live file. Scoring runs
    # on its own connection in its own thread (ruleset/commands.scorer): receipts never wait for it.
    snapshots = Snapshotter(store.con.cursor(), args.snapshot or default_snapshot_path(args.db),
                            args.snapshot_every or None)
    stale_days = args.stale_days if args.stale_days is not None else stale_days_in_force(store.con)
    summary = SummarySettings(store.con.cursor(), args.summary_threshold, stale_days)
    scorer = rules_cli.scorer(store, args.rules, args.rules_dir, on_run=metrics.scoring.time)
    writer = Writer(store, on_commit=scorer.notify)
    try:
        return asyncio.run(_serve(args, tls, limits, metrics, writer, snapshots,
                                  dict(summary=summary, trust=trust, scanner_scopes=scanner_scopes)))
    finally:
        snapshots.stop()
        scorer.close(finish_within_s=SCORER_GRACE_S)  # scores are derived: the next start redoes what is left
        sync_trust(store.con, trust)  # and those made since the last report, for the audit tables
        store.close()


async def _serve(args: argparse.Namespace, tls: Any, limits: Any, metrics: Any, writer: Any, snapshots: Any,
                 services: dict[str, Any]) -> int:
    """Run the asyncio gRPC server until SIGTERM/SIGINT, or until the store fails for good."""
    from estate.collector.server import build_server

    stopping = asyncio.Event()
    store_failure: list[StoreError] = []

    def on_store_failure(exc: StoreError) -> None:
        # DuckDB invalidates a database after a fatal error (a full disk during a checkpoint): no
        # later write can succeed in this process. Exit so the supervisor starts a fresh one, which
        # replays the log once there is space; every report it acknowledged is in that log.
        if _store_invalidated(exc):
            store_failure.append(exc)
            stopping.set()

    try:
        server, port, health, ingest = build_server(writer, args.listen, tls, insecure=args.insecure, limits=limits,
                                            metrics=metrics, on_store_failure=on_store_failure,
                                            snapshots=snapshots, **services)
        metrics_port = metrics.serve(args.metrics) if args.metrics else None
    except (ValueError, OSError) as exc:
        print(f"estate-collector: {exc}", file=sys.stderr)
        writer.close()
        return 2
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await server.start()
    await health.set(True)
    host = args.listen.rsplit(":", 1)[0]
    if metrics_port is not None:
        logging.info("metrics on http://%s:%d/metrics", args.metrics.rpartition(":")[0], metrics_port)
    # Tells 'estate-collector snapshot --db' which collector holds the file.
    serve_file = Path(f"{args.db}.serve.json")
    local = "127.0.0.1" if host in ("0.0.0.0", "[::]", "") else host  # noqa: S104 (a wildcard: reach it on loopback)
    serve_file.write_text(json.dumps({"address": f"{local}:{port}", "pid": os.getpid(), "tls": tls is not None}))
    if args.snapshot_every:
        snapshots.start()
    logging.info("listening on %s:%d (%s), storing in %s", host, port, "mTLS" if tls else "plaintext", args.db)
    await stopping.wait()
    await health.set(False)
    if store_failure:
        logging.error("the database failed and must be reopened: %s; exiting (code %d) for the supervisor to "
                      "restart the collector; reports without a receipt stay in the senders' spools",
                      store_failure[0], EXIT_STORE_FAILED)
        serve_file.unlink(missing_ok=True)
        await server.stop(grace=1)
        os._exit(EXIT_STORE_FAILED)  # the writer and the store cannot be closed cleanly once invalidated
    logging.info("stopping: finishing streams in progress")
    # No new streams from here on; open ones end once their receipts are sent, with a status saying why
    # (server.py IngestStream.stop), rather than cancelled when the grace runs out.
    stopped = asyncio.ensure_future(server.stop(grace=args.stop_grace))
    await asyncio.sleep(0)
    ingest.stopping()
    # A second before gRPC would cancel them: streams still owed receipts (the store behind, on a huge
    # report) are ended with a status saying so, not cancelled with a traceback in the log.
    loop.call_later(max(0.0, args.stop_grace - 1.0), ingest.give_up)
    await stopped
    serve_file.unlink(missing_ok=True)
    writer.close()
    return 0


def _store_invalidated(exc: StoreError) -> bool:
    """True when DuckDB has invalidated the database (a fatal error): only a new process can reopen it."""
    import duckdb

    return isinstance(exc.__cause__, duckdb.FatalException) or "invalidated" in str(exc)


def cmd_certs(args: argparse.Namespace) -> int:
    from estate.collector.security import certs

    if args.certs_command == "revoke":
        return cmd_revoke(args)
    try:
        if args.certs_command == "init":
            issued = certs.init_ca(args.dir)
        else:
            scopes = certs.parse_scopes(tuple(args.scope_org), tuple(args.scope_cidr), tuple(args.scope_method))
            if args.role == "scanner" and scopes.empty():
                raise certs.CertError("a scanner needs at least one --scope-org, --scope-cidr or --scope-method "
                                      "(or list it in the collector's --scanner-scopes file and give "
                                      "--scope-method ssh --scope-method snmp)")
            if args.role == "scanner":
                _check_scope_orgs(args.scope_org, args.rules_dir)
            issued = certs.issue(args.dir, args.name, args.role, tuple(args.host), days=args.days, scopes=scopes)
    except certs.CertError as exc:
        print(f"estate-collector: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {issued.cert} and {issued.key} (mode 0600)")
    return 0


def _check_scope_orgs(orgs: Sequence[str], rules_dir: list[Path] | None, rules: Path | None = None,
                      what: str = "--scope-org") -> None:
    """Raise CertError if an --scope-org (or an org of a --scanner-scopes entry, named by `what`) is not an
    org of the label vocabulary in force.

    A scanner scoped to a misspelt organisation would have every report it sends refused.
    """
    from estate.collector.ruleset.ownership import vocabulary_in_force
    from estate.collector.ruleset.rules import RuleErrors, default_layers, load_rules
    from estate.collector.security import certs

    if not orgs:
        return
    try:
        vocabulary = vocabulary_in_force(load_rules(default_layers(rules, rules_dir)))
    except RuleErrors as exc:
        raise certs.CertError(f"cannot check {what} against the label vocabulary: the rules do not load "
                              f"({exc.errors[0]})") from exc
    if vocabulary is None or ("org" not in vocabulary.closed and "org" not in vocabulary.patterns):
        return  # organisations are not a list the rules keep
    for org in orgs:
        problem = vocabulary.problem("org", org)
        if problem:
            raise certs.CertError(f"{what} {printable(org)}: {problem}")


def _certificate_identity(args: argparse.Namespace) -> tuple[str, str]:
    """(fingerprint, subject) from --cert PEM or --cert-fingerprint; raises TrustError or CertError."""
    from estate.collector.security import certs
    from estate.collector.security.trust import normalise_fingerprint

    if args.cert is not None:
        try:
            data = args.cert.read_bytes()[:1 << 20]
        except OSError as exc:
            raise certs.CertError(f"{args.cert}: cannot read: {exc.strerror}") from exc
        cert = certs.load_certificate(data, str(args.cert))
        return certs.fingerprint(cert), cert.subject.rfc4514_string()
    return normalise_fingerprint(args.cert_fingerprint), ""


def cmd_revoke(args: argparse.Namespace) -> int:
    from estate.collector.security.certs import CertError
    from estate.collector.security.trust import TrustError, default_trust_dir, revoke

    directory = args.trust_dir or default_trust_dir(args.db)
    try:
        fingerprint, subject = _certificate_identity(args)
        entry = revoke(directory, fingerprint, subject, args.reason)
    except (CertError, TrustError) as exc:
        print(f"estate-collector: {exc}", file=sys.stderr)
        return 2
    print(f"revoked {subject or 'certificate'} sha256 {entry.fingerprint} "
          f"(recorded in {directory / 'revoked.jsonl'}; a running collector refuses it from now on)")
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    from estate.collector.security.certs import CertError
    from estate.collector.security.trust import TrustError, default_trust_dir, enrol

    directory = args.trust_dir or default_trust_dir(args.db)
    try:
        fingerprint, subject = _certificate_identity(args)
        if args.cert is not None:
            from estate.collector.security.certs import role_of

            role = role_of(args.cert.read_bytes()[:1 << 20])
            if role != "agent":
                raise CertError(f"{args.cert}: role {role or '(none)'!r}: only agent certificates are bound "
                                "to an asset")
        entry = enrol(directory, fingerprint, args.asset, subject)
    except (CertError, TrustError) as exc:
        print(f"estate-collector: {exc}", file=sys.stderr)
        return 2
    print(f"enrolled {subject or 'certificate'} sha256 {entry.fingerprint} for asset {args.asset!r} "
          f"(recorded in {directory / 'enrolled.jsonl'})")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    from estate.collector.security.trust import who

    if not args.reason.strip():
        print("estate-collector: --reason must say why the asset is retired", file=sys.stderr)
        return 2
    store = Store(args.db)
    try:
        known = store.con.execute("SELECT count(*) FROM reports WHERE asset_id = ?", [args.asset]).fetchone()
        if not known or not known[0]:
            print(f"estate-collector: no asset {args.asset!r} in {args.db}", file=sys.stderr)
            return 1
        store.con.execute("INSERT INTO asset_retirements VALUES (?, now(), ?, ?)",
                          [args.asset, args.reason.strip()[:2000], who()])
    finally:
        store.close()
    print(f"retired {args.asset}: it leaves current risk; a report from it again will be flagged")
    return 0


def read_report_file(path: Path) -> pb.Inventory:
    """A report file in the protobuf JSON mapping or binary protobuf; raises Rejected naming the problem."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise Rejected(f"cannot read: {exc.strerror}") from exc
    first = data.lstrip()[:1]
    if not first:
        raise Rejected("empty file: not a report")
    if first == b"[":
        raise Rejected("a JSON array, not a report: a report file holds one JSON object (estate-agent scan --output)")
    if first == b"{":
        if len(data) > MAX_REPORT_BYTES:
            raise Rejected(f"over the {MAX_REPORT_BYTES}-byte limit")
        try:
            return json_format.Parse(data.decode("utf-8"), pb.Inventory())
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            raise Rejected(f"not a valid report in JSON: {exc}") from exc
    return decode_report(data)


def cmd_ingest(args: argparse.Namespace) -> int:
    from estate.collector.security.senders import file_sender

    store = Store(args.db)
    scorer = rules_cli.scorer(store, args.rules, args.rules_dir)
    failures = 0
    accepted: list[str] = []
    try:
        pending: list[tuple[Path, pb.Inventory]] = []

        def flush() -> None:
            nonlocal failures
            outcomes = store.write_reports(
                [Incoming(report, sender=f"file:{path}"[:256], who=file_sender(path.resolve()))
                 for path, report in pending], via="file")
            for (path, report), outcome in zip(pending, outcomes, strict=True):
                failures += outcome.status == "REJECTED"
                _print_outcome(path, outcome)
                if outcome.status == "ACCEPTED":
                    accepted.append(report.asset_id)
            pending.clear()
            scorer.notify(accepted)

        for path in args.files:
            try:
                pending.append((path, read_report_file(path)))
            except Rejected as exc:
                failures += 1
                _print_outcome(path, Outcome("", "REJECTED", str(exc)))
            if len(pending) >= INGEST_BATCH:
                flush()
        if pending:
            flush()
    finally:
        scorer.close()  # ingest is a batch: it ends with its reports scored
        store.close()
    return 1 if failures else 0


def _print_outcome(path: Path, outcome: Outcome) -> None:
    reason = f": {outcome.reason}" if outcome.reason else ""
    line = printable(f"{path}: {outcome.status}{reason}")
    print(line, file=sys.stderr if outcome.status == "REJECTED" else sys.stdout)


# Labels shown are the effective ones (ownership rules over the agent's, vocabulary-checked) once resolved;
# label_flags counts the agent's labels refused or overridden (current_asset_labels.flags says which).
ASSET_QUERY = """
SELECT r.asset_id, hostname, coalesce(nullif(os_pretty_name, ''), trim(os_id || ' ' || os_version_id)) AS os,
       kernel, method, package_count, error_count,
       strftime(collected_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS collected_at,
       s.status, coalesce(l.labels, r.labels) AS labels, len(coalesce(l.flags, [])) AS label_flags
FROM current_reports r JOIN asset_status s USING (asset_id) LEFT JOIN current_asset_labels l USING (asset_id)
ORDER BY hostname, r.asset_id
"""


def cmd_assets(args: argparse.Namespace) -> int:
    store = open_read_only(args.db)
    try:
        cursor = store.con.execute(ASSET_QUERY)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        store.close()
    print_rows(rows, names, args.format)
    return 0


def open_read_only(db: str) -> Store:
    if not Path(db).exists():
        raise StoreError(f"{db}: no such database (run 'estate-collector serve' or 'ingest' first)")
    try:
        return Store(db, read_only=True)
    except StoreError as exc:
        raise StoreError(f"{exc} (a running collector holds the file: stop it first)") from exc


def print_rows(rows: list[dict[str, Any]], names: list[str], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=1, default=str))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=names)
        writer.writeheader()
        writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
    else:
        cells = [[_cell(row[name]) for name in names] for row in rows]
        widths = [max([len(name)] + [len(c[i]) for c in cells]) for i, name in enumerate(names)]
        print("  ".join(name.ljust(w) for name, w in zip(names, widths, strict=True)).rstrip())
        for c in cells:
            print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    """A table cell: whatever a host sent is shown with its control characters escaped."""
    if isinstance(value, dict):
        return printable(",".join(f"{k}={v}" for k, v in sorted(value.items())))
    return "" if value is None else printable(value)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict):
        return printable(json.dumps(value))
    return printable(value) if isinstance(value, str) else value


if __name__ == "__main__":
    sys.exit(main())
