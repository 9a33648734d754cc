"""OS identity from os-release (/etc/os-release, then /usr/lib/os-release) and uname.

os-release is a shell-compatible KEY=value file (see os-release(5)); values may be quoted
and may contain backslash escapes.
"""

from __future__ import annotations

import os
import shlex

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
MAX_OS_RELEASE_BYTES = 64 * 1024
FOUND_BY = "os_release"


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
        values[key] = value
    return values


def os_from_release(values: dict[str, str]) -> pb.OperatingSystem:
    """Build the OperatingSystem part from parsed os-release values."""
    os_id = values.get("ID", "").lower()
    version_id = values.get("VERSION_ID", "")
    codename = values.get("VERSION_CODENAME", "") or values.get("UBUNTU_CODENAME", "")
    if not codename:
        # Older files carry the codename only in VERSION, e.g. '14.04.6 LTS, Trusty Tahr' or '7 (wheezy)'.
        version = values.get("VERSION", "")
        if "(" in version and version.endswith(")"):
            codename = version[version.rindex("(") + 1:-1]
        elif ", " in version:  # Ubuntu's 'Trusty Tahr' is 'trusty' in VERSION_CODENAME
            codename = version.split(", ", 1)[1].split(" ", 1)[0].lower()
    return pb.OperatingSystem(
        family="linux",
        id=os_id,
        name=values.get("NAME", ""),
        version=values.get("VERSION", ""),
        version_id=version_id,
        major=version_id.split(".", 1)[0],
        codename=codename,
        pretty_name=values.get("PRETTY_NAME", ""),
        id_like=values.get("ID_LIKE", "").lower().split(),
        edition=values.get("VARIANT_ID", ""),
    )


def discover(host: HostAccess) -> pb.Inventory:
    """Read os-release and the kernel; records which file decided."""
    found = pb.Inventory()
    evidence: list[str] = []
    for path in OS_RELEASE_FILES:
        try:
            text = host.read_text(path, limit=MAX_OS_RELEASE_BYTES)
        except FileNotFoundError:
            continue
        except (OSError, HostAccessError) as exc:
            found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence=path)
            continue
        values = parse_os_release(text)
        if not values.get("ID") and not values.get("NAME"):
            found.errors.add(discoverer=FOUND_BY, message=f"{path}: no ID or NAME in the file", evidence=path)
            continue
        found.os.CopyFrom(os_from_release(values))
        evidence.append(path)
        break
    kernel, arch, how = _kernel(host)
    found.os.kernel, found.os.architecture = kernel, arch
    if how:
        evidence.append(how)
    found.os.found_by = FOUND_BY
    found.os.evidence = "; ".join(evidence)
    return found


def _kernel(host: HostAccess) -> tuple[str, str, str]:
    if host.is_live:
        uname = os.uname()
        return uname.release, uname.machine, "uname()"
    try:
        release = host.run(["uname", "-r"], timeout=10)
        machine = host.run(["uname", "-m"], timeout=10)
    except (CommandsUnavailable, FileNotFoundError):
        return "", "", ""
    return release.text.strip(), machine.text.strip(), "uname -r; uname -m"
