"""The sweep: scan many targets over SSH at once, each bounded in time, each result handed on as it ends.

A pool of worker threads connects to and scans one target each; the caller's `on_done` runs in the
calling thread for every finished host, in completion order, so a slow or hung host never holds
back the others' delivery. A host's time budget (`host_timeout`) covers connecting and every
command; when it runs out its commands stop, what was already found is still reported, and its
result says "timeout".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from estate.agent import sweepinfo
from estate.agent.hostaccess import MAX_OUTPUT_BYTES
from estate.agent.scan import DISCOVERERS, Discoverer, build_report
from estate.agent.ssh import DEFAULT_COMMAND_TIMEOUT_S, DEFAULT_CONCURRENCY, DEFAULT_HOST_TIMEOUT_S
from estate.agent.ssh.connect import Connection, ConnectOptions, classify, connect
from estate.agent.ssh.host import SSHHost
from estate.agent.ssh.inventory import Target
from estate.v1 import inventory_pb2 as pb


@dataclass(frozen=True)
class SweepOptions:
    connect: ConnectOptions
    concurrency: int = DEFAULT_CONCURRENCY
    host_timeout: float = DEFAULT_HOST_TIMEOUT_S
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT_S
    max_output: int = MAX_OUTPUT_BYTES
    labels: Mapping[str, str] = field(default_factory=dict)
    discoverers: tuple[Discoverer, ...] = DISCOVERERS


@dataclass
class HostResult:
    """How one target went: status is one of STATUSES; report is None when nothing was collected."""

    target: Target
    status: str
    detail: str = ""
    elapsed_s: float = 0.0
    report: pb.Inventory | None = None

    def line(self) -> str:
        summary = ""
        if self.report is not None:
            os_text = " ".join(p for p in (self.report.os.id, self.report.os.version_id) if p) or "os unknown"
            summary = f" {os_text}, {len(self.report.packages)} packages"
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.target.name} {self.status}{detail}{summary} ({self.elapsed_s:.1f} s)"


# Every status a host can end with, for documentation and the summary line.
STATUSES = ("ok", "partial", "timeout", "auth failed", "host key mismatch", "unknown host key", "unreachable",
            "connection dropped", "ssh error", "error")


def scan_target(target: Target, options: SweepOptions) -> HostResult:
    """Connect to one target and run the discoverers through SSHHost; never raises."""
    start = time.monotonic()
    deadline = start + options.host_timeout
    try:
        connection = connect(target, options.connect)
    except Exception as exc:  # every failure becomes this host's result line; the sweep goes on
        status, detail = classify(exc)
        return HostResult(target, status, detail, time.monotonic() - start)
    try:
        host = SSHHost(connection.transport, target.name, sudo_commands=frozenset(target.sudo),
                       command_timeout=options.command_timeout, max_output=options.max_output, deadline=deadline)
        labels = {**options.labels, **target.labels}
        # Over SSH every command is bounded by the host's deadline, so a discoverer may take as long as
        # the host budget allows: its local-scan timeout would cut slow links and busy hosts short.
        discoverers = tuple(d._replace(timeout_s=max(d.timeout_s, options.host_timeout)) for d in options.discoverers)
        report = build_report(host, pb.METHOD_SSH, labels, discoverers)
        if not report.asset_id:
            # Legacy Unix has no machine-id and may not give a host name: the address scanned is a
            # weaker but stable identity, so the missing-identity error no longer applies.
            report.asset_id, report.host.asset_id_source = f"ssh:{target.host}:{target.port}", "ssh_target"
            kept = [e for e in report.errors if not (e.discoverer == "identity" and "asset_id is empty" in e.message)]
            del report.errors[:]
            report.errors.extend(kept)
        sweepinfo.stamp(report, target.source, target.name, _reached(target, connection))
        status, detail = _outcome(host, report, deadline)
        return HostResult(target, status, detail, time.monotonic() - start, report)
    except Exception as exc:
        status, detail = classify(exc)
        return HostResult(target, status, detail, time.monotonic() - start)
    finally:
        connection.close()


def _reached(target: Target, connection: Connection) -> str:
    """The address scanned: the peer's IP when connected directly (a name may resolve anywhere)."""
    if not target.jump:
        try:
            return sweepinfo.host_port(str(connection.transport.getpeername()[0]), target.port)
        except (OSError, IndexError, TypeError):
            pass
    return sweepinfo.host_port(target.host, target.port)


def _outcome(host: SSHHost, report: pb.Inventory, deadline: float) -> tuple[str, str]:
    if host.dropped:
        return "connection dropped", f"the connection went away during the scan; {len(report.errors)} error(s)"
    if time.monotonic() >= deadline:
        return "timeout", f"host time budget spent; partial report with {len(report.errors)} error(s)"
    if report.errors:
        first = report.errors[0]
        more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        return "partial", f"{first.discoverer}: {first.message[:200]}{more}"
    return "ok", ""


def sweep(targets: Iterable[Target], options: SweepOptions, on_done: Callable[[HostResult], None]) -> list[HostResult]:
    """Scan all targets with `options.concurrency` workers; `on_done` sees each result as it finishes."""
    targets = list(targets)
    results: list[HostResult] = []
    with ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="ssh-sweep") as pool:
        pending: set[Future[HostResult]] = {pool.submit(scan_target, t, options) for t in targets}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                results.append(result)
                on_done(result)
    return results

