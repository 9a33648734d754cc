"""IBM AIX: OS level from `oslevel -s` (Technology Level and Service Pack), filesets from `lslpp`.

`oslevel -s` prints VRMF-TL-SP-build, e.g. `7200-05-03-2148` = AIX 7.2, Technology Level 5,
Service Pack 3, built in week 48 of 2021 (older levels omit the build: `5300-05-04`). The version
is written as 7.2.5.3 so that endoflife.date's cycles ("7.2.5") are its prefix.

Filesets come from `lslpp -Lc` (colon-separated, every fileset and the RPMs AIX Toolbox installed),
or, where that fails, `lslpp -c -l` (installp filesets per object repository).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from estate.agent.discovery.unix import sysname, uname_all
from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

FOUND_BY = "aix"
SYSNAME = "AIX"
OSLEVEL = ["oslevel", "-s"]
LSLPP_ALL = ["lslpp", "-Lc"]
LSLPP_INSTALLP = ["lslpp", "-c", "-l"]
LSLPP_TIMEOUT_S = 120.0
LSLPP_MAX_BYTES = 64 * 1024 * 1024
MAX_ERRORS_LISTED = 20
_OSLEVEL = re.compile(r"^(\d)(\d)00-(\d{2})-(\d{2})(?:-(\d{4}))?$")
# lslpp -Lc Type column: R is an RPM (from the AIX Toolbox); the rest are installp filesets and fixes.
RPM_TYPE = "R"


class OsLevel(NamedTuple):  # not a dataclass: importing dataclasses costs the scan ~9 ms
    release: str  # "7.2"
    technology_level: int
    service_pack: int
    build: str  # "2148" (year and week), "" on old levels

    @property
    def version(self) -> str:
        return f"{self.release}.{self.technology_level}.{self.service_pack}"


def parse_oslevel(text: str) -> OsLevel:
    """'7200-05-03-2148' -> OsLevel('7.2', 5, 3, '2148'); raises ValueError on anything else."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    match = _OSLEVEL.match(line)
    if not match:
        raise ValueError(f"oslevel -s printed {line[:60]!r}, not VRMF-TL-SP[-build] such as 7200-05-03-2148")
    major, minor, tl, sp, build = match.groups()
    return OsLevel(f"{major}.{minor}", int(tl), int(sp), build or "")


def os_from_oslevel(level: OsLevel, text: str) -> pb.OperatingSystem:
    return pb.OperatingSystem(
        family="aix", id="aix", name="AIX", version=level.version, version_id=level.release,
        major=level.release.split(".")[0], build=text.strip().splitlines()[0].strip(),
        kernel=level.release,  # uname -r alone prints only the minor number ("2") on AIX
        pretty_name=f"AIX {level.release} TL{level.technology_level} SP{level.service_pack}")


# Where `lslpp -c -l` lists a fileset's parts: usr (the applied level of the product), share, and
# root (configuration under /etc, which can lag behind the usr part after an update).
OBJREPOS_ORDER = {"/usr/lib/objrepos": 0, "/usr/share/lib/objrepos": 1, "/etc/objrepos": 2}


def parse_lslpp_all(text: str, evidence: str = " ".join(LSLPP_ALL)) -> tuple[list[pb.Package], list[str]]:
    """Parse `lslpp -Lc`: PackageName:Fileset:Level:State:PTF:FixState:Type:Description:...

    An installp fileset is one package at its first-listed level (lslpp lists the usr part first);
    RPMs may have several versions installed side by side, so they are kept by name and version.
    """
    packages: list[pb.Package] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) < 7 or not fields[1].strip() or not fields[2].strip():
            problems.append(f"line {number}: expected PackageName:Fileset:Level:..., got {line[:80]!r}")
            continue
        package, fileset, level, kind = fields[0].strip(), fields[1].strip(), fields[2].strip(), fields[6].strip()
        name = package if kind == RPM_TYPE else fileset
        key = (name, level if kind == RPM_TYPE else "")
        if key in seen:
            continue
        seen.add(key)
        packages.append(pb.Package(name=name, version=level, manager="rpm" if kind == RPM_TYPE else "lslpp",
                                   source=package, found_by=FOUND_BY, evidence=evidence))
    return packages, problems


def parse_lslpp_installp(text: str, evidence: str = " ".join(LSLPP_INSTALLP)) -> tuple[list[pb.Package], list[str]]:
    """Parse `lslpp -c -l`: Path:Fileset:Level:PTF Id:State:Type:Description:EFIX Locked.

    A fileset with a root part is listed under both /usr/lib/objrepos and /etc/objrepos, and after
    an update the two can be at different levels: it is one package, at its usr (applied) level.
    A root-only fileset keeps its root level.
    """
    problems: list[str] = []
    chosen: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) < 6 or not fields[0].startswith("/") or not fields[1].strip() or not fields[2].strip():
            problems.append(f"line {number}: expected Path:Fileset:Level:..., got {line[:80]!r}")
            continue
        name, level = fields[1].strip(), fields[2].strip()
        rank = OBJREPOS_ORDER.get(fields[0].strip().rstrip("/"), len(OBJREPOS_ORDER))
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, level)
    packages = [pb.Package(name=name, version=level, manager="lslpp", found_by=FOUND_BY, evidence=evidence)
                for name, (_, level) in chosen.items()]
    return packages, problems


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    if sysname(host) != SYSNAME:
        return found
    evidence = ["uname -s"]
    found.os.CopyFrom(pb.OperatingSystem(family="aix", id="aix", name="AIX"))
    words = uname_all(host)  # AIX: sysname nodename release version machine-id
    if len(words) >= 4:
        found.host.hostname = words[1]
        found.os.version_id, found.os.major = f"{words[3]}.{words[2]}", words[3]
        found.os.kernel = found.os.version_id
        evidence.append("uname -a")
    try:
        result = host.run(OSLEVEL, timeout=60.0, limit=4096)
        if result.exit_code != 0:
            stderr = result.stderr[:200].decode(errors="replace")
            raise HostAccessError(f"oslevel -s exited {result.exit_code}: {stderr}")
        found.os.CopyFrom(os_from_oslevel(parse_oslevel(result.text), result.text))
        evidence.append("oslevel -s")
    except (FileNotFoundError, CommandsUnavailable, HostAccessError, ValueError) as exc:
        found.errors.add(discoverer=FOUND_BY, message=f"{exc}; Technology Level and Service Pack unknown",
                         evidence="oslevel -s")
    found.os.found_by, found.os.evidence = FOUND_BY, "; ".join(evidence)
    _add_filesets(host, found)
    return found


def _add_filesets(host: HostAccess, found: pb.Inventory) -> None:
    failures: list[str] = []
    for argv, parse in ((LSLPP_ALL, parse_lslpp_all), (LSLPP_INSTALLP, parse_lslpp_installp)):
        shown = " ".join(argv)
        try:
            result = host.run(argv, timeout=LSLPP_TIMEOUT_S, limit=LSLPP_MAX_BYTES)
        except (FileNotFoundError, CommandsUnavailable, HostAccessError) as exc:
            failures.append(str(exc))
            continue
        if result.exit_code != 0 and not result.stdout.strip():
            failures.append(f"{shown} exited {result.exit_code}: {result.stderr[:200].decode(errors='replace')}")
            continue
        packages, problems = parse(result.text)
        found.packages.extend(packages)
        if result.exit_code != 0:
            problems.insert(0, f"exited {result.exit_code}; kept the {len(packages)} filesets it listed")
        if result.truncated:
            problems.insert(0, "output truncated at the size limit; later filesets are missing")
        for problem in problems[:MAX_ERRORS_LISTED]:
            found.errors.add(discoverer=FOUND_BY, message=f"{shown}: {problem}", evidence=shown)
        return
    found.errors.add(discoverer=FOUND_BY, evidence="lslpp",
                     message="no filesets listed: " + "; ".join(failures)[:800])
