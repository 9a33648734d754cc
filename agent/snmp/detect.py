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
from estate.agent.discovery.windows import CLIENT_BUILDS, SERVER_BUILDS
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
ENTITY_COLUMNS = {"descr": 2, "contained_in": 4, "hardware": 8, "firmware": 9, "software": 10, "serial": 11,
                  "mfg": 12, "model": 13}
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

# What a version must look like: a digit early on, then version characters, ending in a letter or digit.
# Refused, with the reason in the report: "machine:x86_64" (a label: value pair from a Linux
# sysDescr), "6.4|2" (a separator), "8.10.0.12-" (cut off), words with no digit, absurd lengths.
MAX_VERSION_CHARS = 64
# Spaces and commas stay allowed: Comware says "7.1.045, Release 2416".
_VERSION_SHAPE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.()_+\-, /]*$")
_LABEL_VALUE = re.compile(r"^[A-Za-z][A-Za-z_-]*[:=]")

# Windows over SNMP: the role is in sysObjectID (Microsoft's LanManager-MIB registrations).
WINDOWS_ROLES = {
    "1.3.6.1.4.1.311.1.1.3.1.1": "workstation",
    "1.3.6.1.4.1.311.1.1.3.1.2": "server",
    "1.3.6.1.4.1.311.1.1.3.1.3": "domain controller",
}
_WINDOWS_BUILD = re.compile(r"Build (?P<build>\d{4,5})")
_WINDOWS_NT = re.compile(r"Version (?P<nt>\d+\.\d+)")


@dataclass
class EntityRow:
    """The entPhysicalTable columns of one physical entity."""

    index: int
    cls: int = 0
    contained_in: str = ""
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
    port: int = 161
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
    # Set when the agent answered the system group and then stopped: the report is partial.
    interrupted: str = ""


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


def version_problem(value: str) -> str:
    """Why `value` is not a version ("" when it looks like one)."""
    if len(value) > MAX_VERSION_CHARS:
        return f"longer than {MAX_VERSION_CHARS} characters"
    if "|" in value:
        return "contains '|' (a field separator, not a version)"
    if _LABEL_VALUE.match(value):
        return "is a 'label:value' pair, not a version"
    if not any(c.isdigit() for c in value):
        return "has no digit"
    if value[-1] in "-.+_(,/ ":
        return "ends in a separator (cut off)"
    if not _VERSION_SHAPE.match(value):
        return "has characters a version does not have"
    return ""


def _is_top_level(row: EntityRow) -> bool:
    return row.contained_in in ("", "0")


def main_entity(entities: Sequence[EntityRow]) -> EntityRow | None:
    """The entity that describes the device: the top-level chassis (or stack) with a model or serial,
    else the first useful entity that is not a module (a line card's model is not the device's)."""
    useful = [e for e in entities if e.model or e.serial or e.software or e.descr]
    for wanted in (ENT_CLASS_CHASSIS, ENT_CLASS_STACK):
        rows = [row for row in useful if row.cls == wanted]
        top = [row for row in rows if _is_top_level(row)]
        if top or rows:
            return (top or rows)[0]
    not_modules = [row for row in useful if row.cls != ENT_CLASS_MODULE]
    top = [row for row in not_modules if _is_top_level(row)]
    chosen = top or not_modules or useful
    return chosen[0] if chosen else None


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
    """Each field's value and the OID that gave it: the rule's sources first, then the defaults.

    A version that does not look like one is refused (noted in facts.problems) and the next
    source is tried.
    """
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
            if value and name == "version":
                why = version_problem(value)
                if why:
                    facts.problems.append((f"version {value[:80]!r} refused: {why}", oid))
                    continue
            if value:
                found[name] = (value, oid)
                break
    return found


def windows_os(facts: Facts) -> pb.OperatingSystem | None:
    """Windows product and role from sysObjectID and the build number in sysDescr.

    The NT number alone is ambiguous (6.1 is Windows 7 and Server 2008 R2; 10.0 is every release
    since 2015), so the build decides, and sysObjectID says workstation, server or domain controller.
    """
    build_match = _WINDOWS_BUILD.search(facts.sys_descr)
    role = next((r for oid, r in WINDOWS_ROLES.items() if oid_has_prefix(facts.sys_object_id, oid)), "")
    if build_match is None:
        return None
    build = int(build_match["build"])
    server = role in ("server", "domain controller") or (not role and build in SERVER_BUILDS and build >= 20348)
    if server:
        version_id = SERVER_BUILDS.get(build) or next(
            (v for first, v in sorted(SERVER_BUILDS.items(), reverse=True) if build >= first), "")
        name = "Windows Server " + version_id.replace("-r2", " R2") if version_id else "Windows Server"
    else:
        version_id = next((v for first, v in CLIENT_BUILDS if build >= first), "")
        name = "Windows " + (version_id.upper() if version_id == "xp" else version_id.title())
    nt = _WINDOWS_NT.search(facts.sys_descr)
    kernel = f"{nt['nt']}.{build}" if nt else str(build)
    return pb.OperatingSystem(family="windows", id="windows-server" if server else "windows", name=name.strip(),
                              version=kernel, version_id=version_id, major=version_id.split("-")[0].split(".")[0],
                              pretty_name=f"{name.strip()} ({role})" if role else name.strip(), kernel=kernel,
                              edition=role, build=str(build), found_by=FOUND_BY,
                              evidence=f"{SYS_DESCR} (build) {SYS_OBJECT_ID} (role)")


def parse_hrsw_name(text: str) -> pb.Package:
    """A package from one hrSWInstalledName value (dpkg and RPM shapes split, others kept whole)."""
    for pattern in (_DPKG_NAME, _RPM_NAME):
        match = pattern.match(text)
        if match:
            return pb.Package(name=match["name"], version=match["version"], architecture=match["arch"],
                              manager="hrsw", found_by=FOUND_BY)
    return pb.Package(name=text, manager="hrsw", found_by=FOUND_BY)


def asset_id_for(facts: Facts, vendor: str, serial: str) -> tuple[str, str]:
    """Stable identity: the SNMP engine id; else vendor + serial; else the address (least stable).

    The port joins the address when it is not 161: two agents behind one address are two devices.
    """
    if facts.engine_id:
        return f"snmp:{facts.engine_id}", "snmpEngineID"
    if serial:
        return f"snmp-serial:{vendor or 'unknown'}:{serial}", "serial"
    where = facts.address if facts.port == 161 else f"{facts.address}:{facts.port}"
    return f"snmp-address:{where}", "address"


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


def _refine_windows(report: pb.Inventory, facts: Facts) -> None:
    """Windows: the product ("2008-r2", "xp") as the device version and an OS part, not the NT number."""
    os_info = windows_os(facts)
    if os_info is None:
        facts.problems.append(("Windows sysDescr has no build number: product unknown", SYS_DESCR))
        return
    report.os.CopyFrom(os_info)
    if os_info.version_id:
        report.device.version = os_info.version_id
        report.device.evidence["version"] = f"{SYS_DESCR} (build {os_info.build})"


# Products whose name is worked out from several objects at once, by (vendor, os).
REFINERS = {("microsoft", "windows"): _refine_windows}


def build_report(facts: Facts, rules: Sequence[OsRule], labels: Mapping[str, str] | None = None) -> pb.Inventory:
    """One Inventory (method SNMP) for one device, with a fresh report_id."""
    rule = detect_os(rules, facts.sys_descr, facts.sys_object_id)
    report = pb.Inventory(report_id=str(uuid.uuid4()), method=pb.METHOD_SNMP, agent_version=__version__)
    stamp = Timestamp()
    stamp.GetCurrentTime()
    report.collected_at.CopyFrom(stamp)
    report.device.CopyFrom(build_device(facts, rule))
    refine = REFINERS.get((report.device.vendor, report.device.os))
    if refine is not None:
        refine(report, facts)
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
    if facts.interrupted:
        facts.problems.insert(0, (f"partial report: {facts.interrupted}", ""))
    for message, oid in facts.problems[:MAX_ERRORS]:
        report.errors.add(discoverer=FOUND_BY, message=message[:1000], evidence=oid)
    return report
