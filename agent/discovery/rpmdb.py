"""The rpm database read directly (rpmdb.sqlite), for trees where the rpm command is absent or
not the host's own (`--root`).

rpm 4.16+ keeps one row per installed package in the `Packages` table: `hnum` and `blob`, the
package header exported by headerExport(): two big-endian uint32 (il: index entries, dl: data
bytes), il index entries of four big-endian int32 (tag, type, offset, count), then the data
store. Strings are NUL-terminated at their offset; INT32 values are big-endian. Only the tags
needed here are decoded, and every offset and count is checked against the blob, so a damaged
or hostile database gives an error per row rather than a crash.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from estate.agent.hostaccess import HostAccess, HostAccessError, LocalHost
from estate.v1 import inventory_pb2 as pb

RPMDB_SQLITE_PATHS = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
RPMDB_BDB_PATHS = ("/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages")
MAX_DB_BYTES = 1024 * 1024 * 1024
MAX_PACKAGES = 100_000
# rpm's own limits (header.c): index entries and data store size of one header.
MAX_INDEX_ENTRIES = 0xFFFF
MAX_DATA_BYTES = 0x0FFFFFFF
TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH, TAG_SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
WANTED_TAGS = frozenset({TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH, TAG_SOURCERPM})
TYPE_INT32, TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 4, 6, 8, 9
FOUND_BY = "rpm"


class HeaderError(ValueError):
    """A header blob that does not follow the format."""


@dataclass(frozen=True)
class RpmHeader:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str
    source_rpm: str

    @property
    def evr(self) -> str:
        """[epoch:]version-release, as `rpm -q` prints it."""
        prefix = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{prefix}{self.version}-{self.release}"


def parse_header(blob: bytes) -> RpmHeader:
    """Decode NAME, VERSION, RELEASE, EPOCH, ARCH and SOURCERPM from an exported header blob."""
    if len(blob) < 8:
        raise HeaderError(f"{len(blob)} bytes: shorter than the 8-byte header intro")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il > MAX_INDEX_ENTRIES or dl > MAX_DATA_BYTES:
        raise HeaderError(f"index of {il} entries / {dl} data bytes is beyond rpm's limits")
    data_start = 8 + 16 * il
    if data_start + dl > len(blob):
        raise HeaderError(f"claims {il} entries and {dl} data bytes but the blob has {len(blob)} bytes")
    data = memoryview(blob)[data_start:data_start + dl]
    values: dict[int, str | int] = {}
    for index in range(il):
        tag, kind, offset, count = struct.unpack_from(">iIiI", blob, 8 + 16 * index)
        if tag not in WANTED_TAGS:
            continue
        if offset < 0 or offset >= dl:
            raise HeaderError(f"tag {tag}: offset {offset} outside the {dl}-byte data store")
        if kind == TYPE_INT32:
            if offset + 4 > dl or count < 1:
                raise HeaderError(f"tag {tag}: INT32 beyond the data store")
            values[tag] = struct.unpack_from(">i", data, offset)[0]
        elif kind in (TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING):
            end = bytes(data[offset:offset + 4096]).find(b"\0")
            if end < 0:
                raise HeaderError(f"tag {tag}: string without a terminating NUL")
            values[tag] = bytes(data[offset:offset + end]).decode("utf-8", errors="replace")
        else:
            raise HeaderError(f"tag {tag}: unexpected type {kind}")

    def text(tag: int) -> str:
        value = values.get(tag, "")
        return value if isinstance(value, str) else str(value)

    if not text(TAG_NAME) or not text(TAG_VERSION):
        raise HeaderError("no NAME or VERSION tag")
    epoch = values.get(TAG_EPOCH)
    return RpmHeader(text(TAG_NAME), text(TAG_VERSION), text(TAG_RELEASE),
                     epoch if isinstance(epoch, int) else None, text(TAG_ARCH), text(TAG_SOURCERPM))


def read_sqlite_packages(db_file: str, evidence: str) -> tuple[list[pb.Package], list[str]]:
    """Every header in an rpmdb.sqlite file; problems name the row (hnum) that failed."""
    from estate.agent.discovery.rpm import source_name

    packages: list[pb.Package] = []
    problems: list[str] = []
    # immutable=1: no locks, no -wal/-shm files written next to a database in a mounted image.
    uri = f"file:{db_file}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error as exc:
        return [], [f"{evidence}: cannot open as SQLite: {exc}"]
    try:
        rows = connection.execute("SELECT hnum, blob FROM Packages LIMIT ?", (MAX_PACKAGES + 1,))
        for count, (hnum, blob) in enumerate(rows):
            if count >= MAX_PACKAGES:
                problems.append(f"{evidence}: more than {MAX_PACKAGES} packages; the rest not read")
                break
            try:
                if not isinstance(blob, bytes):
                    raise HeaderError("blob is not binary")
                header = parse_header(blob)
            except (HeaderError, struct.error) as exc:
                problems.append(f"{evidence}: package row {hnum}: {exc}")
                continue
            packages.append(pb.Package(name=header.name, version=header.evr, architecture=header.arch,
                                       manager="rpm", source=source_name(header.source_rpm), found_by=FOUND_BY,
                                       evidence=evidence))
    except sqlite3.Error as exc:
        problems.append(f"{evidence}: not an rpm database ({exc})")
    finally:
        connection.close()
    return packages, problems


def read_rpmdb(host: HostAccess) -> tuple[list[pb.Package], list[str], str]:
    """Packages from the first rpmdb.sqlite found; the problems; and the path read ('' if none)."""
    for path in RPMDB_SQLITE_PATHS:
        if not host.exists(path):
            continue
        if isinstance(host, LocalHost):
            return (*read_sqlite_packages(str(host.resolve(path)), path), path)
        # Other hosts (recorded, SSH) hand over bytes: SQLite needs a file, so copy to a private one.
        try:
            data = host.read_bytes(path, limit=MAX_DB_BYTES)
        except (OSError, HostAccessError) as exc:
            return [], [str(exc)], path
        handle, temp = tempfile.mkstemp(prefix="estate-rpmdb-", suffix=".sqlite")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            del data
            return (*read_sqlite_packages(temp, path), path)
        finally:
            Path(temp).unlink()
    for path in RPMDB_BDB_PATHS:
        if host.exists(path):
            return [], [f"{path}: a Berkeley DB rpm database (RHEL/CentOS 8 and older); it is read with the "
                        "rpm command on the host itself, not from a --root tree"], path
    return [], [], ""
