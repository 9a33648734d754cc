"""History by change: intervals, unchanged rescans, as-of queries, late reports, the 0003 migration."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

import duckdb
import pytest

from estate.agent.wire import encode_report
from estate.collector.ingest import flatten
from estate.collector.ingest.flatten import CATALOG_COLUMNS, FlatReport
from estate.collector.store import history
from estate.collector.store.database import Incoming, Outcome, Store, _migrations, prepare
from estate.collector.store.history import Numbering
from estate.v1 import inventory_pb2 as pb

DAY0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc)


def scan(asset: str, day: int, packages: list[tuple[str, str]], port: int = 22) -> pb.Inventory:
    """A daily scan of asset on DAY0 + day."""
    inv = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=asset, method=pb.METHOD_LOCAL)
    inv.collected_at.FromDatetime(DAY0 + dt.timedelta(days=day))
    inv.host.hostname = asset.split(":")[-1]
    inv.os.id, inv.os.version_id = "debian", "12"
    for name, version in packages:
        inv.packages.add(name=name, version=version, manager="dpkg", architecture="amd64")
    inv.listeners.add(protocol="tcp", address="0.0.0.0", port=port, exposed=True)
    inv.host.interfaces.add(name="eth0", mac="52:54:00:00:00:01", addresses=["192.0.2.10"])
    return inv


BASE = [(f"pkg{i}", f"1.{i}-1") for i in range(50)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "h.duckdb")


def count(store: Store, sql: str) -> int:
    row = store.con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_unchanged_rescan_adds_no_package_rows(store: Store) -> None:
    assert [o.status for o in store.write_reports([scan("hostname:a", 0, BASE)], via="file")] == ["ACCEPTED"]
    assert count(store, "SELECT count(*) FROM packages") == 50
    for day in range(1, 6):
        assert store.write_reports([scan("hostname:a", day, BASE)], via="file")[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM packages") == 50
    assert count(store, "SELECT count(*) FROM listeners") == 1
    assert count(store, "SELECT count(*) FROM reports") == 6
    current = store.con.execute("SELECT report_id FROM current_reports").fetchall()
    assert current == store.con.execute("SELECT DISTINCT report_id FROM current_packages").fetchall()


def test_a_change_writes_only_the_change_and_history_answers_as_of(store: Store) -> None:
    store.write_reports([scan("hostname:a", 0, BASE)], via="file")
    upgraded = [(n, "2.0-1") if n == "pkg3" else (n, v) for n, v in BASE]
    store.write_reports([scan("hostname:a", 1, BASE)], via="file")
    day2 = scan("hostname:a", 2, [*upgraded, ("newpkg", "1.0")])
    store.write_reports([day2], via="file")
    store.write_reports([scan("hostname:a", 3, upgraded)], via="file")  # newpkg removed again
    assert count(store, "SELECT count(*) FROM packages") == 52
    assert count(store, "SELECT count(*) FROM packages WHERE open") == 50
    closed = store.con.execute("SELECT name, version, last_seen, ended_at FROM packages WHERE NOT open "
                               "ORDER BY name").fetchall()
    assert closed == [("newpkg", "1.0", DAY0 + dt.timedelta(days=2), DAY0 + dt.timedelta(days=3)),
                      ("pkg3", "1.3-1", DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=2))]

    def as_of(day: int) -> set[tuple[str, str]]:
        moment = DAY0 + dt.timedelta(days=day, hours=12)
        return set(store.con.execute("SELECT name, version FROM packages_as_of(?) WHERE asset_id = 'hostname:a'",
                                     [moment]).fetchall())

    assert as_of(0) == as_of(1) == set(BASE)
    assert as_of(2) == {*upgraded, ("newpkg", "1.0")}
    assert as_of(3) == set(upgraded)
    assert as_of(-1) == set()
    current = set(store.con.execute("SELECT name, version FROM current_packages").fetchall())
    assert current == set(upgraded)
    changes = store.con.execute("SELECT part, change, item, detail, report_id FROM changes_since(?) "
                                "ORDER BY changed_at, change, item",
                                [DAY0 + dt.timedelta(days=1, hours=1)]).fetchall()
    assert changes == [("package", "added", "newpkg", "1.0", day2.report_id),
                       ("package", "added", "pkg3", "2.0-1", day2.report_id),
                       ("package", "removed", "pkg3", "1.3-1", changes[2][4]),
                       ("package", "removed", "newpkg", "1.0", day2.report_id)]
    reports_as_of = store.con.execute("SELECT report_id FROM reports_as_of(?)",
                                      [DAY0 + dt.timedelta(days=2, hours=1)]).fetchall()
    assert reports_as_of == [(day2.report_id,)]


def test_late_report_is_recorded_but_leaves_history_alone(store: Store) -> None:
    store.write_reports([scan("hostname:a", 5, BASE)], via="file")
    late = scan("hostname:a", 1, [("old", "0.1")])
    assert store.write_reports([late], via="file")[0].status == "ACCEPTED"
    assert store.con.execute("SELECT in_history FROM reports WHERE report_id = ?", [late.report_id]).fetchone() \
        == (False,)
    assert count(store, "SELECT count(*) FROM packages") == 50
    assert set(store.con.execute("SELECT name, version FROM current_packages").fetchall()) == set(BASE)


def test_several_reports_of_one_asset_in_one_group_apply_in_order(store: Store) -> None:
    days = [scan("hostname:a", day, BASE[: 40 + day]) for day in range(4)]
    other = scan("hostname:b", 0, BASE[:5])
    outcomes = store.write_reports([days[2], days[0], other, days[3], days[1]], via="file")
    assert {o.status for o in outcomes} == {"ACCEPTED"}
    assert count(store, "SELECT count(*) FROM packages WHERE asset_id = 'hostname:a'") == 43
    first = store.con.execute("SELECT first_report_id FROM packages WHERE name = 'pkg42'").fetchone()
    assert first == (days[3].report_id,)
    assert store.con.execute("SELECT report_id FROM current_reports WHERE asset_id = 'hostname:a'").fetchone() \
        == (days[3].report_id,)
    assert store.con.execute("SELECT reports FROM asset_state WHERE asset_id = 'hostname:a'").fetchone() == (4,)



def _small_parts(inv: pb.Inventory, day: int) -> pb.Inventory:
    """Software, listeners, interfaces (a list column), disks and an SNMP device (a map column) that change
    a little each day; a duplicate listener, as a sloppy agent might send."""
    inv.software.add(name="python", version="3.11", vendor="cpython", path="/usr/bin/python3")
    if day % 2:
        inv.software.add(name="java", version=f"17.0.{day}", vendor="openjdk", path="/usr/bin/java")
    inv.listeners.add(protocol="udp", address="0.0.0.0", port=161 + day, exposed=True)
    inv.listeners.add(protocol="udp", address="0.0.0.0", port=161 + day, exposed=True)
    inv.host.interfaces[0].addresses.append(f"192.0.2.{100 + min(day, 1)}")
    inv.host.hardware.disks.add(device="/dev/sda", mountpoint="/", fstype="ext4", total_bytes=10**11 * (1 + day // 2))
    inv.device.vendor, inv.device.model = "Cisco", "C2960"
    inv.device.evidence["version"] = f"15.{min(day, 1)}"
    return inv


def test_small_parts_keep_what_stays_and_close_only_what_changed(store: Store) -> None:
    """Each small part's diff in one group of two assets: what stayed keeps its interval, what went is
    closed on the day it went, what came is opened, duplicates count once, lists and maps compare whole."""
    # A package listed twice, and another in two versions (as kernels are): first seen, then changed.
    repeated = [*BASE[:3], BASE[0], ("pkg1", "9.9")]
    for day in range(4):
        packages = repeated if day < 2 else [*repeated, ("pkg9", "1")]
        group = [_small_parts(scan(f"hostname:{name}", day, packages, port=22), day) for name in ("a", "b")]
        assert {o.status for o in store.write_reports(group, via="file")} == {"ACCEPTED"}

    def rows(sql: str) -> list[tuple[object, ...]]:
        return store.con.execute(sql).fetchall()

    def seen(day: int) -> dt.datetime:
        return DAY0 + dt.timedelta(days=day)

    # python stays for good; java comes on odd days and goes on even ones: intervals 1-1 and 3-3 (open).
    assert rows("SELECT name, version, first_seen, last_seen, open FROM software WHERE asset_id = 'hostname:a' "
                "ORDER BY name, first_seen") == [
        ("java", "17.0.1", seen(1), seen(1), False), ("java", "17.0.3", seen(3), None, True),
        ("python", "3.11", seen(0), None, True)]
    # One interval per day's udp port (sent twice, stored once), the tcp port throughout.
    assert rows("SELECT port, first_seen, last_seen, ended_at FROM listeners WHERE asset_id = 'hostname:b' "
                "ORDER BY first_seen, port") == [
        (22, seen(0), None, None), (161, seen(0), seen(0), seen(1)), (162, seen(1), seen(1), seen(2)),
        (163, seen(2), seen(2), seen(3)), (164, seen(3), None, None)]
    assert rows("SELECT addresses, first_seen, open FROM interfaces WHERE asset_id = 'hostname:a' "
                "ORDER BY first_seen") == [
        (["192.0.2.10", "192.0.2.100"], seen(0), False), (["192.0.2.10", "192.0.2.101"], seen(1), True)]
    assert rows("SELECT total_bytes, first_seen, open FROM disks WHERE asset_id = 'hostname:a' "
                "ORDER BY first_seen") == [(10**11, seen(0), False), (2 * 10**11, seen(2), True)]
    assert rows("SELECT evidence, first_seen, last_seen FROM devices WHERE asset_id = 'hostname:b' "
                "ORDER BY first_seen") == [({"version": "15.0"}, seen(0), seen(0)),
                                           ({"version": "15.1"}, seen(1), None)]
    assert rows("SELECT name, version, first_seen FROM current_packages WHERE asset_id = 'hostname:a' "
                "ORDER BY name, version") == [
        ("pkg0", "1.0-1", seen(0)), ("pkg1", "1.1-1", seen(0)), ("pkg1", "9.9", seen(0)), ("pkg2", "1.2-1", seen(0)),
        ("pkg9", "1", seen(2))]
    assert count(store, "SELECT count(*) FROM packages_current") == 10
    for table in ("software", "listeners", "interfaces", "disks", "devices"):
        # Both assets alike, and every current row once.
        assert count(store, f"SELECT count(*) FROM {table}_current") == 2 * count(
            store, f"SELECT count(*) FROM {table}_current WHERE asset_id = 'hostname:a'")
        assert count(store, f"SELECT count(*) - count(DISTINCT {table}_current) FROM {table}_current") == 0
    assert count(store, "SELECT count(*) FROM packages_history") == 0


# --- migration 0003 on a database written by the schema before it --------------------------------

OLD_PARTS = {
    "packages": "name, version, architecture, manager, source, found_by, evidence",
    "software": "name, version, vendor, path, found_by, evidence",
    "listeners": "protocol, address, port, pid, process, exposed, found_by, evidence",
    "interfaces": "name, mac, addresses",
    "devices": "vendor, model, serial, os, version, sys_descr, sys_object_id, sys_name, sys_contact, "
               "sys_location, engine_id, hardware_revision, firmware_revision, evidence, found_by",
}


def _old_database(path: Path) -> duckdb.DuckDBPyConnection:
    """A database at schema 0002, filled as the writer of that schema did: every row of every report."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL)")
    for number, file_name, sql in _migrations():
        if number <= 2:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, file_name])
    reports = []
    for asset in range(3):
        for day in range(5):
            reports.append((asset, day, str(uuid.uuid4())))
    # A late report: collected before the asset's last one, received after it.
    reports.append((0, 2, str(uuid.uuid4())))
    for n, (asset, day, report_id) in enumerate(reports):
        collected = DAY0 + dt.timedelta(days=day, minutes=n if n == len(reports) - 1 else 0)
        con.execute("INSERT INTO reports (report_id, asset_id, collected_at, received_at, method, received_via, "
                    "hostname, labels, package_count, error_count) VALUES (?, ?, ?, ?, 'LOCAL', 'grpc', ?, "
                    "MAP {'org': 'x'}, 0, 0)",
                    [report_id, f"hostname:h{asset}", collected, DAY0 + dt.timedelta(days=10, seconds=n),
                     f"h{asset}"])
        packages = [(f"p{i}", "1.0" if (i + asset) % 4 or day < 3 else "2.0") for i in range(20)]
        if day == 2:
            packages.append(("transient", "0.1"))  # present one day only
        if asset == 1 and day != 3:
            packages.append(("flapping", "1"))  # gone on day 3, back on day 4: two intervals
        packages.append(packages[0])  # a duplicate row, as a sloppy agent might send
        for name, version in packages:
            con.execute("INSERT INTO packages VALUES (?, ?, ?, ?, 'amd64', 'dpkg', NULL, 'dpkg', '/var/lib/dpkg')",
                        [report_id, f"hostname:h{asset}", name, version])
        con.execute("INSERT INTO software VALUES (?, ?, 'python', ?, 'cpython', '/usr/bin/python3', 'runtimes', 'x')",
                    [report_id, f"hostname:h{asset}", f"3.{day // 2}"])
        con.execute("INSERT INTO listeners VALUES (?, ?, 'tcp', '0.0.0.0', 22, ?, 'sshd', true, 'psutil', 'x')",
                    [report_id, f"hostname:h{asset}", 100 + day])
        con.execute("INSERT INTO interfaces VALUES (?, ?, 'eth0', '52:54:00:00:00:01', ['192.0.2.1'])",
                    [report_id, f"hostname:h{asset}"])
        con.execute("INSERT INTO devices VALUES (?, ?, 'Cisco', 'C2960', 'S', 'ios', '15.0', 'd', '1.3.6', 'sw', "
                    "'', '', 'e', '', '', MAP {'os': '1.3.6.1'}, 'snmp')", [report_id, f"hostname:h{asset}"])
    return con


def _current(con: duckdb.DuckDBPyConnection, view: str, columns: str) -> set[str]:
    """The view's rows (as text: lists and maps are not hashable), without duplicates."""
    return set(map(repr, con.execute(f"SELECT report_id, asset_id, {columns} FROM {view}").fetchall()))


def test_migration_0003_keeps_current_and_history(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = _old_database(path)
    before = {part: _current(con, f"current_{part}", columns) for part, columns in OLD_PARTS.items()}
    cursor = con.execute("SELECT * FROM current_reports")
    old_columns = ", ".join(f'"{d[0]}"' for d in cursor.description or ())
    before_reports = set(map(repr, cursor.fetchall()))
    # What each report showed, to compare with the history afterwards.
    shown = con.execute("SELECT r.asset_id, r.collected_at, list(DISTINCT p.name || '=' || p.version) "
                        "FROM reports r JOIN packages p USING (report_id) GROUP BY ALL").fetchall()
    con.close()

    store = Store(path)
    assert store.schema_version() >= 3
    for part, columns in OLD_PARTS.items():
        assert _current(store.con, f"current_{part}", columns) == before[part], part
    # Later migrations add columns (sender, sha256, audit): compare the ones the old view had.
    after_reports = set(map(repr, store.con.execute(f"SELECT {old_columns} FROM current_reports").fetchall()))
    assert after_reports == before_reports
    assert count(store, "SELECT count(*) FROM packages WHERE name = 'flapping'") == 2
    assert count(store, "SELECT count(*) FROM packages WHERE name = 'transient'") == 3
    # Every report in history (not the late one) is answered by packages_as_of at its own time.
    for asset, collected, packages in shown:
        if collected.minute:
            continue  # the late report: kept in reports, not in history
        got = store.con.execute("SELECT list(name || '=' || version) FROM packages_as_of(?) WHERE asset_id = ?",
                                [collected, asset]).fetchone()
        assert got is not None and sorted(got[0]) == sorted(packages), (asset, collected)
    # New reports continue the converted history by change.
    nothing_new = count(store, "SELECT count(*) FROM packages")
    rescan = scan("hostname:h2", 9, [])
    rescan.ClearField("listeners")
    rescan.ClearField("host")
    rescan.host.hostname = "h2"
    assert store.write_reports([rescan], via="file")[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM packages") == nothing_new
    assert count(store, "SELECT count(*) FROM current_packages WHERE asset_id = 'hostname:h2'") == 0


def test_compaction_drops_deleted_rows_and_keeps_every_interval(store: Store) -> None:
    for day in range(6):
        store.write_reports([scan("hostname:a", day, [(n, f"{v}.{day}") for n, v in BASE])], via="file")
    intervals = set(store.con.execute("SELECT name, version, first_seen, ended_at FROM packages").fetchall())
    assert len(intervals) == 300 and store.closed["packages"] == 250
    store.con.execute("CHECKPOINT")
    stored = ("SELECT sum(count) FROM pragma_storage_info('packages_current') "
              "WHERE column_name = 'version' AND segment_type = 'VARCHAR'")
    assert count(store, stored) > 50  # closed intervals leave deleted rows behind
    assert store.compact_if_needed() == ["packages"]
    assert count(store, stored) == 50
    assert set(store.con.execute("SELECT name, version, first_seen, ended_at FROM packages").fetchall()) == intervals
    assert store.compact_if_needed() == []


def test_unchanged_part_is_not_flattened_and_a_stale_hint_is_caught(store: Store) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    store.write_reports([scan("hostname:a", 0, BASE)], via="file")
    hints = store.part_hashes()
    same = prepare(scan("hostname:a", 1, BASE), now, "file", hints.get)
    assert not isinstance(same, Outcome)
    assert not same.parts["packages"].flattened and same.parts["packages"].batches == []
    assert store.write_prepared([same])[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM packages") == 50

    # A hint from a report that never got stored: the part is not flattened, and the store,
    # whose state differs, flattens it after all.
    changed = [*BASE[:40], ("other", "1.0")]
    hint = prepare(scan("hostname:b", 0, changed), now, "file")
    assert not isinstance(hint, Outcome)
    stale = prepare(scan("hostname:a", 2, changed), now, "file",
                    lambda asset: {t: p.digest for t, p in hint.parts.items()})
    assert not isinstance(stale, Outcome) and not stale.parts["packages"].flattened
    assert store.write_prepared([stale])[0].status == "ACCEPTED"
    assert set(store.con.execute("SELECT name, version FROM current_packages").fetchall()) == set(changed)
    assert count(store, "SELECT count(*) FROM packages WHERE NOT open") == 10


def test_interfaces_and_disks_are_skipped_while_the_host_is_unchanged(store: Store) -> None:
    """Interfaces and disks are inside `host`: hashed from its bytes, they are not flattened while the host's
    bytes are equal; a host changed elsewhere (its memory) has them flattened and diffed, changing nothing."""
    now = dt.datetime.now(dt.timezone.utc)
    first = scan("hostname:a", 0, BASE)
    first.host.hardware.disks.add(device="/dev/sda", mountpoint="/", fstype="ext4", total_bytes=10**11)
    store.write_reports([first], via="file")
    again = scan("hostname:a", 1, BASE)
    again.host.CopyFrom(first.host)
    same = prepare(again, now, "file", store.part_hashes().get)
    assert not isinstance(same, Outcome)
    assert not same.parts["interfaces"].flattened and not same.parts["disks"].flattened
    assert store.write_prepared([same])[0].status == "ACCEPTED"
    more_memory = scan("hostname:a", 2, BASE)
    more_memory.host.CopyFrom(first.host)
    more_memory.host.hardware.memory_bytes = 2 * 1024**3
    moved = prepare(more_memory, now, "file", store.part_hashes().get)
    assert not isinstance(moved, Outcome) and moved.parts["disks"].flattened and moved.parts["disks"].rows == 1
    assert store.write_prepared([moved])[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM disks") == 1 and count(store, "SELECT count(*) FROM interfaces") == 1
    changed = scan("hostname:a", 3, BASE)
    changed.host.CopyFrom(more_memory.host)
    changed.host.interfaces[0].addresses.append("192.0.2.11")
    assert store.write_reports([changed], via="file")[0].status == "ACCEPTED"
    assert store.con.execute("SELECT addresses, open FROM interfaces ORDER BY first_seen").fetchall() == [
        (["192.0.2.10"], False), (["192.0.2.10", "192.0.2.11"], True)]


# --- migration 0011 (packages by number) on a database written by the schema before it -----------

def _migrate_up_to(con: duckdb.DuckDBPyConnection, last: int) -> None:
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for number, file_name, sql in _migrations():
        if number not in done and number <= last:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, file_name])


# Every way the views let one read packages, each as a sorted list of rows (duplicates kept).
PACKAGE_READS = {
    "packages": "SELECT * FROM packages",
    "current_packages": "SELECT * FROM current_packages",
    **{f"as_of_day{day}": f"SELECT * FROM packages_as_of(TIMESTAMPTZ '{DAY0 + dt.timedelta(days=day, hours=12)}')"
       for day in range(-1, 6)},
    "changes_since": f"SELECT * FROM changes_since(TIMESTAMPTZ '{DAY0 - dt.timedelta(days=1)}') "
                     "WHERE part = 'package'",
    "changes_since_day3": f"SELECT * FROM changes_since(TIMESTAMPTZ '{DAY0 + dt.timedelta(days=3)}')",
}


def _package_reads(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[list[str], list[str]]]:
    reads = {}
    for name, sql in PACKAGE_READS.items():
        cursor = con.execute(sql)
        reads[name] = ([d[0] for d in cursor.description or ()], sorted(map(repr, cursor.fetchall())))
    return reads


def test_migration_0011_keeps_every_package_read(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = _old_database(path)
    _migrate_up_to(con, 10)
    # Rows only the 0010 writer could have made: descriptive columns set (and NULL), a package whose
    # name another has with a different architecture, and one asset's closed interval of it.
    report = con.execute("SELECT report_id, collected_at FROM asset_state WHERE asset_id = 'hostname:h2'").fetchone()
    assert report is not None
    con.execute("INSERT INTO packages_current VALUES ('hostname:h2', 'p0', '1.0', 'i386', 'dpkg', 'p0src', 'dpkg', "
                "'/var/lib/dpkg', 'Debian', 'Debian Maintainers', NULL, 'main', ?, ?)", list(report))
    first = con.execute("SELECT report_id, collected_at FROM reports WHERE asset_id = 'hostname:h2' "
                        "ORDER BY collected_at LIMIT 2").fetchall()
    con.execute("INSERT INTO packages_history VALUES ('hostname:h2', 'p0', '0.9', 'i386', 'dpkg', 'p0src', 'dpkg', "
                "'/var/lib/dpkg', 'Debian', 'Debian Maintainers', NULL, 'main', ?, ?, ?, ?, ?)",
                [*first[0], *first[0], first[1][1]])
    # A late report as the 0010 writer recorded it: in reports, not in history.
    con.execute("INSERT INTO reports (report_id, asset_id, collected_at, received_at, method, received_via, "
                "hostname, labels, package_count, error_count, in_history) VALUES (?, 'hostname:h0', ?, now(), "
                "'LOCAL', 'grpc', 'h0', MAP {'org': 'x'}, 0, 0, false)",
                [str(uuid.uuid4()), DAY0 + dt.timedelta(days=3, minutes=30)])
    before = _package_reads(con)
    assert len(before["packages"][1]) > len(before["current_packages"][1]) > 0
    assert any("'removed'" in row for row in before["changes_since"][1])
    con.close()

    store = Store(path)
    assert store.schema_version() >= 11
    assert _package_reads(store.con) == before
    catalog = count(store, "SELECT count(*) FROM package_catalog")
    assert catalog == count(store, "SELECT count(DISTINCT (name, architecture, source, origin)) FROM packages")
    assert count(store, "SELECT count(DISTINCT report_no) FROM reports") == count(store, "SELECT count(*) FROM reports")

    # The writer continues the converted history by change. The converted rows have NULL where the
    # writer stores '' (source, origin, ...): the first rescan replaces them, as it would have before.
    current = [(n, v) for n, v in store.con.execute(
        "SELECT name, version FROM current_packages WHERE asset_id = 'hostname:h1' AND architecture = 'amd64'"
    ).fetchall()]
    rescan = scan("hostname:h1", 6, current)
    assert store.write_reports([rescan], via="file")[0].status == "ACCEPTED"
    assert set(store.con.execute("SELECT name, version FROM current_packages WHERE asset_id = 'hostname:h1'"
                                 ).fetchall()) == set(current)
    # Then h1 upgrades p1, drops p2 and adds a package: two new rows, two intervals closed.
    stored = count(store, "SELECT count(*) FROM packages")
    changed = [(n, "9.9" if n == "p1" else v) for n, v in current if n != "p2"] + [("added", "1")]
    assert store.write_reports([scan("hostname:h1", 7, changed)], via="file")[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM packages") == stored + 2
    assert set(store.con.execute("SELECT name, version FROM current_packages WHERE asset_id = 'hostname:h1'"
                                 ).fetchall()) == set(changed)
    ended = store.con.execute("SELECT name, last_report_id, last_seen FROM packages WHERE asset_id = 'hostname:h1' "
                              "AND ended_at = ? ORDER BY name", [DAY0 + dt.timedelta(days=7)]).fetchall()
    assert ended == [("p1", rescan.report_id, DAY0 + dt.timedelta(days=6)),
                     ("p2", rescan.report_id, DAY0 + dt.timedelta(days=6))]
    # A late report after the migration: recorded, history untouched.
    assert store.write_reports([scan("hostname:h1", 5, [("late", "1")])], via="file")[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM packages") == stored + 2
    assert count(store, "SELECT count(*) FROM packages WHERE name = 'late'") == 0
    # An unchanged rescan adds no package rows.
    assert store.write_reports([scan("hostname:h1", 8, changed)], via="file")[0].status == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM packages") == stored + 2


def test_both_lanes_adding_one_new_package_at_once_number_it_once(store: Store) -> None:
    """The writer's two lanes (two connections, two threads) store reports with the same new packages at
    the same moment, round after round: each package gets one number, and changes are found by number."""
    lane = Store.lane(store)
    try:
        for day in range(6):
            fresh = [(f"new{day}-{i}", "1.0-1") for i in range(20)]
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def write(target: Store, asset: str, packages: list[tuple[str, str]] = fresh, day: int = day,
                      barrier: threading.Barrier = barrier, outcomes: list[str] = outcomes) -> None:
                barrier.wait()
                outcomes.extend(o.status for o in target.write_reports([scan(asset, day, BASE + packages)], via="file"))

            threads = [threading.Thread(target=write, args=(store, "hostname:a")),
                       threading.Thread(target=write, args=(lane, "hostname:b"))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert outcomes == ["ACCEPTED", "ACCEPTED"]
    finally:
        lane.close()
    columns = ", ".join(CATALOG_COLUMNS)
    assert count(store, "SELECT count(*) FROM package_catalog") == count(
        store, f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM package_catalog)")
    # Day 5 dropped day 4's new packages and added its own: by number, exactly those changed.
    rows = store.con.execute("SELECT asset_id, count(*) FILTER (open), count(*) FILTER (NOT open) FROM packages "
                             "GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("hostname:a", 70, 100), ("hostname:b", 70, 100)]


def test_both_lanes_storing_one_new_asset_at_once_give_it_one_number(store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The other lane stores an asset's first report after this lane has read the asset as new: this lane's
    write is retried as a conflict, and finds the asset known, so every row has the asset's one number."""
    lane = Store.lane(store)
    read_states = history._states
    first_read = threading.Event()

    def states_then_other_lane(con: duckdb.DuckDBPyConnection, assets: list[str]) -> dict[str, history.AssetState]:
        found = read_states(con, assets)
        if con is store.con and not first_read.is_set():
            first_read.set()  # this lane has read hostname:a as new; the other lane stores it now
            assert lane.write_reports([scan("hostname:a", 0, BASE)], via="file")[0].status == "ACCEPTED"
        return found

    monkeypatch.setattr(history, "_states", states_then_other_lane)
    try:
        later = scan("hostname:a", 1, [*BASE[:40], ("extra", "2.0-1")])
        assert store.write_reports([later], via="file")[0].status == "ACCEPTED"
    finally:
        lane.close()
    assert first_read.is_set()
    assert count(store, "SELECT count(DISTINCT asset_no) FROM asset_state") == 1
    for table in ("packages_current", "packages_history"):
        assert count(store, f"SELECT count(*) FROM {table} WHERE asset_no NOT IN "
                     "(SELECT asset_no FROM asset_state)") == 0
    rows = store.con.execute("SELECT count(*) FILTER (open), count(*) FILTER (NOT open), max(first_report_id) FILTER "
                             "(open AND name = 'extra') FROM packages WHERE asset_id = 'hostname:a'").fetchone()
    assert rows == (41, 10, later.report_id)


@pytest.mark.parametrize("insert_rows", [history.INSERT_ROWS, 7])
def test_new_package_rows_are_stored_in_package_order(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                      insert_rows: int) -> None:
    """First-seen reports, in a group out of asset and time order, with a package in two versions and a
    repeated row: packages_current holds them in PACKAGE_ORDER, as compaction would write them. With
    statements of 7 rows, as with a huge report, each report is sorted a statement's slice at a time."""
    monkeypatch.setattr(history, "INSERT_ROWS", insert_rows)
    packages = [(f"pkg{i}", f"1.{i}-1") for i in range(30, 0, -1)]
    reports = [scan(f"hostname:{name}", day, [*packages, ("linux-image", "6.1"), ("linux-image", "6.2"),
                                              ("pkg3", "1.3-1")])
               for name, day in (("d", 1), ("a", 2), ("c", 0), ("b", 1), ("e", 2))]
    assert [o.status for o in store.write_reports(reports, via="file")] == ["ACCEPTED"] * 5
    stored = store.con.execute("SELECT asset_no, package_no, version FROM packages_current ORDER BY rowid").fetchall()
    ordered = store.con.execute("SELECT asset_no, package_no, version FROM packages_current "
                                f"ORDER BY {history.PACKAGE_ORDER.format(t='')}").fetchall()
    assert len(stored) == len(set(stored)) == 5 * 32
    assert [row[0] for row in stored] == [row[0] for row in ordered]  # report after report, in order
    for start in range(0, len(stored), 32):
        for piece in range(start, start + 32, insert_rows):
            end = min(piece + insert_rows, start + 32)
            assert [row[:2] for row in stored[piece:end]] == sorted(
                (row[:2] for row in stored[piece:end]), key=lambda row: row[1] * (1 if row[0] % 2 == 0 else -1))
    if insert_rows > 5 * 32:  # one statement: the whole group in PACKAGE_ORDER
        assert [row[:2] for row in stored] == [row[:2] for row in ordered]


def test_a_group_mixing_small_and_large_parts_keeps_each_row_with_its_report(store: Store) -> None:
    """Small parts stay Python lists until their group is staged, larger ones come as Arrow batches: in
    one group, every row still opens with its own report and asset."""
    reports = [scan("hostname:a", 0, BASE), scan("hostname:b", 0, BASE), scan("hostname:c", 0, BASE)]
    for port in range(1, flatten.SMALL_PART_ROWS + 50):
        reports[1].listeners.add(protocol="udp", address="0.0.0.0", port=port, exposed=True)
    reports[2].listeners.add(protocol="tcp", address="127.0.0.1", port=25)
    assert [o.status for o in store.write_reports(reports, via="file")] == ["ACCEPTED"] * 3
    rows = store.con.execute("SELECT asset_id, first_report_id, count(*), count(DISTINCT port) FROM listeners_current "
                             "GROUP BY ALL ORDER BY 1").fetchall()
    assert rows == [("hostname:a", reports[0].report_id, 1, 1),
                    ("hostname:b", reports[1].report_id, flatten.SMALL_PART_ROWS + 50, flatten.SMALL_PART_ROWS + 49),
                    ("hostname:c", reports[2].report_id, 2, 2)]


def _columns(inv: pb.Inventory) -> Incoming:
    """inv as the agent sends it now (packages column-wise), with the bytes the collector hashes."""
    data = encode_report(inv)
    return Incoming(pb.Inventory.FromString(data), data=data)


@pytest.mark.parametrize("form", ["rows", "columns"])
def test_look_alike_hosts_are_numbered_once_and_stored_row_for_row(store: Store, form: str) -> None:
    """Hosts listing the same packages in the same order, whatever their versions, are numbered from the
    writer's kept lists (history.Numbering) without the catalog join; every row still lands on its own
    package and version. A list that differs in anything but versions (an architecture) is numbered anew."""
    def sent(inv: pb.Inventory) -> pb.Inventory | Incoming:
        return _columns(inv) if form == "columns" else inv

    hosts = [scan(f"hostname:h{n}", 0, [(name, f"{version}+h{n}") for name, version in BASE]) for n in range(4)]
    other = scan("hostname:other", 0, BASE)
    other.packages[7].architecture = "arm64"
    assert {o.status for o in store.write_reports([sent(h) for h in hosts[:1]], via="file")} == {"ACCEPTED"}
    assert (store.numbering.hits, store.numbering.misses) == (0, 1)
    assert {o.status for o in store.write_reports([sent(h) for h in hosts[1:]] + [sent(other)], via="file")} == {
        "ACCEPTED"}
    assert (store.numbering.hits, store.numbering.misses) == (3, 2)
    # A rescan with versions changed is numbered from the kept list too, and diffed by number.
    rescan = scan("hostname:h0", 1, [(name, f"{version}+h0" if i % 10 else "9.9") for i, (name, version)
                                     in enumerate(BASE)])
    assert store.write_reports([sent(rescan)], via="file")[0].status == "ACCEPTED"
    assert store.numbering.hits == 4
    for inv in [rescan, *hosts[1:], other]:
        expected = sorted((p.name, p.version, p.architecture) for p in inv.packages)
        stored = store.con.execute("SELECT name, version, architecture FROM current_packages WHERE asset_id = ? "
                                   "ORDER BY ALL", [inv.asset_id]).fetchall()
        assert stored == expected, inv.asset_id
    assert count(store, "SELECT count(*) FROM packages WHERE asset_id = 'hostname:h0' AND NOT open") == 5
    assert count(store, "SELECT count(*) FROM package_catalog") == 51  # 50 packages, one in two architectures



def test_a_numbered_list_is_flattened_as_versions_only_and_in_full_once_its_numbers_are_gone(store: Store) -> None:
    """A rescan of a list of packages the store has numbered keeps only its versions (the rest was checked
    and numbered before); should those kept numbers be gone by the time it is written (evicted by newer lists),
    the store flattens it in full and numbers it from the catalog."""
    assert store.write_reports([_columns(scan("hostname:a", 0, BASE))], via="file")[0].status == "ACCEPTED"
    upgraded = [(name, "9.9" if i % 10 == 3 else version) for i, (name, version) in enumerate(BASE)]
    received = dt.datetime.now(dt.timezone.utc)

    def prepared(day: int, how: str) -> FlatReport:
        inv = scan("hostname:a", day, upgraded if day % 2 else BASE)
        flat = prepare(_columns(inv) if how == "columns" else inv, received, "file", store.part_hashes().get,
                       store.numbering.knows)
        assert isinstance(flat, FlatReport)
        return flat

    rows = prepared(1, "rows")  # packages as rows (older agents): flattened in full, as before
    assert not rows.parts["packages"].versions_only
    known = prepared(1, "columns")
    assert known.parts["packages"].versions_only and known.report is not None
    assert known.parts["packages"].batches[0].schema.names == ["asset_id", "version"]
    store.numbering = Numbering()  # the kept numbers are gone before it is written
    assert store.write_prepared([known])[0].status == "ACCEPTED"
    assert store.numbering.misses == 1
    stored = store.con.execute("SELECT name, version, architecture, manager FROM current_packages ORDER BY ALL")
    assert stored.fetchall() == sorted((name, version, "amd64", "dpkg") for name, version in upgraded)
    again = prepared(2, "columns")  # numbered again (from the catalog) and kept: versions only once more
    assert again.parts["packages"].versions_only
    assert store.write_prepared([again])[0].status == "ACCEPTED" and store.numbering.hits == 1
    assert store.con.execute("SELECT name, version FROM current_packages ORDER BY ALL").fetchall() == sorted(BASE)
    assert count(store, "SELECT count(*) FROM package_catalog") == 50


def test_numbers_given_inside_a_transaction_are_not_kept(store: Store) -> None:
    """A list numbered inside the writer's transaction (a stale hint) may add packages that a rollback
    takes back: its numbers are not kept, so no later report is stored under numbers the catalog lacks."""
    now = dt.datetime.now(dt.timezone.utc)
    flat = prepare(scan("hostname:a", 0, [("fresh", "1.0")]), now, "file")
    assert not isinstance(flat, Outcome)
    store.con.execute("BEGIN TRANSACTION")
    store.numbering.numbers(store.con, [flat], own_transaction=False)
    store.con.execute("ROLLBACK")
    assert count(store, "SELECT count(*) FROM package_catalog") == 0 and not store.numbering._kept
    assert store.write_prepared([flat])[0].status == "ACCEPTED"
    assert store.con.execute("SELECT name, version FROM current_packages").fetchall() == [("fresh", "1.0")]


def test_kept_package_lists_are_bounded_in_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "b.duckdb")
    store.numbering.max_rows = 120  # two lists of 50 packages, not three
    for n in range(5):
        packages = [(f"list{n}-pkg{i}", "1.0") for i in range(50)]
        assert store.write_reports([scan(f"hostname:b{n}", 0, packages)], via="file")[0].status == "ACCEPTED"
    assert len(store.numbering._kept) == 2 and store.numbering._rows == 100
    store.close()


def test_catalog_key_from_the_wire_ignores_versions_and_nothing_else() -> None:
    from estate.collector.ingest.flatten import CATALOG_KEY, raw_digests

    def digests(inv: pb.Inventory) -> dict[str, bytes]:
        return raw_digests(encode_report(inv))

    first = digests(scan("hostname:a", 0, BASE))
    upgraded = digests(scan("hostname:a", 0, [(name, version + "+1") for name, version in BASE]))
    assert first[CATALOG_KEY] == upgraded[CATALOG_KEY] and first["packages"] != upgraded["packages"]
    renamed = scan("hostname:a", 0, BASE)
    renamed.packages[3].name = "pkg3x"
    assert digests(renamed)[CATALOG_KEY] != first[CATALOG_KEY]
    # A value moved from one package to the next is another list (lengths are part of the key).
    moved = scan("hostname:a", 0, BASE)
    moved.packages[0].name, moved.packages[1].name = "pkg0p", "kg1"
    assert digests(moved)[CATALOG_KEY] != first[CATALOG_KEY]
    # Packages sent as rows (older agents) have no key from the wire: it is taken when flattened.
    assert CATALOG_KEY not in raw_digests(scan("hostname:a", 0, BASE).SerializeToString())
