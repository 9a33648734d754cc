"""Flatten one checked report into Arrow columns, checking every value against its stored type.

A part (packages, software, ...) is read one field at a time over all its entries (a list
comprehension per column, never a Python call per field per entry) and turned into Arrow in chunks
of CHUNK_ROWS, so a report of half a million packages never exists as Python objects all at once.
Packages sent column-wise (PackageColumns, agent/wire.py) skip that: each column becomes an Arrow
array in one call. Each part also gets a content hash (of its bytes as sent, see raw_digests), so
the store can recognise an unchanged part with one comparison.

Anything here that does not fit the store (a count above INTEGER, a time out of range, a string
over the bound) raises Rejected naming the field: one report, never the writer.
"""

from __future__ import annotations

import array
import datetime as dt
import hashlib
import marshal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.message import DecodeError

from estate.collector.ingest.validate import MAX_STRING_CHARS, Rejected
from estate.collector.security.senders import AUDIT_COLUMNS
from estate.v1 import inventory_pb2 as pb

STR = pa.string()
STR_LIST = pa.list_(pa.string())
STR_MAP = pa.map_(pa.string(), pa.string())
TS = pa.timestamp("us", tz="UTC")
INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1
# Rows per Arrow chunk while flattening: bounds the Python objects alive for one huge report.
CHUNK_ROWS = 65_536
# A part but packages with at most this many rows stays as Python lists until the store stages its group
# (FlatPart.values).
SMALL_PART_ROWS = 1_024
# Bytes of a part's content hash kept in asset_state (a truncated SHA-256).
DIGEST_BYTES = 16
# Timestamps DuckDB and Python both hold (year 1 to 9999); validate.py narrows this further.
MAX_TIMESTAMP_SECONDS = 253_402_300_799

# The report header: one row per report in `reports`.
REPORT_COLUMNS: dict[str, pa.DataType] = {
    "report_id": STR, "asset_id": STR, "collected_at": TS, "received_at": TS, "method": STR,
    "received_via": STR, "agent_version": STR, "hostname": STR, "fqdn": STR, "machine_id": STR,
    "dmi_product_uuid": STR, "asset_id_source": STR, "identity_warnings": STR_LIST,
    "os_family": STR, "os_id": STR, "os_name": STR, "os_version": STR, "os_version_id": STR,
    "os_major": STR, "os_codename": STR, "os_pretty_name": STR, "os_id_like": STR_LIST,
    "os_edition": STR, "os_build": STR, "kernel": STR, "architecture": STR, "os_found_by": STR,
    "os_evidence": STR, "hw_cpu_model": STR, "hw_cpu_count": pa.int32(), "hw_memory_bytes": pa.uint64(),
    "hw_vendor": STR, "hw_product": STR, "hw_serial": STR, "virtualization": STR, "container": STR,
    "cloud": STR, "labels": STR_MAP, "package_count": pa.int32(), "error_count": pa.int32(),
    "sender": STR, "sha256": STR, "in_history": pa.bool_(),
    # Who sent the report and where a sweep found it (issue 16, security/senders.py).
    **{name: STR for name in AUDIT_COLUMNS},
}


@dataclass(frozen=True)
class Part:
    """A repeated part of a report stored as intervals: its table, where its entries are, its columns."""

    table: str
    entries: Callable[[pb.Inventory], Sequence[Any]]
    columns: dict[str, pa.DataType]
    # Columns read from a map field (name -> list of (key, value) pairs), not a scalar.
    maps: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    # The Inventory field holding the part, when it is a top-level field: its content hash is then
    # taken from the report's own bytes, before (and often instead of) flattening it.
    field_number: int = 0


def _device(report: pb.Inventory) -> Sequence[pb.Device]:
    return [report.device] if report.HasField("device") else []


# Parts kept as intervals, in the order they are written. A new proto field is one more entry in
# `columns` (and a column in a migration): the flattening and hashing follow.
PARTS: tuple[Part, ...] = (
    Part("packages", lambda r: r.packages,  # or r.package_columns: see package_count and _column_batches
         {"name": STR, "version": STR, "architecture": STR, "manager": STR, "source": STR, "found_by": STR,
          "evidence": STR, "origin": STR, "maintainer": STR, "distribution": STR, "component": STR},
         field_number=pb.Inventory.PACKAGES_FIELD_NUMBER),
    Part("software", lambda r: r.software,
         {"name": STR, "version": STR, "vendor": STR, "path": STR, "found_by": STR, "evidence": STR},
         field_number=pb.Inventory.SOFTWARE_FIELD_NUMBER),
    Part("listeners", lambda r: r.listeners,
         {"protocol": STR, "address": STR, "port": pa.int32(), "pid": pa.int32(), "process": STR,
          "exposed": pa.bool_(), "found_by": STR, "evidence": STR}, field_number=pb.Inventory.LISTENERS_FIELD_NUMBER),
    Part("interfaces", lambda r: r.host.interfaces, {"name": STR, "mac": STR, "addresses": STR_LIST},
         lists=("addresses",)),
    Part("disks", lambda r: r.host.hardware.disks,
         {"device": STR, "mountpoint": STR, "fstype": STR, "total_bytes": pa.uint64()}),
    Part("devices", _device,
         {"vendor": STR, "model": STR, "serial": STR, "os": STR, "version": STR, "sys_descr": STR,
          "sys_object_id": STR, "sys_name": STR, "sys_contact": STR, "sys_location": STR, "engine_id": STR,
          "hardware_revision": STR, "firmware_revision": STR, "evidence": STR_MAP, "found_by": STR},
         maps=("evidence",), field_number=pb.Inventory.DEVICE_FIELD_NUMBER),
)
PART_BY_TABLE = {part.table: part for part in PARTS}
# Discovery errors are events of one report, not state: kept per report.
ERROR_COLUMNS: dict[str, pa.DataType] = {"report_id": STR, "asset_id": STR, "discoverer": STR, "message": STR,
                                         "evidence": STR}
INTERVAL_COLUMNS: dict[str, pa.DataType] = {"first_report_id": STR, "first_seen": TS, "last_report_id": STR,
                                            "last_seen": TS, "ended_at": TS, "open": pa.bool_()}


def part_schema(part: Part) -> pa.Schema:
    """The Arrow schema of a part's rows as flattened: asset_id, then the part's columns."""
    schema = _SCHEMAS.get(part.table)
    if schema is None or schema.names[1:] != list(part.columns):
        schema = pa.schema([("asset_id", STR), *part.columns.items()])
    return schema


_SCHEMAS = {part.table: pa.schema([("asset_id", STR), *part.columns.items()]) for part in PARTS}


@dataclass
class FlatPart:
    """One report's rows of one part, as Arrow record batches, with the content hash of them all.

    `flattened` is false when the part was left as it came because its hash matched the asset's
    known state: the store flattens it (flatten_part) only if that state has moved on since.
    """

    batches: list[pa.RecordBatch] = field(default_factory=list)
    rows: int = 0
    digest: bytes = b""
    flattened: bool = True
    # Packages only: a hash of every column but the version (see catalog_key), by which the store
    # recognises a list of packages it has numbered before.
    catalog_key: bytes | None = None
    # Packages only: the batches hold the version column alone, because the store had numbered this
    # very list (its catalog key) already, so its other columns were checked then and are not needed.
    # history.Numbering flattens the part in full should those numbers be gone by the time it is written.
    versions_only: bool = False
    # A small part (at most SMALL_PART_ROWS rows): its rows as checked Python lists by column, asset_id
    # first, instead of batches. The store turns a whole group's into Arrow at once (history._staged):
    # one Arrow array per column per group, where a report's own would cost more than its few rows.
    values: dict[str, list[Any]] | None = None


@dataclass
class FlatReport:
    """One report ready for the store: header row, parts as Arrow, discovery errors as Arrow."""

    report_id: str
    asset_id: str
    collected_at: dt.datetime
    header: dict[str, Any]
    parts: dict[str, FlatPart]
    errors: pa.RecordBatch | None
    # The decoded report, kept only while a part is not flattened, or only its versions are
    # (see FlatPart.flattened and FlatPart.versions_only).
    report: pb.Inventory | None = None
    # Who sent it (security/senders.Sender), for the store's check of asset bindings, and why it may
    # not send this report (Sender.refusal), if it may not.
    who: Any = None
    refusal: str | None = None


# The stored types _check_value bounds, by what it checks (looked up once per column, not compared each time).
_CHECKED = {STR: "str", pa.int32(): "int32", pa.uint64(): "uint64", STR_LIST: "str_list", STR_MAP: "str_map"}


def _check_value(table: str, column: str, kind: pa.DataType, values: list[Any]) -> None:
    """Raise Rejected if any value does not fit the column's stored type (NULLs always fit)."""
    checked = _CHECKED.get(kind)
    if checked is None:
        return
    if None in values:
        values = [value for value in values if value is not None]
    if not values:
        return
    if checked == "str":
        longest = max(map(len, values))
        if longest > MAX_STRING_CHARS:
            raise Rejected(f"{table}.{column} has a value of {longest} characters, over the limit of "
                           f"{MAX_STRING_CHARS}")
    elif checked == "int32":
        top = max(values)
        if top > INT32_MAX or min(values) < 0:
            raise Rejected(f"{table}.{column} value {top} does not fit the stored INTEGER (at most {INT32_MAX})")
    elif checked == "uint64":
        if max(values) > UINT64_MAX or min(values) < 0:
            raise Rejected(f"{table}.{column} does not fit the stored UBIGINT")
    elif checked == "str_list":
        for items in values:
            _check_value(table, column, STR, items)
    else:
        for pairs in values:
            _check_value(table, column, STR, [k for k, _ in pairs] + [v for _, v in pairs])


def _bytes_view(name: str, fields: dict[str, int], count_field: int = 0) -> Any:
    """A message class reading the given fields (name -> number) of a message as raw bytes, each repeated.

    Repeated because a message field may legally come in several pieces on the wire. Parsing with
    it costs C time only and gives each field's exact wire bytes to hash. count_field, if given, is
    read as a uint32 named `count`.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    kinds = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name=f"estate_collector_{name}.proto", syntax="proto3",
                                               package="estate.collector.internal")
    message = proto.message_type.add(name=name)
    if count_field:
        message.field.add(name="count", number=count_field, type=kinds.TYPE_UINT32, label=kinds.LABEL_OPTIONAL)
    for field_name, number in fields.items():
        message.field.add(name=field_name, number=number, type=kinds.TYPE_BYTES, label=kinds.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"estate.collector.internal.{name}"))


# An Inventory's top-level parts, its package columns and its host, one item per entry: equal bytes
# are equal rows, so an unchanged part is recognised without flattening it.
RawParts = _bytes_view("RawParts", {
    **{part.table: part.field_number for part in PARTS if part.field_number},
    "package_columns": pb.Inventory.PACKAGE_COLUMNS_FIELD_NUMBER, "host": pb.Inventory.HOST_FIELD_NUMBER})
# Parts read from inside the report's `host`, hashed from its bytes (raw_digests).
HOST_PARTS = ("interfaces", "disks")
# A PackageColumns' columns, each a serialized StringColumn (when one comes in pieces, no catalog key).
RawColumns = _bytes_view(
    "RawColumns", {name: pb.PackageColumns.DESCRIPTOR.fields_by_name[name].number
                   for name in PART_BY_TABLE["packages"].columns}, pb.PackageColumns.COUNT_FIELD_NUMBER)
# raw_digests' entry for the catalog key of packages sent column-wise (see catalog_key).
CATALOG_KEY = "packages:catalog_key"


def _column_digests(columns: bytes) -> tuple[bytes, bytes] | None:
    """(packages digest, catalog key) of one PackageColumns' bytes, hashing them once; None if it cannot tell.

    The catalog key hashes every column but the version, each as sent (its bytes' length, then
    them); the part's digest hashes the key and the version column. Equal bytes, equal rows.
    """
    raw = RawColumns()
    try:
        raw.ParseFromString(columns)
    except DecodeError:
        return None  # flattening names what is wrong with it
    pieces = {name: getattr(raw, name) for name in PART_BY_TABLE["packages"].columns}
    if any(len(piece) > 1 for piece in pieces.values()):
        return None
    key = hashlib.sha256(b"catalog-key-wire-1" + raw.count.to_bytes(8, "little"))
    for name in CATALOG_COLUMNS:
        value = pieces[name][0] if pieces[name] else b""
        key.update(len(value).to_bytes(8, "little"))
        key.update(value)
    catalog = key.digest()
    version = pieces["version"][0] if pieces["version"] else b""
    digest = hashlib.sha256(b"package_columns-2" + catalog + len(version).to_bytes(8, "little") + version)
    return digest.digest()[:DIGEST_BYTES], catalog


def raw_digests(data: bytes) -> dict[str, bytes]:
    """Content hash of each top-level part (and of the parts inside `host`), from a report's serialized bytes.

    For packages sent column-wise (and in no other form), also the catalog key (entry CATALOG_KEY),
    from the same single pass over their bytes.
    """
    raw = RawParts()
    raw.ParseFromString(data)
    digests = {}
    for part in PARTS:
        if part.field_number:
            entries = getattr(raw, part.table)
            if part.table == "packages" and not entries and len(raw.package_columns) == 1:
                hashed = _column_digests(raw.package_columns[0])
                if hashed is not None:
                    digests[part.table], digests[CATALOG_KEY] = hashed
                    continue
            digest = hashlib.sha256()  # SHA-256: with the CPU's SHA instructions, faster than BLAKE2 here
            for start in range(0, len(entries), CHUNK_ROWS):  # a chunk at a time: bounded copies
                items = entries[start:start + CHUNK_ROWS]
                # The entries' lengths first: entry boundaries are part of the content.
                digest.update(array.array("Q", map(len, items)).tobytes())
                digest.update(b"".join(items))
            if part.table == "packages" and raw.package_columns:
                # Packages sent column-wise: the columns' bytes, marked so they never equal a row form.
                digest.update(b"package_columns")
                digest.update(array.array("Q", map(len, raw.package_columns)).tobytes())
                digest.update(b"".join(raw.package_columns))
            digests[part.table] = digest.digest()[:DIGEST_BYTES]
    if len(raw.host) == 1:
        # Interfaces and disks live inside `host`: equal host bytes, equal interfaces and disks. A host
        # that changed in anything (its memory, say) has them flattened and compared row by row.
        for table in HOST_PARTS:
            digests[table] = hashlib.sha256(b"host:" + table.encode() + b":" + raw.host[0]).digest()[:DIGEST_BYTES]
    return digests


def flatten_part(part: Part, report: pb.Inventory, asset_id: str, digest_of: bytes | None = None,
                 catalog_key_of: bytes | None = None, versions_only: bool = False) -> FlatPart:
    """One part of one report as Arrow batches of at most CHUNK_ROWS rows, with its content hash.

    digest_of, when given (the raw bytes' hash of a top-level part), is the part's hash; catalog_key_of
    (raw_digests' CATALOG_KEY) is the catalog key of packages sent column-wise. versions_only: the
    store has numbered the list of that catalog key, so only its versions are needed (FlatPart).
    """
    if part.table == "packages" and report.HasField("package_columns"):
        return _column_batches(part, report, asset_id, digest_of, catalog_key_of,
                               versions_only and catalog_key_of is not None)
    entries = part.entries(report)
    flat = FlatPart(rows=len(entries))
    digest = hashlib.sha256()
    if not entries:  # nothing to build (the digest is that of no values, as the loop below would leave it)
        flat.digest = digest_of if digest_of is not None else digest.digest()[:DIGEST_BYTES]
        return flat
    if len(entries) <= SMALL_PART_ROWS and part.table != "packages":  # packages: numbered from batches
        flat.values = {"asset_id": [asset_id] * len(entries)}
        for name, values in _checked_columns(part, entries):
            if digest_of is None:
                digest.update(marshal.dumps(values, 2))
            flat.values[name] = values
    else:
        schema = part_schema(part)
        for start in range(0, len(entries), CHUNK_ROWS):
            chunk = entries[start:start + CHUNK_ROWS]
            arrays: list[pa.Array] = [pa.repeat(pa.scalar(asset_id, STR), len(chunk))]
            for name, values in _checked_columns(part, chunk):
                if digest_of is None:
                    digest.update(marshal.dumps(values, 2))
                arrays.append(pa.array(values, part.columns[name]))
            flat.batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    flat.digest = digest_of if digest_of is not None else digest.digest()[:DIGEST_BYTES]
    if part.table == "packages":
        flat.catalog_key = catalog_key(flat.batches)
    return flat


def _checked_columns(part: Part, entries: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """Each column of the entries as a list of checked values (Rejected names a value that does not fit)."""
    for name, kind in part.columns.items():
        if name in part.maps:
            values: list[Any] = [sorted(getattr(entry, name).items()) for entry in entries]
        elif name in part.lists:
            values = [list(getattr(entry, name)) for entry in entries]
        else:
            values = [getattr(entry, name) for entry in entries]
        _check_value(part.table, name, kind, values)
        yield name, values


def part_batches(part: Part, flats: Sequence[FlatPart]) -> list[pa.RecordBatch]:
    """The flattened rows of parts as Arrow batches, in order: each run of parts kept as values in one batch."""
    batches: list[pa.RecordBatch] = []
    listed: list[dict[str, list[Any]]] = []
    for flat in [*flats, None]:
        if flat is not None and flat.values is not None:
            listed.append(flat.values)
            continue
        if listed:
            schema = part_schema(part)
            batches.append(pa.RecordBatch.from_arrays(
                [pa.array([value for values in listed for value in values[name]], schema.field(name).type)
                 for name in schema.names], schema=schema))
            listed = []
        if flat is not None:
            batches.extend(flat.batches)
    return batches


# What identifies a package apart from its version: package_catalog's columns (store/history.py).
CATALOG_COLUMNS = tuple(name for name in PART_BY_TABLE["packages"].columns if name != "version")


def catalog_key(batches: list[pa.RecordBatch]) -> bytes | None:
    """A hash of the packages' columns but the version, in order: equal keys, equal packages row for row.

    Hosts built alike list the same packages in the same order, whatever their versions, so the
    store numbers such a list once (history.Numbering). Taken over the Arrow buffers as they are
    (their lengths and each column's offset included, so the encoding is unambiguous); a report in
    several chunks (sliced from shared buffers) gets none.
    """
    if len(batches) != 1:
        return None
    batch = batches[0]
    digest = hashlib.sha256(b"catalog-key-1" + batch.num_rows.to_bytes(8, "little"))
    for name in CATALOG_COLUMNS:
        column = batch.column(name)
        digest.update(column.offset.to_bytes(8, "little"))
        for buffer in column.buffers():
            if buffer is None:
                digest.update(b"\xff" * 8)
            else:
                digest.update(buffer.size.to_bytes(8, "little"))
                digest.update(memoryview(buffer))
    return digest.digest()


def package_count(report: pb.Inventory) -> int:
    """How many packages a report has, in either form (rows or columns)."""
    return report.package_columns.count if report.HasField("package_columns") else len(report.packages)


def part_rows(part: Part, report: pb.Inventory) -> int:
    """How many rows a part of a report has."""
    return package_count(report) if part.table == "packages" else len(part.entries(report))


def _string_column(column: pb.StringColumn, count: int, where: str) -> pa.Array:
    """One PackageColumns column as an Arrow string array (zero-copy), or Rejected naming what is wrong."""
    offsets, data = column.offsets, column.data
    if not offsets and not data:
        return pa.repeat(pa.scalar("", STR), count)  # left out: every value is empty
    if len(offsets) != 4 * (count + 1):
        raise Rejected(f"{where} has {len(offsets)} bytes of offsets; {count} packages need {4 * (count + 1)}")
    if sys.byteorder == "big":  # the wire is little-endian
        swapped = array.array("i", offsets)
        swapped.byteswap()
        offsets = swapped.tobytes()
    try:
        values = pa.Array.from_buffers(STR, count, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        values.validate(full=True)  # offsets within the data and rising, every value UTF-8
    except pa.ArrowInvalid as exc:
        raise Rejected(f"{where} is not a valid string column: {str(exc)[:200]}") from exc
    return values


def _check_lengths(arrays: list[pa.Array], names: Sequence[str], where: str) -> None:
    """Rejected if a value of the string arrays is over MAX_STRING_CHARS characters, naming its column.

    Characters are never more than bytes: the bytes of every column are measured in one pass, and
    characters counted only in a column with a value that long in bytes.
    """
    longest = pc.max(pc.binary_length(pa.chunked_array(arrays, STR))).as_py()
    if longest is None or longest <= MAX_STRING_CHARS:
        return
    for name, values in zip(names, arrays, strict=True):
        chars = pc.max(pc.utf8_length(values)).as_py()
        if chars is not None and chars > MAX_STRING_CHARS:
            raise Rejected(f"{where}.{name} has a value of {chars} characters, over the limit of {MAX_STRING_CHARS}")


def _column_batches(part: Part, report: pb.Inventory, asset_id: str, digest_of: bytes | None,
                    catalog_key_of: bytes | None = None, versions_only: bool = False) -> FlatPart:
    """Packages sent as PackageColumns: each column becomes an Arrow array in one call, no Python per package."""
    columns = report.package_columns
    count = columns.count
    names = ["version"] if versions_only else list(part.columns)
    values = [_string_column(getattr(columns, name), count, f"package_columns.{name}") for name in names]
    _check_lengths(values, names, "package_columns")
    arrays = [pa.repeat(pa.scalar(asset_id, STR), count), *values]
    schema = _VERSIONS_SCHEMA if versions_only else part_schema(part)
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    flat = FlatPart(rows=count, versions_only=versions_only)
    flat.batches = [batch.slice(start, CHUNK_ROWS) for start in range(0, count, CHUNK_ROWS)]
    flat.digest = digest_of if digest_of is not None else hashlib.sha256(
        b"package_columns" + columns.SerializeToString(deterministic=True)).digest()[:DIGEST_BYTES]
    flat.catalog_key = catalog_key_of if catalog_key_of is not None else catalog_key(flat.batches)
    return flat


_VERSIONS_SCHEMA = pa.schema([("asset_id", STR), ("version", STR)])


def timestamp(report: pb.Inventory) -> dt.datetime:
    """collected_at as an aware datetime, or Rejected if it is not a representable time."""
    stamp = report.collected_at
    if not 0 <= stamp.nanos < 1_000_000_000:
        raise Rejected(f"collected_at nanos {stamp.nanos} is out of range (0 to 999999999)")
    if not 0 <= stamp.seconds <= MAX_TIMESTAMP_SECONDS:
        raise Rejected(f"collected_at seconds {stamp.seconds} is not a representable time")
    return stamp.ToDatetime(tzinfo=dt.timezone.utc)


def flatten(report: pb.Inventory, report_id: str, received_at: dt.datetime, via: str, sender: str,
            sha256: str, raw: dict[str, bytes] | None = None, known: dict[str, bytes | None] | None = None,
            audit: dict[str, Any] | None = None, numbered: Callable[[bytes], bool] | None = None) -> FlatReport:
    """A checked report (check_report) as a FlatReport; raises Rejected if any value does not fit.

    raw: the top-level parts' hashes (raw_digests); known: the asset's part hashes as last stored.
    A part whose hash is the known one is not flattened (see FlatPart.flattened). numbered(catalog
    key): whether the store has numbered that list of packages already (see FlatPart.versions_only).
    """
    host, os_, hw = report.host, report.os, report.host.hardware
    collected_at = timestamp(report)
    header: dict[str, Any] = {
        "report_id": report_id, "asset_id": report.asset_id, "collected_at": collected_at,
        "received_at": received_at, "method": pb.Method.Name(report.method).removeprefix("METHOD_"),
        "received_via": via, "agent_version": report.agent_version, "hostname": host.hostname,
        "fqdn": host.fqdn, "machine_id": host.machine_id, "dmi_product_uuid": host.dmi_product_uuid,
        "asset_id_source": host.asset_id_source, "identity_warnings": list(host.identity_warnings),
        "os_family": os_.family, "os_id": os_.id, "os_name": os_.name, "os_version": os_.version,
        "os_version_id": os_.version_id, "os_major": os_.major, "os_codename": os_.codename,
        "os_pretty_name": os_.pretty_name, "os_id_like": list(os_.id_like), "os_edition": os_.edition,
        "os_build": os_.build, "kernel": os_.kernel, "architecture": os_.architecture,
        "os_found_by": os_.found_by, "os_evidence": os_.evidence, "hw_cpu_model": hw.cpu_model,
        "hw_cpu_count": hw.cpu_count, "hw_memory_bytes": hw.memory_bytes, "hw_vendor": hw.vendor,
        "hw_product": hw.product, "hw_serial": hw.serial, "virtualization": hw.virtualization,
        "container": hw.container, "cloud": hw.cloud, "labels": sorted(report.labels.items()),
        "package_count": package_count(report), "error_count": len(report.errors),
        "sender": sender, "sha256": sha256, "in_history": True,
        **{name: (audit or {}).get(name) for name in AUDIT_COLUMNS},
    }
    # The header's strings in one pass; each column on its own only to name one that is too long.
    if max((len(header[name]) for name in _HEADER_STRINGS if header[name] is not None), default=0) \
            > MAX_STRING_CHARS:
        for name in _HEADER_STRINGS:
            _check_value("reports", name, STR, [header[name]])
    for name, kind in _HEADER_OTHERS:
        _check_value("reports", name, kind, [header[name]])
    parts = {}
    for part in PARTS:
        digest = (raw or {}).get(part.table)
        if digest is not None and known is not None and known.get(part.table) == digest:
            parts[part.table] = FlatPart(rows=part_rows(part, report), digest=digest, flattened=False)
        else:
            key = (raw or {}).get(CATALOG_KEY) if part.table == "packages" else None
            parts[part.table] = flatten_part(part, report, report.asset_id, digest, key,
                                             key is not None and numbered is not None and numbered(key))
    errors = None
    if report.errors:
        columns: dict[str, list[Any]] = {"report_id": [report_id] * len(report.errors),
                                         "asset_id": [report.asset_id] * len(report.errors)}
        for name in ("discoverer", "message", "evidence"):
            columns[name] = [getattr(entry, name) for entry in report.errors]
            _check_value("discovery_errors", name, STR, columns[name])
        errors = pa.RecordBatch.from_pydict(columns, schema=pa.schema(list(ERROR_COLUMNS.items())))
    kept = report if any(not flat.flattened or flat.versions_only for flat in parts.values()) else None
    return FlatReport(report_id, report.asset_id, collected_at, header, parts, errors, kept)


_HEADER_STRINGS = [name for name, kind in REPORT_COLUMNS.items() if kind == STR]
_HEADER_OTHERS = [(name, kind) for name, kind in REPORT_COLUMNS.items() if kind != STR and kind in _CHECKED]


def header_table(reports: Sequence[FlatReport]) -> pa.Table:
    """The header rows of reports as one Arrow table (schema REPORT_COLUMNS)."""
    schema = pa.schema(list(REPORT_COLUMNS.items()))
    return pa.Table.from_pydict({name: [r.header[name] for r in reports] for name in REPORT_COLUMNS},
                                schema=schema)
