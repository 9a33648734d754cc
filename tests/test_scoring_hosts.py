"""Real hosts scored with the shipped rules: Debian 12, this machine's own scan, and the collector
rescoring on ingest."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from estate.agent import transport
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.collector.process import CollectorProcess
from estate.collector.scoring.scorer import explain, score
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .conftest import REPO
from .rulekit import finding, report, seeded

RULES = REPO / "rules"
AS_OF = dt.date(2026, 11, 24)
# Package names and versions as dpkg reports them on Debian 12 (read from the development machine,
# Debian 12.x, on 2026-11-24), and a Debian 12 kernel package and release (linux-image-6.1.0-28).
DEBIAN12_PACKAGES = [
    ("openssl", "3.0.19-1~deb12u2"), ("libssl3", "3.0.19-1~deb12u2"),
    ("python3", "3.11.2-1+b1"), ("python3.11", "3.11.2-6+deb12u6"), ("python3.11-minimal", "3.11.2-6+deb12u6"),
    ("libpython3.11-stdlib", "3.11.2-6+deb12u6"), ("linux-image-6.1.0-28-amd64", "6.1.119-1"),
    ("python3-yaml", "6.0-3+b2"), ("adduser", "3.134"),
]


def _snapshot_cycle(product: str, cycle: str) -> dict[str, object]:
    data = yaml.safe_load((RULES / "lifecycles" / "endoflife" / f"{product}.yaml").read_text())
    (release,) = [r for r in data["releases"] if r["releaseCycle"] == cycle]
    return dict(release)


@pytest.fixture(scope="module")
def debian12(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("debian12")
    inv = report("machine-id:deb12", os_id="debian", version_id="12", kernel="6.1.0-28-amd64",
                 packages=DEBIAN12_PACKAGES)
    store = seeded(tmp / "d.duckdb", RULES, [inv], AS_OF)
    yield store
    store.close()


@pytest.mark.parametrize(("kind", "product", "cycle"), [
    ("os", "debian", "12"), ("kernel", "linux-kernel", "6.1"), ("package", "linux-kernel", "6.1"),
    ("package", "openssl", "3.0"), ("package", "python", "3.11"),
])
def test_debian12_maps_to_the_right_product_and_cycle(debian12, kind: str, product: str, cycle: str) -> None:  # type: ignore[no-untyped-def]
    row = finding(debian12, "machine-id:deb12", product, kind)
    assert row["cycle"] == cycle
    source = _snapshot_cycle(product, cycle)
    for key in ("eoas", "eol", "eoes"):
        expected = source.get(key)
        assert row[key] == (expected if isinstance(expected, dt.date) else None), key


def test_debian12_statuses_on_the_snapshot_dates(debian12) -> None:  # type: ignore[no-untyped-def]
    statuses = dict(debian12.con.execute(
        "SELECT kind || ':' || product, status FROM findings WHERE asset_id = 'machine-id:deb12'").fetchall())
    # as of 2026-11-24: Debian 12 security support ended 2026-07-11, LTS runs to 2028-06-30;
    # OpenSSL 3.0 ended 2026-09-07 with extended (premium) support offered; Python 3.11 ends 2027-10-31
    assert statuses == {"os:debian": "extended", "kernel:linux-kernel": "supported",
                        "package:linux-kernel": "supported", "package:openssl": "extended",
                        "package:python": "supported"}
    python = finding(debian12, "machine-id:deb12", "python", "package")
    assert python["observations"] == 4 and python["days_to_eol"] == (dt.date(2027, 10, 31) - AS_OF).days
    assert sorted(python["matchers"]) == ["python-unversioned-name", "python-versioned-name"]


def test_this_machines_scan_is_scored_and_every_finding_explained(tmp_path: Path) -> None:
    inv = build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "test"})
    store = Store(tmp_path / "local.duckdb")
    try:
        assert store.write_reports([inv], via="file")[0].status == "ACCEPTED"
        from estate.collector.scoring.scorer import sync_rules

        assert sync_rules(store.con, RULES).changed
        run = score(store.con)
        assert run.assets == 1 and run.findings >= 1
        text = explain(store.con, inv.asset_id)
        assert text is not None and "overall:" in text
        rows = store.con.execute("SELECT kind, coalesce(product, name), status, matcher_id FROM findings").fetchall()
        assert any(kind == "os" for kind, *_ in rows) == bool(inv.os.id)
        for kind, product, status, matcher in rows:
            assert f"[{status}] " in text and kind in text and product in text
            assert (f"matched by {matcher} (" in text) if matcher else "no matcher claims it" in text
            if matcher:
                assert store.con.execute("SELECT count(*) FROM rule_matchers WHERE matcher_id = ?",
                                         [matcher]).fetchone() == (1,)
        if (inv.os.id, inv.os.version_id) == ("debian", "12"):
            assert finding(store, inv.asset_id, "debian", "os")["cycle"] == "12"
    finally:
        store.close()


@pytest.mark.integration
def test_the_collector_rescores_on_ingest(collector: CollectorProcess, tmp_path: Path) -> None:
    inv = report("machine-id:ingested", os_id="debian", version_id="12", kernel="6.1.0-28-amd64",
                 packages=DEBIAN12_PACKAGES)
    with transport.open_channel(collector.address, None) as channel:
        transport.wait_for_channel(channel, 10)
        receipts = transport.stream_reports(channel, [inv.SerializeToString()])
    assert [r.status for r in receipts] == [1]
    assert collector.stop() == 0
    db = tmp_path / "estate.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT product, cycle FROM findings WHERE asset_id = 'machine-id:ingested' "
                           "ORDER BY kind, product").fetchall()
        assert ("debian", "12") in rows and ("openssl", "3.0") in rows
        assert con.execute("SELECT count(*) FROM asset_risk").fetchone() == (1,)
        # The collector scores for the day it ingests: the status depends on that date, so it is
        # checked against the same rules scored for that same date (a fixed date is tested above).
        row = con.execute("SELECT status, as_of FROM findings WHERE asset_id = 'machine-id:ingested' "
                          "AND kind = 'os'").fetchone()
    assert row is not None
    status, as_of = row
    assert abs((as_of - dt.date.today()).days) <= 1
    fixed = seeded(tmp_path / "same-day.duckdb", RULES, [inv], as_of)
    try:
        assert finding(fixed, inv.asset_id, "debian", "os")["status"] == status
    finally:
        fixed.close()
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "explain", "--db", str(db),
                             "ingested"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"[{status}] debian 12" in result.stdout and "matched by os-debian" in result.stdout


def test_score_command_for_a_roadmap_date(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    store = Store(db)
    store.write_reports([report("machine-id:deb12", os_id="debian", version_id="12", packages=DEBIAN12_PACKAGES)],
                        via="file")
    store.close()
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "score", "--db", str(db),
                             "--as-of", "2028-07-01"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "scored 1 assets as of 2028-07-01" in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM findings WHERE product = 'debian'").fetchone() == ("eol",)
    bad = subprocess.run([sys.executable, "-m", "estate.collector.cli", "score", "--db", str(db),
                          "--as-of", "someday"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_explain_refuses_a_host_name_shared_by_several_assets(tmp_path: Path) -> None:
    """Two assets called web01 (a cloned VM): explain by name must not silently pick one."""
    store = seeded(tmp_path / "x.duckdb", RULES, [report("machine-id:a:web01", os_id="debian", version_id="12"),
                                                  report("machine-id:b:web01", os_id="debian", version_id="11")],
                   AS_OF)
    try:
        with pytest.raises(ValueError, match="machine-id:a:web01, machine-id:b:web01"):
            explain(store.con, "web01")
        text = explain(store.con, "machine-id:b:web01")
        assert text is not None and text.startswith("asset machine-id:b:web01 (web01)")
    finally:
        store.close()
