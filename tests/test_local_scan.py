"""The real agent on this machine: OS identity and exactly dpkg's installed package set."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from estate.agent.hostaccess import LocalHost
from estate.agent.scan import Discoverer, LabelError, build_report, parse_labels, run_discoverers
from estate.v1 import inventory_pb2 as pb

from .conftest import HOST_FIXTURES
from .wire_rows import decode_rows

AGENT = [sys.executable, "-m", "estate.agent.cli"]
DEBIAN = Path("/etc/debian_version").exists()


def dpkg_installed() -> set[tuple[str, str, str]]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n"],
        check=True, capture_output=True, text=True).stdout
    rows = (line.split("\t") for line in out.splitlines())
    return {(name, version, arch) for state, name, version, arch in rows
            if state in ("installed", "triggers-awaited", "triggers-pending")}


@pytest.mark.skipif(not DEBIAN or not shutil.which("dpkg-query"), reason="needs a Debian host")
def test_scan_json_matches_os_release_and_dpkg_query() -> None:
    out = subprocess.run([*AGENT, "scan", "--format", "json"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    # This machine's own release, read here (not the release the suite happened to be written on).
    release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    assert report["os"]["id"] == release["ID"].strip('"\'') == "debian"
    assert report["os"]["version_id"] == release["VERSION_ID"].strip('"\'')
    assert report["method"] == "METHOD_LOCAL"
    found = {(p["name"], p["version"], p.get("architecture", "")) for p in report["packages"] if p["manager"] == "dpkg"}
    assert found == dpkg_installed()
    assert report["asset_id"] and report["host"]["hostname"]


def test_pb_output_file_and_labels(tmp_path: Path) -> None:
    target = tmp_path / "report.pb"
    subprocess.run([*AGENT, "scan", "--format", "pb", "--output", str(target), "--label", "org=cabinet-office",
                    "--label", "criticality=high"], check=True)
    report = pb.Inventory.FromString(target.read_bytes())
    assert dict(report.labels) == {"org": "cabinet-office", "criticality": "high"}
    assert report.collected_at.seconds > 0 and len(report.report_id) == 36
    # Packages travel column by column (agent/wire.py); read back as rows, they are dpkg's.
    assert not report.packages and report.package_columns.count > 0
    rows = decode_rows(target.read_bytes())
    found = {(p.name, p.version, p.architecture) for p in rows.packages if p.manager == "dpkg"}
    assert found == dpkg_installed()


def test_root_scan_never_reads_the_live_host() -> None:
    report = build_report(LocalHost(str(HOST_FIXTURES / "ubuntu14.04")), pb.METHOD_FILE)
    assert (report.os.id, report.os.version_id) == ("ubuntu", "14.04")
    assert report.os.kernel == "" and report.host.dmi_product_uuid == ""
    assert not report.host.interfaces and not report.packages  # this machine's dpkg db is not mixed in
    assert report.method == pb.METHOD_FILE


def test_bad_label_is_a_clear_usage_error() -> None:
    result = subprocess.run([*AGENT, "scan", "--label", "Bad Key=x"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "label key 'Bad Key'" in result.stderr
    with pytest.raises(LabelError, match="KEY=VALUE"):
        parse_labels(["novalue"])


def test_missing_root_is_a_clear_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([*AGENT, "scan", "--root", str(tmp_path / "nope")], capture_output=True, text=True)
    assert result.returncode == 2 and "not a directory" in result.stderr


def test_a_failing_or_hanging_discoverer_is_isolated() -> None:
    def broken(host: object) -> pb.Inventory:
        raise RuntimeError("boom")

    def hangs(host: object) -> pb.Inventory:
        import time
        time.sleep(30)
        return pb.Inventory()

    def works(host: object) -> pb.Inventory:
        return pb.Inventory(packages=[pb.Package(name="x", version="1", manager="dpkg")])

    report = run_discoverers(LocalHost(), (Discoverer("broken", broken), Discoverer("hangs", hangs, 0.2),
                                           Discoverer("works", works)))
    assert [p.name for p in report.packages] == ["x"]
    errors = {e.discoverer: e.message for e in report.errors}
    assert "RuntimeError: boom" in errors["broken"]
    assert "timed out" in errors["hangs"]


def test_report_ids_are_random_version_4_uuids() -> None:
    import uuid

    from estate.agent.scan import random_uuid4

    ids = {random_uuid4() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_agent_version_constant_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    from estate.agent import __version__

    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert f'\nversion = "{__version__}"\n' in pyproject
    assert __version__ == version("legacy-estate")


def test_scan_output_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "host.json"
    result = subprocess.run([*AGENT, "scan", "--output", str(target)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"cannot write {target}" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_tls_file_is_a_usage_error_and_the_report_stays_spooled(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    result = subprocess.run([*AGENT, "scan", "--collector", "127.0.0.1:1", "--spool", str(tmp_path / "spool"),
                             "--tls-ca", str(missing), "--tls-cert", str(missing), "--tls-key", str(missing)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2  # not 75: retrying later cannot fix a missing certificate
    assert f"cannot read TLS file {missing}: No such file or directory" in result.stderr
    assert len(list((tmp_path / "spool").glob("*.report"))) == 1


def test_a_label_value_that_is_not_utf8_is_a_usage_error() -> None:
    result = subprocess.run([*AGENT, "scan", "--output", "/dev/null", b"--label", b"owner=caf\xe9"],
                            capture_output=True, timeout=120)
    assert result.returncode == 2
    assert b"label 'owner': value is not UTF-8 text" in result.stderr and b"Traceback" not in result.stderr
