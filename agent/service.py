"""`estate-agent run`: the agent as a long-running service (`estate-agent flush` sends the spool now).

Each cycle runs the scans (this host, and optionally an SSH and an SNMP inventory) as child
processes of the `estate-agent` command itself, each with CPU-time and memory limits
(setrlimit), writing binary reports into a private folder; the service spools them and sends the
spool. Unacknowledged reports stay spooled; a collector that is away is retried with exponential
backoff until the next cycle. The whole service runs at low priority (nice, idle I/O class).

Its settings are `run`'s options, which the global configuration file (agent/config.py, the [run]
table and the shared keys at its top) may give. Imported only by `run`: pydantic and prometheus-client
stay out of `scan`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from estate.agent import transport

log = logging.getLogger("estate.agent.service")
# Bounds on the backoff between delivery attempts.
BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 600.0


class RunSettings(BaseModel):
    """What `run` works with: its options, from the command line or the configuration file (agent/config.py
    reads and type-checks the file; this adds the checks types cannot make: ranges, HOST:PORT, KEY=VALUE)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    collector: str = Field(min_length=3, max_length=300)
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    spool: Path = Field(default_factory=transport.default_spool_dir)
    collector_timeout: float = Field(default=10.0, gt=0, le=3600)
    label: list[str] = Field(default_factory=list, max_length=64)
    root: Path | None = None
    interval: float = Field(default=86400.0, ge=1.0)
    jitter: float = Field(default=3600.0, ge=0.0)
    metrics: str | None = Field(default=None, max_length=300)
    local: bool = True
    ssh_inventory: Path | None = None
    ssh_options: list[str] = Field(default_factory=list, max_length=64)
    snmp_inventory: Path | None = None
    snmp_options: list[str] = Field(default_factory=list, max_length=64)
    nice: int = Field(default=10, ge=0, le=19)
    io_class: Literal["idle", "best-effort", "none"] = "idle"
    scan_cpu_seconds: int = Field(default=600, ge=1)
    scan_memory_mib: int = Field(default=1024, ge=64)
    scan_timeout: float = Field(default=3600.0, gt=0)

    @field_validator("collector")
    @classmethod
    def _host_port(cls, value: str) -> str:
        _, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT")
        return value

    @field_validator("label")
    @classmethod
    def _key_value(cls, labels: list[str]) -> list[str]:
        for text in labels:
            if "=" not in text:
                raise ValueError(f"{text!r} is not KEY=VALUE")
        return labels

    @property
    def labels(self) -> dict[str, str]:
        return dict(text.split("=", 1) for text in self.label)

    def tls(self) -> transport.TlsFiles | None:
        if self.tls_ca and self.tls_cert and self.tls_key:
            return transport.TlsFiles(self.tls_ca, self.tls_cert, self.tls_key)
        return None


class ConfigError(Exception):
    """The settings cannot be used; the message names the key and the problem."""


def settings_from(args: Any) -> RunSettings:
    """The service's settings from parsed `run` options; ConfigError names each bad key and what is wrong."""
    raw = {key: value for key, value in vars(args).items() if key in RunSettings.model_fields and value is not None}
    if not raw.get("collector"):
        raise ConfigError("run: collector: give --collector HOST:PORT (or collector in the configuration file)")
    try:
        config = RunSettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
                             for err in exc.errors())
        raise ConfigError(f"run: {problems}") from exc
    given = [f for f in (config.tls_ca, config.tls_cert, config.tls_key) if f is not None]
    if given and len(given) != 3:
        raise ConfigError("run: tls_ca, tls_cert and tls_key go together")
    if not given and not (config.insecure or transport.is_loopback(config.collector)):
        raise ConfigError("run: collector: give tls_ca, tls_cert and tls_key (or insecure = true on a "
                          "network you trust)")
    if not (config.local or config.ssh_inventory or config.snmp_inventory):
        raise ConfigError("run: nothing to scan: set local = true, ssh_inventory or snmp_inventory")
    return config


def lower_priority(limits: RunSettings) -> None:
    """Run (and let every scan run) at low CPU and I/O priority."""
    os.setpriority(os.PRIO_PROCESS, 0, limits.nice)
    if limits.io_class != "none":
        import psutil

        with contextlib.suppress(AttributeError, OSError):  # no I/O classes outside Linux
            psutil.Process().ionice(psutil.IOPRIO_CLASS_IDLE if limits.io_class == "idle" else psutil.IOPRIO_CLASS_BE)


def _scan_limits(limits: RunSettings) -> Any:
    """A preexec function that bounds a scan's CPU time and address space."""
    cpu, memory = limits.scan_cpu_seconds, limits.scan_memory_mib * 1024 * 1024

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return apply


def _scan_environment() -> dict[str, str]:
    """The service's environment less its ESTATE_AGENT_* settings (a scan is told everything on its command line)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_AGENT_")}


def scan_commands(config: RunSettings, out: Path) -> list[tuple[str, list[str]]]:
    """(name, argv) of each scan of a cycle; every one writes binary reports into `out`."""
    # The scans read no configuration file: what they need is on their command line (a `collector` in the
    # file would have them send by themselves).
    agent = [sys.executable, "-m", "estate.agent.cli", "--config", os.devnull]
    labels = [arg for key, value in sorted(config.labels.items()) for arg in ("--label", f"{key}={value}")]
    commands = []
    run = config
    if run.local:
        root = ["--root", str(config.root)] if config.root else []
        commands.append(("local", [*agent, "scan", *root, "--format", "pb", "--output", str(out / "local.pb"),
                                   *labels]))
    if run.ssh_inventory is not None:
        commands.append(("ssh", [*agent, "ssh", "--inventory", str(run.ssh_inventory), "--no-progress",
                                 "--format", "pb", "--output-dir", str(out / "ssh"), *labels, *run.ssh_options]))
    if run.snmp_inventory is not None:
        commands.append(("snmp", [*agent, "snmp", "--inventory", str(run.snmp_inventory), "--no-progress",
                                  "--format", "pb", "--output-dir", str(out / "snmp"), *labels,
                                  *run.snmp_options]))
    return commands


class Service:
    """The scan-spool-send loop of `estate-agent run`."""

    def __init__(self, config: RunSettings, stop: threading.Event) -> None:
        from estate.agent.service_metrics import AgentMetrics

        self.config = config
        self.stop = stop
        self.spool = transport.Spool(config.spool)
        self.metrics = AgentMetrics()
        self.metrics.watch_spool(self.spool)

    def scan_once(self) -> int:
        """Run each scan in a bounded child process; spool what they wrote; returns reports spooled."""
        limits = self.config
        spooled = 0
        with tempfile.TemporaryDirectory(prefix="estate-scan-") as folder:
            out = Path(folder)
            for name, argv in scan_commands(self.config, out):
                if self.stop.is_set():
                    break
                result = self._run_child(name, argv, limits)
                self.metrics.scans.labels(name, "ok" if result in (0, 3) else "failed").inc()
            for path in sorted(out.rglob("*.pb")):
                spooled += self._spool_file(path)
        return spooled

    def _run_child(self, name: str, argv: list[str], limits: RunSettings) -> int:
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              preexec_fn=_scan_limits(limits), text=True, errors="replace",
                              env=_scan_environment()) as child:
            try:
                _, stderr = child.communicate(timeout=limits.scan_timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                _, stderr = child.communicate()
                log.warning("%s scan stopped after %g s (run.scan_timeout)", name, limits.scan_timeout)
        code = child.returncode
        from estate.agent.text import printable

        for line in stderr.splitlines()[-20:]:
            log.info("%s scan: %s", name, printable(line))
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            log.warning("%s scan ended by its limits (signal %d)", name, -code)
        elif code not in (0, 3):
            log.warning("%s scan exited %d", name, code)
        return code

    def _spool_file(self, path: Path) -> int:
        from estate.v1 import inventory_pb2 as pb

        data = path.read_bytes()
        try:
            report_id = pb.Inventory.FromString(data).report_id
        except Exception as exc:  # a scan that wrote half a file (killed by its limits)
            log.warning("%s: not a report (%s); not spooled", path.name, exc)
            return 0
        try:
            _, dropped = self.spool.add(report_id, data)
        except transport.SpoolError as exc:
            log.error("%s", exc)
            return 0
        for old in dropped:
            log.warning("spool full, dropped oldest report %s", old)
        return 1

    def deliver(self) -> int:
        """Send the spool once; returns the exit code deliver_spool gives (0, 1, 75 or a permanent code)."""
        from estate.agent.cli import deliver_spool

        config = self.config
        code = deliver_spool(self.spool, config.collector, config.tls(), config.insecure, config.collector_timeout)
        if code in (0, 1):
            self.metrics.last_success.set_to_current_time()
        return code

    def run(self) -> int:
        """Scan, spool and send on every interval until stopped; exits on a problem no retry fixes."""
        from estate.agent.cli import PERMANENT_EXITS

        config = self.config
        if config.metrics:
            port = self.metrics.serve(config.metrics)
            log.info("metrics on http://%s:%d/metrics", config.metrics.rpartition(":")[0], port)
        next_scan = time.monotonic()
        while not self.stop.is_set():
            spooled = self.scan_once()
            log.info("scanned: %d reports spooled", spooled)
            next_scan += config.interval
            backoff = BACKOFF_FIRST_S
            while not self.stop.is_set():
                code = self.deliver()
                if code in PERMANENT_EXITS.values():
                    return code
                if code != 75:
                    break
                wait = min(backoff, max(0.0, next_scan - time.monotonic()))
                if wait <= 0:
                    break
                log.info("collector away: next attempt in %.0f s", wait)
                self.stop.wait(wait * random.uniform(0.8, 1.0))  # noqa: S311  (spreading retries, not security)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            jitter = random.uniform(0, config.jitter)  # noqa: S311
            self.stop.wait(max(0.0, next_scan - time.monotonic()) + jitter)
            next_scan += jitter
        return 0


def run(args: Any) -> int:
    """`estate-agent run`: its settings come from the options and the configuration file (agent/config.py)."""
    from estate.agent.cli import EXIT_USAGE

    logging.basicConfig(level=logging.INFO, format="estate-agent: %(message)s")
    try:
        config = settings_from(args)
    except ConfigError as exc:
        print(f"estate-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    lower_priority(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if shutil.which(sys.executable) is None:
        print(f"estate-agent: cannot run scans: {sys.executable} not found", file=sys.stderr)
        return EXIT_USAGE
    return Service(config, stop).run()
