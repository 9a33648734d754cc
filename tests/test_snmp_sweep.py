"""One sweep, many kinds of trouble: each target gets a clear result and the sweep goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.agent.snmp import rules as rules_mod
from estate.agent.snmp import sweep
from estate.agent.snmp.client import Credentials, Target
from estate.agent.snmp.values import MAX_TEXT_CHARS

from .conftest import FIXTURES
from .snmp_servers import free_udp_port, snmpsim

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with snmpsim([FIXTURES / "snmp", FIXTURES / "snmp-hostile"], tmp_path_factory.mktemp("snmpsim"),
                 probe_community="cisco-ios_c2950") as port:
        yield port


def target(port: int, community: str, version: str = "2c", timeout_s: float = 5.0) -> Target:
    return Target(address="127.0.0.1", port=port, credentials=Credentials(version=version, community=community),
                  timeout_s=timeout_s, retries=0)


@pytest.fixture(scope="module")
def results(sim_port: int) -> dict[str, sweep.Result]:
    silent_port = free_udp_port()  # nothing listens: loopback answers ICMP, which pysnmp's socket never sees
    targets = {
        "good": target(sim_port, "juniper-junos_srx100"),
        "good-v1": target(sim_port, "arista-eos_7050tx", version="1"),
        "wrong-community": target(sim_port, "no-such-community", timeout_s=1.0),
        "silent": target(silent_port, "public", timeout_s=1.0),
        "enormous": target(sim_port, "hostile_enormous"),
        "malformed": target(sim_port, "hostile_malformed"),
        "empty": target(sim_port, "hostile_empty"),
        "unresolvable": Target(address="no-such-host.invalid", credentials=Credentials(community="x"), timeout_s=1.0),
    }
    started = time.monotonic()
    done = sweep.run_sweep(list(targets.values()), rules_mod.load_rules(), progress=False)
    assert time.monotonic() - started < 30
    by_target = {id(r.target): r for r in done}
    return {name: by_target[id(t)] for name, t in targets.items()}


def test_good_devices_are_read_on_v2c_and_v1(results: dict[str, sweep.Result]) -> None:
    assert results["good"].status == "ok" and results["good"].report is not None
    assert results["good"].report.device.os == "junos"
    v1 = results["good-v1"]
    assert v1.status == "ok" and v1.report is not None and v1.report.device.version == "4.15.3F"


def test_wrong_community_and_silent_address_time_out_clearly(results: dict[str, sweep.Result]) -> None:
    for name in ("wrong-community", "silent"):
        assert results[name].status == "no-response"
        assert "no response within 1 s" in results[name].message
        assert results[name].report is None


def test_unresolvable_name_is_an_error_not_a_crash(results: dict[str, sweep.Result]) -> None:
    assert results["unresolvable"].status == "error" and "no-such-host.invalid" in results["unresolvable"].message


def test_enormous_values_are_bounded_and_reported(results: dict[str, sweep.Result]) -> None:
    result = results["enormous"]
    assert result.status == "ok" and result.report is not None
    device = result.report.device
    assert len(device.sys_descr) == MAX_TEXT_CHARS and len(device.sys_name) == MAX_TEXT_CHARS
    assert (device.os, device.version) == ("ios", "12.2(55)SE10")
    messages = [e.message for e in result.report.errors]
    assert any("sys_descr is 9" in m and "kept the first 4096" in m for m in messages)


def test_malformed_values_are_reported_and_the_rest_is_kept(results: dict[str, sweep.Result]) -> None:
    result = results["malformed"]
    assert result.status == "ok" and result.report is not None
    report = result.report
    device = report.device
    # Quotes are removed; detection falls back to sysDescr when sysObjectID is unusable.
    assert device.sys_descr.startswith("Juniper Networks") and device.os == "junos"
    assert device.version == "12.3R12.4" and device.sys_object_id == ""
    assert device.sys_name == "42"
    by_oid = {e.evidence: e.message for e in report.errors}
    assert "not an OBJECT IDENTIFIER" in by_oid["1.3.6.1.2.1.1.2.0"]
    assert "should be an OCTET STRING but is Integer" in by_oid["1.3.6.1.2.1.1.5.0"]
    assert "not valid UTF-8" in by_oid["1.3.6.1.2.1.25.6.3.1.2.1"]
    assert "entPhysicalClass is not an integer" in by_oid["1.3.6.1.2.1.47.1.1.1.1.5.1"]
    assert "snmpEngineID is malformed" in by_oid["1.3.6.1.6.3.10.2.1.1.0"]
    # no usable engine id, no serial: the address, with the port since it is not 161
    assert report.asset_id == f"snmp-address:127.0.0.1:{result.target.port}"
    assert [(p.name, p.version) for p in report.packages][1] == ("bash", "5.2.15-2+b7")


def test_unknown_device_is_reported_not_guessed(results: dict[str, sweep.Result]) -> None:
    result = results["empty"]
    assert result.status == "ok" and result.report is not None
    assert result.report.device.os == "" and result.report.device.sys_object_id == "1.3.6.1.4.1.99999.1"
    assert any("no detection rule matches" in e.message for e in result.report.errors)


def run_cli(*args: str, community: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ESTATE_SNMP_COMMUNITY": community}
    return subprocess.run([sys.executable, "-m", "estate.agent.cli", "snmp", *args, "--no-progress",
                           "--output", os.devnull], capture_output=True, text=True, env=env, timeout=120)


def test_silent_range_members_are_counted_not_failures(sim_port: int) -> None:
    done = run_cli("127.0.0.1", "127.79.0.0/30", "--port", str(sim_port), "--timeout", "1", "--retries", "0",
                   community="enterasys-enterasys_g3")
    assert done.returncode == 0, done.stderr
    assert f"127.0.0.1:{sim_port} ok: enterasys enterasys 06.03.08.0012 G3G124-24P" in done.stderr
    assert "2 range address(es) did not answer" in done.stderr and "127.79.0.1" not in done.stderr


def test_a_listed_target_that_fails_sets_the_exit_code(sim_port: int) -> None:
    done = run_cli("127.0.0.1", "--port", str(sim_port), "--timeout", "1", "--retries", "0", community="wrong")
    assert done.returncode == 4
    assert f"127.0.0.1:{sim_port} no-response: no response within 1 s x 1 tries" in done.stderr


def test_no_credentials_is_a_usage_error_naming_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_SNMP_")}
    done = subprocess.run([sys.executable, "-m", "estate.agent.cli", "snmp", "192.0.2.1"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2 and "ESTATE_SNMP_COMMUNITY" in done.stderr


def test_outputs_that_cannot_be_written_are_refused_before_the_sweep(sim_port: int, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for option in ("--output-dir", "--output"):
        done = subprocess.run(
            [sys.executable, "-m", "estate.agent.cli", "snmp", "127.0.0.1", "--port", str(sim_port), "--no-progress",
             option, str(blocker / "sub")], capture_output=True, text=True, timeout=120,
            env={**os.environ, "ESTATE_SNMP_COMMUNITY": "enterasys-enterasys_g3"})
        assert done.returncode == 2, done.stderr
        assert f"cannot write {blocker / 'sub'}" in done.stderr and "Traceback" not in done.stderr
        assert " ok: " not in done.stderr  # refused before any device was queried


def test_two_targets_on_one_address_are_both_reported(sim_port: int) -> None:
    """A target is (address, port, credentials): two inventory entries on one address are two devices."""
    from estate.agent.snmp import targets as targets_mod

    entries = [(f"entry {i}", {"address": "127.0.0.1", "port": sim_port, "community": community, "timeout": 5})
               for i, community in enumerate(("juniper-junos_srx100", "arista-eos_7050tx", "juniper-junos_srx100"))]
    found = targets_mod.build_targets(entries, {})
    assert len(found) == 2  # the exact repeat is one target
    done = sweep.run_sweep(found, rules_mod.load_rules(), progress=False)
    assert [r.status for r in done] == ["ok", "ok"]
    assert sorted(r.report.device.os for r in done if r.report is not None) == ["eos", "junos"]


def test_entity_mib_without_entphysicalclass_still_gives_the_chassis(results: dict[str, sweep.Result],
                                                                    sim_port: int) -> None:
    done = sweep.run_sweep([target(sim_port, "hostile_entity_noclass")], rules_mod.load_rules(), progress=False)
    report = done[0].report
    assert done[0].status == "ok" and report is not None
    device = report.device
    # The chassis (contained in nothing), not the network module that is listed first.
    assert (device.model, device.serial) == ("WS-C3750X-48P-S", "FDO0000CHAS")
    assert device.evidence["model"] == "1.3.6.1.2.1.47.1.1.1.1.13.1001"


def test_junk_version_is_refused_and_the_report_says_why(sim_port: int) -> None:
    done = sweep.run_sweep([target(sim_port, "hostile_junk_versions")], rules_mod.load_rules(), progress=False)
    report = done[0].report
    assert report is not None and report.device.os == "linux"
    assert report.device.version == ""
    assert any("'machine:x86_64' refused: is a 'label:value' pair" in e.message for e in report.errors)


def test_a_target_that_stalls_after_the_system_group_keeps_what_it_answered(tmp_path: Path) -> None:
    with snmpsim([FIXTURES / "snmp-stalls"], tmp_path, probe_community="stalls_after_system") as port:
        done = sweep.run_sweep([target(port, "stalls_after_system", timeout_s=1.0)], rules_mod.load_rules(),
                               progress=False)
    result = done[0]
    assert result.status == "partial" and result.report is not None
    assert (result.report.device.vendor, result.report.device.os) == ("juniper", "junos")
    assert result.report.device.sys_name == "stalling-router"
    first = result.report.errors[0].message
    assert first.startswith("partial report: reading ENTITY-MIB: stopped answering")
    assert "community" not in result.message and "community" not in first


def test_a_device_that_outlasts_the_deadline_keeps_what_it_answered(tmp_path: Path) -> None:
    with snmpsim([FIXTURES / "snmp-stalls"], tmp_path, probe_community="stalls_after_system") as port:
        done = sweep.run_sweep([target(port, "stalls_after_system", timeout_s=10.0)], rules_mod.load_rules(),
                               progress=False, deadline_s=4.0)
    result = done[0]
    assert result.status == "partial" and result.report is not None
    assert result.report.device.os == "junos"
    assert result.report.errors[0].message == "partial report: gave up after 4 s (device too slow or too large)"
