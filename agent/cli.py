"""estate-agent: discover this host (or a mounted root) and write or send the report."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from estate.agent import __version__, capture, config
from estate.agent.hostaccess import HostAccessError, LocalHost
from estate.agent.scan import AssetIdError, LabelError, build_report, check_asset_id, parse_labels
from estate.agent.snmp import command as snmp_command
from estate.agent.ssh import cli as ssh_cli
from estate.agent.text import printable
from estate.agent.winrm import command as winrm_command
from estate.agent.wire import encode_report
from estate.v1 import inventory_pb2 as pb

EXIT_USAGE = 2
EXIT_REJECTED = 1
EXIT_SPOOL_FAILED = 73  # sysexits EX_CANTCREAT: the spool cannot be written (disk full): the report is not kept
EXIT_TEMPFAIL = 75  # sysexits EX_TEMPFAIL: the collector is away; the report waits in the spool
DEFAULT_COLLECTOR_TIMEOUT_S = 10.0
# Problems no retry fixes; the reports wait in the spool until someone fixes the setup.
EXIT_CERT_REFUSED = 76  # the collector refused this agent's certificate (expired, other CA) or identity
EXIT_PERMISSION = 77  # sysexits EX_NOPERM: the certificate's role may not send reports
EXIT_UNTRUSTED_COLLECTOR = 78  # sysexits EX_CONFIG: the collector's certificate does not verify against --tls-ca
PERMANENT_EXITS = {"certificate": EXIT_CERT_REFUSED, "unauthenticated": EXIT_CERT_REFUSED,
                   "permission": EXIT_PERMISSION, "untrusted-collector": EXIT_UNTRUSTED_COLLECTOR}


def report_to_json(report: pb.Inventory) -> str:
    """The protobuf JSON mapping with proto field names, as everywhere in the project.

    One line: json's C encoder runs only without indentation, and a pretty-printed report of a
    few thousand packages took a third of the whole scan. Pipe it through `python -m json.tool`
    to read it.
    """
    import json

    return json.dumps(json_format.MessageToDict(report, preserving_proto_field_name=True),
                      ensure_ascii=False) + "\n"


def _collector_timeout(text: str) -> float:
    """Seconds to wait for a collector: a number above 0 and at most an hour (nan and inf are refused)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600 seconds: {text}")
    return seconds


def _add_transport_options(parser: argparse.ArgumentParser, collector_timeout: bool = True) -> None:
    """The options that send reports; `collector_timeout` for commands that wait for the collector first."""
    parser.add_argument("--collector", metavar="HOST:PORT", help="send the report to this collector")
    parser.add_argument("--tls-ca", type=Path, metavar="PEM", help="CA certificate that signed the collector's")
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="this agent's client certificate")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="this agent's private key")
    parser.add_argument("--insecure", action="store_true",
                        help="allow plaintext to a collector that is not on loopback")
    parser.add_argument("--spool", type=Path, metavar="DIR",
                        help="where reports wait for the collector's receipt "
                             "(default /var/spool/legacy-estate as root, else ~/.local/state/legacy-estate/spool)")
    if collector_timeout:
        parser.add_argument("--collector-timeout", type=_collector_timeout, default=DEFAULT_COLLECTOR_TIMEOUT_S,
                            metavar="S", help="how long to wait for the collector to answer before leaving the "
                                              f"report in the spool (default {DEFAULT_COLLECTOR_TIMEOUT_S:g} s)")


def _add_run_options(run: argparse.ArgumentParser) -> None:
    """`estate-agent run`: every key of the service (the [run] table of the configuration file)."""
    run.add_argument("--root", metavar="DIR", help="scan the filesystem tree under DIR instead of the live host")
    run.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                     help="label every asset (repeatable)")
    run.add_argument("--interval", type=float, default=86400.0, metavar="S",
                     help="seconds between scans (default 86400: one a day; at least 1)")
    run.add_argument("--jitter", type=float, default=3600.0, metavar="S",
                     help="up to this many seconds added to each interval, so a fleet does not report at once "
                          "(default 3600)")
    run.add_argument("--metrics", metavar="HOST:PORT",
                     help="serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9465; default: none)")
    run.add_argument("--local", action=argparse.BooleanOptionalAction, default=True,
                     help="scan this host on every cycle (default yes)")
    run.add_argument("--ssh-inventory", type=Path, metavar="FILE", help="also sweep this SSH inventory every cycle")
    run.add_argument("--ssh-options", action="append", default=[], metavar="OPTION",
                     help="an extra option of `estate-agent ssh` for that sweep (repeatable; "
                          "--ssh-options=--known-hosts)")
    run.add_argument("--snmp-inventory", type=Path, metavar="FILE", help="also sweep this SNMP inventory every cycle")
    run.add_argument("--snmp-options", action="append", default=[], metavar="OPTION",
                     help="an extra option of `estate-agent snmp` for that sweep (repeatable)")
    run.add_argument("--nice", type=int, default=10, metavar="N", help="CPU niceness of the service, 0-19 (default 10)")
    run.add_argument("--io-class", choices=("idle", "best-effort", "none"), default="idle",
                     help="I/O scheduling class of the service and its scans (default idle)")
    run.add_argument("--scan-cpu-seconds", type=int, default=600, metavar="S",
                     help="CPU-time limit of each scan (default 600)")
    run.add_argument("--scan-memory-mib", type=int, default=1024, metavar="MIB",
                     help="address-space limit of each scan in MiB (default 1024; at least 64)")
    run.add_argument("--scan-timeout", type=float, default=3600.0, metavar="S",
                     help="wall-clock limit of each scan (default 3600)")
    _add_transport_options(run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="estate-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    config.add_config_option(parser, "agent")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="discover this host's OS and software",
                               description="Discover this host (or a mounted root) and write or send the report.")
    scan.add_argument("--root", metavar="DIR",
                      help="scan the filesystem tree under DIR (a mounted image or container root) "
                           "instead of the live host; no live facts are mixed in")
    scan.add_argument("--format", choices=("json", "pb"), default="json",
                      help="output format: protobuf JSON mapping (default) or binary protobuf")
    scan.add_argument("--output", metavar="FILE",
                      help="write the report to FILE ('-' for stdout; the default when not sending)")
    scan.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                      help="label the asset: org, department, environment, owner, criticality, system "
                           "(repeatable)")
    scan.add_argument("--asset-id", metavar="ID", default="",
                      help="the asset's id in the register (e.g. a CMDB key); default: machine-id/DMI UUID, "
                           "else host name, else SSH host key, else (with --root) file-tree:SCANNER:PATH")
    _add_transport_options(scan)
    run = commands.add_parser("run", help="run as a service: scan on an interval and send, keeping a spool",
                              description="Scan this host (and optionally SSH and SNMP inventories) on an "
                                          "interval, spool the reports and send them, retrying with backoff.")
    _add_run_options(run)
    flush = commands.add_parser("flush", help="send the reports waiting in the spool now",
                                description="Send every report in the spool and print each receipt.")
    _add_transport_options(flush)
    snmp_command.add_parser(commands)
    capture.add_parser(commands)
    ssh_cli.add_parser(commands)
    config.add_check_command(commands, "agent")
    winrm_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = config.parse_args("agent", parser, argv)
    if args.command == "config":
        return config.run_check("agent", parser, args.file)
    if args.command == "scan":
        return cmd_scan(args)
    if args.command == "snmp":
        return snmp_command.run(args)
    if args.command == "capture":
        return capture.run(args)
    if args.command == "ssh":
        return ssh_cli.run(args)
    if args.command == "winrm":
        return winrm_command.run(args)
    if args.command == "run":
        from estate.agent import service

        return service.run(args)
    if args.command == "flush":
        return cmd_flush(args)
    return EXIT_USAGE  # argparse rejects unknown commands before this


def cmd_scan(args: argparse.Namespace) -> int:
    try:
        labels = parse_labels(args.label)
        asset_id = check_asset_id(args.asset_id) if args.asset_id else ""
        host = LocalHost(args.root)
    except (LabelError, AssetIdError, HostAccessError) as exc:
        print(f"estate-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    method = pb.METHOD_FILE if args.root else pb.METHOD_LOCAL
    # A scan is one short burst of allocation: keep the collector off the ~100k objects the imports
    # made (they live as long as the process) and let it run less often; cyclic garbage is rare here.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    report = build_report(host, method, labels, asset_id=asset_id)
    output = args.output if args.output is not None else (None if args.collector else "-")
    written = True
    if output is not None:
        try:
            write_report(report, output, args.format)
        except OSError as exc:
            # Still send it when asked: the scan is done and the collector may be reachable.
            print(f"estate-agent: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            written = False
    for error in report.errors:
        print(printable(f"estate-agent: warning: {error.discoverer}: {error.message}"), file=sys.stderr)
    if args.collector:
        sent = send(report.report_id, encode_report(report), args)
        return sent if sent or written else EXIT_USAGE
    return 0 if written else EXIT_USAGE


def write_report(report: pb.Inventory, output: str, fmt: str) -> None:
    data = report_to_json(report).encode() if fmt == "json" else encode_report(report)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(output).write_bytes(data)


def cmd_flush(args: argparse.Namespace) -> int:
    from estate.agent import transport

    if not args.collector:
        print("estate-agent: flush needs --collector HOST:PORT (or collector in the configuration file)",
              file=sys.stderr)
        return EXIT_USAGE
    spool = transport.Spool(args.spool or transport.default_spool_dir())
    try:
        tls = tls_files(args)
    except UsageError as exc:
        print(f"estate-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return deliver_spool(spool, args.collector, tls, args.insecure, args.collector_timeout)


class UsageError(Exception):
    """A setup mistake in the options (exit 2)."""


def tls_files(args: argparse.Namespace) -> Any:
    """The TlsFiles named by --tls-ca/--tls-cert/--tls-key (None for none); UsageError if incomplete or unreadable."""
    from estate.agent import transport

    if not (args.tls_ca or args.tls_cert or args.tls_key):
        return None
    if not (args.tls_ca and args.tls_cert and args.tls_key):
        raise UsageError("--tls-ca, --tls-cert and --tls-key go together")
    tls = transport.TlsFiles(args.tls_ca, args.tls_cert, args.tls_key)
    try:
        tls.read()
    except OSError as exc:
        # A missing certificate is a setup mistake, not a collector that is away: no retry fixes it.
        raise UsageError(f"cannot read TLS file {exc.filename}: {exc.strerror}") from exc
    return tls


def send(report_id: str, data: bytes, args: argparse.Namespace) -> int:
    """Spool the report, then deliver everything spooled; grpc is imported only here."""
    from estate.agent import transport

    spool = transport.Spool(args.spool or transport.default_spool_dir())
    spool_failed = ""
    try:
        _, dropped = spool.add(report_id, data)
    except transport.SpoolError as exc:
        spool_failed, dropped = str(exc), []
        print(f"estate-agent: {exc}", file=sys.stderr)
    for old in dropped:
        print(f"estate-agent: warning: spool full, dropped oldest report {old}", file=sys.stderr)
    try:
        tls = tls_files(args)
    except UsageError as exc:
        print(f"estate-agent: {exc}; the report waits in {spool.directory}", file=sys.stderr)
        return EXIT_USAGE
    code = deliver_spool(spool, args.collector, tls, args.insecure, getattr(args, "collector_timeout",
                                                                            DEFAULT_COLLECTOR_TIMEOUT_S))
    return EXIT_SPOOL_FAILED if spool_failed and code in (0, EXIT_REJECTED, EXIT_TEMPFAIL) else code


def deliver_spool(spool: Any, collector: str, tls: Any, insecure: bool,
                  connect_timeout_s: float = DEFAULT_COLLECTOR_TIMEOUT_S) -> int:
    """Send everything in the spool and print each receipt; returns the exit code for what happened."""
    from estate.agent import transport

    try:
        channel = transport.open_channel(collector, tls, insecure=insecure)
        with channel:
            transport.wait_for_channel(channel, timeout_s=connect_timeout_s, target=collector, tls=tls)
            flushed = transport.flush_spool(channel, spool)
    except transport.PermanentError as exc:
        print(f"estate-agent: {exc}; reports wait in {spool.directory}, but retrying cannot help until "
              "this is fixed", file=sys.stderr)
        return PERMANENT_EXITS[exc.kind]
    except (transport.TransportError, OSError) as exc:
        print(f"estate-agent: {exc}; the report waits in {spool.directory} for the next run", file=sys.stderr)
        return EXIT_TEMPFAIL
    for aside in flushed.set_aside:
        print(f"estate-agent: warning: spooled report {aside.report_id} set aside in "
              f"{spool.directory / aside.folder}: {aside.reason}", file=sys.stderr)
    status = 0
    for sent_id, receipt in flushed.settled:
        name = receipt.Status.Name(receipt.status)
        detail = f": {receipt.reason}" if receipt.reason else ""
        print(printable(f"{sent_id} {name}{detail}"), file=sys.stderr)
        if receipt.status == receipt.REJECTED:
            status = EXIT_REJECTED
    return status


if __name__ == "__main__":
    sys.exit(main())
