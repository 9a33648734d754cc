"""Targets from our YAML, CSV, Ansible YAML and INI inventories and the command line; bad input is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from estate.agent.ssh.inventory import (
    InventoryError,
    Target,
    dedupe,
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
