"""mTLS between agent and collector, with roles from the client certificate, on a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from estate.agent import transport
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.collector.process import CollectorProcess, start_collector
from estate.collector.security import certs
from estate.v1 import inventory_pb2 as pb

pytestmark = pytest.mark.integration
COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA and its certificates for the whole module (four `certs` runs); the tests only read them."""
    directory = tmp_path_factory.mktemp("tls") / "pki"
    for argv in (["init"], ["issue", "--name", "collector", "--role", "collector", "--host", "127.0.0.1",
                            "--host", "localhost"],
                 ["issue", "--name", "agent1", "--role", "agent"], ["issue", "--name", "alice", "--role", "analyst"]):
        subprocess.run([*COLLECTOR_CLI, "certs", argv[0], "--dir", str(directory), *argv[1:]], check=True,
                       capture_output=True)
    return directory


@pytest.fixture
def tls_collector(tmp_path: Path, pki: Path) -> Iterator[CollectorProcess]:
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log", [
        "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
        "--tls-ca", str(pki / "ca.pem")])
    try:
        yield proc
    finally:
        proc.stop()


def _send_as(collector: CollectorProcess, pki: Path, name: str, batched: bool = False) -> list[object]:
    files = transport.TlsFiles(pki / "ca.pem", pki / f"{name}.pem", pki / f"{name}.key")
    with transport.open_channel(collector.address, files) as channel:
        report = build_report(LocalHost(), pb.METHOD_LOCAL)
        stream = transport.stream_batches if batched else transport.stream_reports
        return list(stream(channel, [report.SerializeToString()], timeout_s=20))


def test_keys_are_private_and_roles_recorded(pki: Path) -> None:
    assert (pki / "agent1.key").stat().st_mode & 0o777 == 0o600
    assert certs.role_of((pki / "agent1.pem").read_bytes()) == "agent"
    assert certs.role_of((pki / "alice.pem").read_bytes()) == "analyst"
    again = subprocess.run([*COLLECTOR_CLI, "certs", "init", "--dir", str(pki)], capture_output=True, text=True)
    assert again.returncode == 2 and "not overwriting" in again.stderr


def test_agent_certificate_may_ingest(tls_collector: CollectorProcess, pki: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "estate.agent.cli", "scan", "--collector", tls_collector.address,
                             "--spool", str(tmp_path / "spool"), "--tls-ca", str(pki / "ca.pem"),
                             "--tls-cert", str(pki / "agent1.pem"), "--tls-key", str(pki / "agent1.key")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ACCEPTED" in result.stderr


@pytest.mark.parametrize("batched", [False, True], ids=["Stream", "StreamBatches"])
def test_analyst_certificate_may_not_ingest(tls_collector: CollectorProcess, pki: Path, batched: bool) -> None:
    with pytest.raises(transport.TransportError, match=r"PERMISSION_DENIED.*role 'analyst'"):
        _send_as(tls_collector, pki, "alice", batched)


def test_no_client_certificate_and_plaintext_are_refused(tls_collector: CollectorProcess, pki: Path) -> None:
    report = build_report(LocalHost(), pb.METHOD_LOCAL).SerializeToString()
    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
    with grpc.secure_channel(tls_collector.address, creds) as channel, pytest.raises(transport.TransportError):
        transport.stream_reports(channel, [report], timeout_s=5)
    with transport.open_channel(tls_collector.address, None) as channel, pytest.raises(transport.TransportError):
        transport.stream_reports(channel, [b""], timeout_s=5)


def test_plaintext_listen_beyond_loopback_is_refused(tmp_path: Path) -> None:
    result = subprocess.run([*COLLECTOR_CLI, "serve", "--db", str(tmp_path / "x.duckdb"), "--listen", "0.0.0.0:0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "refusing to listen in plaintext" in result.stderr


@pytest.mark.parametrize("cert, key, ca, expected", [
    ("ca.key", "collector.key", "ca.pem", "ca.key: not a PEM certificate"),
    ("collector.pem", "agent1.key", "ca.pem", "agent1.key is not the private key of"),
    ("collector.pem", "collector.key", "collector.key", "collector.key: not a PEM certificate"),
])
def test_unusable_tls_files_are_named(tmp_path: Path, pki: Path, cert: str, key: str, ca: str, expected: str) -> None:
    """A wrong certificate or key file is named, not a gRPC RuntimeError traceback."""
    result = subprocess.run([*COLLECTOR_CLI, "serve", "--db", str(tmp_path / "x.duckdb"), "--listen", "127.0.0.1:0",
                             "--tls-cert", str(pki / cert), "--tls-key", str(pki / key), "--tls-ca", str(pki / ca)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_or_out_of_range_is_a_clear_error(tmp_path: Path) -> None:
    """A second collector on a port in use says so; port 99999 is refused (gRPC would wrap it to 34463)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for listen, expected in ((f"127.0.0.1:{port}", "could not listen on"),
                                 ("127.0.0.1:99999", "the port must be a number from 0 to 65535")):
            result = subprocess.run([*COLLECTOR_CLI, "serve", "--db", str(tmp_path / "x.duckdb"), "--listen", listen],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 2, result.stderr
            assert expected in result.stderr and "Traceback" not in result.stderr
