"""`estate-agent winrm`: Windows hosts without an agent, over WinRM (HTTPS), one report per host."""

from __future__ import annotations

import argparse
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from estate.v1 import inventory_pb2 as pb

EXIT_USAGE = 2
EXIT_HOSTS_FAILED = 3
PASSWORD_ENV = "ESTATE_WINRM_PASSWORD"  # noqa: S105  (the variable's name, not a secret)
USER_ENV = "ESTATE_WINRM_USER"
MAX_PASSWORD_BYTES = 4096
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")

DESCRIPTION = """Read Windows hosts over WinRM (WS-Management over HTTPS, port 5986) with nothing installed on
them: the same registry facts `reg query` gives (OS product, edition and build, installed programs,
IIS, SQL Server, .NET Framework, MachineGuid), parsed by the same code. Only `reg query` is sent. The
server certificate is checked (--ca, else the system trust store). The password comes from
--password-file, --password-env or ESTATE_WINRM_PASSWORD, never the command line."""


class WinTarget(NamedTuple):
    host: str
    port: int
    user: str = ""
    labels: tuple[tuple[str, str], ...] = ()


class Result(NamedTuple):
    target: str
    status: str  # ok, partial, auth, tls, unreachable, error
    message: str
    report: pb.Inventory | None


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `winrm` on estate-agent's subcommands."""
    from estate.agent.cli import _add_transport_options

    parser: argparse.ArgumentParser = commands.add_parser(
        "winrm", help="discover Windows hosts over WinRM (agentless, HTTPS, registry facts)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="HOST[:PORT]", help="Windows hosts to read")
    parser.add_argument("--inventory", "-i", action="append", default=[], type=Path, metavar="FILE",
                        help="an Ansible inventory (INI, YAML or ansible-inventory --list JSON): its hosts "
                             "whose ansible_connection is winrm or psrp; repeatable")
    parser.add_argument("--user", default=os.environ.get(USER_ENV, ""),
                        help=f"account (DOMAIN\\user or user@REALM; default ${USER_ENV})")
    parser.add_argument("--password-file", type=Path, metavar="FILE", help="read the password from FILE")
    parser.add_argument("--password-env", metavar="VAR",
                        help=f"read the password from environment variable VAR (default {PASSWORD_ENV})")
    parser.add_argument("--auth", choices=("ntlm", "kerberos", "credssp", "basic"), default="ntlm",
                        help="authentication (default ntlm; kerberos uses the ticket cache and needs "
                             "pywinrm[kerberos]; basic only for local accounts, over HTTPS as always)")
    parser.add_argument("--port", type=int, default=5986, help="WinRM HTTPS port (default 5986)")
    parser.add_argument("--ca", type=Path, metavar="PEM",
                        help="CA certificate(s) that signed the hosts' WinRM certificates (default: system trust)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per command (default 60)")
    parser.add_argument("--concurrency", type=int, default=8, help="hosts read at once (default 8)")
    parser.add_argument("--format", choices=("json", "pb"), default="json", help="report format")
    parser.add_argument("--output", metavar="FILE",
                        help="write reports as JSON lines to FILE ('-' for stdout, the default when not sending)")
    parser.add_argument("--output-dir", type=Path, metavar="DIR", help="write one report file per host into DIR")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="label every asset (repeatable)")
    _add_transport_options(parser)
    return parser


def read_password(args: argparse.Namespace) -> str:
    """The password from --password-file, --password-env or ESTATE_WINRM_PASSWORD; ValueError if none."""
    if args.password_file is not None:
        path: Path = args.password_file
        try:
            data = path.read_bytes()[:MAX_PASSWORD_BYTES + 1]
        except OSError as exc:
            raise ValueError(f"--password-file {path}: {exc.strerror}") from None
        if len(data) > MAX_PASSWORD_BYTES:
            raise ValueError(f"--password-file {path}: longer than {MAX_PASSWORD_BYTES} bytes")
        return data.decode("utf-8", errors="replace").rstrip("\r\n")
    name = str(args.password_env or PASSWORD_ENV)
    password = os.environ.get(name, "")
    if password:
        return password
    if args.auth == "kerberos":
        return ""  # the ticket cache authenticates
    raise ValueError(f"no password: set {name} or give --password-file FILE (never on the command line)")


def split_target(text: str, default_port: int) -> tuple[str, int]:
    """'host', 'host:5986', '[2001:db8::1]:5986' -> (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise ValueError(f"target {text!r}: no host")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"target {text!r}: port {port!r} is not 1-65535")
    return host, int(port) if port else default_port


def load_targets(args: argparse.Namespace) -> list[WinTarget]:
    """Command-line targets, then the WinRM hosts of each --inventory (ansible_host, ansible_port,
    ansible_user and estate_label_* apply); ValueError names a bad one."""
    from estate.agent.ssh.inventory import WINRM_CONNECTIONS, InventoryError, load_inventory

    targets = [WinTarget(*split_target(text, args.port)) for text in args.targets]
    for path in args.inventory:
        try:
            found = load_inventory(path, {"port": args.port}, connections=WINRM_CONNECTIONS)
        except InventoryError as exc:
            raise ValueError(str(exc)) from None
        targets += [WinTarget(t.host, t.port, t.user, tuple(sorted(t.labels.items()))) for t in found]
    if not targets:
        raise ValueError("no targets: give HOST[:PORT] or --inventory FILE with winrm hosts")
    return targets


def scan_one(target: WinTarget, args: argparse.Namespace, password: str, labels: dict[str, str]) -> Result:
    """Read one host: connect, run the Windows discoverers over it, and say what happened."""
    from estate.agent.scan import DISCOVERERS, build_report
    from estate.agent.winrm.host import WinRMError, WinRMHost

    wanted = {"identity", "os_release", "windows_programs", "windows_software", "windows_identity"}
    discoverers = tuple(d for d in DISCOVERERS if d.name in wanted)
    name = target.host if target.port == args.port else f"{target.host}:{target.port}"
    labels = {**labels, **dict(target.labels)}
    try:
        with WinRMHost(target.host, target.user or args.user, password, port=target.port, auth=args.auth,
                       ca_file=str(args.ca) if args.ca else None, timeout_s=args.timeout) as host:
            # Connect before the discoverers run: a refused login or certificate is the host's result,
            # not an error inside each discoverer.
            host.run(["reg", "query", r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "/v", "CurrentBuild"])
            report = build_report(host, pb.METHOD_WINRM, labels, discoverers)
    except WinRMError as exc:
        return Result(name, exc.kind, str(exc), None)
    if not report.host.hostname:
        report.host.hostname = target.host
    if not report.asset_id:
        report.asset_id, report.host.asset_id_source = f"hostname:{target.host}", "winrm_target"
        del report.errors[:]  # the only error was the empty asset_id, now filled
    os_part = report.os
    summary = " ".join(x for x in (os_part.name, os_part.build, f"{len(report.packages)} programs") if x)
    status = "partial" if report.errors else "ok"
    detail = f"; first error: {report.errors[0].discoverer}: {report.errors[0].message}" if report.errors else ""
    return Result(name, status, summary + detail, report)


def run(args: argparse.Namespace) -> int:
    """Read every target, print one line per host, write and/or send the reports."""
    from estate.agent import cli
    from estate.agent.scan import LabelError, parse_labels
    from estate.agent.text import printable

    try:
        import winrm  # noqa: F401
    except ImportError:
        print("estate-agent: winrm needs pywinrm: pip install 'legacy-estate[winrm]'", file=sys.stderr)
        return EXIT_USAGE
    try:
        labels = parse_labels(args.label)
        password = read_password(args)
        targets = load_targets(args)
        if not args.user and not all(t.user for t in targets):
            raise ValueError(f"no account: give --user or set {USER_ENV}")
    except (LabelError, ValueError) as exc:
        print(f"estate-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.ca is not None and not args.ca.is_file():
        print(f"estate-agent: --ca {args.ca}: not a file", file=sys.stderr)
        return EXIT_USAGE
    with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        results = list(pool.map(lambda t: scan_one(t, args, password, labels), targets))
    reports = [r.report for r in results if r.report is not None]
    failed = False
    for result in results:
        failed = failed or result.report is None
        print(f"{printable(result.target)} {result.status}: {printable(result.message)}", file=sys.stderr)
    output = args.output if args.output is not None else (None if (args.collector or args.output_dir) else "-")
    if output is not None:
        from estate.agent.snmp.command import _write_lines

        _write_lines(reports, output)
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        for report in reports:
            name = SAFE_NAME.sub("_", report.asset_id)[:200] or report.report_id
            cli.write_report(report, str(args.output_dir / f"{name}.{args.format}"), args.format)
    status = EXIT_HOSTS_FAILED if failed else 0
    if args.collector and reports:
        from estate.agent.snmp.command import _send

        status = _send(reports, args, cli) or status
    return status
