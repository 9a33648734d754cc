"""Prometheus metrics of `estate-agent run` (prometheus-client is imported only by the service)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from estate.agent.transport import Spool


class AgentMetrics:
    """Spool depth, the last delivery the collector acknowledged, and scans by outcome."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.spool_reports = Gauge("estate_agent_spool_reports", "Reports in the spool waiting for a receipt.",
                                   registry=reg)
        self.spool_bytes = Gauge("estate_agent_spool_bytes", "Bytes of the reports in the spool.", registry=reg)
        self.last_success = Gauge("estate_agent_last_success_timestamp_seconds",
                                  "When the collector last answered a delivery (Unix time).", registry=reg)
        self.scans = Counter("estate_agent_scans", "Scans run, by kind (local, ssh, snmp) and result.",
                             ["kind", "result"], registry=reg)

    def watch_spool(self, spool: Spool) -> None:
        self.spool_reports.set_function(lambda: float(spool.depth()[0]))
        self.spool_bytes.set_function(lambda: float(spool.depth()[1]))

    def serve(self, address: str) -> int:
        """Expose /metrics on HOST:PORT; returns the port."""
        host, _, port = address.rpartition(":")
        server, _ = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)
        return int(server.server_port)
