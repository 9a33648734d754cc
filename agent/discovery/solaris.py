"""Oracle Solaris 8-11 and the illumos distributions: identity from /etc/release (and `pkg info
entire` on Solaris 11), packages from `pkg list -H` (IPS) and `pkginfo -l` (SVR4 packages).

/etc/release's first line names the release: "Oracle Solaris 10 8/11 s10s_u10wos_17b SPARC" is
Solaris 10 update 10 (the 8/11 release); "Oracle Solaris 11.4 SPARC" is 11.4; "Oracle Solaris 11
11/11 X86" is the first 11 release. version_id is what endoflife.date calls the cycle ("10",
"11", "11.4"); on 11, `pkg info entire` gives the exact SRU ("11.4.42.111.0") as the version. Solaris
11.0-11.3 wrote the SRU differently over the years ("Oracle Solaris 11.1.4.5.0", "Oracle Solaris 11.1 SRU
4.5", or only the branch 0.175.1.4.0.5.0): each is read as 11.1.4.5.

illumos distributions (OpenIndiana, OmniOS, SmartOS, NexentaStor) also say SunOS to uname and keep
an /etc/release, but they are not Solaris and have their own lifecycles: they get their own id and
family "illumos", never "solaris".
"""

from __future__ import annotations

import contextlib
import re
from typing import NamedTuple

from estate.agent.discovery.unix import checked_output, sysname
from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

FOUND_BY = "solaris"
SYSNAME = "SunOS"
RELEASE_FILE = "/etc/release"
NODENAME_FILE = "/etc/nodename"
PKG_LIST = ["pkg", "list", "-H"]
PKG_INFO_ENTIRE = ["pkg", "info", "entire"]
PKGINFO = ["pkginfo", "-l"]
PKG_TIMEOUT_S = 180.0
PKG_MAX_BYTES = 128 * 1024 * 1024
MAX_ERRORS_LISTED = 20
_RELEASE = re.compile(r"^(?:Oracle |Sun )?Solaris (?P<version>\d+(?:\.\d+)?)(?: (?P<date>\d{1,2}/\d{2}))?"
                      r"(?: (?P<build>s\w+))?(?: (?P<arch>SPARC|X86|x86|sparc))?\b")
_UPDATE = re.compile(r"_u(\d+)")
_SRU = re.compile(r"Oracle Solaris (\d+(?:\.\d+){2,})")
_SRU_WORDS = re.compile(r"Oracle Solaris (?P<release>\d+(?:\.\d+)?) SRU (?P<sru>\d+(?:\.\d+)*)")
# IPS branch of `entire` on 11.0-11.3: 0.175.<update>.<SRU>.0.<build>.0
_BRANCH = re.compile(r"^0\.175\.(?P<update>\d+)\.(?P<sru>\d+)\.\d+\.(?P<build>\d+)\.\d+$")
# illumos /etc/release first lines -> (id, name, version pattern). Order matters: most specific first.
ILLUMOS_RELEASES = (
    ("openindiana", "OpenIndiana", re.compile(r"^OpenIndiana (?:\w+ )?(?P<version>oi_\d+(?:\.\d+)*|\d{4}\.\d{2})")),
    ("omnios", "OmniOS", re.compile(r"^OmniOS (?:v\d+ )?(?P<version>r\d{6}\w*)")),
    ("smartos", "SmartOS", re.compile(r"^SmartOS (?P<version>\d{8}T\d{6}Z)")),
    ("nexentastor", "NexentaStor", re.compile(r"^(?:Open Storage Appliance|NexentaStor) v?(?P<version>\d[\w.-]*)")),
    ("nexenta", "Nexenta Core Platform", re.compile(r"^Nexenta\S* (?:Core Platform )?(?P<version>\d[\w.-]*)")),
)
ARCHITECTURES = {"SPARC": "sparc", "sparc": "sparc", "X86": "x86", "x86": "x86"}
_PKG_INFO_FIELD = re.compile(r"^\s*([A-Z][A-Za-z ]*?):\s+(.*)$")  # continuation lines hold no such key
_PKGINFO_FIELD = re.compile(r"^\s*([A-Z_]+):\s?(.*)$")
INSTALLED = "completely installed"


class Release(NamedTuple):  # not a dataclass: importing dataclasses costs the scan ~9 ms
    version_id: str
    release_date: str  # "8/11" (Solaris 10 updates and 11 11/11), "" for 11.1 onwards
    build: str  # "s10s_u10wos_17b"
    architecture: str
    line: str

    @property
    def update(self) -> str:
        match = _UPDATE.search(self.build)
        return match.group(1) if match else ""


def parse_release(text: str) -> Release:
    """The first non-blank line of /etc/release; raises ValueError when it is not a Solaris release."""
    line = next((raw.strip() for raw in text.splitlines() if raw.strip()), "")
    match = _RELEASE.match(line)
    if not match:
        raise ValueError(f"{RELEASE_FILE}: {line[:80]!r} is not a Solaris release line")
    return Release(match["version"], match["date"] or "", match["build"] or "",
                   ARCHITECTURES.get(match["arch"] or "", ""), line)


def os_from_release(release: Release) -> pb.OperatingSystem:
    version = f"{release.version_id} {release.release_date}" if release.release_date else release.version_id
    return pb.OperatingSystem(
        family="solaris", id="solaris", name="Oracle Solaris" if "Oracle" in release.line else "Solaris",
        version=version, version_id=release.version_id, major=release.version_id.split(".")[0],
        pretty_name=release.line, build=release.build, architecture=release.architecture,
        codename=f"update {release.update}" if release.update else "")


def illumos_os(text: str) -> pb.OperatingSystem | None:
    """An illumos distribution from /etc/release, or None when the first line names none."""
    line = next((raw.strip() for raw in text.splitlines() if raw.strip()), "")
    for os_id, name, pattern in ILLUMOS_RELEASES:
        match = pattern.match(line)
        if match:
            version = match["version"]
            cycle = re.match(r"^(oi_\d+|r\d{6}|\d{4}\.\d{2}|\d+\.\d+)", version)
            return pb.OperatingSystem(family="illumos", id=os_id, name=name, version=version,
                                      version_id=cycle.group(1) if cycle else version, pretty_name=line[:200])
    if "illumos" in line.lower():
        return pb.OperatingSystem(family="illumos", id="illumos", name=line.split(" ")[0], pretty_name=line[:200])
    return None


def os_from_release_text(text: str) -> pb.OperatingSystem:
    """Solaris or an illumos distribution from /etc/release; raises ValueError for anything else."""
    illumos = illumos_os(text)
    if illumos is not None:
        return illumos
    return os_from_release(parse_release(text))


def parse_pkg_info(text: str) -> dict[str, str]:
    """`pkg info PACKAGE` -> {'Version': '11.4 (Oracle Solaris 11.4.0.0.1.15.0)', 'Branch': ...}."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _PKG_INFO_FIELD.match(line)
        if match:
            fields.setdefault(match.group(1), match.group(2).strip())
    return fields


def sru_from_entire(fields: dict[str, str]) -> str:
    """The SRU of `pkg info entire` as one dotted version, '' when not shown.

    '11.4 (Oracle Solaris 11.4.0.0.1.15.0)' -> '11.4.0.0.1.15.0'; 'Oracle Solaris 11.1 SRU 4.5' (in
    Version or Summary) -> '11.1.4.5'; 'Oracle Solaris 11 SRU 10.5' -> '11.0.10.5'; with neither, the
    11.0-11.3 branch 0.175.1.4.0.5.0 -> '11.1.4.5'.
    """
    for field in ("Version", "Summary"):
        text = fields.get(field, "")
        match = _SRU.search(text)
        if match:
            return match.group(1)
        words = _SRU_WORDS.search(text)
        if words:
            release = words["release"] if "." in words["release"] else words["release"] + ".0"
            return f"{release}.{words['sru']}"
    branch = _BRANCH.match(fields.get("Branch", ""))
    if branch:
        return f"11.{branch['update']}.{branch['sru']}.{branch['build']}"
    return ""


def parse_pkg_list(text: str, evidence: str = " ".join(PKG_LIST)) -> tuple[list[pb.Package], list[str]]:
    """`pkg list -H`: NAME [(PUBLISHER)] VERSION IFO; only installed ('i' first flag) packages."""
    packages: list[pb.Package] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if len(words) < 3 or (len(words) == 4 and not words[1].startswith("(")) or len(words) > 4:
            problems.append(f"line {number}: expected NAME [(PUBLISHER)] VERSION FLAGS, got {line[:80]!r}")
            continue
        flags = words[-1]
        if not flags.startswith("i"):
            continue
        packages.append(pb.Package(name=words[0], version=words[-2], manager="pkg", found_by=FOUND_BY,
                                   evidence=evidence))
    return packages, problems


def parse_pkginfo(text: str, evidence: str = " ".join(PKGINFO)) -> tuple[list[pb.Package], list[str]]:
    """`pkginfo -l`: one stanza per package (PKGINST, NAME, ARCH, VERSION, STATUS, ...)."""
    packages: list[pb.Package] = []
    problems: list[str] = []
    stanzas: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] = {}
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if current:
                stanzas.append((start, current))
            current, start = {}, number + 1
            continue
        match = _PKGINFO_FIELD.match(line)
        if match:
            current.setdefault(match.group(1), match.group(2).strip())
        elif not current:
            problems.append(f"line {number}: expected 'KEY: value', got {line[:80]!r}")
    if current:
        stanzas.append((start, current))
    for line_number, stanza in stanzas:
        name, version = stanza.get("PKGINST", ""), stanza.get("VERSION", "")
        if not name or not version:
            problems.append(f"line {line_number}: package {name or '?'!r} lacks "
                            f"{'PKGINST' if not name else 'VERSION'} (truncated output?)")
            continue
        status = stanza.get("STATUS", "")
        if status and status != INSTALLED:
            problems.append(f"package {name}: STATUS is {status!r}, not {INSTALLED!r}")
        packages.append(pb.Package(name=name, version=version, architecture=stanza.get("ARCH", ""),
                                   manager="pkginfo", found_by=FOUND_BY, evidence=evidence))
    return packages, problems


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    if sysname(host) != SYSNAME:
        return found
    found.os.CopyFrom(pb.OperatingSystem(family="solaris", id="solaris", name="Solaris"))
    evidence = ["uname -s"]
    try:
        found.os.CopyFrom(os_from_release_text(host.read_text(RELEASE_FILE, limit=64 * 1024)))
        evidence.append(RELEASE_FILE)
    except (OSError, HostAccessError, ValueError) as exc:
        found.errors.add(discoverer=FOUND_BY, message=f"{exc}; Solaris release unknown", evidence=RELEASE_FILE)
    with contextlib.suppress(OSError, HostAccessError):
        found.host.hostname = host.read_text(NODENAME_FILE, limit=4096).strip().split("\n")[0][:255]
    # `entire` carries Oracle's SRU; illumos distributions number their own releases.
    entire = _run(host, PKG_INFO_ENTIRE, found, optional=True) if found.os.family == "solaris" else None
    if entire is not None:
        fields = parse_pkg_info(entire)
        sru = sru_from_entire(fields)
        if sru:
            found.os.version = sru
            found.os.build = fields.get("Branch", found.os.build)
            evidence.append("pkg info entire")
    found.os.found_by, found.os.evidence = FOUND_BY, "; ".join(evidence)
    for argv, parse in ((PKG_LIST, parse_pkg_list), (PKGINFO, parse_pkginfo)):
        # IPS `pkg` exists from Solaris 11 only; SVR4 pkginfo on every release.
        output = _run(host, argv, found, quiet_if_missing=argv is PKG_LIST)
        if output is None:
            continue
        packages, problems = parse(output)
        found.packages.extend(packages)
        for problem in problems[:MAX_ERRORS_LISTED]:
            found.errors.add(discoverer=FOUND_BY, message=f"{' '.join(argv)}: {problem}", evidence=" ".join(argv))
    return found


def _run(host: HostAccess, argv: list[str], found: pb.Inventory, quiet_if_missing: bool = False,
         optional: bool = False) -> str | None:
    """Run a listing command; its failures become errors unless `optional` (or missing and `quiet_if_missing`)."""
    shown = " ".join(argv)
    try:
        result = host.run(argv, timeout=PKG_TIMEOUT_S, limit=PKG_MAX_BYTES)
    except (FileNotFoundError, CommandsUnavailable) as exc:
        if not (quiet_if_missing or optional):
            found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence=shown)
        return None
    except HostAccessError as exc:
        if not optional:
            found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence=shown)
        return None
    if optional and result.exit_code != 0:
        return None
    return checked_output(result, found, FOUND_BY, truncated="later packages are missing")
