"""The DuckDB store: numbered migrations, and reports written as Arrow batches in one transaction.

Only the writer (one connection, one thread) writes. Reports are converted to column lists in
Python, checked against the string bound, and inserted per table with one INSERT ... BY NAME from
an Arrow table: row-by-row inserts are hundreds of times slower (see NOTES on DuckDB inserts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from estate.collector.ingest.validate import MAX_STRING_CHARS, Rejected, check_report
from estate.collector.security.senders import AUDIT_COLUMNS, Sender, admit
from estate.v1 import inventory_pb2 as pb

STR = pa.string()
STR_LIST = pa.list_(pa.string())
STR_MAP = pa.map_(pa.string(), pa.string())
TS = pa.timestamp("us", tz="UTC")

# Arrow types of each stored table's columns, in one place; the SQL in migrations/ is the
# authority for the stored types and descriptions, and a test checks the two agree.
TABLE_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "reports": {
        "report_id": STR, "asset_id": STR, "collected_at": TS, "received_at": TS, "method": STR,
        "received_via": STR, "agent_version": STR, "hostname": STR, "fqdn": STR, "machine_id": STR,
        "dmi_product_uuid": STR, "asset_id_source": STR, "identity_warnings": STR_LIST,
        "os_family": STR, "os_id": STR, "os_name": STR, "os_version": STR, "os_version_id": STR,
        "os_major": STR, "os_codename": STR, "os_pretty_name": STR, "os_id_like": STR_LIST,
        "os_edition": STR, "os_build": STR, "kernel": STR, "architecture": STR, "os_found_by": STR,
        "os_evidence": STR, "hw_cpu_model": STR, "hw_cpu_count": pa.int32(), "hw_memory_bytes": pa.uint64(),
        "hw_vendor": STR, "hw_product": STR, "hw_serial": STR, "virtualization": STR, "container": STR,
        "cloud": STR, "labels": STR_MAP, "package_count": pa.int32(), "error_count": pa.int32(),
        # Who sent the report and where a sweep found it (issue 16, security/senders.py).
        **{name: STR for name in AUDIT_COLUMNS},
    },
    "packages": {"report_id": STR, "asset_id": STR, "name": STR, "version": STR, "architecture": STR,
                 "manager": STR, "source": STR, "found_by": STR, "evidence": STR},
    "software": {"report_id": STR, "asset_id": STR, "name": STR, "version": STR, "vendor": STR,
                 "path": STR, "found_by": STR, "evidence": STR},
    "listeners": {"report_id": STR, "asset_id": STR, "protocol": STR, "address": STR, "port": pa.int32(),
                  "pid": pa.int32(), "process": STR, "exposed": pa.bool_(), "found_by": STR, "evidence": STR},
    "interfaces": {"report_id": STR, "asset_id": STR, "name": STR, "mac": STR, "addresses": STR_LIST},
    "disks": {"report_id": STR, "asset_id": STR, "device": STR, "mountpoint": STR, "fstype": STR,
              "total_bytes": pa.uint64()},
    "devices": {"report_id": STR, "asset_id": STR, "vendor": STR, "model": STR, "serial": STR, "os": STR,
                "version": STR, "sys_descr": STR, "sys_object_id": STR, "sys_name": STR, "sys_contact": STR,
                "sys_location": STR, "engine_id": STR, "hardware_revision": STR, "firmware_revision": STR,
                "evidence": STR_MAP, "found_by": STR},
    "discovery_errors": {"report_id": STR, "asset_id": STR, "discoverer": STR, "message": STR, "evidence": STR},
}
# Part name in the Inventory (repeated field) -> table, for the one-row-per-entry tables.
CHILD_TABLES = {
    "packages": ("packages", ("name", "version", "architecture", "manager", "source", "found_by", "evidence")),
    "software": ("software", ("name", "version", "vendor", "path", "found_by", "evidence")),
    "listeners": ("listeners", ("protocol", "address", "port", "pid", "process", "exposed", "found_by",
                                "evidence")),
    "errors": ("discovery_errors", ("discoverer", "message", "evidence")),
}
DEVICE_FIELDS = ("vendor", "model", "serial", "os", "version", "sys_descr", "sys_object_id", "sys_name",
                 "sys_contact", "sys_location", "engine_id", "hardware_revision", "firmware_revision",
                 "found_by")


class StoreError(Exception):
    """The store itself failed (disk full, locked, corrupt): not the report's fault."""


@dataclass
class Batch:
    """Column lists per table for reports about to be inserted together."""

    columns: dict[str, dict[str, list[Any]]] = field(
        default_factory=lambda: {t: {c: [] for c in cols} for t, cols in TABLE_COLUMNS.items()})

    def extend(self, other: Batch) -> None:
        for table, cols in other.columns.items():
            for name, values in cols.items():
                self.columns[table][name].extend(values)

    def arrow(self, table: str) -> pa.Table:
        types = TABLE_COLUMNS[table]
        schema = pa.schema([(name, types[name]) for name in types])
        return pa.Table.from_pydict(self.columns[table], schema=schema)


def _check_strings(table: str, column: str, values: Sequence[Any]) -> None:
    if values and isinstance(values[0], str):
        longest = max(map(len, values))
        if longest > MAX_STRING_CHARS:
            raise Rejected(f"{table}.{column} has a value of {longest} characters, "
                           f"over the limit of {MAX_STRING_CHARS}")


def report_rows(report: pb.Inventory, report_id: str, received_at: dt.datetime, via: str,
                sender: Sender | None = None) -> Batch:
    """Flatten one checked report into column lists; raises Rejected if a string is over the bound."""
    batch = Batch()
    cols = batch.columns
    host, os_, hw = report.host, report.os, report.host.hardware
    row: dict[str, Any] = {
        "report_id": report_id, "asset_id": report.asset_id,
        "collected_at": report.collected_at.ToDatetime(tzinfo=dt.timezone.utc),
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
        "container": hw.container, "cloud": hw.cloud, "labels": list(report.labels.items()),
        "package_count": len(report.packages), "error_count": len(report.errors),
    }
    row.update((sender or Sender(kind=via)).columns(report))
    for name, value in row.items():
        if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            raise Rejected(f"reports.{name} is over the limit of {MAX_STRING_CHARS} characters")
        cols["reports"][name].append(value)

    for part, (table, fields) in CHILD_TABLES.items():
        entries = getattr(report, part)
        if not entries:
            continue
        n = len(entries)
        cols[table]["report_id"].extend([report_id] * n)
        cols[table]["asset_id"].extend([report.asset_id] * n)
        for name in fields:
            values = [getattr(entry, name) for entry in entries]
            _check_strings(table, name, values)
            cols[table][name].extend(values)

    for nic in host.interfaces:
        for name, value in (("report_id", report_id), ("asset_id", report.asset_id), ("name", nic.name),
                            ("mac", nic.mac), ("addresses", list(nic.addresses))):
            cols["interfaces"][name].append(value)
    for disk in hw.disks:
        for name, value in (("report_id", report_id), ("asset_id", report.asset_id), ("device", disk.device),
                            ("mountpoint", disk.mountpoint), ("fstype", disk.fstype),
                            ("total_bytes", disk.total_bytes)):
            cols["disks"][name].append(value)
    if report.HasField("device"):
        device = cols["devices"]
        device["report_id"].append(report_id)
        device["asset_id"].append(report.asset_id)
        for name in DEVICE_FIELDS:
            value = getattr(report.device, name)
            _check_strings("devices", name, [value])
            device[name].append(value)
        device["evidence"].append(list(report.device.evidence.items()))
    return batch


@dataclass(frozen=True)
class Outcome:
    """What happened to one report: ACCEPTED, DUPLICATE or REJECTED (with the reason)."""

    report_id: str
    status: str
    reason: str = ""


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("estate.collector.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text()))
    return sorted(found)


class Store:
    """One DuckDB database file; use from one thread (the writer) at a time."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = str(path)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        if not read_only:
            self.migrate()

    def close(self) -> None:
        self.con.close()

    def migrate(self) -> list[str]:
        """Apply the numbered migrations not yet recorded; returns the names applied."""
        con = self.con
        con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        con.execute("COMMENT ON TABLE schema_migrations IS 'Numbered schema migrations applied to this database.'")
        for column, text in (("version", "Migration number."), ("name", "Migration file name."),
                             ("applied_at", "When it was applied.")):
            con.execute(f"COMMENT ON COLUMN schema_migrations.{column} IS '{text}'")
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, name, sql in _migrations():
            if version in done:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
                con.execute("COMMIT")
            except duckdb.Error:
                con.execute("ROLLBACK")
                raise
            applied.append(name)
        return applied

    def schema_version(self) -> int:
        row = self.con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def write_reports(self, reports: Iterable[pb.Inventory], via: str,
                      senders: Sequence[Sender | None] | None = None) -> list[Outcome]:
        """Store new reports in one transaction; duplicates and invalid reports are not stored.

        Returns one outcome per report, in order. Raises StoreError if the database fails, in
        which case nothing from this call was stored. `senders` (one per report) are recorded, and
        each must be allowed to speak for its report's asset (security/senders.py).
        """
        received_at = dt.datetime.now(dt.timezone.utc)
        reports = list(reports)
        outcomes: list[Outcome] = []
        candidates: list[tuple[int, str, Batch]] = []
        for index, report in enumerate(reports):
            try:
                report_id = check_report(report)
                sender = senders[index] if senders is not None else None
                candidates.append((index, report_id, report_rows(report, report_id, received_at, via, sender)))
                outcomes.append(Outcome(report_id, "PENDING"))
            except Rejected as exc:
                outcomes.append(Outcome(report.report_id[:64], "REJECTED", str(exc)))
        if senders is not None and candidates:  # issue 16: may each sender speak for its report's asset?
            try:
                refusals = admit(self.con, [(senders[index], reports[index]) for index, _, _ in candidates])
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            for (index, report_id, _), reason in zip(candidates, refusals, strict=True):
                if reason is not None:
                    outcomes[index] = Outcome(report_id, "REJECTED", reason)
            candidates = [c for c, reason in zip(candidates, refusals, strict=True) if reason is None]
        if not candidates:
            return outcomes
        try:
            ids = [report_id for _, report_id, _ in candidates]
            stored = {row[0] for row in self.con.execute(
                "SELECT report_id FROM reports WHERE report_id IN (SELECT unnest(?))", [ids]).fetchall()}
            batch, seen = Batch(), set()
            for index, report_id, rows in candidates:
                if report_id in stored or report_id in seen:
                    outcomes[index] = Outcome(report_id, "DUPLICATE")
                    continue
                seen.add(report_id)
                batch.extend(rows)
                outcomes[index] = Outcome(report_id, "ACCEPTED")
            if seen:
                self._insert(batch)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        return outcomes

    def _insert(self, batch: Batch) -> None:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in TABLE_COLUMNS:
                if batch.columns[table]["report_id"]:
                    con.register("incoming", batch.arrow(table))
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")  # noqa: S608
                    con.unregister("incoming")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
