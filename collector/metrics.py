"""The collector's Prometheus metrics (prometheus-client), and the one JSON log line per report.

Metrics live in their own registry, so several servers in one process (tests) do not collide;
`serve --metrics ADDR` exposes it over HTTP for Prometheus to scrape.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

REPORT_LOG = logging.getLogger("estate.collector.reports")

# Rejection reasons as a small fixed set of label values (the full reason goes in the receipt and the log).
REJECT_REASONS = ("too_large", "malformed", "invalid")


def reject_reason(reason: str) -> str:
    """The metric label for a rejection: too_large, malformed or invalid."""
    if reason.startswith(("report is ", "batch is ")) and "-byte limit" in reason:
        return "too_large"
    if reason.startswith("batch of ") and " per message" in reason:  # too many reports in one batch
        return "too_large"
    if reason.startswith("not a valid estate.v1.Inventory"):
        return "malformed"
    return "invalid"


class Metrics:
    """Counters, histograms and gauges of one collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.reports = Counter("estate_reports", "Reports answered, by verdict.", ["verdict"], registry=reg)
        self.rejected = Counter("estate_reports_rejected", "Reports rejected, by reason.", ["reason"],
                                registry=reg)
        self.streams_refused = Counter("estate_streams_refused",
                                       "Streams refused or ended by a limit: busy, idle, too long.",
                                       ["limit"], registry=reg)
        self.streams_open = Gauge("estate_streams_open", "Ingest streams open now.", registry=reg)
        self.ingest_latency = Histogram(
            "estate_ingest_latency_seconds", "From a report's arrival to its receipt.", registry=reg,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
        self.pending_bytes = Gauge("estate_pending_bytes",
                                   "Bytes of reports received and waiting for the store (the queue depth).",
                                   registry=reg)
        self.scoring = Histogram("estate_scoring_duration_seconds", "Duration of each scoring run after ingest.",
                                 registry=reg, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
        self.store_bytes = Gauge("estate_store_bytes", "Size of the DuckDB file and its write-ahead log.",
                                 registry=reg)
        for verdict in ("accepted", "duplicate", "rejected"):
            self.reports.labels(verdict)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason)

    def watch_pending(self, used: Callable[[], int]) -> None:
        self.pending_bytes.set_function(lambda: float(used()))

    def watch_package_lists(self, numbering: Any) -> None:
        """The writer's kept lists of package numbers (store/history.Numbering), read at each scrape: if
        `numbered` grows with every round of rescans, --package-lists-mib is too small for the estate."""
        self.registry.register(_PackageLists(numbering))

    def watch_store(self, db: str | Path) -> None:
        def size() -> float:
            total = 0
            for path in (Path(db), Path(f"{db}.wal")):
                with contextlib.suppress(OSError):
                    total += path.stat().st_size
            return float(total)

        self.store_bytes.set_function(size)

    def timed_scoring(self, after_ingest: Callable[[Sequence[str]], None]) -> Callable[[Sequence[str]], None]:
        """`after_ingest` with each run's duration recorded."""
        def run(asset_ids: Sequence[str]) -> None:
            with self.scoring.time():
                after_ingest(asset_ids)

        return run

    def record(self, verdict: str, reason: str, latency_s: float) -> None:
        self.reports.labels(verdict.lower()).inc()
        if verdict == "REJECTED":
            self.rejected.labels(reject_reason(reason)).inc()
        self.ingest_latency.observe(latency_s)

    def serve(self, address: str) -> int:
        """Expose /metrics on HOST:PORT; returns the port (0 picks a free one)."""
        host, _, port = address.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            raise ValueError(f"--metrics {address}: give HOST:PORT")
        server, _ = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)
        return int(server.server_port)


class _PackageLists:
    """A prometheus-client collector over Numbering's own counts (it keeps them whether scraped or not)."""

    def __init__(self, numbering: Any) -> None:
        self.numbering = numbering

    def collect(self) -> Iterator[Metric]:
        lists = CounterMetricFamily("estate_package_lists", "Reports' package lists numbered from a list kept "
                                    "(kept) or through the catalog (numbered).", labels=["how"])
        lists.add_metric(["kept"], self.numbering.hits)
        lists.add_metric(["numbered"], self.numbering.misses)
        yield lists
        yield GaugeMetricFamily("estate_package_lists_kept_rows", "Package numbers kept now, over all lists.",
                                value=self.numbering.rows)
        yield GaugeMetricFamily("estate_package_lists_bound_rows", "Package numbers that may be kept "
                                "(--package-lists-mib / 4 bytes).", value=self.numbering.max_rows)


def log_report(report_id: str, asset_id: str, sender: str, verdict: str, reason: str, size: int,
               latency_s: float) -> None:
    """One JSON line per report: what it was, who sent it and what became of it."""
    REPORT_LOG.info(json.dumps({
        "event": "report", "report_id": report_id, "asset_id": asset_id, "sender": sender, "verdict": verdict,
        "reason": reason, "bytes": size, "latency_ms": round(latency_s * 1000, 1)}, ensure_ascii=True))


def configure_report_log() -> None:
    """Send report lines to stderr as bare JSON (no prefix), one per line."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    REPORT_LOG.addHandler(handler)
    REPORT_LOG.setLevel(logging.INFO)
    REPORT_LOG.propagate = False
