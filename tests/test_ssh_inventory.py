"""Targets from our YAML, CSV, Ansible YAML and INI inventories and the command line; bad input is named."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from estate.agent.ssh.inventory import (
    InventoryError,
    Target,
    dedupe,
    expand_ansible_range,
    load_inventory,
    parse_ansible_ini,
    parse_csv,
    parse_yaml,
    target_from_argument,
)

from .conftest import FIXTURES

INVENTORIES = FIXTURES / "inventories"


def _by_name(targets: list[Target]) -> dict[str, Target]:
    return {t.name: t for t in targets}


def test_own_yaml_with_group_defaults_and_labels() -> None:
    targets = _by_name(load_inventory(INVENTORIES / "estate.yaml"))
    assert set(targets) == {"aix1.example.org", "aix2", "web1.example.org", "v6host"}
    aix2 = targets["aix2"]
    assert (aix2.host, aix2.port, aix2.user, aix2.jump, aix2.sudo) == (
        "10.1.2.3", 2222, "aixscan", "bastion.example.org", ("lslpp",))
    assert aix2.identity_file == "/etc/legacy-estate/id_ed25519"  # from the top-level defaults
    assert dict(aix2.labels) == {"org": "cabinet-office", "environment": "production"}
    web = targets["web1.example.org"]
    assert (web.user, web.port, web.sudo) == ("scan", 22, ())
    assert dict(web.labels) == {"org": "cabinet-office", "owner": "web-team"}
    assert targets["v6host"].address() == "scan@[2001:db8::5]:22"
    assert targets["v6host"].password_file == "/etc/legacy-estate/v6host.pw"


def test_csv_with_label_columns() -> None:
    targets = _by_name(load_inventory(INVENTORIES / "targets.csv", {"user": "default-user"}))
    assert targets["sol1"].sudo == ("pkginfo", "pkg") and targets["sol1"].user == "scan"
    assert dict(targets["sol1"].labels) == {"org": "dwp", "environment": "production"}
    assert (targets["hpux1"].port, targets["hpux1"].user) == (2022, "default-user")


def test_ansible_ini_groups_children_vars_and_ranges() -> None:
    targets = _by_name(load_inventory(INVENTORIES / "ansible.ini"))
    assert set(targets) == {"bastion.example.org", "aix01.example.org", "aix02.example.org", "aix03.example.org",
                            "aix-legacy.example.org", "sol10.example.org"}
    legacy = targets["aix-legacy.example.org"]
    assert (legacy.host, legacy.port, legacy.user) == ("10.1.2.3", 2222, "scan")
    assert legacy.jump == "jump@bastion.example.org:2200"  # from ansible_ssh_common_args -o ProxyJump=
    assert dict(legacy.labels) == {"org": "hmrc", "environment": "test"}
    assert legacy.password_env == "SCAN_PASSWORD"
    sol = targets["sol10.example.org"]
    assert sol.identity_file == "/etc/legacy-estate/sol_key" and sol.sudo == ("pkginfo", "pkg")
    assert targets["bastion.example.org"].user == "ops" and not targets["bastion.example.org"].jump


def test_ansible_yaml_nested_children_and_host_vars() -> None:
    targets = _by_name(load_inventory(INVENTORIES / "ansible.yaml"))
    assert (targets["hpux1.example.org"].port, targets["hpux1.example.org"].user) == (2022, "scan")
    hpux2 = targets["hpux2.example.org"]
    assert (hpux2.host, hpux2.user, dict(hpux2.labels)) == ("192.0.2.20", "root", {"environment": "production"})
    assert targets["centos6.example.org"].jump == "bastion.example.org"
    assert targets["centos6.example.org"].port == 22
    assert "win2008.example.org" not in targets  # ansible_connection: winrm is not an SSH target


def test_command_line_targets() -> None:
    target = target_from_argument("admin@[2001:db8::1]:2200", {"identity_file": "/k"})
    assert (target.user, target.host, target.port, target.identity_file) == ("admin", "2001:db8::1", 2200, "/k")
    plain = target_from_argument("aix7.example.org", {"user": "scan"})
    assert (plain.user, plain.port, plain.name) == ("scan", 22, "aix7.example.org")
    twice = dedupe([plain, plain])
    assert [t.name for t in twice] == ["aix7.example.org", "aix7.example.org#2"]


@pytest.mark.parametrize(("text", "message"), [
    ("hosts:\n  - {host: a, prot: 22}\n", "unknown field(s) prot"),
    ("hosts:\n  - {host: a, port: 70000}\n", "70000 is not a port number"),
    ("hosts:\n  - {host: 'a;rm -rf /'}\n", "is not a host name or address"),
    ("hosts:\n  - {port: 22}\n", "no host"),
    ("hosts:\n  - {host: a, password_file: /p, password_env: P}\n", "not both"),
    ("hosts:\n  - {host: a, labels: {Bad Key: x}}\n", "label key 'Bad Key'"),
    ("hosts:\n  - a\n  - a\n", "listed twice: a"),
    ("all:\n  hosts:\n    h1:\n      ansible_password: hunter2\n", "secrets never come from an inventory"),
    ("all:\n  hostz:\n    h1:\n", "unknown key(s) hostz"),
    ("hosts: [a\n", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping at the top"),
])
def test_bad_yaml_is_named_precisely(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_yaml(text, {})
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_bad_csv_and_ini_name_the_line() -> None:
    with pytest.raises(InventoryError, match="CSV line 3: port"):
        parse_csv("host,port\na,22\nb,http\n", {})
    with pytest.raises(InventoryError, match="'host' column"):
        parse_csv("address,port\na,22\n", {})
    with pytest.raises(InventoryError, match="line 2: host variable 'oops' is not key=value"):
        parse_ansible_ini("[g]\nh1 oops\n", {})
    with pytest.raises(InventoryError, match="its children include itself"):
        parse_ansible_ini("[a:children]\nb\n[b:children]\na\n[a]\nh1\n", {})


def test_missing_and_empty_inventory_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="No such file"):
        load_inventory(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.csv"
    empty.write_text("host\n")
    with pytest.raises(InventoryError, match="no hosts in the inventory"):
        load_inventory(empty)


# --- issue 13: Ansible's host ranges and `ansible-inventory --list` --------------------------------

ANSIBLE_INVENTORY = shutil.which("ansible-inventory") or str(Path(sys.executable).with_name("ansible-inventory"))


def _ansible_list(path: Path) -> dict[str, Any]:
    """What Ansible itself makes of an inventory file (ansible-core's ansible-inventory --list)."""
    done = subprocess.run([ANSIBLE_INVENTORY, "-i", str(path), "--list"], capture_output=True, text=True,
                          timeout=120, check=True, env={**os.environ, "ANSIBLE_LOCAL_TEMP": "/tmp"})
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _ansible_hosts(listing: dict[str, Any]) -> set[str]:
    return {host for name, group in listing.items() if name != "_meta" for host in group.get("hosts", [])}


def test_host_ranges_expand_exactly_as_ansible_does() -> None:
    path = INVENTORIES / "ansible-ranges.ini"
    ours = {t.name for t in load_inventory(path)}
    assert ours == _ansible_hosts(_ansible_list(path))
    assert {"db-a.example.com", "db-f.example.com", "www01.example.com", "www09.example.com", "h5.example.com",
            "node0"} <= ours
    assert "www02.example.com" in ours and "h1.example.com" not in ours


@pytest.mark.parametrize(("pattern", "expected"), [
    ("db-[a:c]", ["db-a", "db-b", "db-c"]),
    ("web[01:03]", ["web01", "web02", "web03"]),
    ("h[0:10:5]", ["h0", "h5", "h10"]),
    ("n[:1]", ["n0", "n1"]),
    ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
])
def test_range_shapes(pattern: str, expected: list[str]) -> None:
    assert expand_ansible_range(pattern, "test") == expected


@pytest.mark.parametrize(("pattern", "message"), [
    ("x[5:1]", "is empty"),
    ("x[01:100]", "same width"),
    ("x[a:10]", "numbers ([01:20]) or single letters"),
    ("x[0:2:0]", "step must be at least 1"),
    ("x[0:99999]", "longer than 10000"),
])
def test_bad_ranges_are_named(pattern: str, message: str) -> None:
    with pytest.raises(InventoryError, match=re.escape(message)):
        expand_ansible_range(pattern, "line 3")


@pytest.mark.parametrize("name", ["ansible.ini", "ansible.yaml"])
def test_ansible_inventory_list_json_gives_the_same_targets_as_the_file(name: str, tmp_path: Path) -> None:
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps(_ansible_list(INVENTORIES / name)))
    from_file = _by_name(load_inventory(INVENTORIES / name))
    from_list = _by_name(load_inventory(listing))
    assert set(from_list) == set(from_file)
    for host, target in from_file.items():
        # Everything but the inventory file each target was read from (the audit trail of a sweep).
        assert dataclasses.replace(from_list[host], source=target.source) == target, host


def test_recorded_ansible_inventory_list_output() -> None:
    """ansible-core 2.19's --list of ansible.ini, kept so the shape is tested without Ansible installed."""
    targets = _by_name(load_inventory(INVENTORIES / "ansible-inventory-list.json"))
    assert set(targets) == {"bastion.example.org", "aix01.example.org", "aix02.example.org", "aix03.example.org",
                            "aix-legacy.example.org", "sol10.example.org"}
    legacy = targets["aix-legacy.example.org"]
    assert (legacy.host, legacy.port, legacy.user, legacy.jump) == ("10.1.2.3", 2222, "scan",
                                                                    "jump@bastion.example.org:2200")
    assert dict(legacy.labels) == {"environment": "test", "org": "hmrc"}


def test_dynamic_inventory_hosts_only_in_meta_and_bad_shapes() -> None:
    listing = {"_meta": {"hostvars": {"lonely.example.org": {"ansible_user": "ops"}}}, "all": {"children": []}}
    targets = parse_yaml(json.dumps(listing), {})
    assert [(t.name, t.user) for t in targets] == [("lonely.example.org", "ops")]
    with pytest.raises(InventoryError, match="group 'web': hosts must be a list"):
        parse_yaml(json.dumps({"_meta": {"hostvars": {}}, "web": {"hosts": {"a": {}}}}), {})
    with pytest.raises(InventoryError, match="ansible_password is not read"):
        parse_yaml(json.dumps({"_meta": {"hostvars": {"h": {"ansible_password": "x"}}}, "g": {"hosts": ["h"]}}), {})
