"""Python packages installed system-wide: *.dist-info and *.egg-info in the site-packages folders.

The folder name carries name and version (`requests-2.31.0.dist-info`,
`six-1.16.0-py3.11.egg-info`), so most packages cost a directory listing and no file read;
METADATA/PKG-INFO is read only when the name lacks a version.
"""

from __future__ import annotations

import re

from estate.agent.discovery._common import listdir, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

# Prefixes whose lib folders hold system-wide interpreters (per-user and virtualenv installs are
# not system-wide and are reported through the runtimes they belong to).
LIB_DIRS = ("/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64")
SITE_DIRS = ("site-packages", "dist-packages")
MAX_PER_DIR = 20_000
MAX_METADATA_BYTES = 1024 * 1024
FOUND_BY = "pip"
_PYTHON_DIR = re.compile(r"^python[23](\.\d+)?$")
_DIST = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+?)(?:-py\d[\d.]*(?:-[\w.]+)?)?\.(?:dist-info|egg-info)$")


def parse_dist_dir(name: str) -> tuple[str, str] | None:
    """'requests-2.31.0.dist-info' -> ('requests', '2.31.0'); None when the name has no version."""
    match = _DIST.match(name)
    if not match:
        return None
    return match.group("name").replace("_", "-"), match.group("version")


def parse_metadata(text: str) -> tuple[str, str]:
    """Name and Version from the RFC 822 header of METADATA / PKG-INFO."""
    name = version = ""
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key == "Name":
            name = value.strip()
        elif key == "Version":
            version = value.strip()
    return name, version


def site_dirs(host: HostAccess, found: pb.Inventory) -> list[str]:
    dirs: list[str] = []
    for lib in LIB_DIRS:
        for entry in listdir(host, lib, found, FOUND_BY):
            if _PYTHON_DIR.match(entry):
                dirs.extend(f"{lib}/{entry}/{site}" for site in SITE_DIRS)
    return dirs


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    for site in site_dirs(host, found):
        for entry in listdir(host, site, found, FOUND_BY, MAX_PER_DIR):
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            parsed = parse_dist_dir(entry)
            evidence = f"{site}/{entry}"
            if parsed is None:
                meta = "METADATA" if entry.endswith(".dist-info") else "PKG-INFO"
                text = read_text(host, f"{evidence}/{meta}", MAX_METADATA_BYTES, found, FOUND_BY)
                if text is None:  # a flat .egg-info file is the PKG-INFO itself
                    text = read_text(host, evidence, MAX_METADATA_BYTES, found, FOUND_BY)
                name, version = parse_metadata(text or "")
                if not name or not version:
                    continue
                parsed, evidence = (name, version), f"{evidence}/{meta}"
            found.packages.append(pb.Package(name=parsed[0], version=parsed[1], manager="pip", found_by=FOUND_BY,
                                             evidence=evidence))
    return found
