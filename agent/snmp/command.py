"""`estate-agent snmp`: read network devices over SNMP and write or send one report per device."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from estate.agent.wire import encode_report
from estate.v1 import inventory_pb2 as pb

EXIT_USAGE = 2
EXIT_TEMPFAIL = 75
EXIT_TARGETS_FAILED = 4  # some listed target (or a range member that answered) could not be read

DESCRIPTION = """Query devices over SNMP (v1, v2c, v3) and write or send one report per device.
Targets are addresses or CIDR ranges, given as arguments or in an inventory file (--inventory).
Credentials never go on the command line: they come from the inventory file or from the
environment (ESTATE_SNMP_COMMUNITY; for v3 ESTATE_SNMP_USER, ESTATE_SNMP_AUTH_KEY,
ESTATE_SNMP_PRIV_KEY, ESTATE_SNMP_AUTH_PROTOCOL, ESTATE_SNMP_PRIV_PROTOCOL)."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `snmp` on estate-agent's subcommands."""
    from estate.agent import cli

    parser: argparse.ArgumentParser = commands.add_parser(
        "snmp", help="discover network devices (switches, routers, firewalls, printers, UPS) over SNMP",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="address, host name or CIDR range")
    parser.add_argument("--inventory", type=Path, metavar="FILE",
                        help="YAML inventory: targets and ranges with their credentials")
    parser.add_argument("--snmp-version", choices=("1", "2c", "3"),
                        help="SNMP version (default: inventory, ESTATE_SNMP_VERSION, else 2c)")
    parser.add_argument("--port", type=int, help="UDP port (default 161)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for each answer (default 2)")
    parser.add_argument("--retries", type=int, help="retries after a timeout (default 1)")
    parser.add_argument("--concurrency", type=int, default=256, help="targets queried at once (default 256)")
    parser.add_argument("--rules", type=Path, metavar="DIR", help="detection rules directory (default: shipped)")
    parser.add_argument("--format", choices=("json", "pb"), default="json",
                        help="report format: protobuf JSON mapping (default) or binary protobuf")
    parser.add_argument("--output", metavar="FILE",
                        help="write reports as JSON lines to FILE ('-' for stdout, the default when not sending)")
    parser.add_argument("--output-dir", type=Path, metavar="DIR", help="write one report file per device into DIR")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="label every device (repeatable; the inventory can label per target)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    parser.add_argument("--verbose", action="store_true", help="also list range addresses that did not answer")
    cli._add_transport_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the sweep; print one line per target to stderr; write and/or send the reports."""
    from estate.agent import cli
    from estate.agent.scan import LabelError, parse_labels
    from estate.agent.snmp import rules as rules_mod
    from estate.agent.snmp import sweep, targets

    try:
        import jsonschema  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError as exc:
        print(f"estate-agent: snmp needs {exc.name}: pip install 'legacy-estate[snmp]'", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "pb" and args.output_dir is None and not args.collector:
        print("estate-agent: --format pb needs --output-dir (one file per device)", file=sys.stderr)
        return EXIT_USAGE
    overrides = {k: v for k, v in (("version", args.snmp_version), ("port", args.port), ("timeout", args.timeout),
                                   ("retries", args.retries)) if v is not None}
    environ = targets.default_environ()
    try:
        labels = parse_labels(args.label)
        rules = rules_mod.load_rules(args.rules)
        found = targets.load_inventory(args.inventory, environ, overrides) if args.inventory else []
        found += targets.targets_from_args(args.targets, environ, overrides)
    except (LabelError, rules_mod.RuleError, targets.InventoryError) as exc:
        print(f"estate-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not found:
        print("estate-agent: no targets: give addresses/ranges or --inventory FILE", file=sys.stderr)
        return EXIT_USAGE
    try:  # before the sweep, which may take minutes: its results must have somewhere to go
        if args.output_dir is not None:
            args.output_dir.mkdir(parents=True, exist_ok=True)
        if args.output not in (None, "-"):
            Path(args.output).open("a").close()
    except OSError as exc:
        print(f"estate-agent: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    results = sweep.run_sweep(found, rules, args.concurrency, progress=args.progress)
    reports = []
    silent = 0
    failed = False
    for result in results:
        if result.report is not None:
            result.report.labels.update({**labels, **dict(result.target.labels)})
            reports.append(result.report)
        if result.status == "no-response" and result.target.from_range:
            silent += 1
            if not args.verbose:
                continue
        elif result.status != "ok":
            failed = True
        where = result.target.address if result.target.port == 161 else f"{result.target.address}:{result.target.port}"
        print(f"{where} {result.status}: {result.message}", file=sys.stderr)
    if silent:
        print(f"estate-agent: {silent} range address(es) did not answer", file=sys.stderr)
    output = args.output if args.output is not None else (None if (args.collector or args.output_dir) else "-")
    if output is not None:
        _write_lines(reports, output)
    if args.output_dir is not None:
        _write_dir(reports, args.output_dir, args.format)
    status = EXIT_TARGETS_FAILED if failed else 0
    if args.collector and reports:
        sent = _send(reports, args, cli)
        status = sent or status
    return status


def _write_lines(reports: list[pb.Inventory], output: str) -> None:
    from google.protobuf import json_format

    lines = "".join(json_format.MessageToJson(r, preserving_proto_field_name=True, indent=None) + "\n"
                    for r in reports)
    if output == "-":
        sys.stdout.write(lines)
        sys.stdout.flush()
    else:
        Path(output).write_text(lines)


def _write_dir(reports: list[pb.Inventory], directory: Path, fmt: str) -> None:
    from estate.agent import cli

    directory.mkdir(parents=True, exist_ok=True)
    for report in reports:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", report.asset_id)[:200] or report.report_id
        cli.write_report(report, str(directory / f"{name}.{fmt}"), fmt)


def _send(reports: list[pb.Inventory], args: argparse.Namespace, cli: Any) -> int:
    """Spool every report, then deliver the spool once (the same path as `scan`)."""
    *rest, last = reports
    from estate.agent import transport

    spool = transport.Spool(args.spool or transport.default_spool_dir())
    for report in rest:
        try:
            _, dropped = spool.add(report.report_id, encode_report(report))
        except transport.SpoolError as exc:
            print(f"estate-agent: {exc}", file=sys.stderr)
            continue
        for old in dropped:
            print(f"estate-agent: warning: spool full, dropped oldest report {old}", file=sys.stderr)
    code: int = cli.send(last.report_id, encode_report(last), args)
    return code
