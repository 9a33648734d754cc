"""Estates of made-up organisations for the report and GDS tests: every host detail is distinct and
recognisable, so a test can prove none of it reaches anything GDS receives."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from estate.v1 import inventory_pb2 as pb

from .rulekit import report

# Real lifecycles in rules/lifecycles/endoflife: a spread of end-of-life, extended, soon and supported.
OSES = (("debian", "9"), ("debian", "10"), ("debian", "11"), ("debian", "12"), ("ubuntu", "16.04"),
        ("ubuntu", "18.04"), ("ubuntu", "22.04"), ("ubuntu", "24.04"))
PACKAGES = ((("openssl", "1.1.1n-0+deb11u5"), ("python3.9", "3.9.2-1")),
            (("openssl", "3.0.11-1~deb12u2"), ("python3.11", "3.11.2-6")),
            (("python2.7", "2.7.18-8"),), ())
SYSTEMS = ("payroll", "case-management", "website", "example-payroll", "grants")


@dataclass
class Estate:
    org: str
    reports: list[pb.Inventory] = field(default_factory=list)

    def identifiers(self) -> set[str]:
        """Every host name, address, serial and asset id in the estate: none may reach GDS."""
        found: set[str] = set()
        for r in self.reports:
            found |= {r.asset_id, r.host.hostname, r.host.fqdn, r.host.hardware.serial, r.host.machine_id}
            for nic in r.host.interfaces:
                found |= {nic.mac, *nic.addresses}
            for listener in r.listeners:
                if listener.address not in ("0.0.0.0", "127.0.0.1"):
                    found.add(listener.address)
        return {f for f in found if f}


def estate(org: str, assets: int, seed: int, department_count: int = 2) -> Estate:
    """`assets` hosts of `org` with OSes, packages, systems and departments drawn from `seed`."""
    rng = random.Random(seed)
    out = Estate(org)
    for n in range(assets):
        os_id, version = rng.choice(OSES)
        machine = uuid.UUID(int=rng.getrandbits(128)).hex
        labels = {"org": org, "department": f"{org}-dept-{rng.randrange(department_count)}",
                  "environment": rng.choice(("production", "staging")), "system": rng.choice(SYSTEMS)}
        inv = report(f"machine-id:{machine}", os_id=os_id, version_id=version, kernel="6.1.0-18-amd64",
                     packages=rng.choice(PACKAGES), labels=labels, exposed=rng.random() < 0.5)
        inv.host.hostname = f"{org}-host-{n:04d}"
        inv.host.fqdn = f"{org}-host-{n:04d}.{org}.internal.example"
        inv.host.machine_id = machine
        inv.host.hardware.serial = f"SERIAL-{org.upper()}-{seed}-{n:05d}"
        octet = (seed * 7 + n) % 250 + 2
        mac = f"02:42:{seed % 256:02x}:{n // 256 % 256:02x}:{n % 256:02x}:0{seed % 10}"
        inv.host.interfaces.add(name="eth0", mac=mac,
                                addresses=[f"198.51.{seed % 250}.{octet}", f"2001:db8:{seed:x}::{n + 1:x}"])
        inv.listeners.add(protocol="tcp", address=f"198.51.{seed % 250}.{octet}", port=443, exposed=True)
        out.reports.append(inv)
    return out
