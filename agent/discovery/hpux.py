"""HP-UX 11i: identity from `uname -a` and `machinfo`, software from `swlist`.

`uname -a` prints "HP-UX NODE B.11.31 U ia64 ID license": release B.11.31 is 11i v3 (version_id
"11.31"). `machinfo` (Integrity servers, 11.23 onwards) adds the model, serial number, CPUs and
memory; its layout differs between 11.23 ("key = value") and 11.31 ("Key: value"), so both are read.
`swlist` with no options lists the installed bundles, then the products not in any bundle; the
Operating Environment bundle (HPUX11i-OE-Ent, HPUX11i-DC-OE, ...) names the edition and its
revision the OE update (B.11.23.0712 = December 2007).
"""

from __future__ import annotations

import re

from estate.agent.discovery.unix import checked_output, sysname, uname_all
from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

FOUND_BY = "hpux"
SYSNAME = "HP-UX"
MACHINFO = ["machinfo"]
SWLIST = ["swlist"]
SWLIST_TIMEOUT_S = 180.0
SWLIST_MAX_BYTES = 64 * 1024 * 1024
MAX_ERRORS_LISTED = 20
# HP's names for the releases (endoflife.date-style cycles are the numbers).
CODENAMES = {"11.00": "11.00", "11.11": "11i v1", "11.20": "11i v1.5", "11.22": "11i v1.6", "11.23": "11i v2",
             "11.31": "11i v3"}
_RELEASE = re.compile(r"^[A-Z]?\.?(\d+\.\d+)$")
_OE_BUNDLE = re.compile(r"^HPUX11i-.*OE")
_MEMORY = re.compile(r"^\s*Memory\s*[:=]\s*(\d+)\s*MB", re.IGNORECASE)
_CPU_COUNT = re.compile(r"^\s*(?:Number of CPUs\s*=\s*(\d+)|(\d+)\s+(.+?)\s+processors?\b)", re.IGNORECASE)
_FIELD = re.compile(r"^\s*([^:=]+?)\s*[:=]\s*(.*)$")
# machinfo field -> Hardware field, for both layouts (key matched case-insensitively).
MACHINFO_FIELDS = {"model": "product", "model string": "product", "machine serial number": "serial"}


def release_version(release: str) -> str:
    """'B.11.31' -> '11.31'; raises ValueError for anything that is not an HP-UX release."""
    match = _RELEASE.match(release.strip())
    if not match:
        raise ValueError(f"{release[:40]!r} is not an HP-UX release such as B.11.31")
    return match.group(1)


def os_from_uname(words: list[str]) -> tuple[pb.OperatingSystem, str]:
    """From `uname -a` words: the OperatingSystem and the node name."""
    if len(words) < 5 or words[0] != SYSNAME:
        raise ValueError(f"uname -a printed {' '.join(words)[:80]!r}, not HP-UX NODE RELEASE VERSION MACHINE ...")
    version_id = release_version(words[2])
    return pb.OperatingSystem(
        family="hpux", id="hpux", name="HP-UX", version=words[2], version_id=version_id,
        major=version_id.split(".")[0], codename=CODENAMES.get(version_id, ""), kernel=words[2],
        architecture=words[4], pretty_name=f"HP-UX {CODENAMES.get(version_id, version_id)} ({words[2]})"), words[1]


def parse_machinfo(text: str) -> tuple[pb.Hardware, dict[str, str]]:
    """machinfo -> Hardware (model, serial, CPUs, memory) and the OS info block (release, nodename, machine)."""
    hardware = pb.Hardware(vendor="hp", found_by=FOUND_BY, evidence="machinfo")
    os_info: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            section = line.strip().rstrip(":").lower()
            continue
        memory = _MEMORY.match(line)
        if memory:
            hardware.memory_bytes = int(memory.group(1)) * 1024 * 1024
            continue
        cpus = _CPU_COUNT.match(line)
        if cpus and section == "cpu info" and not hardware.cpu_count:
            hardware.cpu_count = int(cpus.group(1) or cpus.group(2))
            if cpus.group(3):
                hardware.cpu_model = cpus.group(3).strip()
            continue
        field = _FIELD.match(line)
        if not field:
            continue
        key, value = field.group(1).lower(), field.group(2).strip().strip('"')
        if section == "os info":
            os_info[key] = value
        elif key in MACHINFO_FIELDS and value:
            setattr(hardware, MACHINFO_FIELDS[key], value)
        elif key == "processor model" and not hardware.cpu_model:
            hardware.cpu_model = value.split(None, 1)[-1]
    return hardware, os_info


def parse_swlist(text: str, evidence: str = " ".join(SWLIST)) -> tuple[list[pb.Package], list[str], tuple[str, str]]:
    """`swlist`: '  NAME  REVISION  TITLE' lines ('#' lines are headings). Returns packages, problems and
    the Operating Environment bundle (name, revision), ('', '') when none is listed."""
    packages: list[pb.Package] = []
    problems: list[str] = []
    environment = ("", "")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = line.split()
        if len(words) < 2 or not line[0].isspace():
            problems.append(f"line {number}: expected '  NAME REVISION TITLE', got {line[:80]!r}")
            continue
        name, revision = words[0], words[1]
        if _OE_BUNDLE.match(name) and not environment[0]:
            environment = (name, revision)
        packages.append(pb.Package(name=name, version=revision, manager="swlist", found_by=FOUND_BY,
                                   evidence=evidence))
    return packages, problems, environment


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    if sysname(host) != SYSNAME:
        return found
    found.os.CopyFrom(pb.OperatingSystem(family="hpux", id="hpux", name="HP-UX"))
    evidence = ["uname -s"]
    words = uname_all(host)
    if words:
        try:
            os_part, node = os_from_uname(words)
            found.os.CopyFrom(os_part)
            found.host.hostname = node
            evidence.append("uname -a")
        except ValueError as exc:
            found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence="uname -a")
    machinfo = _run(host, MACHINFO, found, optional=True, limit=1024 * 1024)
    if machinfo is not None:
        hardware, os_info = parse_machinfo(machinfo)
        found.host.hardware.CopyFrom(hardware)
        if not found.os.version_id and os_info.get("release"):
            # Without uname -a, machinfo's OS block ("Release: HP-UX B.11.31" or "release = B.11.23") decides.
            release = os_info["release"].split()[-1]
            try:
                os_part, node = os_from_uname([SYSNAME, os_info.get("nodename", ""), release, "U",
                                               os_info.get("machine", "")])
                found.os.CopyFrom(os_part)
                found.host.hostname = node
            except ValueError as exc:
                found.errors.add(discoverer=FOUND_BY, message=f"machinfo: {exc}", evidence="machinfo")
        evidence.append("machinfo")
    if not found.os.version_id:
        found.errors.add(discoverer=FOUND_BY, message="HP-UX release unknown: neither uname -a nor machinfo gave it",
                         evidence="uname -a; machinfo")
    output = _run(host, SWLIST, found, optional=False, limit=SWLIST_MAX_BYTES)
    if output is not None:
        packages, problems, (bundle, revision) = parse_swlist(output)
        found.packages.extend(packages)
        if bundle:
            found.os.edition, found.os.build = bundle, revision
            evidence.append("swlist")
        for problem in problems[:MAX_ERRORS_LISTED]:
            found.errors.add(discoverer=FOUND_BY, message=f"swlist: {problem}", evidence="swlist")
    found.os.found_by, found.os.evidence = FOUND_BY, "; ".join(evidence)
    return found


def _run(host: HostAccess, argv: list[str], found: pb.Inventory, optional: bool, limit: int) -> str | None:
    shown = " ".join(argv)
    try:
        result = host.run(argv, timeout=SWLIST_TIMEOUT_S, limit=limit)
    except (FileNotFoundError, CommandsUnavailable, HostAccessError) as exc:
        if not optional or not isinstance(exc, FileNotFoundError):
            found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence=shown)
        return None
    return checked_output(result, found, FOUND_BY)
