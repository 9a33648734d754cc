"""deploy/: the Ansible roles' documented variables, and the demo's wiring (the roles run for real in test_ansible)."""

from __future__ import annotations

import re

import yaml

from .conftest import REPO

ROLES = REPO / "deploy" / "ansible" / "roles"


def test_every_role_variable_is_documented_with_its_default() -> None:
    readme = (REPO / "deploy" / "ansible" / "README.md").read_text()
    for role in ("estate_collector", "estate_agent"):
        defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
        used = set(re.findall(r"\b(estate_\w+)", "".join(p.read_text() for p in (ROLES / role).rglob("*.*"))))
        assert used <= set(defaults), f"{role} uses variables without a default: {sorted(used - set(defaults))}"
        for name in defaults:
            assert f"`{name}`" in readme, f"{role}: {name} is not documented in deploy/ansible/README.md"
