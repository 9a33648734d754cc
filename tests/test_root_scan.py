"""`estate-agent scan --root DIR` on every captured host tree: the expected OS, and nothing of the live host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.v1 import inventory_pb2 as pb

from .conftest import HOST_FIXTURES, host_fixture_dirs

# Trees whose identity is in recorded command output (Windows registry) are not file trees.
FILE_TREES = [d for d in host_fixture_dirs() if not (d / "commands").is_dir()]


@pytest.mark.parametrize("folder", FILE_TREES, ids=lambda p: p.name)
def test_root_scan_gives_expected_identity_and_no_live_facts(folder: Path) -> None:
    expected = json.loads((folder / "expected.json").read_text())["os"]
    report = build_report(LocalHost(str(folder)), pb.METHOD_FILE)
    assert (report.os.id, report.os.version_id) == (expected["id"], expected.get("version_id", ""))
    # Nothing of the live host: no kernel, no sockets, no processes' runtimes, no hardware, no DMI.
    assert report.os.kernel == "" and not report.listeners and report.host.dmi_product_uuid == ""
    assert not report.host.interfaces and report.host.hardware.cpu_count == 0 and not report.software
    assert report.method == pb.METHOD_FILE


def test_at_least_25_os_releases_weighted_to_legacy() -> None:
    expected = [json.loads((d / "expected.json").read_text())["os"] for d in host_fixture_dirs()]
    releases = {(os_["id"], os_["version_id"]) for os_ in expected if os_.get("id") and os_.get("version_id")}
    assert len(releases) >= 25
    legacy = {("rhel", "5.11"), ("centos", "5.11"), ("rhel", "6.5"), ("centos", "6.7"), ("debian", "7"),
              ("sles", "11.4"), ("ubuntu", "14.04"), ("windows-server", "2008-r2"), ("amzn", "2018.03")}
    assert legacy <= releases


def test_cli_root_scan_of_a_legacy_tree() -> None:
    out = subprocess.run([sys.executable, "-m", "estate.agent.cli", "scan", "--root", str(HOST_FIXTURES / "rhel5")],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    report = json.loads(out)
    assert report["method"] == "METHOD_FILE"
    assert (report["os"]["id"], report["os"]["version_id"], report["os"]["codename"]) == ("rhel", "5.11", "Tikanga")
    assert "no os-release: decided by /etc/redhat-release" in report["os"]["evidence"]
    assert "packages" not in report  # this machine's dpkg database is not mixed in
