"""A real net-snmp snmpd on loopback: this machine's OS and dpkg packages come back over SNMP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.agent.snmp import rules as rules_mod
from estate.agent.snmp import sweep
from estate.agent.snmp.client import Credentials, Target
from estate.collector.process import CollectorProcess

from .snmp_servers import COMMUNITY, V3_AUTH_KEY, V3_PRIV_KEY, V3_USER, snmpd

pytestmark = pytest.mark.integration

V3 = Credentials(version="3", user=V3_USER, auth_protocol="sha256", auth_key=V3_AUTH_KEY,
                 priv_protocol="aes", priv_key=V3_PRIV_KEY)


@pytest.fixture(scope="module")
def snmpd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with snmpd(tmp_path_factory.mktemp("snmpd")) as port:
        yield port


def dpkg_packages() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """A fresh reading of dpkg's database: (installed ii/hi, every package it knows), as (name, version)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    installed = {(name, version) for abbrev, name, version in rows if abbrev.strip() in ("ii", "hi")}
    return installed, {(name, version) for _, name, version in rows}


def read(port: int, credentials: Credentials, timeout_s: float = 10.0, retries: int = 1) -> sweep.Result:
    target = Target(address="127.0.0.1", port=port, credentials=credentials, timeout_s=timeout_s, retries=retries)
    [result] = sweep.run_sweep([target], rules_mod.load_rules(), progress=False)
    return result


@pytest.mark.parametrize("credentials", [Credentials(version="2c", community=COMMUNITY), V3],
                         ids=["v2c", "v3-authpriv"])
def test_this_machine_over_snmp(snmpd_port: int, credentials: Credentials) -> None:
    result = read(snmpd_port, credentials)
    assert result.status == "ok", result.message
    report = result.report
    assert report is not None
    device = report.device
    assert (device.vendor, device.os) == ("net-snmp", "linux")
    assert device.version == os.uname().release
    assert device.sys_name == "estate-snmpd-test" and device.sys_location == "test rack"
    assert report.asset_id == f"snmp:{device.engine_id}" and len(device.engine_id) >= 10
    got = {(p.name, p.version) for p in report.packages}
    assert {p.manager for p in report.packages} == {"hrsw"}
    # net-snmp reads the dpkg database: every installed package comes back. It also lists packages
    # removed with their configuration kept (status rc), which SNMP cannot tell apart (README).
    installed, known = dpkg_packages()
    assert installed <= got <= known
    assert not report.errors


def test_wrong_community_is_a_clear_no_response(snmpd_port: int) -> None:
    result = read(snmpd_port, Credentials(version="2c", community="not-the-community"), timeout_s=1.0, retries=0)
    assert result.status == "no-response" and "community is not accepted" in result.message


def test_wrong_v3_auth_key_is_refused_by_name(snmpd_port: int) -> None:
    creds = Credentials(version="3", user=V3_USER, auth_protocol="sha256", auth_key="wrong-auth-key",
                        priv_protocol="aes", priv_key=V3_PRIV_KEY)
    result = read(snmpd_port, creds, timeout_s=2.0)
    assert result.status == "auth" and "credentials refused" in result.message


def test_wrong_v3_priv_key_says_what_it_may_be(snmpd_port: int) -> None:
    creds = Credentials(version="3", user=V3_USER, auth_protocol="sha256", auth_key=V3_AUTH_KEY,
                        priv_protocol="aes", priv_key="wrong-priv-key")
    result = read(snmpd_port, creds, timeout_s=1.0, retries=0)
    assert result.status == "no-response" and "privacy key" in result.message


def test_command_line_end_to_end_to_the_collector(snmpd_port: int, collector: CollectorProcess,
                                                  tmp_path: Path) -> None:
    """`estate-agent snmp --inventory`: credentials from the environment, reports to the collector."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "defaults:\n  timeout: 10\n  labels: {department: test}\n"
        "targets:\n"
        f"  - address: 127.0.0.1\n    port: {snmpd_port}\n    version: 3\n    user: {V3_USER}\n"
        "    auth_protocol: sha256\n    auth_key_env: TEST_AUTH\n    priv_protocol: aes\n    priv_key_env: TEST_PRIV\n")
    env = {**os.environ, "TEST_AUTH": V3_AUTH_KEY, "TEST_PRIV": V3_PRIV_KEY}
    out = tmp_path / "reports.jsonl"
    done = subprocess.run([sys.executable, "-m", "estate.agent.cli", "snmp", "--inventory", str(inventory),
                           "--output", str(out), "--collector", collector.address, "--spool", str(tmp_path / "spool"),
                           "--no-progress"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ok: net-snmp linux" in done.stderr
    assert "ACCEPTED" in done.stderr
    assert V3_AUTH_KEY not in done.stderr + done.stdout
    [line] = out.read_text().splitlines()
    report = json.loads(line)
    assert report["method"] == "METHOD_SNMP" and report["labels"] == {"department": "test"}
    # Who swept it and from which inventory entry (issue 16).
    assert report["sweep"]["inventory"] == str(inventory) and report["sweep"]["entry"] == "targets[0]"
    assert report["sweep"]["target"] == f"127.0.0.1:{snmpd_port}" and "@" in report["sweep"]["scanner"]
    assert not list((tmp_path / "spool").glob("*.report"))
