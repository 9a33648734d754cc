"""Who may speak for which asset (issue 16), over mTLS with real certificates and the real collector process."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cryptography import x509

from estate.agent import transport
from estate.collector.process import CollectorProcess, start_collector
from estate.collector.security import certs
from estate.collector.security.senders import Sender
from estate.collector.security.trust import Trust, revoke
from estate.collector.store.database import Store
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

pytestmark = pytest.mark.integration
COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]
ISSUED = (
    ["init"],
    ["issue", "--name", "collector", "--role", "collector", "--host", "127.0.0.1"],
    ["issue", "--name", "web01", "--role", "agent"],
    ["issue", "--name", "db02", "--role", "agent"],
    ["issue", "--name", "web01-renewed", "--role", "agent"],
    ["issue", "--name", "scanner1", "--role", "scanner", "--scope-org", "hmrc", "--scope-cidr", "10.0.0.0/8",
     "--scope-method", "ssh"],
    ["issue", "--name", "scanner-unscoped", "--role", "scanner", "--scope-method", "snmp"],
)


def collector_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COLLECTOR_CLI, *argv], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    for argv in ISSUED:
        result = collector_cli("certs", argv[0], "--dir", str(directory), *argv[1:])
        assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture
def collector(tmp_path: Path, pki: Path) -> Iterator[CollectorProcess]:
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log", [
        "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
        "--tls-ca", str(pki / "ca.pem")])
    try:
        yield proc
    finally:
        proc.stop()


def report(asset_id: str, method: pb.Method = pb.METHOD_LOCAL, target: str = "", org: str = "") -> pb.Inventory:
    message = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=asset_id, method=method, agent_version="test")
    message.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc))
    message.host.hostname = asset_id.rsplit(":", 1)[-1]
    if target:
        message.sweep.scanner, message.sweep.inventory = "scan@jump", "inventory.yaml"
        message.sweep.entry, message.sweep.target = message.host.hostname, target
    if org:
        message.labels["org"] = org
    return message


def send(collector: CollectorProcess, pki: Path, name: str, *reports: pb.Inventory) -> list[ingest_pb.Receipt]:
    files = transport.TlsFiles(pki / "ca.pem", pki / f"{name}.pem", pki / f"{name}.key")
    with transport.open_channel(collector.address, files) as channel:
        return transport.stream_reports(channel, [r.SerializeToString() for r in reports], timeout_s=30)


def statuses(receipts: list[ingest_pb.Receipt]) -> list[str]:
    return [ingest_pb.Receipt.Status.Name(r.status) for r in receipts]


def fingerprint_of(pki: Path, name: str) -> str:
    return certs.fingerprint(x509.load_pem_x509_certificate((pki / f"{name}.pem").read_bytes()))


def test_spoofed_report_in_an_agents_spool_is_rejected(collector: CollectorProcess, pki: Path, tmp_path: Path) -> None:
    """The issue's case: a report for fx:rhel5 put in web01's spool and sent with web01's certificate."""
    spool_dir = tmp_path / "spool"
    scan = [sys.executable, "-m", "estate.agent.cli", "scan", "--collector", collector.address, "--spool",
            str(spool_dir), "--tls-ca", str(pki / "ca.pem"), "--tls-cert", str(pki / "web01.pem"),
            "--tls-key", str(pki / "web01.key")]
    first = subprocess.run(scan, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "ACCEPTED" in first.stderr, first.stderr
    forged = report("fx:rhel5")
    forged.os.id, forged.os.version_id = "rhel", "5"
    transport.Spool(spool_dir).add(forged.report_id, forged.SerializeToString())
    second = subprocess.run(scan, capture_output=True, text=True, timeout=120)
    assert "REJECTED" in second.stderr, second.stderr
    assert "may not report asset 'fx:rhel5'" in second.stderr
    assert collector.stop() == 0
    con = duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM reports WHERE asset_id = 'fx:rhel5'").fetchone() == (0,)
        bound = con.execute("SELECT b.asset_id, b.how, b.subject FROM asset_bindings b").fetchall()
        stored = con.execute("SELECT DISTINCT asset_id, sender_kind, sender_subject, sender_fingerprint, sender_role "
                             "FROM reports").fetchall()
    finally:
        con.close()
    assert len(bound) == 1 and bound[0][1] == "first-contact" and bound[0][2] == "OU=agent,CN=web01"
    assert stored == [(bound[0][0], "certificate", "OU=agent,CN=web01", fingerprint_of(pki, "web01"), "agent")]


def test_agent_is_bound_to_one_asset_and_the_reason_names_both(collector: CollectorProcess, pki: Path) -> None:
    receipts = send(collector, pki, "web01", report("machine-id:web01"), report("fx:rhel5"), report("machine-id:web01"))
    assert statuses(receipts) == ["ACCEPTED", "REJECTED", "ACCEPTED"]
    assert "'machine-id:web01'" in receipts[1].reason and "'fx:rhel5'" in receipts[1].reason
    assert "CN=web01" in receipts[1].reason
    # Another agent certificate may not take over a bound asset on first contact...
    taken = send(collector, pki, "db02", report("machine-id:web01"))
    assert statuses(taken) == ["REJECTED"]
    assert "bound to another certificate OU=agent,CN=web01" in taken[0].reason and "CN=db02" in taken[0].reason
    # ...but once enrolled for it (a replacement certificate), it may, and the old binding stays its own.
    result = collector_cli("enrol", "--cert", str(pki / "web01-renewed.pem"), "--asset", "machine-id:web01",
                           "--trust-dir", str(collector.log.parent))
    assert result.returncode == 0, result.stderr
    assert statuses(send(collector, pki, "web01-renewed", report("machine-id:web01"))) == ["ACCEPTED"]


def test_enrolled_ahead_binding_wins_over_first_contact(collector: CollectorProcess, pki: Path) -> None:
    result = collector_cli("enrol", "--cert-fingerprint", fingerprint_of(pki, "db02"), "--asset", "machine-id:db02",
                           "--db", str(collector.log.parent / "estate.duckdb"))
    assert result.returncode == 0, result.stderr
    receipts = send(collector, pki, "db02", report("machine-id:other"), report("machine-id:db02"))
    assert statuses(receipts) == ["REJECTED", "ACCEPTED"]
    assert "bound to asset 'machine-id:db02' (enrolled)" in receipts[0].reason


def test_revoked_certificate_is_refused(collector: CollectorProcess, pki: Path, tmp_path: Path) -> None:
    assert statuses(send(collector, pki, "web01", report("machine-id:web01"))) == ["ACCEPTED"]
    result = collector_cli("certs", "revoke", "--cert", str(pki / "web01.pem"), "--reason", "laptop stolen",
                           "--db", str(tmp_path / "estate.duckdb"))
    assert result.returncode == 0, result.stderr
    with pytest.raises(transport.TransportError, match=r"UNAUTHENTICATED: certificate OU=agent,CN=web01 .* "
                                                       r"was revoked on .*\(laptop stolen\)"):
        send(collector, pki, "web01", report("machine-id:web01"))
    assert collector.stop() == 0
    con = duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM reports").fetchone() == (1,)
        revoked = con.execute("SELECT fingerprint, subject, reason FROM certificate_revocations").fetchall()
    finally:
        con.close()
    assert revoked == [(fingerprint_of(pki, "web01"), "OU=agent,CN=web01", "laptop stolen")]


def test_scanner_within_and_outside_its_scopes(collector: CollectorProcess, pki: Path) -> None:
    receipts = send(collector, pki, "scanner1",
                    report("ssh:10.1.2.3:22", pb.METHOD_SSH, "10.1.2.3:22", org="hmrc"),
                    report("ssh:10.1.2.4:22", pb.METHOD_SSH, "10.1.2.4:22", org="hmrc"),
                    report("ssh:192.168.7.1:22", pb.METHOD_SSH, "192.168.7.1:22", org="hmrc"),
                    report("ssh:10.1.2.5:22", pb.METHOD_SSH, "10.1.2.5:22", org="dwp"),
                    report("snmp:10.1.2.6", pb.METHOD_SNMP, "10.1.2.6:161", org="hmrc"),
                    report("machine-id:scanner", pb.METHOD_LOCAL, org="hmrc"))
    assert statuses(receipts) == ["ACCEPTED", "ACCEPTED", "REJECTED", "REJECTED", "REJECTED", "REJECTED"]
    assert "at 192.168.7.1: its certificate allows cidr 10.0.0.0/8" in receipts[2].reason
    assert "of org 'dwp': its certificate allows org hmrc" in receipts[3].reason
    assert "over SNMP: its certificate allows method ssh" in receipts[4].reason
    assert "not LOCAL reports" in receipts[5].reason


def test_collector_configuration_narrows_a_scanner(tmp_path: Path, pki: Path) -> None:
    scopes = tmp_path / "scanners.yaml"
    scopes.write_text("scanners:\n  scanner1:\n    cidrs: [10.1.0.0/16]\n")
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log", [
        "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
        "--tls-ca", str(pki / "ca.pem"), "--scanner-scopes", str(scopes)])
    try:
        receipts = send(proc, pki, "scanner1", report("ssh:10.1.0.9:22", pb.METHOD_SSH, "10.1.0.9:22", org="hmrc"),
                        report("ssh:10.2.0.9:22", pb.METHOD_SSH, "10.2.0.9:22", org="hmrc"))
    finally:
        proc.stop()
    assert statuses(receipts) == ["ACCEPTED", "REJECTED"]
    assert "its collector's --scanner-scopes entry allows cidr 10.1.0.0/16" in receipts[1].reason


def test_bad_scanner_scopes_file_is_named(tmp_path: Path, pki: Path) -> None:
    scopes = tmp_path / "scanners.yaml"
    scopes.write_text("scanners:\n  scanner1:\n    cidrs: [10.1.0.0/33]\n")
    result = collector_cli("serve", "--db", str(tmp_path / "x.duckdb"), "--scanner-scopes", str(scopes))
    assert result.returncode == 2
    assert "scanners.yaml: scanners.scanner1: scope cidr '10.1.0.0/33'" in result.stderr


def test_scanner_scopes_orgs_are_checked_against_the_vocabulary(tmp_path: Path) -> None:
    """A misspelt organisation in the --scanner-scopes file would have that scanner's every report refused."""
    scopes = tmp_path / "scanners.yaml"
    scopes.write_text("scanners:\n  scanner1:\n    orgs: [hmrc, HMRC]\n")
    result = collector_cli("serve", "--db", str(tmp_path / "x.duckdb"), "--scanner-scopes", str(scopes))
    assert result.returncode == 2
    assert "scanners.yaml: scanners.scanner1: org HMRC: 'HMRC' is not in the vocabulary for org" in result.stderr
    assert "did you mean 'hmrc'?" in result.stderr


def test_certificate_lifetime_and_scopes_are_in_the_certificate(pki: Path, tmp_path: Path) -> None:
    result = collector_cli("certs", "issue", "--dir", str(pki), "--name", "short", "--role", "agent", "--days", "7")
    assert result.returncode == 0, result.stderr
    cert = x509.load_pem_x509_certificate((pki / "short.pem").read_bytes())
    assert (cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)).days in (6, 7)
    scanner = x509.load_pem_x509_certificate((pki / "scanner1.pem").read_bytes())
    scopes = certs.scopes_of(scanner)
    assert scopes.orgs == {"hmrc"} and [str(c) for c in scopes.cidrs] == ["10.0.0.0/8"] and scopes.methods == {"ssh"}
    for argv, expected in ((["--role", "agent", "--days", "0"], "a lifetime from 1 to 825 days"),
                           (["--role", "scanner"], "a scanner needs at least one --scope-"),
                           (["--role", "agent", "--scope-org", "x"], "scopes are for role scanner"),
                           (["--role", "scanner", "--scope-cidr", "10.0.0.0/99"], "not a CIDR range")):
        bad = collector_cli("certs", "issue", "--dir", str(pki), "--name", "bad", *argv)
        assert bad.returncode == 2 and expected in bad.stderr, bad.stderr


def test_scope_org_must_be_an_org_of_the_vocabulary(pki: Path, tmp_path: Path) -> None:
    """A scanner scoped to a misspelt organisation would have every report refused: it is not issued."""
    issue = ("certs", "issue", "--dir", str(pki), "--role", "scanner")
    typo = collector_cli(*issue, "--name", "typo", "--scope-org", "HMRC")
    assert typo.returncode == 2 and not (pki / "typo.pem").exists()
    assert "--scope-org HMRC: 'HMRC' is not in the vocabulary for org (did you mean 'hmrc'?)" in typo.stderr
    # An organisation's own vocabulary (a --rules-dir layer) is the one in force.
    local = tmp_path / "rules.d"
    local.mkdir()
    (local / "vocabulary.yaml").write_text("labels:\n  org:\n    values: [nhs-digital]\n")
    own = collector_cli(*issue, "--name", "own", "--scope-org", "nhs-digital", "--rules-dir", str(local))
    assert own.returncode == 0, own.stderr
    shipped = collector_cli(*issue, "--name", "shipped", "--scope-org", "nhs-digital")
    assert shipped.returncode == 2 and "not in the vocabulary for org" in shipped.stderr


def test_revoke_and_enrol_refuse_bad_input(tmp_path: Path, pki: Path) -> None:
    bad = collector_cli("certs", "revoke", "--cert-fingerprint", "abc", "--trust-dir", str(tmp_path))
    assert bad.returncode == 2 and "64 hexadecimal digits" in bad.stderr
    bad = collector_cli("enrol", "--cert", str(pki / "scanner1.pem"), "--asset", "x", "--trust-dir", str(tmp_path))
    assert bad.returncode == 2 and "only agent certificates are bound" in bad.stderr
    bad = collector_cli("enrol", "--cert", str(pki / "ca.key"), "--asset", "x", "--trust-dir", str(tmp_path))
    assert bad.returncode == 2 and "ca.key: not a PEM certificate" in bad.stderr
    assert not (tmp_path / "enrolled.jsonl").exists() and not (tmp_path / "revoked.jsonl").exists()


def test_ingest_records_who_loaded_each_file(tmp_path: Path) -> None:
    from google.protobuf import json_format

    path = tmp_path / "host.json"
    path.write_text(json_format.MessageToJson(report("machine-id:airgapped", pb.METHOD_FILE)))
    result = collector_cli("ingest", "--db", str(tmp_path / "estate.duckdb"), str(path))
    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT sender_kind, sender_user, sender_file, sender_fingerprint FROM reports").fetchone()
    finally:
        con.close()
    assert row is not None and row[0] == "file" and row[2] == str(path.resolve()) and row[3] is None
    user, _, host = row[1].partition("@")
    assert user and host


def test_scanner_without_any_scope_is_refused_when_it_connects(collector: CollectorProcess, pki: Path) -> None:
    # `certs issue` refuses a scanner without scopes; a CA used by hand could still make one.
    certs.issue(pki, "scanner-bare", "scanner")
    with pytest.raises(transport.TransportError, match=r"PERMISSION_DENIED: scanner certificate OU=scanner,"
                                                       r"CN=scanner-bare .* has no scopes"):
        send(collector, pki, "scanner-bare", report("ssh:10.1.1.1:22", pb.METHOD_SSH, "10.1.1.1:22", org="hmrc"))


# --- the same checks on the store directly: group commits, revocation mid-stream, damaged trust files ---------

def _agent(name: str, trust: Trust | None = None) -> Sender:
    return Sender(kind="certificate", subject=f"OU=agent,CN={name}", role="agent",
                  fingerprint=hashlib.sha256(name.encode()).hexdigest(), trust=trust)


def test_one_group_binds_a_new_certificate_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "estate.duckdb")
    try:
        sender = _agent("web01")
        outcomes = store.write_reports([report("a:1"), report("a:2"), report("a:1")], via="grpc",
                                       senders=[sender, sender, sender])
        assert [o.status for o in outcomes] == ["ACCEPTED", "REJECTED", "ACCEPTED"]
        assert "bound to asset 'a:1' (first-contact); it may not report asset 'a:2'" in outcomes[1].reason
        assert store.con.execute("SELECT count(*) FROM asset_bindings").fetchone() == (1,)
    finally:
        store.close()


def test_revocation_applies_to_a_stream_already_open(tmp_path: Path) -> None:
    store = Store(tmp_path / "estate.duckdb")
    try:
        sender = _agent("web01", Trust(tmp_path))
        assert store.write_reports([report("a:1")], via="grpc", senders=[sender])[0].status == "ACCEPTED"
        revoke(tmp_path, sender.fingerprint, sender.subject, "key leaked")
        outcome = store.write_reports([report("a:1")], via="grpc", senders=[sender])[0]
        assert outcome.status == "REJECTED" and "was revoked on" in outcome.reason and "(key leaked)" in outcome.reason
        assert store.con.execute("SELECT reason FROM certificate_revocations").fetchall() == [("key leaked",)]
    finally:
        store.close()


def test_damaged_trust_file_lines_are_named_and_the_rest_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = _agent("good")
    revoked = _agent("bad")
    lines = ["{not json", json.dumps({"fingerprint": "xyz", "at": "2026-01-01T00:00:00+00:00"}), "[1, 2]",
             json.dumps({"fingerprint": revoked.fingerprint, "at": "2026-01-01T00:00:00+00:00", "reason": "r"})]
    (tmp_path / "revoked.jsonl").write_text("\n".join(lines) + "\n")
    trust = Trust(tmp_path)
    with caplog.at_level(logging.ERROR, logger="estate.collector"):
        assert trust.revocation(revoked.fingerprint) is not None
    assert trust.revocation(good.fingerprint) is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("revoked.jsonl:1: entry skipped" in m for m in messages), messages
    assert any("revoked.jsonl:2: entry skipped: fingerprint 'xyz'" in m for m in messages), messages
    assert any("revoked.jsonl:3: entry skipped: not a JSON object" in m for m in messages), messages


def test_report_and_export_group_by_the_effective_labels(collector: CollectorProcess, pki: Path,
                                                          tmp_path: Path) -> None:
    """The estate report, the Summary and the export group assets by the labels the collector kept
    (vocabulary and ownership rules), not by what the agent sent: a refused org=HMRC is no organisation."""
    assert statuses(send(collector, pki, "web01", report("machine-id:web01", org="HMRC"))) == ["ACCEPTED"]
    assert statuses(send(collector, pki, "db02", report("machine-id:db02", org="hmrc"))) == ["ACCEPTED"]
    assert collector.stop() == 0
    db = tmp_path / "estate.duckdb"
    done = collector_cli("report", "--db", str(db), "--format", "json", "--out", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    groups = {row["key"][0] for row in json.loads((tmp_path / "r.json").read_text())["tables"]["status"]["rows"]}
    assert groups == {"hmrc", "(no label)"}
    done = collector_cli("export", "--db", str(db), "--format", "parquet", "--out", str(tmp_path / "export"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "export" / "assets").iterdir()) == [
        "org=hmrc", "org=unlabelled"]


def test_snapshot_and_export_without_tls_files_say_the_collector_needs_them(collector: CollectorProcess,
                                                                           tmp_path: Path) -> None:
    """An mTLS collector holds the file: the command names the missing --tls-* files (role collector)
    instead of gRPC's 'Socket closed'."""
    db = str(tmp_path / "estate.duckdb")
    for argv in (["snapshot", "--db", db, "--out", str(tmp_path / "s.duckdb")],
                 ["export", "--db", db, "--format", "csv", "--out", str(tmp_path / "csv")]):
        done = collector_cli(*argv)
        assert done.returncode == 1
        assert "uses mTLS: give --tls-cert, --tls-key and --tls-ca" in done.stderr, done.stderr
