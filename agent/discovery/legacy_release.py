"""Linux too old for os-release (RHEL/CentOS 5-6, SLES 10-11, Ubuntu 10.04, Debian 6): the legacy release files.

Runs only when neither /etc/os-release nor /usr/lib/os-release exists, so it fills the OS identity
exactly where the os_release discoverer found nothing, and never contradicts it. The files are
tried in RELEASE_FILES order; the first one that parses decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from estate.agent.discovery.unix import sysname
from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

FOUND_BY = "legacy_release"
OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
MAX_RELEASE_BYTES = 64 * 1024
# "Red Hat Enterprise Linux Server release 6.7 (Santiago)", "CentOS release 5.11 (Final)"
_REDHAT = re.compile(r"^(?P<name>.+?) release (?P<version>\d+(?:\.\d+)*)(?:\s*\((?P<codename>[^)]*)\))?")
# Product names in the first line of a Red Hat-style release file -> os-release ID, first match wins.
REDHAT_IDS = (
    ("Red Hat Enterprise Linux", "rhel"),
    ("CentOS", "centos"),
    ("Oracle Linux", "ol"),
    ("Enterprise Linux Enterprise Linux", "ol"),  # Oracle Enterprise Linux 5
    ("Scientific Linux", "scientific"),
    ("Fedora", "fedora"),
    ("Amazon Linux", "amzn"),
)
DEBIAN_CODENAMES = {"3": "woody", "4": "etch", "5": "lenny", "6": "squeeze", "7": "wheezy", "8": "jessie"}


def parse_redhat_release(text: str) -> pb.OperatingSystem:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    match = _REDHAT.match(line)
    if not match:
        raise ValueError(f"{line[:80]!r} is not 'NAME release VERSION (CODENAME)'")
    os_id = next((i for prefix, i in REDHAT_IDS if match["name"].startswith(prefix)), "")
    if not os_id:
        raise ValueError(f"{match['name']!r} is not a Red Hat-family distribution this agent knows")
    version = match["version"]
    return pb.OperatingSystem(family="linux", id=os_id, name=match["name"], version=version, version_id=version,
                              major=version.split(".")[0], codename=match["codename"] or "", pretty_name=line,
                              id_like=["rhel", "fedora"] if os_id not in ("rhel", "fedora") else ["fedora"])


def parse_suse_release(text: str) -> pb.OperatingSystem:
    """'SUSE Linux Enterprise Server 11 (x86_64)' then 'VERSION = 11' and 'PATCHLEVEL = 4'."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty file")
    values = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines[1:]) if _}
    version = values.get("VERSION", "")
    if not version:
        raise ValueError("no VERSION = line")
    patch = values.get("PATCHLEVEL", "")
    os_id = "sles" if "Enterprise Server" in lines[0] else "sled" if "Enterprise Desktop" in lines[0] else "opensuse"
    version_id = f"{version}.{patch}" if patch and patch != "0" else version
    name = lines[0].split(" (")[0]
    return pb.OperatingSystem(family="linux", id=os_id, name=name, version=version_id, version_id=version_id,
                              major=version.split(".")[0], pretty_name=f"{name}{' SP' + patch if patch else ''}",
                              id_like=["suse"])


def parse_lsb_release(text: str) -> pb.OperatingSystem:
    values = {k.strip(): v.strip().strip('"') for k, _, v in (line.partition("=") for line in text.splitlines()) if _}
    if not values.get("DISTRIB_ID") or not values.get("DISTRIB_RELEASE"):
        raise ValueError("no DISTRIB_ID and DISTRIB_RELEASE")
    version = values["DISTRIB_RELEASE"]
    return pb.OperatingSystem(family="linux", id=values["DISTRIB_ID"].lower(), name=values["DISTRIB_ID"],
                              version=values.get("DISTRIB_DESCRIPTION", version), version_id=version,
                              major=version.split(".")[0], codename=values.get("DISTRIB_CODENAME", ""),
                              pretty_name=values.get("DISTRIB_DESCRIPTION", ""))


def parse_debian_version(text: str) -> pb.OperatingSystem:
    version = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not re.match(r"^\d+(\.\d+)*$", version):
        raise ValueError(f"{version[:40]!r} is not a Debian version number")
    major = version.split(".")[0]
    return pb.OperatingSystem(family="linux", id="debian", name="Debian GNU/Linux", version=version, version_id=major,
                              major=major, codename=DEBIAN_CODENAMES.get(major, ""),
                              pretty_name=f"Debian GNU/Linux {version}")


# Which file, parsed how: the most specific first (centos-release before redhat-release, lsb-release
# before debian_version, as Ubuntu has both).
RELEASE_FILES: tuple[tuple[str, Callable[[str], pb.OperatingSystem]], ...] = (
    ("/etc/oracle-release", parse_redhat_release),
    ("/etc/centos-release", parse_redhat_release),
    ("/etc/redhat-release", parse_redhat_release),
    ("/etc/system-release", parse_redhat_release),
    ("/etc/SuSE-release", parse_suse_release),
    ("/etc/lsb-release", parse_lsb_release),
    ("/etc/debian_version", parse_debian_version),
)


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    if sysname(host) not in ("Linux", "") or any(host.exists(path) for path in OS_RELEASE_FILES):
        return found
    problems: list[str] = []
    for path, parse in RELEASE_FILES:
        try:
            text = host.read_text(path, limit=MAX_RELEASE_BYTES)
        except FileNotFoundError:
            continue
        except (OSError, HostAccessError) as exc:
            problems.append(str(exc))
            continue
        try:
            os_part = parse(text)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            continue
        os_part.found_by, os_part.evidence = FOUND_BY, path
        found.os.CopyFrom(os_part)
        break
    for problem in problems:
        # A file that did not parse is worth knowing even when a later one decided.
        found.errors.add(discoverer=FOUND_BY, message=problem, evidence=problem.split(":", 1)[0])
    return found
