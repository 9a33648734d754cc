"""Network, storage and BMC operating systems found over SNMP (issue 12 item 5): the shipped device
matchers turn what the detection rules report into a product and cycle, and the hand-written
lifecycles (rules/lifecycles/own/) give the verdict each vendor date implies.

Devices come from the real recordings in tests/fixtures/snmp/ (their .json names the LibreNMS
capture and holds what the detection rules make of it: vendor, os, version, model; test_snmp_devices
checks that against snmpsim) or, for trains the recordings lack, from version strings in the same
shapes. Each case names the vendor statement it checks against."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.collector.ruleset.rules import RuleErrors, load_rules
from estate.collector.scoring.scorer import score
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .conftest import REPO
from .rulekit import report, seeded, small_rules

AS_OF = dt.date(2026, 11, 24)
SNMP_FIXTURES = REPO / "tests" / "fixtures" / "snmp"


def recorded(asset_id: str, fixture: str) -> pb.Inventory:
    """A report carrying the device the detection rules make of a recorded SNMP walk."""
    expected = json.loads((SNMP_FIXTURES / f"{fixture}.json").read_text())["expected"]
    return device(asset_id, expected["vendor"], expected["os"], expected["version"], expected.get("model", ""))


def device(asset_id: str, vendor: str, os: str, version: str, model: str = "") -> pb.Inventory:
    inv = report(asset_id, device=(vendor, os, version))
    inv.device.model = model
    return inv


# asset -> (report, expected product, expected cycle or None for unknown, expected status at AS_OF)
CASES: dict[str, tuple[pb.Inventory, str, str | None, str]] = {
    # --- recorded devices (tests/fixtures/snmp/<name>.json) ---
    # aruba-arubaos_controller: "ArubaOS Version 6.4.4.4-4.2.3.1"; ArubaOS 6.x is past End of Support.
    "arubaos-6.4": (recorded("n:1", "aruba-arubaos_controller"), "arubaos", "6", "eol"),
    # aruba-aoscx_8325: "GL.10.04.2000"; AOS-CX 10.04 (first released 2019) is past the 5 years
    # Aruba supports a Long Supported Release at most.
    "aoscx-10.04": (recorded("n:2", "aruba-aoscx_8325"), "aruba-aos-cx", "10.04", "eol"),
    # hpe-procurve_stack: "KA.15.03.3004"; the 15.x trains ended before ArubaOS-Switch 16.
    "procurve-15": (recorded("n:3", "hpe-procurve_stack"), "arubaos-switch", "15", "eol"),
    # hpe-comware_5700: "7.1.045, Release 2416"; Comware 7 support follows the hardware: unknown.
    "comware-7": (recorded("n:4", "hpe-comware_5700"), "hpe-comware", None, "unknown"),
    # hpe-ilo_4: firmware "2.50", model "Integrated Lights-Out 4"; iLO 4 is not dated: unknown.
    "ilo-4": (recorded("n:5", "hpe-ilo_4"), "hpe-ilo", None, "unknown"),
    # dell-idrac_rac: an iDRAC that reports neither firmware nor model: unknown, never a guess.
    "idrac-bare": (recorded("n:6", "dell-idrac_rac"), "dell-idrac", None, "unknown"),
    # dell-datadomain_dd: sysObjectID only, no version: unknown.
    "datadomain-bare": (recorded("n:7", "dell-datadomain_dd"), "dell-data-domain-os", None, "unknown"),
    # purestorage-purity_fa: "Purity//FA 6.5.6"; 6.x is not dated: unknown.
    "purity-6.5": (recorded("n:8", "purestorage-purity_fa"), "pure-purity-fa", None, "unknown"),
    # cisco-nxos_n5000: "7.0(8)N1(1)"; every 7.0 release is past Cisco's Last Date of Support.
    "nxos-n5k-7.0": (recorded("n:9", "cisco-nxos_n5000"), "cisco-nx-os", "7.0", "eol"),
    # cisco-ftd_fpr: "6.2.0.4"; FTD 6.2 is past Cisco's Last Date of Support.
    "ftd-6.2": (recorded("n:10", "cisco-ftd_fpr"), "cisco-ftd", "6.2", "eol"),
    # cisco-iosxr_asr9k: "5.3.4"; every IOS XR 5.x release is past Cisco's Last Date of Support.
    "iosxr-5.3": (recorded("n:11", "cisco-iosxr_asr9k"), "cisco-ios-xr", "5", "eol"),
    # --- version strings in the recorded shapes, for trains the recordings lack ---
    # NX-OS (endoflife.date cisco-nx-os.md at 1060c3c6, from Cisco's notices): 10.4 End of
    # Vulnerability/Security Support 2028-02-29, more than 180 days after AS_OF: supported.
    "nxos-10.4": (device("m:1", "cisco", "nxos", "10.4(3)F"), "cisco-nx-os", "10.4", "supported"),
    # 10.3: 2027-02-28, within scoring.yaml's 180 days: eol_soon.
    "nxos-10.3": (device("m:2", "cisco", "nxos", "10.3(8)M"), "cisco-nx-os", "10.3", "eol_soon"),
    # 10.2: 2025-02-28, passed.
    "nxos-10.2": (device("m:3", "cisco", "nxos", "10.2(9)M"), "cisco-nx-os", "10.2", "eol"),
    # 10.10 is not 10.1 (short-lived, eol: true): no cycle of its own, unknown.
    "nxos-10.10": (device("m:4", "cisco", "nxos", "10.10(1)"), "cisco-nx-os", None, "unknown"),
    # ACI-mode 16.0: 2027-02-28: eol_soon; 16.1: 2029-02-28: supported.
    "aci-16.0": (device("m:5", "cisco", "nxos", "16.0(9e)"), "cisco-nx-os", "16.0", "eol_soon"),
    "aci-16.1": (device("m:6", "cisco", "nxos", "16.1(5e)"), "cisco-nx-os", "16.1", "supported"),
    # ArubaOS 8.7 (SSR, 2020) ended; 8.6 and 8.10 are deliberately not dated.
    "arubaos-8.7": (device("m:7", "aruba", "arubaos", "8.7.1.9"), "arubaos", "8.7", "eol"),
    "arubaos-8.10": (device("m:8", "aruba", "arubaos", "8.10.0.7_88633"), "arubaos", None, "unknown"),
    "arubaos-8.6": (device("m:9", "aruba", "arubaos", "8.6.0.19"), "arubaos", None, "unknown"),
    # AOS-CX 10.08 (July 2021) ended; 10.10 is not dated.
    "aoscx-10.08": (device("m:10", "aruba", "aoscx", "PL.10.08.1021"), "aruba-aos-cx", "10.08", "eol"),
    "aoscx-10.10": (device("m:11", "aruba", "aoscx", "FL.10.10.1040"), "aruba-aos-cx", None, "unknown"),
    # ArubaOS-Switch 16.10 is not dated; ProCurve N.11 (2810) is long past End of Support.
    "procurve-16.10": (device("m:12", "hpe", "procurve", "KB.16.10.0010"), "arubaos-switch", None, "unknown"),
    "procurve-11": (device("m:13", "hpe", "procurve", "N.11.78"), "arubaos-switch", "11", "eol"),
    # Comware 3 (H3C/3Com era) is past End of Support.
    "comware-3": (device("m:14", "hpe", "comware", "3.10, Release 2208"), "hpe-comware", "3", "eol"),
    # iLO 3 and iLO 2 (ProLiant G7 and G5/G6) are past End of Support; the generation is the
    # model's, whatever the firmware number.
    "ilo-3": (device("m:15", "hpe", "ilo", "1.94", "Integrated Lights-Out 3"), "hpe-ilo", "3", "eol"),
    "ilo-2": (device("m:16", "hpe", "ilo", "2.33", "Integrated Lights-Out 2"), "hpe-ilo", "2", "eol"),
    # iDRAC7 (PowerEdge 12th generation) and iDRAC6 (11th) are past End of Support.
    "idrac7": (device("m:17", "dell", "idrac", "2.65.65.65", "PowerEdge R720"), "dell-idrac", "7", "eol"),
    "idrac6": (device("m:18", "dell", "idrac", "2.92", "PowerEdge R610"), "dell-idrac", "6", "eol"),
    # iDRAC8 (R730) and iDRAC9 (R740xd) are not dated; a C4130 (13th generation despite its "1")
    # must not be read as an 11th-generation server.
    "idrac8": (device("m:19", "dell", "idrac", "2.83.83.83", "PowerEdge R730"), "dell-idrac", None, "unknown"),
    "idrac9": (device("m:20", "dell", "idrac", "4.40.00.00", "PowerEdge R740xd"), "dell-idrac", None, "unknown"),
    "idrac-c4130": (device("m:21", "dell", "idrac", "2.83.83.83", "PowerEdge C4130"), "dell-idrac", None,
                    "unknown"),
    # DD OS 5.x is past End of Service Life; 7.10 is not dated.
    "ddos-5.7": (device("m:22", "dell", "datadomain", "5.7.5.0-548132"), "dell-data-domain-os", "5", "eol"),
    "ddos-7.10": (device("m:23", "dell", "datadomain", "7.10.1.20-1076960"), "dell-data-domain-os", None,
                  "unknown"),
    # Purity//FA 4.x is past End of Life.
    "purity-4.10": (device("m:24", "purestorage", "purity", "4.10.12"), "pure-purity-fa", "4", "eol"),
    # ASA 9.8 (extended, 2017) is past its Last Date of Support; 9.12 is not dated.
    "asa-9.8": (device("m:25", "cisco", "asa", "9.8(4)45"), "cisco-asa", "9.8", "eol"),
    "asa-9.12": (device("m:26", "cisco", "asa", "9.12(4)65"), "cisco-asa", None, "unknown"),
    # FTD 6.7 (short-term, 2020) ended; 7.2 is not dated.
    "ftd-6.7": (device("m:27", "cisco", "ftd", "6.7.0.3"), "cisco-ftd", "6.7", "eol"),
    "ftd-7.2": (device("m:28", "cisco", "ftd", "7.2.5"), "cisco-ftd", None, "unknown"),
    # IOS XR 6.4 ended; 7.9 and 24.2 are not dated.
    "iosxr-6.4": (device("m:29", "cisco", "iosxr", "6.4.2"), "cisco-ios-xr", "6.4", "eol"),
    "iosxr-7.9": (device("m:30", "cisco", "iosxr", "7.9.2"), "cisco-ios-xr", None, "unknown"),
    "iosxr-24.2": (device("m:31", "cisco", "iosxr", "24.2.1"), "cisco-ios-xr", None, "unknown"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp: Path = tmp_path_factory.mktemp("network")
    s = seeded(tmp / "n.duckdb", REPO / "rules", [case[0] for case in CASES.values()], AS_OF)
    yield s
    s.close()


@pytest.mark.parametrize("name", list(CASES))
def test_device_maps_to_product_cycle_and_verdict(store: Store, name: str) -> None:
    inv, product, cycle, status = CASES[name]
    rows = store.con.execute("SELECT product, cycle, status FROM findings WHERE asset_id = ? AND kind = 'device'",
                             [inv.asset_id]).fetchall()
    assert rows == [(product, cycle, status)]


def test_nx_os_9_3_ends_on_ciscos_date(tmp_path: Path) -> None:
    """NX-OS 9.3: End of Vulnerability/Security Support 2026-04-07 (Cisco, via endoflife.date
    cisco-nx-os.md at 1060c3c6): the day before it is eol_soon, the day itself eol."""
    inv = device("b:1", "cisco", "nxos", "9.3(16)")
    store = seeded(tmp_path / "b.duckdb", REPO / "rules", [inv], dt.date(2026, 4, 6))
    try:
        query = "SELECT cycle, status, eol FROM findings WHERE asset_id = 'b:1'"
        assert store.con.execute(query).fetchall() == [("9.3", "eol_soon", dt.date(2026, 4, 7))]
        score(store.con, dt.date(2026, 4, 7))
        assert store.con.execute(query).fetchall() == [("9.3", "eol", dt.date(2026, 4, 7))]
    finally:
        store.close()


def test_model_is_a_cycle_source_for_devices_only(tmp_path: Path) -> None:
    root = small_rules(tmp_path, {
        "matchers/model.yaml": "matchers:\n  - {id: os-by-model, kind: os, names: [x], product: edgeprod, "
                               "cycle: {source: model}}\n",
    })
    with pytest.raises(RuleErrors) as caught:
        load_rules(root)
    errors = [str(e) for e in caught.value.errors]
    assert any(e.startswith("matchers/model.yaml:2:") and "only for kind 'device'" in e for e in errors), errors
