"""From facts read over SNMP to a report: detection by rule, extraction, packages (pure functions).

Nothing here does I/O: `client` collects a `Facts`, and `build_report` turns it into an
Inventory with the `device` part, packages from hrSWInstalled and errors for bad values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from google.protobuf.timestamp_pb2 import Timestamp

from estate.agent import __version__
from estate.agent.snmp.rules import OsRule, Source
from estate.agent.snmp.values import first_line
from estate.v1 import inventory_pb2 as pb

FOUND_BY = "snmp"

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
SNMP_ENGINE_ID = "1.3.6.1.6.3.10.2.1.1.0"
SYSTEM_OIDS = {"sys_descr": SYS_DESCR, "sys_object_id": SYS_OBJECT_ID, "sys_contact": SYS_CONTACT,
               "sys_name": SYS_NAME, "sys_location": SYS_LOCATION}

ENT_PHYSICAL_ENTRY = "1.3.6.1.2.1.47.1.1.1.1"
ENT_PHYSICAL_CLASS = ENT_PHYSICAL_ENTRY + ".5"
# ENTITY-MIB entPhysicalTable columns we read, by EntityRow attribute.
ENTITY_COLUMNS = {"descr": 2, "hardware": 8, "firmware": 9, "software": 10, "serial": 11, "mfg": 12, "model": 13}
ENT_CLASS_CHASSIS = 3
ENT_CLASS_STACK = 11
ENT_CLASS_MODULE = 9

HR_SW_INSTALLED_NAME = "1.3.6.1.2.1.25.6.3.1.2"

# Where a fact comes from when a rule gives no (or no successful) source, in order.
DEFAULT_SOURCES: dict[str, tuple[Source, ...]] = {
    "model": (Source("entity.model"),),
    "serial": (Source("entity.serial"),),
    "version": (Source("entity.software"),),
    "hardware_revision": (Source("entity.hardware"),),
    "firmware_revision": (Source("entity.firmware"),),
}

# hrSWInstalledName formats: net-snmp on Debian writes name_version_arch; on RPM systems the NVRA.
_DPKG_NAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.\-]*)_(?P<version>[^_\s]+)_(?P<arch>[a-z0-9]+)$")
_RPM_NAME = re.compile(r"^(?P<name>\S+)-(?P<version>[^-\s]+-[^-\s]+)\.(?P<arch>x86_64|i[3-6]86|noarch|aarch64|"
                       r"ppc64le|ppc64|ppc|s390x|armv7hl)$")
MAX_PACKAGES = 50_000
MAX_ERRORS = 100


@dataclass
class EntityRow:
    """The entPhysicalTable columns of one physical entity."""

    index: int
    cls: int = 0
    descr: str = ""
    hardware: str = ""
    firmware: str = ""
    software: str = ""
    serial: str = ""
    mfg: str = ""
    model: str = ""


@dataclass
class Facts:
    """Everything read from one agent, already decoded; `problems` are (message, OID) pairs."""

    address: str
    sys_descr: str = ""
    sys_object_id: str = ""
    sys_contact: str = ""
    sys_name: str = ""
    sys_location: str = ""
    engine_id: str = ""
    entities: list[EntityRow] = field(default_factory=list)
    vendor_values: dict[str, str] = field(default_factory=dict)
    software: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def oid_has_prefix(oid: str, prefix: str) -> bool:
    """True when `oid` is `prefix` or lies under it ("1.3.6.1.4.1.9." matches any Cisco OID)."""
    prefix = prefix.rstrip(".")
    return oid == prefix or oid.startswith(prefix + ".")


def matches(rule: OsRule, sys_descr: str, sys_object_id: str) -> bool:
    """Whether any of the rule's detect entries matches; within an entry every condition must."""
    for cond in rule.detect:
        if cond.sys_object_ids and not any(oid_has_prefix(sys_object_id, p) for p in cond.sys_object_ids):
            continue
        if cond.sys_descr and not any(p.search(sys_descr) for p in cond.sys_descr):
            continue
        if any(p.search(sys_descr) for p in cond.sys_descr_except):
            continue
        return True
    return False


def detect_os(rules: Sequence[OsRule], sys_descr: str, sys_object_id: str) -> OsRule | None:
    """The first rule, in priority order, that matches."""
    return next((r for r in rules if matches(r, sys_descr, sys_object_id)), None)


def main_entity(entities: Sequence[EntityRow]) -> EntityRow | None:
    """The entity that describes the device: a chassis (or stack) with a model or serial, else the first useful one."""
    useful = [e for e in entities if e.model or e.serial or e.software]
    for wanted in (ENT_CLASS_CHASSIS, ENT_CLASS_STACK):
        for row in useful:
            if row.cls == wanted:
                return row
    return useful[0] if useful else None


def _source_value(source: Source, facts: Facts, entity: EntityRow | None) -> tuple[str, str]:
    """(raw value, OID it came from) for one source, before its regex."""
    if source.kind == "sysDescr":
        return facts.sys_descr, SYS_DESCR
    if source.kind == "sysObjectID":
        return facts.sys_object_id, SYS_OBJECT_ID
    if source.kind == "sysName":
        return facts.sys_name, SYS_NAME
    if source.kind == "oid":
        return facts.vendor_values.get(source.oid, ""), source.oid
    if entity is None:
        return "", ""
    column = source.kind.split(".", 1)[1]
    return getattr(entity, column), f"{ENT_PHYSICAL_ENTRY}.{ENTITY_COLUMNS[column]}.{entity.index}"


def extract(rule: OsRule | None, facts: Facts) -> dict[str, tuple[str, str]]:
    """Each field's value and the OID that gave it: the rule's sources first, then the defaults."""
    entity = main_entity(facts.entities)
    found: dict[str, tuple[str, str]] = {}
    for name, defaults in DEFAULT_SOURCES.items():
        sources = (rule.extract.get(name, ()) if rule else ()) + defaults
        for source in sources:
            raw, oid = _source_value(source, facts, entity)
            if not raw:
                continue
            if source.regex is not None:
                match = source.regex.search(raw)
                if not match:
                    continue
                raw = match.group("value") if "value" in source.regex.groupindex else match.group(1)
            value = first_line(raw or "").strip()
            if value:
                found[name] = (value, oid)
                break
    return found


def parse_hrsw_name(text: str) -> pb.Package:
    """A package from one hrSWInstalledName value (dpkg and RPM shapes split, others kept whole)."""
    for pattern in (_DPKG_NAME, _RPM_NAME):
        match = pattern.match(text)
        if match:
            return pb.Package(name=match["name"], version=match["version"], architecture=match["arch"],
                              manager="hrsw", found_by=FOUND_BY)
    return pb.Package(name=text, manager="hrsw", found_by=FOUND_BY)


def asset_id_for(facts: Facts, vendor: str, serial: str) -> tuple[str, str]:
    """Stable identity: the SNMP engine id; else vendor + serial; else the address (least stable)."""
    if facts.engine_id:
        return f"snmp:{facts.engine_id}", "snmpEngineID"
    if serial:
        return f"snmp-serial:{vendor or 'unknown'}:{serial}", "serial"
    return f"snmp-address:{facts.address}", "address"


def build_device(facts: Facts, rule: OsRule | None) -> pb.Device:
    """The `device` part of a report, with evidence field -> OID for every fact set."""
    device = pb.Device(sys_descr=facts.sys_descr, sys_object_id=facts.sys_object_id, sys_name=facts.sys_name,
                       sys_contact=facts.sys_contact, sys_location=facts.sys_location, engine_id=facts.engine_id,
                       found_by=FOUND_BY)
    for name, oid in SYSTEM_OIDS.items():
        if getattr(device, name):
            device.evidence[name] = oid
    if facts.engine_id:
        device.evidence["engine_id"] = SNMP_ENGINE_ID
    if rule is not None:
        device.vendor, device.os = rule.vendor, rule.id
        # Detection reads both objects; the rule that matched is named for the curious.
        device.evidence["os"] = device.evidence["vendor"] = (
            f"{SYS_OBJECT_ID} {SYS_DESCR} (rule {PurePath(rule.file).name}:{rule.id})")
    for name, (value, oid) in extract(rule, facts).items():
        setattr(device, name, value)
        device.evidence[name] = oid
    return device


def build_report(facts: Facts, rules: Sequence[OsRule], labels: Mapping[str, str] | None = None) -> pb.Inventory:
    """One Inventory (method SNMP) for one device, with a fresh report_id."""
    rule = detect_os(rules, facts.sys_descr, facts.sys_object_id)
    report = pb.Inventory(report_id=str(uuid.uuid4()), method=pb.METHOD_SNMP, agent_version=__version__)
    stamp = Timestamp()
    stamp.GetCurrentTime()
    report.collected_at.CopyFrom(stamp)
    report.device.CopyFrom(build_device(facts, rule))
    report.host.hostname = facts.sys_name
    report.host.interfaces.add(addresses=[facts.address])
    report.asset_id, report.host.asset_id_source = asset_id_for(facts, report.device.vendor, report.device.serial)
    report.labels.update(labels or {})
    for oid, name in facts.software[:MAX_PACKAGES]:
        package = parse_hrsw_name(name)
        package.evidence = oid
        report.packages.append(package)
    if len(facts.software) > MAX_PACKAGES:
        facts.problems.append((f"hrSWInstalled lists {len(facts.software)} entries; kept the first {MAX_PACKAGES}",
                               HR_SW_INSTALLED_NAME))
    if rule is None:
        facts.problems.append(("no detection rule matches this sysObjectID/sysDescr: vendor and OS unknown",
                               SYS_OBJECT_ID))
    for message, oid in facts.problems[:MAX_ERRORS]:
        report.errors.add(discoverer=FOUND_BY, message=message[:1000], evidence=oid)
    return report
