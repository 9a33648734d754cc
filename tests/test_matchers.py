"""The shipped matchers on the observations each kind of discovery reports (naming as in BRIEF and
inventory.proto): OS ids and builds, RPM packages with epochs, runtimes, SNMP devices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .conftest import REPO
from .rulekit import report, seeded

AS_OF = dt.date(2026, 11, 24)
# asset -> (report, kind, expected product, expected cycle or None for unknown, expected status)
CASES: dict[str, tuple[pb.Inventory, str, str | None, str | None, str]] = {
    "win10-pro": (report("w:1", os_id="windows", version_id="10", build="19045.3803", edition="Professional"),
                  "os", "windows", "10-22h2", "extended"),
    "win11-ent": (report("w:2", os_id="windows", version_id="11", build="22631.2861", edition="Enterprise"),
                  "os", "windows", "11-23h2-e", "eol"),
    "win11-pro": (report("w:3", os_id="windows", version_id="11", build="22631.2861", edition="Professional"),
                  "os", "windows", "11-23h2-w", "eol"),
    "win2008r2": (report("w:4", os_id="windows-server", version_id="2008-r2"), "os", "windows-server",
                  "2008-r2-sp1", "eol"),
    "win2019": (report("w:5", os_id="windows-server", version_id="2019"), "os", "windows-server", "2019",
                "supported"),
    "aix-tl5": (report("a:1", os_id="aix", version_id="7.2", os_version="7.2.5.3"), "os", "ibm-aix", "7.2.5",
                "supported"),
    "hpux": (report("h:1", os_id="hpux", version_id="11.31"), "os", "hpux", "11.31", "extended"),
    "rhel7": (report("r:1", os_id="rhel", version_id="7.9"), "os", "rhel", "7", "extended"),
    "alpine": (report("l:1", os_id="alpine", version_id="3.18.4"), "os", "alpine-linux", "3.18", "eol"),
    "rpm-openssl": (report("p:1", manager="rpm", packages=[("openssl-libs", "1:3.0.7-27.el9")]), "package",
                    "openssl", "3.0", "extended"),
    "rpm-httpd": (report("p:2", manager="rpm", packages=[("httpd", "2.4.57-5.el9")]), "package",
                  "apache-http-server", "2.4", "supported"),
    "deb-apache2": (report("p:3", packages=[("apache2", "2.4.62-1~deb12u2")]), "package",
                    "apache-http-server", "2.4", "supported"),
    "rpm-openjdk": (report("p:4", manager="rpm", packages=[("java-17-openjdk-headless", "1:17.0.9.0.9-2.el9")]),
                    "package", "red-hat-build-of-openjdk", "17", "supported"),
    "rpm-java8": (report("p:5", manager="rpm", packages=[("java-1.8.0-openjdk", "1:1.8.0.392.b08-4.el8")]),
                  "package", "red-hat-build-of-openjdk", "8", "eol_soon"),
    "libssl1.1": (report("p:6", packages=[("libssl1.1", "1.1.1n-0+deb11u5")]), "package", "openssl", "1.1.1",
                  "extended"),
    "python2.7": (report("p:7", packages=[("python2.7", "2.7.18-8")]), "package", "python", "2.7", "eol"),
    "sw-python": (report("s:1", software=[("python", "3.12.1", "python.org")]), "software", "python", "3.12",
                  "supported"),
    "sw-unknown-jdk": (report("s:2", software=[("openjdk", "17.0.9", "debian")]), "software", None, None,
                       "unknown"),
    "ios-12.2": (report("d:1", device=("cisco", "ios", "12.2(55)SE12")), "device", "cisco-ios", "12.2", "eol"),
    "ios-15.9": (report("d:2", device=("cisco", "ios", "15.9(3)M7")), "device", "cisco-ios", "15.9", "supported"),
    "ios-15.2": (report("d:3", device=("cisco", "ios", "15.2(4)M7")), "device", "cisco-ios", None, "unknown"),
    "iosxe": (report("d:4", device=("cisco", "iosxe", "17.09.04a")), "device", "cisco-ios-xe", "17.9", "eol"),
    "junos-old": (report("d:5", device=("juniper", "junos", "18.4R3-S9")), "device", "junos", "18.4", "eol"),
    "junos-new": (report("d:6", device=("juniper", "junos", "23.4R2-S3")), "device", "junos", None, "unknown"),
    "eos": (report("d:7", device=("arista", "eos", "4.28.3M")), "device", "arista-eos", "4.28", "eol"),
    "fortios": (report("d:8", device=("fortinet", "fortios", "v7.2.5,build1517")), "device", "fortios", "7.2",
                "eol"),
    "panos": (report("d:9", device=("paloalto", "panos", "10.2.4-h4")), "device", "pan-os", "10.2", "eol"),
    # NX-OS 9.3: Cisco's End of Vulnerability/Security Support 2026-04-07 (rules/lifecycles/own/cisco-nx-os.yaml).
    "nxos": (report("d:10", device=("cisco", "nxos", "9.3(10)")), "device", "cisco-nx-os", "9.3", "eol"),
    # Lifecycle gaps filled by hand (rules/lifecycles/own, rules/lifecycle-supplements), each file
    # citing its vendor source.
    "nxos-7.0": (report("g:1", device=("cisco", "nxos", "7.0(3)I7(5a)")), "device", "cisco-nx-os", "7.0", "eol"),
    "nxos-6.2": (report("g:2", device=("cisco", "nxos", "6.2(20)")), "device", "cisco-nx-os", "6", "eol"),
    "asa-9.1": (report("g:3", device=("cisco", "asa", "9.1(7)32")), "device", "cisco-asa", "9.1", "eol"),
    "asa-9.16": (report("g:4", device=("cisco", "asa", "9.16(4)")), "device", "cisco-asa", None, "unknown"),
    "iosxr-5": (report("g:5", device=("cisco", "iosxr", "5.3.4")), "device", "cisco-ios-xr", "5", "eol"),
    "ftd-6.2": (report("g:6", device=("cisco", "ftd", "6.2.3.18")), "device", "cisco-ftd", "6.2", "eol"),
    "iosxe-16.9": (report("g:7", device=("cisco", "iosxe", "16.9.8")), "device", "cisco-ios-xe", "16", "eol"),
    "iosxe-3.6": (report("g:8", device=("cisco", "iosxe", "03.06.05E")), "device", "cisco-ios-xe", "3", "eol"),
    "junos-22.4": (report("g:9", device=("juniper", "junos", "22.4R3-S2")), "device", "junos", "22.4", "eol"),
    "fortios-5.6": (report("g:10", device=("fortinet", "fortios", "v5.6.14,build1727")), "device", "fortios",
                    "5.6", "eol"),
    "esxi-4.1": (report("g:11", device=("vmware", "esxi", "4.1.0")), "device", "vmware-esxi", "4", "eol"),
    "aix-6.1-tl9": (report("g:12", os_id="aix", version_id="6.1", os_version="6.1.9.0"), "os", "ibm-aix", "6.1.9",
                    "eol"),
    "aix-6.1-tl8": (report("g:20", os_id="aix", version_id="6.1", os_version="6.1.8.2"), "os", "ibm-aix", "6.1",
                    "eol"),
    "aix-7.1-tl4": (report("g:13", os_id="aix", version_id="7.1", os_version="7.1.4.3"), "os", "ibm-aix", "7.1",
                    "eol"),
    "aix-7.1-tl5": (report("g:14", os_id="aix", version_id="7.1", os_version="7.1.5.10"), "os", "ibm-aix",
                    "7.1.5", "eol"),
    "aix-5.3": (report("g:15", os_id="aix", version_id="5.3", os_version="5.3.12.9"), "os", "ibm-aix", "5.3",
                "eol"),
    "snmp-solaris10": (report("g:21", device=("oracle", "solaris", "10")), "device", "oracle-solaris", "10",
                       "extended"),
    "snmp-solaris11": (report("g:22", device=("oracle", "solaris", "11")), "device", "oracle-solaris", None,
                       "unknown"),
    "snmp-ontap": (report("g:23", device=("netapp", "ontap", "9.7P5")), "device", "netapp-ontap", "9.7", "eol"),
    "snmp-vcenter": (report("g:24", device=("vmware", "vcenter", "6.7.0")), "device", "vmware-vcenter", "6.7",
                     "eol"),
    "snmp-win2008r2": (report("g:25", device=("microsoft", "windows", "2008-r2")), "device", "windows-server",
                       "2008-r2-sp1", "eol"),
    # Windows LTSC is an Enterprise edition with its own lifecycle: LTSC 2019 (build 17763) is
    # supported to 2029-01-09, where Enterprise 1809 ended on 2021-05-11.
    "win10-ltsc2019": (report("g:16", os_id="windows", version_id="10", build="17763.5936", edition="EnterpriseS"),
                       "os", "windows", "10-1809-e-lts", "supported"),
    "win10-ent1809": (report("g:17", os_id="windows", version_id="10", build="17763.5936", edition="Enterprise"),
                      "os", "windows", "10-1809-e", "eol"),
    "win10-iot-ltsc2021": (report("g:18", os_id="windows", version_id="10", build="19044.4529",
                                  edition="IoTEnterpriseS"), "os", "windows", "10-21h2-iot-lts", "supported"),
    # IoT Enterprise LTSC 2019 has no cycle of its own in the data: unknown, never a guess.
    "win10-iot-ltsc2019": (report("g:19", os_id="windows", version_id="10", build="17763.5936",
                                  edition="IoTEnterpriseS"), "os", "windows", None, "unknown"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp: Path = tmp_path_factory.mktemp("matchers")
    s = seeded(tmp / "m.duckdb", REPO / "rules", [case[0] for case in CASES.values()], AS_OF)
    yield s
    s.close()


@pytest.mark.parametrize("name", list(CASES))
def test_observation_maps_to_product_and_cycle(store: Store, name: str) -> None:
    inv, kind, product, cycle, status = CASES[name]
    rows = store.con.execute("SELECT product, cycle, status FROM findings WHERE asset_id = ? AND kind = ?",
                             [inv.asset_id, kind]).fetchall()
    assert rows == [(product, cycle, status)]
