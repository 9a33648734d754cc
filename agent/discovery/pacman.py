"""Arch Linux packages from pacman's local database: /var/lib/pacman/local/<name-version>/desc.

Each desc file holds `%FIELD%` headers, each followed by its value lines and a blank line.
"""

from __future__ import annotations

from estate.agent.discovery._common import add_error, listdir, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

PACMAN_LOCAL = "/var/lib/pacman/local"
MAX_DESC_BYTES = 1024 * 1024
MAX_PACKAGES = 50_000
FOUND_BY = "pacman"


def parse_desc(text: str) -> dict[str, list[str]]:
    """A desc file into {FIELD: [value lines]}."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("%") and line.endswith("%") and len(line) > 2:
            current = fields.setdefault(line[1:-1], [])
        elif not line.strip():
            current = None
        elif current is not None and len(current) < 1000:
            current.append(line.strip()[:256])
    return fields


def package_from_desc(fields: dict[str, list[str]], evidence: str) -> pb.Package | None:
    name, version = fields.get("NAME", [""])[0], fields.get("VERSION", [""])[0]
    if not name or not version:
        return None
    return pb.Package(name=name, version=version, architecture=(fields.get("ARCH") or [""])[0], manager="pacman",
                      source=(fields.get("BASE") or [""])[0], found_by=FOUND_BY, evidence=evidence)


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    for entry in listdir(host, PACMAN_LOCAL, found, FOUND_BY, MAX_PACKAGES):
        if entry == "ALPM_DB_VERSION":
            continue
        path = f"{PACMAN_LOCAL}/{entry}/desc"
        text = read_text(host, path, MAX_DESC_BYTES, found, FOUND_BY)
        if text is None:
            continue
        package = package_from_desc(parse_desc(text), path)
        if package is None:
            add_error(found, FOUND_BY, f"{path}: no %NAME% or %VERSION% (truncated file?)", path)
        else:
            found.packages.append(package)
    return found
