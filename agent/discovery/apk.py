"""Alpine packages from apk's installed database (/lib/apk/db/installed), read directly.

The file is a sequence of blank-line separated stanzas of `X:value` lines: P name, V version,
A architecture, o origin (the source package), m maintainer.
"""

from __future__ import annotations

from estate.agent.discovery._common import add_error, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

APK_INSTALLED = "/lib/apk/db/installed"
MAX_BYTES = 256 * 1024 * 1024
FOUND_BY = "apk"


def parse_apk_installed(text: str, evidence: str = APK_INSTALLED) -> tuple[list[pb.Package], list[str]]:
    """Installed packages and messages for stanzas that lack a name or version (truncated file?)."""
    packages: list[pb.Package] = []
    problems: list[str] = []
    fields: dict[str, str] = {}
    start = 1

    def flush(line: int) -> None:
        if not fields:
            return
        if fields.get("P") and fields.get("V"):
            packages.append(pb.Package(name=fields["P"], version=fields["V"], architecture=fields.get("A", ""),
                                       manager="apk", source=fields.get("o", ""), found_by=FOUND_BY,
                                       evidence=evidence, maintainer=fields.get("m", "")))
        else:
            problems.append(f"{evidence}:{line}: stanza without P: and V: (truncated file?)")

    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            flush(start)
            fields, start = {}, number + 1
            continue
        key, sep, value = line.partition(":")
        if sep and len(key) == 1:
            fields[key] = value.strip()[:256]  # every field marks the stanza; P, V, A and o are used
    flush(start)
    return packages, problems


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    text = read_text(host, APK_INSTALLED, MAX_BYTES, found, FOUND_BY)
    if text is None:
        return found
    packages, problems = parse_apk_installed(text)
    found.packages.extend(packages)
    for problem in problems:
        add_error(found, FOUND_BY, problem, APK_INSTALLED)
    return found
