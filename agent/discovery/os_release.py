"""OS identity: which operating system and release a host runs, and how we know.

Order of trust on Linux (the first source that names a distribution decides, the rest refine or
are recorded as contradictions in `evidence`):

1. os-release: /etc/os-release, then /usr/lib/os-release (symlinks followed, inside --root too).
   An empty file or one without ID/NAME is skipped with an error entry.
2. A derivative that ships its parent's os-release (Linux Mint 17's os-release says Ubuntu,
   some Oracle Linux images keep RHEL's): when lsb-release or a distribution-specific release
   file names a known derivative of the os-release ID (DERIVATIVES), the derivative wins.
   Any other disagreement keeps os-release and is recorded as a contradiction.
3. Without os-release: distribution-specific release files (RELEASE_FILES: oracle-release,
   centos-release, redhat-release, SuSE-release, system-release, alpine-release, ...), read by
   their content (a centos-release may well say "Rocky Linux"), then lsb-release with a
   DISTRIB_ID, then /etc/debian_version when it holds a number.
4. Release files that agree with the decision refine `version` (os-release says 7, centos-release
   7.5.1804; debian 10 and debian_version 10.1).
5. /etc/system-release-cpe alone (a CPE such as cpe:/o:rocky:rocky:9::baseos) names the
   distribution and its major release.
6. No Linux file: /etc/release naming Solaris 8-11 or an illumos distribution (OpenIndiana, OmniOS,
   SmartOS, NexentaStor) decides, from the files alone (a --root tree or image has no uname).
7. Nothing yet: `uname -s` decides. Darwin reads `sw_vers` (macos.py); AIX, SunOS and HP-UX are left
   to their own discoverers (os stays empty); no uname at all tries the Windows registry through
   `reg query` (windows.py).

Rolling distributions (Arch, Manjaro, Gentoo, ...) have no release cycle: version is "rolling",
version_id stays empty, and a snapshot or baselayout number the files give goes to `build`.
Debian testing/unstable writes "<codename>/sid" in debian_version and no VERSION_ID: the codename's
release number is the version_id (what it will become), with edition "testing".

Kernel and architecture come from uname (os.uname() when live).
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
LSB_RELEASE = "/etc/lsb-release"
DEBIAN_VERSION = "/etc/debian_version"
# Distribution-specific release files, most specific first. The file name only says where to look:
# the content decides the distribution (derivatives keep their parent's file names as links).
RELEASE_FILES = (
    "/etc/oracle-release",
    "/etc/enterprise-release",  # Oracle Enterprise Linux 5
    "/etc/rocky-release",
    "/etc/almalinux-release",
    "/etc/cloudlinux-release",
    "/etc/centos-release",
    "/etc/fedora-release",
    "/etc/SuSE-release",
    "/etc/alpine-release",
    "/etc/gentoo-release",
    "/etc/slackware-version",
    "/etc/mageia-release",
    "/etc/mandriva-release",
    "/etc/redhat-release",
    "/etc/system-release",
    "/etc/arch-release",
    "/etc/manjaro-release",
)
SYSTEM_RELEASE_CPE = "/etc/system-release-cpe"
SOLARIS_RELEASE = "/etc/release"
# Distributions without releases: their os-release has no VERSION_ID (or a baselayout number).
ROLLING_IDS = frozenset({"arch", "manjaro", "manjaro-arm", "gentoo", "endeavouros", "artix", "void",
                         "opensuse-tumbleweed"})
# Debian codenames -> release numbers (for "<codename>/sid" in debian_version on testing).
DEBIAN_CODENAMES = {"squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10",
                    "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15"}
# Devuan codenames -> releases (its os-release has no VERSION_ID; PRETTY_NAME ends in the codename).
DEVUAN_CODENAMES = {"jessie": "1", "ascii": "2", "beowulf": "3", "chimaera": "4", "daedalus": "5",
                    "excalibur": "6"}
# CPE (vendor, product) in system-release-cpe -> os-release ID.
CPE_IDS = {("redhat", "enterprise_linux"): "rhel", ("centos", "centos"): "centos", ("rocky", "rocky"): "rocky",
           ("almalinux", "almalinux"): "almalinux", ("oracle", "linux"): "ol", ("fedoraproject", "fedora"): "fedora",
           ("amazon", "linux"): "amzn", ("amazon", "amazon_linux"): "amzn", ("cloudlinux", "cloudlinux"): "cloudlinux",
           ("scientificlinux", "scientificlinux"): "scientific", ("centos", "centos_stream"): "centos"}
# os-release IDs of Unix systems that also ship os-release: not Linux.
NON_LINUX_FAMILIES = {"solaris": "solaris", "openindiana": "illumos", "omnios": "illumos", "smartos": "illumos",
                      "illumos": "illumos", "freebsd": "bsd", "netbsd": "bsd", "openbsd": "bsd", "dragonfly": "bsd"}
MAX_RELEASE_BYTES = 64 * 1024
# What Debian testing and its derivatives (Ubuntu) write in /etc/debian_version instead of a number.
_DEBIAN_SUITE = re.compile(r"^[a-z]+/sid$")
MAX_OS_RELEASE_BYTES = MAX_RELEASE_BYTES
FOUND_BY = "os_release"

# "<name> release <version> (<codename>)" as Red Hat and its rebuilds write it.
_RH_RELEASE = re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>\d[\w.]*)(?:\s*\((?P<codename>[^)]*)\))?")
# Product names in release files and lsb-release, longest first, to os-release IDs.
NAME_TO_ID = (
    ("red hat enterprise linux", "rhel"),
    ("redhatenterprise", "rhel"),
    ("enterprise linux enterprise linux", "ol"),
    ("oracle linux", "ol"),
    ("oracleserver", "ol"),
    ("centos", "centos"),
    ("rocky linux", "rocky"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("cloudlinux", "cloudlinux"),
    ("scientific linux", "scientific"),
    ("scientific", "scientific"),
    ("eurolinux", "eurolinux"),
    ("virtuozzo", "virtuozzo"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
    ("amazonami", "amzn"),
    ("amazon", "amzn"),
    ("suse linux enterprise server", "sles"),
    ("suse linux enterprise desktop", "sled"),
    ("suse", "sles"),
    ("opensuse", "opensuse"),
    ("gentoo", "gentoo"),
    ("slackware", "slackware"),
    ("mageia", "mageia"),
    ("mandriva", "mandriva"),
    ("ubuntu", "ubuntu"),
    ("linuxmint", "linuxmint"),
    ("linux mint", "linuxmint"),
    ("debian", "debian"),
    ("raspbian", "raspbian"),
    ("elementary", "elementary"),
    ("neon", "neon"),
    ("pop", "pop"),
    ("kali", "kali"),
    ("alpine", "alpine"),
    ("arch", "arch"),
    ("manjarolinux", "manjaro"),
    ("manjaro", "manjaro"),
)
# Derivative -> the distribution whose os-release it may ship unchanged.
DERIVATIVES = {
    "linuxmint": "ubuntu", "elementary": "ubuntu", "neon": "ubuntu", "pop": "ubuntu", "zorin": "ubuntu",
    "raspbian": "debian", "kali": "debian", "devuan": "debian",
    "ol": "rhel", "centos": "rhel", "rocky": "rhel", "almalinux": "rhel", "cloudlinux": "rhel",
    "scientific": "rhel", "eurolinux": "rhel", "virtuozzo": "rhel",
}
# Release files whose version is only meaningful for one family (a numeric debian_version on
# Ubuntu is Debian's, e.g. "buster/sid").
NAMES = {
    "rhel": "Red Hat Enterprise Linux", "ol": "Oracle Linux Server", "centos": "CentOS Linux",
    "rocky": "Rocky Linux", "almalinux": "AlmaLinux", "cloudlinux": "CloudLinux", "scientific": "Scientific Linux",
    "fedora": "Fedora", "amzn": "Amazon Linux", "sles": "SUSE Linux Enterprise Server", "opensuse": "openSUSE",
    "debian": "Debian GNU/Linux", "ubuntu": "Ubuntu", "linuxmint": "Linux Mint", "alpine": "Alpine Linux",
    "arch": "Arch Linux", "gentoo": "Gentoo", "slackware": "Slackware", "manjaro": "Manjaro Linux",
}
# uname -s values whose OS identity belongs to other discoverers (AIX, Solaris, HP-UX).
OTHER_UNIXES = frozenset({"AIX", "SunOS", "HP-UX"})


class Claim:
    """What one source says about the distribution (a plain class: dataclasses cost import time)."""

    __slots__ = ("codename", "id", "name", "source", "values", "version")

    def __init__(self, source: str, id: str, version: str = "", codename: str = "", name: str = "",
                 values: dict[str, str] | None = None) -> None:
        self.source, self.id, self.version, self.codename, self.name = source, id, version, codename, name
        self.values = values or {}

    @property
    def major(self) -> str:
        return self.version.split(".", 1)[0]


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release text into a dict of its variables; lines that are not KEY=value are skipped."""
    values: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw_value = line.partition("=")
        key = key.strip()
        if not key.replace("_", "").isalnum():
            continue
        try:
            tokens = shlex.split(raw_value, posix=True)
            value = " ".join(tokens)
        except ValueError:  # an unbalanced quote: keep what is there rather than lose the line
            value = raw_value.strip().strip("\"'")
        values[key] = value[:1024]
    return values


def _codename_from_version(version: str) -> str:
    # Older files carry the codename only in VERSION, e.g. '14.04.6 LTS, Trusty Tahr' or '7 (wheezy)'.
    if "(" in version and version.endswith(")"):
        return version[version.rindex("(") + 1:-1]
    if ", " in version:  # Ubuntu's 'Trusty Tahr' is 'trusty' in VERSION_CODENAME
        return version.split(", ", 1)[1].split(" ", 1)[0].lower()
    return ""


def os_from_release(values: dict[str, str]) -> pb.OperatingSystem:
    """Build the OperatingSystem part from parsed os-release values."""
    os_id = values.get("ID", "").lower()
    version_id = values.get("VERSION_ID", "")
    codename = values.get("VERSION_CODENAME", "") or values.get("UBUNTU_CODENAME", "")
    if not codename:
        codename = _codename_from_version(values.get("VERSION", ""))
    return pb.OperatingSystem(
        family=NON_LINUX_FAMILIES.get(os_id, "linux"),
        id=os_id,
        name=values.get("NAME", ""),
        version=_precise_version(values.get("VERSION", ""), version_id),
        version_id=version_id,
        major=version_id.split(".", 1)[0],
        codename=codename,
        pretty_name=values.get("PRETTY_NAME", ""),
        id_like=values.get("ID_LIKE", "").lower().split(),
        edition=values.get("VARIANT_ID", ""),
    )


def _precise_version(version: str, version_id: str) -> str:
    """'18.04.3 LTS (Bionic Beaver)' with VERSION_ID 18.04 -> '18.04.3'; else VERSION_ID."""
    match = re.match(r"\d[\d.]*\d|\d", version)
    if match and version_id and (match.group(0) + ".").startswith(version_id + "."):
        return match.group(0)
    return version_id


def id_for_name(name: str) -> str:
    """A product name from a release file or lsb-release ('CentOS Linux', 'RedHatEnterpriseServer') to an ID."""
    lowered = name.strip().lower()
    for prefix, os_id in NAME_TO_ID:
        if lowered.startswith(prefix):
            return os_id
    return re.sub(r"[^a-z0-9._-]", "", lowered.split(" ", 1)[0]) if lowered else ""


def parse_release_file(path: str, text: str) -> Claim | None:
    """Parse one distribution-specific release file by its content; None when it names nothing."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if path.endswith("/arch-release"):
        return Claim(path, "arch", name=NAMES["arch"])
    if path.endswith("/manjaro-release"):
        return Claim(path, "manjaro", name=NAMES["manjaro"])
    if not lines:
        return None
    first = lines[0]
    if path.endswith("/alpine-release"):
        return Claim(path, "alpine", version=first, name=NAMES["alpine"]) if re.match(r"^\d", first) else None
    if path.endswith("/SuSE-release"):
        return _parse_suse_release(path, lines)
    if path.endswith("/slackware-version"):
        match = re.match(r"Slackware\s+([\d.]+)", first)
        return Claim(path, "slackware", version=match.group(1), name=NAMES["slackware"]) if match else None
    match = _RH_RELEASE.match(first)
    if not match:
        return None
    name = match.group("name")
    os_id = id_for_name(name)
    if os_id == "centos" and "stream" in name.lower():
        name = "CentOS Stream"
    return Claim(path, os_id, version=match.group("version"), codename=(match.group("codename") or "").strip(),
                 name=name)


def _parse_suse_release(path: str, lines: list[str]) -> Claim | None:
    # "SUSE Linux Enterprise Server 11 (x86_64)" / "VERSION = 11" / "PATCHLEVEL = 4"
    keys = {k.strip().upper(): v.strip() for k, sep, v in (line.partition("=") for line in lines[1:]) if sep}
    os_id = id_for_name(lines[0])
    version = keys.get("VERSION", "")
    if keys.get("PATCHLEVEL", "0") not in ("", "0") and "." not in version:
        version = f"{version}.{keys['PATCHLEVEL']}"
    if not version:
        match = re.search(r"\s(\d+(?:\.\d+)?)\s", lines[0] + " ")
        version = match.group(1) if match else ""
    return Claim(path, os_id, version=version, codename=keys.get("CODENAME", ""),
                 name=re.sub(r"\s*\([^)]*\)$", "", lines[0])) if os_id else None


def parse_lsb_release(text: str) -> Claim | None:
    """lsb-release with a DISTRIB_ID (RHEL's redhat-lsb stub holds only LSB_VERSION: None)."""
    values = parse_os_release(text)
    distrib = values.get("DISTRIB_ID", "")
    if not distrib:
        return None
    return Claim(LSB_RELEASE, id_for_name(distrib), version=values.get("DISTRIB_RELEASE", ""),
                 codename=values.get("DISTRIB_CODENAME", ""), name=distrib, values=values)


def parse_debian_version(text: str) -> Claim | None:
    """/etc/debian_version: '7.9' is Debian 7.9; 'buster/sid' (testing, Ubuntu) names no release."""
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    if re.match(r"^\d+(\.\d+)*$", value):
        return Claim(DEBIAN_VERSION, "debian", version=value, name=NAMES["debian"])
    return None


def parse_system_release_cpe(text: str) -> Claim | None:
    """/etc/system-release-cpe: 'cpe:/o:rocky:rocky:9::baseos' or CPE 2.3 'cpe:2.3:o:amazon:amazon_linux:2'."""
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    parts = value.split(":")
    if value.startswith("cpe:2.3:"):
        parts = ["cpe", *parts[2:]]
    if len(parts) < 5 or parts[0] != "cpe" or parts[1].lstrip("/") != "o":
        return None
    vendor, product, version = parts[2].lower(), parts[3].lower(), parts[4]
    os_id = CPE_IDS.get((vendor, product)) or re.sub(r"[^a-z0-9._-]", "", product)
    if not os_id or version in ("", "*", "-"):
        return None
    return Claim(SYSTEM_RELEASE_CPE, os_id, version=version, name=NAMES.get(os_id, product))


class Sources:
    """Reads release files through the host, recording problems as error entries."""

    def __init__(self, host: HostAccess, found: pb.Inventory) -> None:
        self.host, self.found = host, found
        self.read: list[str] = []

    def text(self, path: str) -> str | None:
        try:
            data = self.host.read_bytes(path, limit=MAX_RELEASE_BYTES)
        except FileNotFoundError:
            return None
        except (OSError, HostAccessError) as exc:
            self.found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence=path)
            return None
        if b"\0" in data:
            self.found.errors.add(discoverer=FOUND_BY, evidence=path,
                                  message=f"{path}: contains NUL bytes (binary garbage?); ignored")
            return None
        self.read.append(path)
        return data.decode("utf-8", errors="replace")


def decide_linux(sources: Sources) -> tuple[pb.OperatingSystem | None, list[str]]:
    """Apply the order of trust; returns the OS (None if no Linux source) and the evidence notes."""
    notes: list[str] = []
    os_release: pb.OperatingSystem | None = None
    os_release_path = ""
    for path in OS_RELEASE_FILES:
        text = sources.text(path)
        if text is None:
            continue
        values = parse_os_release(text)
        if not values.get("ID") and not values.get("NAME"):
            sources.found.errors.add(discoverer=FOUND_BY, message=f"{path}: no ID or NAME in the file", evidence=path)
            notes.append(f"{path} empty or without ID: skipped")
            continue
        os_release, os_release_path = os_from_release(values), path
        if not os_release.id:
            os_release.id = id_for_name(os_release.name)
        break

    claims: list[Claim] = []
    # One listing of /etc instead of a read per candidate: over SSH each read is a round trip.
    try:
        present: set[str] | None = set(sources.host.listdir("/etc"))
    except (OSError, HostAccessError):
        present = None
    for path in RELEASE_FILES:
        if present is not None and path.rsplit("/", 1)[1] not in present:
            continue
        text = sources.text(path)
        if text is not None:
            claim = parse_release_file(path, text)
            if claim is None or not claim.id:
                sources.found.errors.add(discoverer=FOUND_BY, evidence=path, message=(
                    f"{path}: {'empty' if not text.strip() else 'names no distribution and version'}; ignored"))
            elif all(c.id != claim.id or c.version != claim.version for c in claims):
                claims.append(claim)
    lsb_text = sources.text(LSB_RELEASE) if present is None or "lsb-release" in present else None
    lsb = parse_lsb_release(lsb_text) if lsb_text is not None else None
    debian_text = sources.text(DEBIAN_VERSION) if present is None or "debian_version" in present else None
    debian = parse_debian_version(debian_text) if debian_text is not None else None
    if debian_text is not None and debian is None and not _DEBIAN_SUITE.match(debian_text.strip()):
        sources.found.errors.add(discoverer=FOUND_BY, evidence=DEBIAN_VERSION, message=(
            f"{DEBIAN_VERSION}: {debian_text.strip()[:40]!r} is not a Debian version number; ignored"))
    cpe_text = sources.text(SYSTEM_RELEASE_CPE) if present is None or "system-release-cpe" in present else None
    cpe = parse_system_release_cpe(cpe_text) if cpe_text is not None else None
    ordered = claims + ([lsb] if lsb else []) + ([debian] if debian else []) + ([cpe] if cpe else [])

    if os_release is not None:
        notes.insert(0, f"decided by {os_release_path}")
        for claim in ordered:
            if claim.id == os_release.id:
                continue
            if DERIVATIVES.get(claim.id) == os_release.id:
                notes.append(f"{os_release_path} says {os_release.id} {os_release.version_id} but {claim.source} "
                             f"names {claim.id} {claim.version}, a derivative that ships its parent's os-release: "
                             f"chose {claim.source}")
                parent = os_release
                os_release = _os_from_claim(claim)
                os_release.id_like[:] = [parent.id, *[i for i in parent.id_like if i != parent.id]]
                notes[0] = f"decided by {claim.source}"
                break
            if claim.source == DEBIAN_VERSION and "debian" in os_release.id_like:
                continue  # Debian derivatives carry Debian's own version there
            notes.append(f"contradiction: {claim.source} says {claim.id} {claim.version}; "
                         f"kept {os_release_path} ({os_release.id} {os_release.version_id})")
        _refine_version(os_release, ordered, notes)
        if os_release.id == "debian" and not os_release.version_id:
            _debian_without_version_id(os_release, debian, debian_text, notes)
        _codename_release(os_release, notes)
        _tumbleweed(os_release, notes)
        _rolling(os_release, ordered, notes)
        return os_release, notes

    if ordered:
        chosen = ordered[0]
        result = _os_from_claim(chosen)
        notes.append(f"no os-release: decided by {chosen.source}")
        for claim in ordered[1:]:
            if claim.id != chosen.id and not (claim.source == DEBIAN_VERSION and chosen.id in ("ubuntu", "linuxmint")):
                notes.append(f"contradiction: {claim.source} says {claim.id} {claim.version}; kept {chosen.source}")
        _refine_version(result, ordered, notes)
        _rolling(result, ordered, notes)
        return result, notes
    return None, notes


def _debian_without_version_id(result: pb.OperatingSystem, debian: Claim | None, debian_text: str | None,
                               notes: list[str]) -> None:
    """Debian whose os-release has no VERSION_ID: a numbered debian_version, or testing's '<codename>/sid'."""
    if debian is not None:
        result.version, result.version_id, result.major = debian.version, debian.major, debian.major
        notes.append(f"no VERSION_ID: version {debian.version} from {DEBIAN_VERSION}")
        return
    suite = (debian_text or "").strip().splitlines()[0].strip() if (debian_text or "").strip() else ""
    if _DEBIAN_SUITE.match(suite):
        codename = suite.split("/", 1)[0]
        result.version, result.codename, result.edition = suite, codename, "testing"
        if codename in DEBIAN_CODENAMES:
            result.version_id = result.major = DEBIAN_CODENAMES[codename]
        notes.append(f"{DEBIAN_VERSION} says {suite}: testing/unstable before {codename}'s release")


def _codename_release(result: pb.OperatingSystem, notes: list[str]) -> None:
    """Devuan names its release only by codename ('Devuan GNU/Linux ascii'): the codename gives the number."""
    if result.id != "devuan" or result.version_id:
        return
    codename = result.codename or (result.pretty_name.split()[-1].lower() if result.pretty_name else "")
    if codename in DEVUAN_CODENAMES:
        result.codename = codename
        result.version_id = result.major = result.version = DEVUAN_CODENAMES[codename]
        notes.append(f"no VERSION_ID: Devuan {codename} is release {result.version_id}")


def _tumbleweed(result: pb.OperatingSystem, notes: list[str]) -> None:
    """Tumbleweed before 2017 said ID=opensuse with its snapshot date as VERSION_ID: it is the rolling release."""
    if result.id == "opensuse" and "tumbleweed" in result.name.lower():
        result.id = "opensuse-tumbleweed"
        notes.append("ID=opensuse with NAME openSUSE Tumbleweed: the rolling opensuse-tumbleweed")


def _rolling(result: pb.OperatingSystem, claims: list[Claim], notes: list[str]) -> None:
    """A rolling distribution has no release: version 'rolling', the files' number kept as `build`
    (Gentoo's baselayout, Manjaro's installer snapshot in lsb-release)."""
    arch_like = bool(result.id_like) and result.id_like[0] == "arch" and not result.version_id
    if result.id not in ROLLING_IDS and not arch_like:
        return
    if result.version and result.version != "rolling":
        result.build = result.build or result.version
    snapshot = next((c for c in claims if c.id == result.id and c.version), None)
    if snapshot is not None and not result.build:
        result.build = snapshot.version
    if snapshot is not None and not result.codename and snapshot.codename not in ("", "n/a"):
        result.codename = snapshot.codename
    result.version, result.version_id, result.major = "rolling", "", ""
    notes.append(f"{result.id} is a rolling release: no release cycle"
                 + (f" (build {result.build})" if result.build else ""))


def _solaris_family(sources: Sources) -> tuple[pb.OperatingSystem | None, list[str]]:
    """Solaris or an illumos distribution from /etc/release alone (files only: trees and images)."""
    text = sources.text(SOLARIS_RELEASE)
    if text is None:
        return None, []
    from estate.agent.discovery import solaris

    try:
        result = solaris.os_from_release_text(text)
    except ValueError:
        return None, []  # Mageia and others keep an /etc/release too; theirs were read above
    return result, [f"no os-release: decided by {SOLARIS_RELEASE}"]


def _os_from_claim(claim: Claim) -> pb.OperatingSystem:
    version_id = claim.version
    if claim.id in ("rhel", "centos", "ol", "rocky", "almalinux", "cloudlinux", "scientific") and version_id:
        # os-release style: VERSION_ID is major.minor for RHEL-likes (8.7), the third CentOS field is a date stamp
        version_id = ".".join(version_id.split(".")[:2])
        if claim.id == "centos" and version_id.split(".")[0] in ("7", "8"):
            version_id = version_id.split(".")[0]
    if claim.id == "debian":
        version_id = version_id.split(".")[0]
    if claim.id == "ubuntu" and claim.values.get("DISTRIB_RELEASE"):
        version_id = claim.values["DISTRIB_RELEASE"]
    return pb.OperatingSystem(
        family="linux", id=claim.id,
        name=claim.name if claim.source != LSB_RELEASE else NAMES.get(claim.id, claim.name),
        version=claim.version, version_id=version_id, major=claim.major, codename=claim.codename,
        pretty_name=claim.values.get("DISTRIB_DESCRIPTION", ""),
    )


def _refine_version(result: pb.OperatingSystem, claims: list[Claim], notes: list[str]) -> None:
    """A release file of the same distribution and major refines `version` (and a missing codename)."""
    for claim in claims:
        if claim.id != result.id or not claim.version or claim.major != result.major:
            continue
        if not result.codename and claim.codename:
            result.codename = claim.codename
            notes.append(f"codename {claim.codename} from {claim.source}")
        if len(claim.version) > len(result.version) and claim.version.startswith(result.version_id):
            result.version = claim.version
            notes.append(f"version {claim.version} from {claim.source}")
            return


def discover(host: HostAccess) -> pb.Inventory:
    """Decide the OS identity by the order of trust in this module's docstring."""
    found = pb.Inventory()
    sources = Sources(host, found)
    result, notes = decide_linux(sources)
    if result is None:
        result, more = _solaris_family(sources)
        notes.extend(more)
    if result is None:
        result, more = _non_linux(host, found)
        notes.extend(more)
    if result is not None:
        found.os.CopyFrom(result)
    if found.os.family in ("", "linux", "macos"):
        kernel, arch, how = _kernel(host)
        found.os.kernel, found.os.architecture = kernel, arch
        if how:
            notes.append(how)
    found.os.found_by = FOUND_BY
    found.os.evidence = "; ".join(notes)[:2000]
    return found


def _non_linux(host: HostAccess, found: pb.Inventory) -> tuple[pb.OperatingSystem | None, list[str]]:
    system = ""
    if host.is_live:
        platforms = {"win32": "Windows", "darwin": "Darwin"}
        system = platforms[sys.platform] if sys.platform in platforms else os.uname().sysname
    else:
        try:
            result = host.run(["uname", "-s"], timeout=10)
            system = result.text.strip().splitlines()[0] if result.exit_code == 0 and result.text.strip() else ""
        except CommandsUnavailable:
            return None, []
        except FileNotFoundError:
            system = "Windows"  # no uname: a Windows host, if reg answers
        except (OSError, HostAccessError) as exc:
            found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence="uname -s")
            return None, []
    if system == "Darwin":
        from estate.agent.discovery import macos

        return macos.discover_os(host, found)
    if system == "Windows":
        from estate.agent.discovery import windows

        return windows.discover_os(host, found)
    if system in OTHER_UNIXES:
        return None, [f"uname -s says {system}: left to its own discoverer"]
    if system and system != "Linux":
        return pb.OperatingSystem(family=system.lower(), id=system.lower(), name=system), [f"uname -s says {system}"]
    return None, []


def _kernel(host: HostAccess) -> tuple[str, str, str]:
    if host.is_live:
        uname = os.uname()
        return uname.release, uname.machine, "uname()"
    try:
        release = host.run(["uname", "-r"], timeout=10)
        machine = host.run(["uname", "-m"], timeout=10)
    except (CommandsUnavailable, FileNotFoundError):
        return "", "", ""
    except (OSError, HostAccessError):
        return "", "", ""
    return release.text.strip()[:200], machine.text.strip()[:64], "uname -r; uname -m"
