"""`estate-agent run` (settings from the global `--config` file): the agent as a service, against the real collector."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from estate.agent import cli, config, service
from estate.collector.process import start_collector

from .conftest import HOST_FIXTURES

AGENT = [sys.executable, "-m", "estate.agent.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_root(tmp_path: Path) -> Path:
    """A captured Debian 12 root with a machine-id, so its reports have an asset id."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(HOST_FIXTURES / "debian12", root, symlinks=True)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    return root


def write_config(path: Path, collector: str, spool: Path, extra: str = "") -> Path:
    root = host_root(path.parent)
    path.write_text(f"""
collector = "{collector}"
spool = "{spool}"

label = ["org=test-org"]

[run]
root = "{root}"
interval = 4
jitter = 0.5
metrics = "127.0.0.1:{free_port()}"
collector_timeout = 1
nice = 5
scan_cpu_seconds = 120
scan_memory_mib = 1024
{extra}
""")
    return path


def load(path: Path) -> service.RunSettings:
    """`run`'s settings from a config file, as `estate-agent --config FILE run` would have them."""
    found = config.effective("agent", cli.build_parser(), path, environ={})
    import argparse

    return service.settings_from(argparse.Namespace(**{k: s.value for k, s in found.commands["run"].items()}))


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[-1])
    raise AssertionError(f"{name} missing")


def wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.mark.integration
def test_run_spools_while_the_collector_is_away_then_delivers(tmp_path: Path) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    config = write_config(tmp_path / "agent.toml", f"127.0.0.1:{port}", spool)
    metrics_port = int(re.search(r"metrics = \"127.0.0.1:(\d+)\"", config.read_text()).group(1))  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    log = tmp_path / "agent.log"
    with open(log, "w") as handle:
        agent = subprocess.Popen([*AGENT, "--config", str(config), "run"], stdout=handle, stderr=subprocess.STDOUT)
    collector = None
    try:
        # Collector away: scans go on and their reports wait in the spool.
        assert wait_for(lambda: len(list(spool.glob("*.report"))) >= 2, 90), log.read_text()
        assert metric(url, "estate_agent_spool_reports") >= 2
        assert metric(url, "estate_agent_last_success_timestamp_seconds") == 0
        assert wait_for(lambda: "collector away: next attempt in" in log.read_text(), 60), log.read_text()
        assert agent.poll() is None  # a collector that is away is no reason to stop
        collector = start_collector(tmp_path / "estate.duckdb", tmp_path / "c.log", listen=f"127.0.0.1:{port}")
        assert wait_for(lambda: not list(spool.glob("*.report")), 90), log.read_text()
        # The spool empties as receipts arrive; the success is recorded once the delivery returns.
        assert wait_for(lambda: metric(url, "estate_agent_last_success_timestamp_seconds") > time.time() - 120, 30)
        assert wait_for(lambda: metric(url, 'estate_agent_scans_total{kind="local",result="ok"}') >= 3, 60)
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(60)
        if collector is not None:
            collector.stop()
    assert code == 0, log.read_text()
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*), count(DISTINCT report_id), min(os_id), min(labels['org']) "
                           "FROM reports").fetchone()
    still_spooled = len(list(spool.glob("*.report")))  # a scan just before SIGTERM may not be sent yet
    assert rows is not None and rows[0] >= 2 and rows[0] + still_spooled >= 3 and rows[0] == rows[1]
    assert rows[2:] == ("debian", "test-org")


def test_each_scan_is_bounded_in_memory(tmp_path: Path) -> None:
    """A scan over its memory limit dies alone and spools nothing; with room, the same scan spools its report."""
    settings = load(write_config(tmp_path / "agent.toml", "127.0.0.1:9", tmp_path / "spool", extra=""))
    tight = settings.model_copy(update={"scan_memory_mib": 32})
    import threading

    svc = service.Service(tight, threading.Event())
    assert svc.scan_once() == 0  # 32 MiB of address space cannot hold the scan
    assert not list((tmp_path / "spool").glob("*.report"))
    roomy = service.Service(settings, threading.Event())
    assert roomy.scan_once() == 1


@pytest.mark.parametrize(("text", "where", "message"), [
    # Types and unknown keys: agent/config.py, naming the file, the table and the key.
    ("collector = '127.0.0.1:1'\n[run]\ninterval = 'daily'\n", "file",
     "[run]: interval: Input should be a valid number"),
    ("collector = '127.0.0.1:1'\n[run]\ncolour = 'blue'\n", "file", "[run]: colour: unknown key"),
    ("[run\n", "file", "not valid TOML"),
    # What the values mean: the service's own checks, naming the key.
    ("collector = 'collector.example'\n", "run", "collector: Value error, must be HOST:PORT"),
    ("collector = 'collector.example:50051'\n", "run", "collector: give tls_ca, tls_cert and tls_key"),
    ("collector = '127.0.0.1:1'\n[run]\nlabel = ['org']\n", "run", "label: Value error, 'org' is not KEY=VALUE"),
    ("collector = '127.0.0.1:1'\n[run]\ninterval = 0\n", "run", "interval: Input should be greater than or equal to 1"),
    ("collector = '127.0.0.1:1'\n[run]\nlocal = false\n", "run", "nothing to scan"),
    ("", "run", "collector: give --collector HOST:PORT"),
])
def test_config_errors_name_file_key_and_problem(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    result = subprocess.run([*AGENT, "--config", str(path), "run"], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("ESTATE_AGENT_")})
    assert result.returncode == 2
    prefix = f"estate-agent: {path}: " if where == "file" else "estate-agent: run: "
    assert result.stderr.startswith(prefix) and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_scan_does_not_import_the_service_libraries(tmp_path: Path) -> None:
    probe = ("import sys; from estate.agent import cli; cli.main(['scan', '--root', sys.argv[1], '--output', "
             "'/dev/null']); print(sorted(m for m in ('pydantic', 'prometheus_client', 'duckdb', 'pyarrow') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe, str(HOST_FIXTURES / "debian12")], capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_shipped_example_config_is_valid() -> None:
    from .conftest import REPO

    settings = load(REPO / "deploy" / "config" / "agent.toml")
    assert settings.collector == "collector.example.gov.uk:50051" and settings.tls() is not None
    assert settings.labels["criticality"] == "high" and settings.io_class == "idle"
    assert settings.interval == 86400 and settings.metrics == "127.0.0.1:9465"


@pytest.mark.integration
def test_a_cycle_also_sweeps_an_snmp_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[snmp] in the config: the real net-snmp snmpd answers; its report is spooled beside the host's."""
    import threading

    from estate.agent import transport

    from .snmp_servers import V3_AUTH_KEY, V3_PRIV_KEY, V3_USER, snmpd

    (tmp_path / "snmpd").mkdir()
    with snmpd(tmp_path / "snmpd") as port:
        inventory = tmp_path / "network.yaml"
        inventory.write_text(
            "defaults:\n  timeout: 10\n"
            f"targets:\n  - address: 127.0.0.1\n    port: {port}\n    version: 3\n    user: {V3_USER}\n"
            "    auth_protocol: sha256\n    auth_key_env: TEST_AUTH\n"
            "    priv_protocol: aes\n    priv_key_env: TEST_PRIV\n")
        monkeypatch.setenv("TEST_AUTH", V3_AUTH_KEY)  # the scans inherit the service's environment
        monkeypatch.setenv("TEST_PRIV", V3_PRIV_KEY)
        settings = load(write_config(tmp_path / "agent.toml", "127.0.0.1:9", tmp_path / "spool",
                                     extra=f'snmp_inventory = "{inventory}"\n'))
        assert service.Service(settings, threading.Event()).scan_once() == 2
    spool = transport.Spool(tmp_path / "spool")
    from estate.v1 import inventory_pb2 as pb

    methods = sorted(pb.Method.Name(pb.Inventory.FromString(spool.read(p)).method) for p in spool.pending())
    assert methods == ["METHOD_FILE", "METHOD_SNMP"]
