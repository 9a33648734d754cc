"""Flatpak applications and runtimes installed system-wide (/var/lib/flatpak).

Layout: {app,runtime}/<id>/<arch>/<branch>/active/. An application's version is the newest
<release version="..."> of its AppStream metainfo; a runtime's is its branch (e.g. 22.08),
which is also what its end of life is announced against.
"""

from __future__ import annotations

import re

from estate.agent.discovery._common import listdir, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

FLATPAK_ROOT = "/var/lib/flatpak"
MAX_METAINFO_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 5000
FOUND_BY = "flatpak"
_RELEASE = re.compile(r"<release\b[^>]*\bversion=\"([^\"]{1,64})\"")


def version_from_metainfo(text: str) -> str:
    """AppStream lists releases newest first."""
    match = _RELEASE.search(text)
    return match.group(1) if match else ""


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    for kind in ("app", "runtime"):
        base = f"{FLATPAK_ROOT}/{kind}"
        for ref in listdir(host, base, found, FOUND_BY, MAX_ENTRIES):
            for arch in listdir(host, f"{base}/{ref}", found, FOUND_BY, 16):
                if arch in ("current", "data"):
                    continue
                for branch in listdir(host, f"{base}/{ref}/{arch}", found, FOUND_BY, 64):
                    active = f"{base}/{ref}/{arch}/{branch}/active"
                    version, evidence = branch, active
                    if kind == "app":
                        for name in (f"{ref}.metainfo.xml", f"{ref}.appdata.xml"):
                            for folder in ("metainfo", "appdata"):
                                path = f"{active}/files/share/{folder}/{name}"
                                text = read_text(host, path, MAX_METAINFO_BYTES, found, FOUND_BY)
                                if text and version_from_metainfo(text):
                                    version, evidence = version_from_metainfo(text), path
                                    break
                            if evidence != active:
                                break
                    # flatpak has no source packages; the ref (kind/id/arch/branch) goes in the evidence.
                    found.packages.append(pb.Package(name=ref, version=version, architecture=arch, manager="flatpak",
                                                     found_by=FOUND_BY,
                                                     evidence=f"{kind}/{ref}/{arch}/{branch}: {evidence}"))
    return found
