"""Pure parts of SNMP discovery: value decoding, rule validation, detection, credentials and targets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from estate.agent.snmp import detect
from estate.agent.snmp import rules as rules_mod
from estate.agent.snmp import targets as targets_mod
from estate.agent.snmp.detect import EntityRow, Facts
from estate.agent.snmp.values import decode_bytes

from .conftest import REPO

RULES_DIR = REPO / "rules" / "snmp"
DEVICE_OS = {"ios", "iosxe", "iosxr", "nxos", "asa", "ftd", "junos", "eos", "procurve", "comware", "arubaos",
             "aoscx", "fortios", "panos", "gaia", "bigip", "dellos9", "powerconnect", "idrac", "fabricos", "linux",
             "windows", "aix", "esxi", "printer", "apc", "3com", "avaya", "enterasys",
             "ucos", "wlc", "cbw", "cimc", "datadomain", "compellent", "ironware", "ontap", "eseries", "purity",
             "ilo", "3par", "nimbleos", "xcc", "imm", "netscaler", "vrp", "exos", "routeros", "edgeos", "airos",
             "vcenter", "openindiana", "illumos", "solaris", "hpux", "freebsd"}


# --- decoding -------------------------------------------------------------------------------------

def test_multiline_crlf_and_quotes_are_decoded() -> None:
    assert decode_bytes(b'"Cisco IOS Software\r\nVersion 15.2"').value == "Cisco IOS Software\nVersion 15.2"


def test_non_utf8_bytes_fall_back_to_latin1_without_loss() -> None:
    text = decode_bytes(b"Nokia \x93LegacyDriver\x94\x00")
    assert text.replaced_encoding and text.value == "Nokia \x93LegacyDriver\x94"
    assert decode_bytes(text.value.encode("latin-1")).value == text.value  # every byte kept


def test_enormous_value_is_truncated_and_says_so() -> None:
    text = decode_bytes(b"x" * 70_000)
    assert text.truncated and len(text.value) == 4096


# --- rules ----------------------------------------------------------------------------------------

def test_shipped_rules_load_and_use_the_device_os_vocabulary() -> None:
    rules = rules_mod.load_rules(RULES_DIR)
    assert {r.id for r in rules} == DEVICE_OS
    assert [r.priority for r in rules] == sorted(r.priority for r in rules)


@pytest.mark.parametrize(("text", "needle"), [
    ("vendor: x\nos:\n  - id: a\n    name: A\n    detect:\n      - sysDescr: ['(unclosed']\n",
     "bad.yaml:6: os[0].detect[0].sysDescr[0]: bad regular expression"),
    ("vendor: x\nos:\n  - id: a\n    name: A\n    detect:\n      - sysObjectID: ['1.3.x']\n",
     "bad.yaml:6: os[0].detect[0].sysObjectID[0]: '1.3.x' does not match"),
    ("vendor: x\nos:\n  - id: a\n    name: A\n    detect: [{sysDescr: [a]}]\n    extract:\n"
     "      version:\n        - from: snmpWalkEverything\n",
     "os[0].extract.version[0].from: 'snmpWalkEverything' is not one of"),
    ("vendor: x\nos:\n  - id: a\n    name: A\n    detect: [{sysDescr: [a]}]\n    extract:\n"
     "      version:\n        - from: oid\n",
     "bad.yaml:8: os[0].extract.version[0]: from: oid needs an `oid`"),
    ("vendor: x\nos:\n  - id: a\n    name: A\n    detect: [{sysDescr: [a]}]\n    extract:\n"
     "      version:\n        - {from: sysDescr, regex: 'Version \\S+'}\n",
     "needs a group (?P<value>...)"),
    ("vendor: x\nos:\n  - id: a\n    detect: [{sysDescr: [a]}]\n", "bad.yaml:3: os[0]: 'name' is a required property"),
    ("vendor: [\n", "bad.yaml: not valid YAML"),
])
def test_rule_errors_name_file_line_and_field(text: str, needle: str) -> None:
    with pytest.raises(rules_mod.RuleError) as info:
        rules_mod.parse_rule_text(text, "bad.yaml")
    assert needle in str(info.value)


def test_duplicate_os_in_two_files_is_refused(tmp_path: Path) -> None:
    rule = "vendor: x\nos:\n  - id: a\n    name: A\n    detect: [{sysDescr: [a]}]\n"
    (tmp_path / "one.yaml").write_text(rule)
    (tmp_path / "two.yaml").write_text(rule)
    with pytest.raises(rules_mod.RuleError, match=r"already defined in .*one\.yaml"):
        rules_mod.load_rules(tmp_path)


# --- detection and extraction ---------------------------------------------------------------------

def test_vendor_mib_version_when_sysdescr_has_none() -> None:
    """FortiGates answer with an empty sysDescr; the version is in fgSysVersion."""
    rules = rules_mod.load_rules(RULES_DIR)
    facts = Facts(address="10.0.0.1", sys_object_id="1.3.6.1.4.1.12356.101.1.60",
                  vendor_values={"1.3.6.1.4.1.12356.101.4.1.1.0": "v7.2.8,build1639,240416 (GA.M)",
                                 "1.3.6.1.4.1.12356.100.1.1.1.0": "FG100FTK20000000"})
    device = detect.build_device(facts, detect.detect_os(rules, facts.sys_descr, facts.sys_object_id))
    assert (device.vendor, device.os, device.version) == ("fortinet", "fortios", "7.2.8")
    assert device.serial == "FG100FTK20000000"
    assert device.evidence["version"] == "1.3.6.1.4.1.12356.101.4.1.1.0"


def test_entity_chassis_gives_model_serial_and_revisions() -> None:
    facts = Facts(address="10.0.0.2", sys_descr="Arista Networks EOS version 4.28.3M running on an Arista Networks "
                  "DCS-7280SR-48C6", sys_object_id="1.3.6.1.4.1.30065.1.3011.7280.2769.48",
                  entities=[EntityRow(index=100006001, cls=8, descr="Cpu temp sensor"),
                            EntityRow(index=1, cls=3, model="DCS-7280SR-48C6", serial="JPE00000000",
                                      hardware="11.01", firmware="", software="4.28.3M")])
    report = detect.build_report(facts, rules_mod.load_rules(RULES_DIR))
    device = report.device
    assert (device.model, device.serial, device.hardware_revision) == ("DCS-7280SR-48C6", "JPE00000000", "11.01")
    assert device.evidence["serial"] == "1.3.6.1.2.1.47.1.1.1.1.11.1"
    assert report.asset_id == "snmp-serial:arista:JPE00000000" and report.host.asset_id_source == "serial"


@pytest.mark.parametrize(("name", "expected"), [
    ("openssl_3.0.15-1~deb12u1_amd64", ("openssl", "3.0.15-1~deb12u1", "amd64")),
    ("bash-4.2.46-34.el7.x86_64", ("bash", "4.2.46-34.el7", "x86_64")),
    ("Mozilla Firefox 45.0.1 (x86 en-US)", ("Mozilla Firefox 45.0.1 (x86 en-US)", "", "")),
])
def test_hrsw_names_are_split_where_their_shape_is_known(name: str, expected: tuple[str, str, str]) -> None:
    package = detect.parse_hrsw_name(name)
    assert (package.name, package.version, package.architecture) == expected and package.manager == "hrsw"


# --- inventory and credentials --------------------------------------------------------------------

def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_inventory_ranges_targets_and_env_secrets(tmp_path: Path) -> None:
    inv = write(tmp_path / "inv.yaml", (
        "defaults: {community_env: CAMPUS_COMMUNITY, timeout: 3}\n"
        "targets:\n"
        "  - range: 10.1.0.0/30\n"
        "  - address: 10.1.0.2\n    version: 3\n    user: mon\n    auth_key_env: K1\n    priv_key_env: K2\n"
        "    auth_protocol: sha512\n    priv_protocol: aes256\n    labels: {site: leeds}\n"))
    env = {"CAMPUS_COMMUNITY": "c4mpus", "K1": "authkey-123", "K2": "privkey-456"}
    found = targets_mod.load_inventory(inv, env, {})
    by_address = {t.address: t for t in found}
    assert sorted(by_address) == ["10.1.0.1", "10.1.0.2"]
    assert by_address["10.1.0.1"].credentials.community == "c4mpus" and by_address["10.1.0.1"].from_range
    v3 = by_address["10.1.0.2"]  # listed on its own: wins over the range
    assert v3.credentials.version == "3" and v3.credentials.priv_protocol == "aes256" and not v3.from_range
    assert v3.labels == (("site", "leeds"),) and v3.timeout_s == 3.0
    assert "privkey" not in repr(v3) and "c4mpus" not in repr(by_address["10.1.0.1"])


@pytest.mark.parametrize(("text", "env", "needle"), [
    ("targets:\n  - address: 10.0.0.1\n    community_env: NOPE\n", {}, "targets[0]: community_env names NOPE"),
    ("targets:\n  - address: 10.0.0.1\n", {}, "needs a community"),
    ("targets:\n  - address: 10.0.0.1\n    version: 3\n    user: u\n    auth_key: short\n", {}, "shorter than the 8"),
    ("targets:\n  - range: 10.0.0.0/8\n    community: c\n", {}, "at most 65536"),
    ("targets:\n  - range: 10.0.0.0/33\n    community: c\n", {}, "is not a CIDR range"),
    ("targets:\n  - address: 10.0.0.1\n    comunity: c\n", {}, "targets.0: Additional properties"),
])
def test_inventory_errors_are_clear(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(targets_mod.InventoryError) as info:
        targets_mod.load_inventory(write(tmp_path / "inv.yaml", text), env, {})
    assert needle in str(info.value)


def test_inventory_with_inline_secrets_must_not_be_readable_by_others(tmp_path: Path) -> None:
    inv = write(tmp_path / "inv.yaml", "targets:\n  - address: 10.0.0.1\n    community: s3cret\n", mode=0o644)
    with pytest.raises(targets_mod.InventoryError, match="chmod 600"):
        targets_mod.load_inventory(inv, {}, {})


def test_command_line_targets_take_credentials_from_the_environment() -> None:
    env = {"ESTATE_SNMP_VERSION": "3", "ESTATE_SNMP_USER": "mon", "ESTATE_SNMP_AUTH_KEY": "authkey-123"}
    [target] = targets_mod.targets_from_args(["192.0.2.7"], env, {"port": 1161})
    assert (target.credentials.version, target.credentials.user, target.port) == ("3", "mon", 1161)
    assert target.credentials.priv_key == ""  # authNoPriv


@pytest.mark.parametrize(("variable", "value"), [
    ("ESTATE_SNMP_VERSION", "4"), ("ESTATE_SNMP_VERSION", "v2c"), ("ESTATE_SNMP_AUTH_PROTOCOL", "sha257"),
    ("ESTATE_SNMP_PRIV_PROTOCOL", "aes512"),
])
def test_a_typo_in_an_environment_setting_is_a_usage_error_naming_it(variable: str, value: str) -> None:
    env = {"ESTATE_SNMP_VERSION": "3", "ESTATE_SNMP_USER": "mon", "ESTATE_SNMP_AUTH_KEY": "authkey-123",
           "ESTATE_SNMP_PRIV_KEY": "privkey-123", variable: value}
    with pytest.raises(targets_mod.InventoryError, match=f"{variable}='{value}': not one of"):
        targets_mod.targets_from_args(["192.0.2.7"], env, {})


# --- issue 13: version sanity, Windows products, chassis choice, targets ---------------------------

@pytest.mark.parametrize(("value", "why"), [
    ("machine:x86_64", "label:value"),
    ("release:2.6.18-194.el5", "label:value"),
    ("6.4|2", "'|'"),
    ("8.10.0.12-", "cut off"),
    ("Unknown", "no digit"),
    ("1" * 65, "longer than 64"),
    ("15.2(4)M7", ""),
    ("7.1.045, Release 2416", ""),
    ("V200R003C01SPC900", ""),
    ("V.43.92", ""),
])
def test_version_sanity(value: str, why: str) -> None:
    problem = detect.version_problem(value)
    assert (why in problem) if why else problem == ""


def test_a_refused_version_falls_through_to_the_next_source() -> None:
    rule = rules_mod.parse_rule_text(
        "vendor: x\nos:\n  - id: a\n    name: A\n    detect: [{sysDescr: [a]}]\n    extract:\n      version:\n"
        "        - {from: sysDescr, regex: 'v=(?P<value>\\S+)'}\n        - {from: entity.software}\n", "x.yaml")[0]
    facts = Facts(address="192.0.2.1", sys_descr="a v=8.10.0.12-",
                  entities=[EntityRow(index=1, cls=3, software="8.10.0.12-1")])
    found = detect.extract(rule, facts)
    assert found["version"] == ("8.10.0.12-1", "1.3.6.1.2.1.47.1.1.1.1.10.1")
    assert facts.problems == [("version '8.10.0.12-' refused: ends in a separator (cut off)", detect.SYS_DESCR)]


@pytest.mark.parametrize(("object_id", "build", "expected"), [
    ("1.3.6.1.4.1.311.1.1.3.1.2", "3790", ("windows-server", "2003", "Windows Server 2003", "server")),
    ("1.3.6.1.4.1.311.1.1.3.1.3", "6002", ("windows-server", "2008", "Windows Server 2008", "domain controller")),
    ("1.3.6.1.4.1.311.1.1.3.1.2", "7601", ("windows-server", "2008-r2", "Windows Server 2008 R2", "server")),
    ("1.3.6.1.4.1.311.1.1.3.1.2", "9600", ("windows-server", "2012-r2", "Windows Server 2012 R2", "server")),
    ("1.3.6.1.4.1.311.1.1.3.1.3", "14393", ("windows-server", "2016", "Windows Server 2016", "domain controller")),
    ("1.3.6.1.4.1.311.1.1.3.1.2", "17763", ("windows-server", "2019", "Windows Server 2019", "server")),
    ("1.3.6.1.4.1.311.1.1.3.1.2", "20348", ("windows-server", "2022", "Windows Server 2022", "server")),
    ("1.3.6.1.4.1.311.1.1.3.1.1", "2600", ("windows", "xp", "Windows XP", "workstation")),
    ("1.3.6.1.4.1.311.1.1.3.1.1", "7601", ("windows", "7", "Windows 7", "workstation")),
    ("1.3.6.1.4.1.311.1.1.3.1.1", "9600", ("windows", "8.1", "Windows 8.1", "workstation")),
    ("1.3.6.1.4.1.311.1.1.3.1.1", "19045", ("windows", "10", "Windows 10", "workstation")),
    ("1.3.6.1.4.1.311.1.1.3.1.1", "22631", ("windows", "11", "Windows 11", "workstation")),
])
def test_windows_over_snmp_is_named_by_product_and_role(object_id: str, build: str,
                                                        expected: tuple[str, str, str, str]) -> None:
    nt = "10.0" if int(build) >= 10240 else "6.3"
    descr = f"Hardware: Intel64 Family 6 - Software: Windows Version {nt} (Build {build} Multiprocessor Free)"
    facts = Facts(address="192.0.2.1", sys_object_id=object_id, sys_descr=descr)
    report = detect.build_report(facts, rules_mod.load_rules(RULES_DIR))
    assert (report.os.id, report.os.version_id, report.os.name, report.os.edition) == expected
    assert report.device.version == expected[1] and report.os.build == build


def test_the_chassis_model_wins_over_a_module_listed_first() -> None:
    module = EntityRow(index=2, cls=9, contained_in="1", model="C3KX-NM-10G", serial="MOD")
    chassis = EntityRow(index=1, cls=3, contained_in="0", model="WS-C3750X-48P-S", serial="CHAS")
    member = EntityRow(index=3, cls=3, contained_in="7", model="WS-C3750X-24", serial="MEMBER")
    assert detect.main_entity([module, member, chassis]) is chassis
    plain = EntityRow(index=4, cls=0, descr="backplane", model="X1")
    assert detect.main_entity([module, plain]) is plain


def test_targets_are_keyed_by_address_port_and_credentials() -> None:
    base: dict[str, Any] = {"address": "192.0.2.10"}
    entries: list[tuple[str, dict[str, Any]]] = [
        ("a", {**base, "community": "one"}), ("b", {**base, "community": "two"}),
        ("c", {**base, "community": "one", "port": 1161}), ("d", {**base, "community": "one"}),
        ("e", {"range": "192.0.2.8/30", "community": "three"})]
    found = targets_mod.build_targets(entries, {})
    keys = [(t.address, t.port, t.credentials.community) for t in found]
    # a, b and c are three targets; d repeats a; the range skips the listed address but keeps its others.
    assert keys == [("192.0.2.10", 161, "one"), ("192.0.2.10", 161, "two"), ("192.0.2.10", 1161, "one"),
                    ("192.0.2.9", 161, "three")]


@pytest.mark.parametrize(("sys_descr", "reason"), [
    ("Linux release:3.10.0-1160.el7.x86_64 machine:x86_64", "'machine:x86_64' refused: is a 'label:value' pair"),
    ("Linux box 6.4|2 #1 SMP", "'6.4|2' refused: contains '|'"),
    ("Linux box 8.10.0.12- #1 SMP", "'8.10.0.12-' refused: ends in a separator (cut off)"),
])
def test_each_junk_version_is_refused_in_the_report_with_its_reason(sys_descr: str, reason: str) -> None:
    facts = Facts(address="192.0.2.1", sys_descr=sys_descr, sys_object_id="1.3.6.1.4.1.8072.3.2.10")
    report = detect.build_report(facts, rules_mod.load_rules(RULES_DIR))
    assert report.device.os == "linux" and report.device.version == ""
    refused = [e.message for e in report.errors if "refused" in e.message]
    assert len(refused) == 1 and refused[0].startswith(f"version {reason}")
    assert report.errors[0].evidence == detect.SYS_DESCR
