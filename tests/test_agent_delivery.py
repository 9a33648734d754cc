"""The agent's spool and exit codes against the real collector: torn, oversized and refused cases."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from estate.agent import transport
from estate.collector.process import CollectorProcess, start_collector
from estate.collector.security import certs

from .test_stream_limits import small_report

pytestmark = pytest.mark.integration
AGENT = [sys.executable, "-m", "estate.agent.cli"]
COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]


def stored(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute("SELECT report_id FROM reports").fetchall()}


def flush(collector: str, spool: Path, *tls: str) -> subprocess.CompletedProcess[str]:
    # A collector that is up answers within milliseconds; one that refuses the handshake or is away is
    # only told apart once this wait is over (10 s by default), so the suite waits 3 s.
    return subprocess.run([*AGENT, "flush", "--collector", collector, "--spool", str(spool), "--collector-timeout",
                           "3", *tls], capture_output=True, text=True, timeout=120)


def test_torn_and_oversized_spool_files_are_set_aside_and_the_rest_is_sent(collector: CollectorProcess,
                                                                            tmp_path: Path) -> None:
    """Before: a file torn at a field boundary was accepted with half its packages, and an oversized one
    made every run exit 75 for ever."""
    spool_dir = tmp_path / "spool"
    spool = transport.Spool(spool_dir)
    good, torn, altered = small_report(), small_report(packages=400), small_report()
    oversized = small_report(packages=2, padding=0)
    oversized.labels["padding"] = "x" * (65 * 1024 * 1024)  # over gRPC's 64 MiB message limit too
    for report in (good, torn, altered, oversized):
        spool.add(report.report_id, report.SerializeToString())
    torn_path = spool_dir / f"{torn.report_id}.report"
    data = torn_path.read_bytes()
    torn_path.write_bytes(data[:len(data) // 2])  # cut: a protobuf field boundary is still a valid message
    altered_path = spool_dir / f"{altered.report_id}.report"
    altered_bytes = bytearray(altered_path.read_bytes())
    altered_bytes[-3] ^= 0x01
    altered_path.write_bytes(bytes(altered_bytes))

    result = flush(collector.address, spool_dir)
    assert result.returncode == 0, result.stderr
    assert f"{good.report_id} ACCEPTED" in result.stderr
    assert f"set aside in {spool_dir / 'corrupt'}: torn" in result.stderr
    assert "checksum mismatch" in result.stderr
    assert f"set aside in {spool_dir / 'rejected'}: report is" in result.stderr
    assert (spool_dir / "corrupt" / f"{torn.report_id}.reason.txt").read_text().startswith("torn: ")
    assert (spool_dir / "rejected" / f"{oversized.report_id}.report").exists()
    assert not spool.pending()
    collector.stop()
    assert stored(tmp_path / "estate.duckdb") == {good.report_id}


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    for argv in (["init"], ["issue", "--name", "collector", "--role", "collector", "--host", "127.0.0.1"],
                 ["issue", "--name", "agent1", "--role", "agent"], ["issue", "--name", "alice", "--role", "analyst"]):
        subprocess.run([*COLLECTOR_CLI, "certs", argv[0], "--dir", str(directory), *argv[1:]], check=True,
                       capture_output=True)
    other = tmp_path / "other-ca"
    subprocess.run([*COLLECTOR_CLI, "certs", "init", "--dir", str(other)], check=True, capture_output=True)
    _issue_expired(directory, "expired")
    return directory


def _issue_expired(directory: Path, name: str) -> None:
    """An agent certificate from the right CA whose validity ended yesterday."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert, ca_key = certs._load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                                     x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "agent")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now - dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))


@pytest.fixture
def tls_collector(tmp_path: Path, pki: Path) -> Iterator[CollectorProcess]:
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log", [
        "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
        "--tls-ca", str(pki / "ca.pem")])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.parametrize(("ca", "name", "code", "message"), [
    ("other-ca/ca.pem", "agent1", 78, "the collector's certificate is not trusted"),
    ("pki/ca.pem", "expired", 76, "the collector refused this agent's certificate"),
    ("pki/ca.pem", "alice", 77, "PERMISSION_DENIED: a certificate with role 'analyst' may not ingest"),
])
def test_permanent_refusals_have_their_own_exit_codes(tls_collector: CollectorProcess, tmp_path: Path, ca: str,
                                                      name: str, code: int, message: str) -> None:
    """Before: all of these exited 75 ("retry later"), which the systemd unit counts as success."""
    spool = tmp_path / "spool"
    pki = tmp_path / "pki"
    report = small_report()
    transport.Spool(spool).add(report.report_id, report.SerializeToString())
    result = flush(f"127.0.0.1:{tls_collector.port}", spool, "--tls-ca", str(tmp_path / ca),
                   "--tls-cert", str(pki / f"{name}.pem"), "--tls-key", str(pki / f"{name}.key"))
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "retrying cannot help" in result.stderr
    assert len(transport.Spool(spool).pending()) == 1  # still kept for when it is fixed
    good = flush(f"127.0.0.1:{tls_collector.port}", spool, "--tls-ca", str(pki / "ca.pem"),
                 "--tls-cert", str(pki / "agent1.pem"), "--tls-key", str(pki / "agent1.key"))
    assert good.returncode == 0 and "ACCEPTED" in good.stderr
    logged = [json.loads(line) for line in tls_collector.log.read_text().splitlines() if line.startswith("{")]
    assert [(line["report_id"], line["sender"], line["verdict"]) for line in logged] == [
        (report.report_id, "cert:agent1", "ACCEPTED")]  # the sender: the client certificate's name, as reports.sender


def test_collector_away_is_still_a_retry(tmp_path: Path, pki: Path) -> None:
    spool = tmp_path / "spool"
    report = small_report()
    transport.Spool(spool).add(report.report_id, report.SerializeToString())
    result = flush("127.0.0.1:9", spool, "--tls-ca", str(pki / "ca.pem"), "--tls-cert", str(pki / "agent1.pem"),
                   "--tls-key", str(pki / "agent1.key"))
    assert result.returncode == 75 and "for the next run" in result.stderr


def test_reports_spooled_by_an_older_agent_are_still_delivered(collector: CollectorProcess, tmp_path: Path) -> None:
    """Before this release the spool held raw `REPORT_ID.pb` files: they are framed and sent."""
    spool = tmp_path / "spool"
    spool.mkdir()
    old = small_report()
    (spool / f"{old.report_id}.pb").write_bytes(old.SerializeToString())
    result = flush(collector.address, spool)
    assert result.returncode == 0 and f"{old.report_id} ACCEPTED" in result.stderr, result.stderr
    assert not list(spool.iterdir())
