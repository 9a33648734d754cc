"""Issue 13: host identity from files alone (--root trees and images) and the asset id they get.

The OS cases run as host fixture folders (tests/fixtures/hosts: solaris11.3, openindiana151, omnios_r151012,
smartos_20160330, nexentastor4, debian_stretch_sid, gentoo, arch_no_arch-release,
rocky9_cpe_only, almalinux10_cpe_only) through the contract suite; here are the asset id, the
--asset-id option, and a root scan of a tree without identity sent to a real collector.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from estate.agent.discovery import identity
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import AssetIdError, build_report, check_asset_id
from estate.collector.process import CollectorProcess
from estate.v1 import inventory_pb2 as pb

from .conftest import HOST_FIXTURES

AGENT = [sys.executable, "-m", "estate.agent.cli"]


def copy_tree(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(HOST_FIXTURES / name, target)
    return target


def test_ssh_host_key_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    key = tmp_path / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    printed = subprocess.run(["ssh-keygen", "-l", "-f", str(key) + ".pub"], check=True, capture_output=True,
                             text=True).stdout.split()[1]
    assert identity.ssh_host_key_fingerprint((tmp_path / "ssh_host_ed25519_key.pub").read_text()) == printed
    assert identity.ssh_host_key_fingerprint("ssh-ed25519 not-base64!") == ""
    assert identity.ssh_host_key_fingerprint("") == ""


def test_a_tree_with_only_an_ssh_host_key_is_identified_by_it(tmp_path: Path) -> None:
    root = copy_tree("solaris11.3", tmp_path)
    (root / "etc" / "ssh").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "etc/ssh/ssh_host_ed25519_key")],
                   check=True)
    report = build_report(LocalHost(str(root)), pb.METHOD_FILE)
    expected = identity.ssh_host_key_fingerprint((root / "etc/ssh/ssh_host_ed25519_key.pub").read_text())
    assert report.asset_id == f"ssh-host-key:{expected}"
    assert report.host.asset_id_source == "ssh_host_key (/etc/ssh/ssh_host_ed25519_key.pub)"
    assert (report.os.id, report.os.version_id) == ("solaris", "11.3")


def test_rhel5_host_name_from_sysconfig_network(tmp_path: Path) -> None:
    root = copy_tree("rhel5", tmp_path)
    (root / "etc" / "sysconfig").mkdir()
    (root / "etc" / "sysconfig" / "network").write_text('NETWORKING=yes\nHOSTNAME="payroll-db1.example.org"\n')
    report = build_report(LocalHost(str(root)), pb.METHOD_FILE)
    assert (report.asset_id, report.host.asset_id_source) == ("hostname:payroll-db1.example.org", "hostname")


def test_a_generic_host_name_is_not_an_identity(tmp_path: Path) -> None:
    root = copy_tree("omnios_r151012", tmp_path)
    (root / "etc" / "nodename").write_text("localhost\n")
    report = build_report(LocalHost(str(root)), pb.METHOD_FILE)
    assert report.asset_id == f"file-tree:{socket.gethostname()}:{root.resolve()}"
    assert report.host.asset_id_source == "root_path"
    assert any("names no particular host" in w for w in report.host.identity_warnings)
    assert any("give --asset-id for a lasting one" in e.message for e in report.errors)


@pytest.mark.parametrize("value", ["", "has space", "x" * 257, "-leading-dash", "tab\there", "é-accent", "cmdb:1\n"])
def test_bad_asset_ids_are_refused_with_the_rule(value: str) -> None:
    with pytest.raises(AssetIdError, match="use 1 to 256 characters"):
        check_asset_id(value)


def test_asset_id_option_wins_and_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    root = copy_tree("smartos_20160330", tmp_path)
    out = subprocess.run([*AGENT, "scan", "--root", str(root), "--asset-id", "cmdb:CI0012345"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    report = json.loads(out)
    assert (report["asset_id"], report["host"]["asset_id_source"]) == ("cmdb:CI0012345", "asset_id_option")
    assert (report["os"]["family"], report["os"]["id"]) == ("illumos", "smartos")
    bad = subprocess.run([*AGENT, "scan", "--root", str(root), "--asset-id", "two words"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--asset-id 'two words': use 1 to 256 characters" in bad.stderr


@pytest.mark.integration
def test_root_scan_of_a_tree_without_machine_id_is_accepted(collector: CollectorProcess, tmp_path: Path) -> None:
    """Before issue 13 such a report had an empty asset_id and the collector rejected it."""
    root = copy_tree("nexentastor4", tmp_path)
    done = subprocess.run([*AGENT, "scan", "--root", str(root), "--collector", collector.address,
                           "--spool", str(tmp_path / "spool"), "--output", str(tmp_path / "report.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert " ACCEPTED" in done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["asset_id"].startswith("file-tree:") and report["os"]["id"] == "nexentastor"
