"""Debian packages, read directly from the dpkg status database (no dpkg-query subprocess).

The status file is a sequence of RFC 822-style stanzas. A package counts as installed when its
Status state is one dpkg itself treats as installed (so `rc` packages, removed with their
configuration kept, are not).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

DPKG_STATUS = "/var/lib/dpkg/status"
# A large server's status file is a few MB; 256 MB is far beyond any real one.
MAX_STATUS_BYTES = 256 * 1024 * 1024
INSTALLED_STATES = frozenset({"installed", "triggers-awaited", "triggers-pending"})
WANTED_FIELDS = frozenset({"package", "status", "version", "architecture", "source", "maintainer", "origin",
                           "section"})
# Section prefixes that name an archive area other than main ("universe/python" -> universe).
COMPONENTS = frozenset({"universe", "multiverse", "restricted", "contrib", "non-free", "non-free-firmware"})
MAX_ERRORS_LISTED = 20
FOUND_BY = "dpkg"


class Stanza:
    """One stanza's wanted fields, and its first malformed line if any."""

    __slots__ = ("bad_line", "bad_text", "fields", "line")

    def __init__(self, line: int) -> None:
        self.line, self.bad_line, self.bad_text = line, 0, ""
        self.fields: dict[str, str] = {}


class ParseProblem(NamedTuple):
    line: int
    message: str


def iter_stanzas(text: str) -> Iterator[Stanza]:
    """Yield each stanza with the fields we use; a malformed line marks its stanza bad."""
    stanza: Stanza | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            if stanza is not None:
                yield stanza
                stanza = None
            continue
        if stanza is None:
            stanza = Stanza(line=number)
        if line[0] in " \t":
            continue  # continuation of a multi-line field (Description, Conffiles, ...)
        name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            if not stanza.bad_line:
                stanza.bad_line, stanza.bad_text = number, line[:80]
            continue
        key = name.lower()
        if key in WANTED_FIELDS:
            stanza.fields[key] = value.strip()
    if stanza is not None:
        yield stanza


def component(section: str) -> str:
    """The archive area a Section names: "universe/python" -> "universe", "python" -> "main", "" -> ""."""
    if not section:
        return ""
    area, sep, _ = section.partition("/")
    return area if sep and area in COMPONENTS else "main"


def parse_dpkg_status(text: str, evidence: str = DPKG_STATUS) -> tuple[list[pb.Package], list[ParseProblem]]:
    """Parse a dpkg status file into installed packages and the problems met on the way."""
    packages: list[pb.Package] = []
    problems: list[ParseProblem] = []
    for stanza in iter_stanzas(text):
        fields = stanza.fields
        if stanza.bad_line:
            problems.append(ParseProblem(stanza.bad_line, f"malformed line {stanza.bad_text!r} "
                                         f"in the stanza of {fields.get('package', 'an unnamed package')}"))
            continue
        status = fields.get("status", "").split()
        if len(status) != 3:
            problems.append(ParseProblem(stanza.line, f"package {fields.get('package', '?')!r} has no valid "
                                         "Status field (truncated file?)"))
            continue
        if status[2] not in INSTALLED_STATES:
            continue
        name, version = fields.get("package", ""), fields.get("version", "")
        if not name or not version:
            problems.append(ParseProblem(stanza.line, f"installed package {name or '?'!r} lacks "
                                         f"{'Package' if not name else 'Version'} (truncated file?)"))
            continue
        source = fields.get("source", "").split(" ", 1)[0] or name
        packages.append(pb.Package(name=name, version=version, architecture=fields.get("architecture", ""),
                                   manager="dpkg", source=source, found_by=FOUND_BY, evidence=evidence,
                                   origin=fields.get("origin", "")[:256],
                                   maintainer=fields.get("maintainer", "")[:256],
                                   component=component(fields.get("section", ""))))
    return packages, problems


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    try:
        data = host.read_bytes(DPKG_STATUS, limit=MAX_STATUS_BYTES)
    except FileNotFoundError:
        return found
    except (OSError, HostAccessError) as exc:
        found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence=DPKG_STATUS)
        return found
    if b"\0" in data:
        found.errors.add(discoverer=FOUND_BY, evidence=DPKG_STATUS,
                         message=f"{DPKG_STATUS}: contains NUL bytes (binary garbage?); parsed what is readable")
        data = data.replace(b"\0", b"")
    packages, problems = parse_dpkg_status(data.decode("utf-8", errors="replace"))
    found.packages.extend(packages)
    for problem in problems[:MAX_ERRORS_LISTED]:
        found.errors.add(discoverer=FOUND_BY, message=f"{DPKG_STATUS}:{problem.line}: {problem.message}",
                         evidence=f"{DPKG_STATUS}:{problem.line}")
    if len(problems) > MAX_ERRORS_LISTED:
        found.errors.add(discoverer=FOUND_BY, evidence=DPKG_STATUS,
                         message=f"{DPKG_STATUS}: {len(problems) - MAX_ERRORS_LISTED} more problems not listed")
    return found
