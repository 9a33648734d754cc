"""`estate-agent ssh`: agentless discovery of many hosts over SSH, streamed to the collector as each ends."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from estate.agent.ssh import DEFAULT_COMMAND_TIMEOUT_S, DEFAULT_CONCURRENCY, DEFAULT_HOST_TIMEOUT_S
from estate.agent.text import printable
from estate.agent.wire import encode_report

if TYPE_CHECKING:  # the inventory code and paramiko are imported only when `ssh` runs
    from estate.agent.ssh.inventory import Target
    from estate.agent.ssh.sweep import HostResult

EXIT_USAGE = 2
EXIT_HOSTS_FAILED = 3  # some hosts gave no report (auth, host key, unreachable, ...): see their lines
EXIT_TEMPFAIL = 75  # the collector was away: reports wait in the spool
FAILED = frozenset({"auth failed", "host key mismatch", "unknown host key", "unreachable", "connection dropped",
                    "ssh error", "error", "timeout"})
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
MAX_FILE_STEM = 100


def report_file_stem(target_name: str) -> str:
    """A file name for a target's report that no other target name can share.

    Characters outside [A-Za-z0-9_.-] become '_'; when that changed the name (or shortened it), a
    hash of the original is appended, so 'web/1' and 'web_1' do not overwrite each other's report.
    """
    import hashlib

    safe = SAFE_NAME.sub("_", target_name)[:MAX_FILE_STEM]
    if safe == target_name and safe not in (".", ".."):
        return safe
    return f"{safe}-{hashlib.sha256(target_name.encode()).hexdigest()[:12]}"


def add_parser(subparsers: Any) -> None:
    """Register `ssh` on the estate-agent command parser."""
    from estate.agent.cli import _add_transport_options

    parser = subparsers.add_parser(
        "ssh", help="discover remote hosts over SSH (agentless; AIX, Solaris, HP-UX, Linux)",
        description="Scan hosts over SSH with nothing installed on them: read-only commands and file reads, "
                    "host keys checked against known_hosts, each finished host sent to the collector "
                    "(or written to --output-dir) as soon as it is done.")
    parser.add_argument("targets", nargs="*", metavar="[USER@]HOST[:PORT]", help="hosts to scan")
    parser.add_argument("--inventory", "-i", action="append", default=[], type=Path, metavar="FILE",
                        help="targets from our YAML, a CSV, or an Ansible inventory (YAML or INI); repeatable")
    creds = parser.add_argument_group("connection defaults (an inventory's own values take precedence)")
    creds.add_argument("--user", "-l", help="login name")
    creds.add_argument("--port", "-p", type=int, help="SSH port (default 22)")
    creds.add_argument("--identity-file", metavar="FILE", help="private key file")
    creds.add_argument("--password-file", metavar="FILE",
                       help="read the password from FILE (never on the command line)")
    creds.add_argument("--password-env", metavar="VAR", help="read the password from environment variable VAR")
    creds.add_argument("--jump", metavar="[USER@]HOST[:PORT]", help="jump host (like ssh -J)")
    creds.add_argument("--sudo", action="append", default=[], metavar="COMMAND",
                       help="run this read-only command with sudo -n (e.g. lslpp); repeatable")
    creds.add_argument("--no-agent", action="store_true", help="do not use keys from ssh-agent")
    security = parser.add_argument_group("host keys")
    security.add_argument("--known-hosts", type=Path, default=Path.home() / ".ssh" / "known_hosts", metavar="FILE",
                          help="known_hosts file to check host keys against (default ~/.ssh/known_hosts)")
    security.add_argument("--trust-on-first-use", action="store_true",
                          help="accept a host key not yet in known_hosts and record it there "
                               "(a changed key is still refused)")
    scale = parser.add_argument_group("sweep")
    scale.add_argument("--concurrency", "-j", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                       help=f"hosts scanned at once (default {DEFAULT_CONCURRENCY})")
    scale.add_argument("--host-timeout", type=float, default=DEFAULT_HOST_TIMEOUT_S, metavar="S",
                       help=f"time budget per host, connecting included (default {DEFAULT_HOST_TIMEOUT_S:g} s)")
    scale.add_argument("--command-timeout", type=float, default=DEFAULT_COMMAND_TIMEOUT_S, metavar="S",
                       help=f"longest any one remote command may run (default {DEFAULT_COMMAND_TIMEOUT_S:g} s)")
    scale.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                       help="TCP connect, banner and authentication timeout (default 10 s)")
    scale.add_argument("--max-output", type=int, default=16 * 1024 * 1024, metavar="BYTES",
                       help="largest output kept from any one command (default 16 MiB)")
    scale.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", type=Path, metavar="DIR", help="write one report per host into DIR")
    out.add_argument("--format", choices=("json", "pb"), default="json", help="report format for --output-dir")
    out.add_argument("--results", type=Path, metavar="FILE",
                     help="also write one JSON line per host (name, status, detail, report_id) to FILE")
    out.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                     help="label every asset (org, department, environment, ...); repeatable")
    _add_transport_options(parser, collector_timeout=False)  # it sends per host without waiting first


def load_targets(args: argparse.Namespace) -> list[Target]:
    """Command-line targets and inventory files, with the command-line connection defaults."""
    from estate.agent.ssh.inventory import dedupe, load_inventory, target_from_argument

    defaults = {k: v for k, v in {
        "user": args.user, "port": args.port, "identity_file": args.identity_file,
        "password_file": args.password_file, "password_env": args.password_env, "jump": args.jump,
        "sudo": tuple(args.sudo) or None}.items() if v}
    targets = [target_from_argument(text, defaults) for text in args.targets]
    for path in args.inventory:
        targets += load_inventory(path, defaults)
    return dedupe(targets)


class Delivery:
    """Hands each finished host's report to the collector (via the spool) and/or a directory."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.output_dir: Path | None = args.output_dir
        self.collector: str | None = args.collector
        self.problem = ""
        self.permanent = ""  # the kind of a refusal that no retry fixes
        self._channel: Any = None
        self._spool: Any = None
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.collector:
            from estate.agent import transport  # grpc is imported only when sending
            from estate.agent.ssh.inventory import InventoryError

            self._transport = transport
            self._spool = transport.Spool(args.spool or transport.default_spool_dir())
            tls = None
            if args.tls_ca or args.tls_cert or args.tls_key:
                if not (args.tls_ca and args.tls_cert and args.tls_key):
                    raise InventoryError("--tls-ca, --tls-cert and --tls-key go together")
                tls = transport.TlsFiles(args.tls_ca, args.tls_cert, args.tls_key)
            self._channel = transport.open_channel(self.collector, tls, insecure=args.insecure)

    def deliver(self, result: HostResult) -> str:
        """Write and/or send one report; returns a note for the host's line (empty when all went well)."""
        report = result.report
        if report is None:
            return ""
        notes = []
        if self.output_dir is not None:
            from estate.agent.cli import report_to_json

            suffix = "json" if self.args.format == "json" else "pb"
            path = self.output_dir / f"{report_file_stem(result.target.name)}.{suffix}"
            path.write_bytes(report_to_json(report).encode() if suffix == "json" else encode_report(report))
        if self._channel is not None:
            transport = self._transport
            try:
                _, dropped = self._spool.add(report.report_id, encode_report(report))
            except transport.SpoolError as exc:
                self.problem = str(exc)
                notes.append("not kept: the spool cannot be written")
                return ", ".join(notes)
            for old in dropped:
                notes.append(f"spool full, dropped oldest report {old}")
            try:
                flushed = transport.flush_spool(self._channel, self._spool)
            except transport.PermanentError as exc:
                self.problem = f"{exc}; reports wait in {self._spool.directory}"
                self.permanent = exc.kind
                notes.append("not sent (refused), spooled")
            except (transport.TransportError, OSError) as exc:
                self.problem = f"{exc}; reports wait in {self._spool.directory}"
                notes.append("not sent (collector away), spooled")
            else:
                for aside in flushed.set_aside:
                    notes.append(f"spooled report {aside.report_id} set aside in {aside.folder}/: {aside.reason}")
                for sent_id, receipt in flushed.settled:
                    if sent_id == report.report_id:
                        notes.append(f"sent {receipt.Status.Name(receipt.status).lower()}")
                        if receipt.reason:
                            notes.append(receipt.reason)
        return ", ".join(notes)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()


def run(args: argparse.Namespace) -> int:
    """Run the sweep; exit 0 when every host gave a report, 3 when some did not, 75 if the collector was away."""
    from estate.agent.scan import LabelError, parse_labels
    from estate.agent.ssh.inventory import InventoryError

    try:
        labels = parse_labels(args.label)
        targets = load_targets(args)
        if not targets:
            raise InventoryError("no targets: give [USER@]HOST[:PORT] arguments or --inventory FILE")
        if args.concurrency < 1 or args.host_timeout <= 0 or args.command_timeout <= 0:
            raise InventoryError("--concurrency, --host-timeout and --command-timeout must be positive")
        try:
            results_file: IO[str] | None = open(args.results, "w") if args.results else None  # noqa: SIM115
        except OSError as exc:
            raise InventoryError(f"--results {args.results}: {exc.strerror or 'cannot write'}") from None
        delivery = Delivery(args)
    except (InventoryError, LabelError) as exc:
        print(f"estate-agent ssh: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # e.g. refusing plaintext to a remote collector
        print(f"estate-agent ssh: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from estate.agent.ssh.connect import ConnectOptions
    from estate.agent.ssh.sweep import SweepOptions, sweep

    options = SweepOptions(
        connect=ConnectOptions(known_hosts=args.known_hosts, trust_on_first_use=args.trust_on_first_use,
                               connect_timeout=args.connect_timeout, allow_agent=not args.no_agent),
        concurrency=args.concurrency, host_timeout=args.host_timeout, command_timeout=args.command_timeout,
        max_output=args.max_output, labels=labels)
    bar = _progress(len(targets), disabled=args.no_progress)

    def on_done(result: HostResult) -> None:
        note = delivery.deliver(result)
        line = printable(result.line() + (f" [{note}]" if note else ""))
        if bar is not None:
            bar.write(line, file=sys.stdout)
            bar.update(1)
        else:
            print(line, flush=True)
        if results_file is not None:
            results_file.write(json.dumps({
                "name": result.target.name, "address": result.target.address(), "status": result.status,
                "detail": result.detail, "elapsed_s": round(result.elapsed_s, 3),
                "report_id": result.report.report_id if result.report is not None else None}) + "\n")
            results_file.flush()
        # Delivered: only the status is needed from here on. Keeping every report until the sweep
        # ends would grow memory with the number of hosts (hundreds of KB each).
        result.report = None

    try:
        results = sweep(targets, options, on_done)
    finally:
        if bar is not None:
            bar.close()
        if results_file is not None:
            results_file.close()
        delivery.close()
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    print("estate-agent ssh: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), file=sys.stderr)
    if delivery.problem:
        print(f"estate-agent ssh: collector: {delivery.problem}", file=sys.stderr)
        from estate.agent.cli import PERMANENT_EXITS

        return PERMANENT_EXITS.get(delivery.permanent, EXIT_TEMPFAIL)
    return EXIT_HOSTS_FAILED if any(r.status in FAILED for r in results) else 0


def _progress(total: int, disabled: bool) -> Any:
    """A tqdm bar on stderr when it is a terminal (None otherwise, so piped output stays plain lines)."""
    if disabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="host", file=sys.stderr, dynamic_ncols=True)
