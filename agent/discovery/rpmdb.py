"""The rpm database read directly, for trees where the rpm command is absent or not the host's own
(`--root`): rpmdb.sqlite (rpm 4.16+: RHEL 9, Fedora 33+) and the Berkeley DB hash `Packages` file
(RHEL/CentOS 5 to 8, SLES up to 15 SP2).

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
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from estate.agent.hostaccess import HostAccess, HostAccessError, LocalHost
from estate.v1 import inventory_pb2 as pb

RPMDB_SQLITE_PATHS = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
RPMDB_BDB_PATHS = ("/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages")
RPMDB_NDB_PATHS = ("/var/lib/rpm/Packages.db", "/usr/lib/sysimage/rpm/Packages.db")
MAX_BDB_BYTES = 512 * 1024 * 1024
MAX_DB_BYTES = 1024 * 1024 * 1024
MAX_PACKAGES = 100_000
# rpm's own limits (header.c): index entries and data store size of one header.
MAX_INDEX_ENTRIES = 0xFFFF
MAX_DATA_BYTES = 0x0FFFFFFF
TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH, TAG_SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
# Who ships the package (rpmtag.h): RPMTAG_DISTRIBUTION, RPMTAG_VENDOR, RPMTAG_PACKAGER.
TAG_DISTRIBUTION, TAG_VENDOR, TAG_PACKAGER = 1010, 1011, 1015
WANTED_TAGS = frozenset({TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH, TAG_SOURCERPM,
                         TAG_DISTRIBUTION, TAG_VENDOR, TAG_PACKAGER})
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
    vendor: str = ""
    packager: str = ""
    distribution: str = ""

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
                     epoch if isinstance(epoch, int) else None, text(TAG_ARCH), text(TAG_SOURCERPM),
                     text(TAG_VENDOR)[:256], text(TAG_PACKAGER)[:256], text(TAG_DISTRIBUTION)[:256])


def header_package(header: RpmHeader, evidence: str) -> pb.Package:
    """The Package a header describes, as `rpm -qa` with RPM_QUERY would report it."""
    from estate.agent.discovery.rpm import source_name

    return pb.Package(name=header.name, version=header.evr, architecture=header.arch, manager="rpm",
                      source=source_name(header.source_rpm), found_by=FOUND_BY, evidence=evidence,
                      origin=header.vendor, maintainer=header.packager, distribution=header.distribution)


def read_sqlite_packages(db_file: str, evidence: str) -> tuple[list[pb.Package], list[str]]:
    """Every header in an rpmdb.sqlite file; problems name the row (hnum) that failed."""
    packages: list[pb.Package] = []
    problems: list[str] = []
    # immutable=1: no locks, no -wal/-shm files written next to a database in a mounted image.
    # The path is percent-encoded: SQLite decodes %XX in a URI and ends the path at '?' or '#', so
    # a directory named '%2e%2e' (or a '#') inside a scanned image would otherwise lead outside it.
    uri = f"file:{urllib.parse.quote(str(Path(db_file).absolute()), safe='/')}?mode=ro&immutable=1"
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
            packages.append(header_package(header, evidence))
    except sqlite3.Error as exc:
        problems.append(f"{evidence}: not an rpm database ({exc})")
    finally:
        connection.close()
    return packages, problems


def read_rpmdb(host: HostAccess) -> tuple[list[pb.Package], list[str], str]:
    """Packages from the first rpm database found (SQLite, then Berkeley DB); the problems; the path read."""
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
            try:
                data = host.read_bytes(path, limit=MAX_BDB_BYTES)
            except (OSError, HostAccessError) as exc:
                return [], [str(exc)], path
            return (*read_bdb_packages(data, path), path)
    for path in RPMDB_NDB_PATHS:
        if host.exists(path):
            return [], [f"{path}: rpm's ndb format (SUSE) is read with the rpm command on the host itself, "
                        "not from a --root tree"], path
    return [], [], ""


# Berkeley DB hash files, as rpm up to 4.15 kept Packages: page 0 is the hash metadata page, hash
# pages (type 13, or 2 in old versions) hold key/data item pairs, values too big for a page live in
# chains of overflow pages (type 7). Each value is one header blob. Layout from Berkeley DB's
# db_page.h; byte order from the magic number.
BDB_HASH_MAGIC = 0x061561
P_HASH_UNSORTED, P_OVERFLOW, P_HASHMETA, P_HASH = 2, 7, 8, 13
H_KEYDATA, H_OFFPAGE = 1, 3
PAGE_HEADER = 26


def read_bdb_packages(data: bytes, evidence: str) -> tuple[list[pb.Package], list[str]]:
    """Every header in a Berkeley DB hash Packages file; problems name the page that failed."""
    if len(data) < 512:
        return [], [f"{evidence}: {len(data)} bytes: too short for a Berkeley DB file"]
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, 12)[0] == BDB_HASH_MAGIC:
            break
    else:
        return [], [f"{evidence}: not a Berkeley DB hash database (bad magic number)"]
    page_size = struct.unpack_from(order + "I", data, 20)[0]
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1) or data[24] != 0:
        return [], [f"{evidence}: page size {page_size} or encryption not supported"]
    packages: list[pb.Package] = []
    problems: list[str] = []
    pages = len(data) // page_size
    for number in range(1, pages):
        page = data[number * page_size:(number + 1) * page_size]
        if page[25] not in (P_HASH, P_HASH_UNSORTED):
            continue
        entries = struct.unpack_from(order + "H", page, 20)[0]
        if PAGE_HEADER + 2 * entries > page_size:
            problems.append(f"{evidence}: page {number}: {entries} entries do not fit the page")
            continue
        offsets = struct.unpack_from(f"{order}{entries}H", page, PAGE_HEADER)
        for index in range(1, entries, 2):  # items alternate key, data
            start = offsets[index]
            end = offsets[index - 1] if index else page_size
            try:
                if start >= page_size or page[start] not in (H_KEYDATA, H_OFFPAGE):
                    raise HeaderError(f"item type {page[start] if start < page_size else '?'} at offset {start}")
                if page[start] == H_KEYDATA:
                    blob = page[start + 1:end]
                else:
                    first, length = struct.unpack_from(order + "II", page, start + 4)
                    blob = _overflow(data, page_size, order, first, length)
                header = parse_header(blob)
            except (HeaderError, struct.error) as exc:
                problems.append(f"{evidence}: page {number} item {index}: {exc}")
                continue
            if len(packages) >= MAX_PACKAGES:
                return packages, [*problems, f"{evidence}: more than {MAX_PACKAGES} packages; the rest not read"]
            packages.append(header_package(header, evidence))
    return packages, problems


def _overflow(data: bytes, page_size: int, order: str, first: int, length: int) -> bytes:
    """The value stored in the overflow chain starting at page `first`; bounded and loop-safe."""
    if length > MAX_DATA_BYTES:
        raise HeaderError(f"overflow value of {length} bytes")
    parts: list[bytes] = []
    seen: set[int] = set()
    number, total = first, 0
    while number and total < length:
        if number in seen or number * page_size + page_size > len(data):
            raise HeaderError(f"broken overflow chain at page {number}")
        seen.add(number)
        page = data[number * page_size:(number + 1) * page_size]
        if page[25] != P_OVERFLOW:
            raise HeaderError(f"page {number} in an overflow chain is of type {page[25]}")
        used = struct.unpack_from(order + "H", page, 22)[0]
        parts.append(page[PAGE_HEADER:PAGE_HEADER + used])
        total += used
        number = struct.unpack_from(order + "I", page, 16)[0]
    blob = b"".join(parts)
    if len(blob) < length:
        raise HeaderError(f"overflow chain holds {len(blob)} of {length} bytes")
    return blob[:length]
