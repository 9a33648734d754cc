"""Recorded real devices served by snmpsim: vendor, OS and version for every OS family we cover.

One snmpsim serves every tests/fixtures/snmp/*.snmprec (community = file base name); a new
recording with its .json (source and expected facts) is a new test case, with no code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.agent.snmp import rules as rules_mod
from estate.agent.snmp import sweep
from estate.agent.snmp.client import Credentials, Target
from estate.v1 import inventory_pb2 as pb

from .conftest import FIXTURES
from .snmp_servers import snmpsim

SNMP_FIXTURES = FIXTURES / "snmp"
CASES = sorted(SNMP_FIXTURES.glob("*.snmprec"))
# Every Device.os family the project promises (BRIEF naming contract), by vendor.
FAMILIES = {
    ("cisco", "ios"), ("cisco", "iosxe"), ("cisco", "iosxr"), ("cisco", "nxos"), ("cisco", "asa"), ("cisco", "ftd"),
    ("juniper", "junos"), ("arista", "eos"), ("hpe", "procurve"), ("hpe", "comware"), ("aruba", "arubaos"),
    ("aruba", "aoscx"), ("fortinet", "fortios"), ("paloalto", "panos"), ("checkpoint", "gaia"), ("f5", "bigip"),
    ("dell", "dellos9"), ("dell", "powerconnect"), ("dell", "idrac"), ("brocade", "fabricos"),
    ("net-snmp", "linux"), ("microsoft", "windows"), ("ibm", "aix"), ("vmware", "esxi"), ("hp", "printer"),
    ("ricoh", "printer"), ("xerox", "printer"), ("apc", "apc"), ("3com", "3com"), ("avaya", "avaya"),
    ("enterasys", "enterasys"),
    # issue 13: the families a government estate holds beyond the network core
    ("cisco", "ucos"), ("cisco", "wlc"), ("cisco", "cimc"), ("dell", "datadomain"), ("dell", "compellent"),
    ("brocade", "ironware"), ("netapp", "ontap"), ("purestorage", "purity"), ("hpe", "ilo"), ("hpe", "3par"),
    ("hpe", "nimbleos"), ("citrix", "netscaler"), ("huawei", "vrp"), ("extreme", "exos"),
    ("mikrotik", "routeros"), ("ubiquiti", "edgeos"), ("vmware", "vcenter"), ("lenovo", "imm"),
    ("oracle", "solaris"), ("illumos", "openindiana"), ("freebsd", "freebsd"), ("ubiquiti", "airos"),
}


@pytest.fixture(scope="module")
def sim_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with snmpsim([SNMP_FIXTURES], tmp_path_factory.mktemp("snmpsim")) as port:
        yield port


@pytest.fixture(scope="module")
def reports(sim_port: int) -> dict[str, sweep.Result]:
    """Every recorded device read in one sweep, as the agent would read a cupboard of them."""
    rules = rules_mod.load_rules()
    targets = [Target(address="127.0.0.1", port=sim_port, timeout_s=10.0, retries=1,
                      credentials=Credentials(version="2c", community=case.stem)) for case in CASES]
    results = sweep.run_sweep(targets, rules, concurrency=8, progress=False)
    return {r.target.credentials.community: r for r in results}


def test_every_os_family_has_a_recording() -> None:
    covered = {(e["expected"]["vendor"], e["expected"]["os"])
               for e in (json.loads(p.with_suffix(".json").read_text()) for p in CASES)}
    assert covered >= FAMILIES, f"no recording for {sorted(FAMILIES - covered)}"


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_recorded_device(case: Path, reports: dict[str, sweep.Result]) -> None:
    meta = json.loads(case.with_suffix(".json").read_text())
    assert meta["source"]["path"] and meta["source"]["licence"], "each recording says where it came from"
    expected = meta["expected"]
    result = reports[case.stem]
    assert result.status == "ok", result.message
    report = result.report
    assert report is not None and report.method == pb.METHOD_SNMP
    device = report.device
    for field in ("vendor", "os", "version", "model", "serial", "hardware_revision", "firmware_revision", "engine_id"):
        if field in expected:
            assert getattr(device, field) == expected[field], field
    for field in ("id", "edition", "build"):
        if f"os_{field}" in expected:
            assert getattr(report.os, field) == expected[f"os_{field}"], f"os.{field}"
    if expected.get("version"):
        assert not any("refused" in e.message for e in report.errors if e.evidence == device.evidence["version"])
    if "packages" in expected:
        assert len(report.packages) == expected["packages"]
        assert {p.manager for p in report.packages} == {"hrsw"}
    # Every fact set says which OID it came from.
    for field in ("version", "model", "serial", "sys_descr", "sys_object_id"):
        if getattr(device, field):
            assert device.evidence[field].startswith("1.3.6.1."), field
    assert report.asset_id.startswith(("snmp:", "snmp-serial:", "snmp-address:"))
    assert "\r" not in device.sys_descr
