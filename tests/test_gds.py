"""Three real collectors (mTLS, certificates from `estate-collector certs`) with different
organisations' estates, and one GDS aggregator pulling their summaries: the merged numbers are the
sums, no withheld count can be worked out, no host detail reaches the aggregator, and only a gds
certificate may ask."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from estate.collector.process import CollectorProcess, start_collector
from estate.collector.read.gds import load_merged
from estate.collector.read.summary import Count, Cube, build_cubes
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.store.database import Store

from .disclosure import matrix_of, recoverable
from .estate_data import Estate, estate
from .rulekit import RULES

pytestmark = pytest.mark.integration
COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]
ORGS = (("hmrc", 40, 11), ("dwp", 17, 12), ("dfe", 6, 13))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COLLECTOR_CLI, *args], capture_output=True, text=True, timeout=300)


@dataclass
class Government:
    pki: Path
    collectors: dict[str, CollectorProcess]
    estates: dict[str, Estate]
    truth: dict[str, dict[str, Cube]]
    work: Path
    own: dict[str, str]  # what each collector's store holds about its hosts, read before it started

    def pull(self, cert: str, *extra: str, db: str = "gds.duckdb") -> subprocess.CompletedProcess[str]:
        sources = [arg for name, c in self.collectors.items() for arg in ("--from", f"{name}={c.address}")]
        return cli("gds", "pull", "--db", str(self.work / db), *sources, *extra, "--tls-ca", str(self.pki / "ca.pem"),
                   "--tls-cert", str(self.pki / f"{cert}.pem"), "--tls-key", str(self.pki / f"{cert}.key"))


@pytest.fixture(scope="module")
def government(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Government]:
    work = tmp_path_factory.mktemp("gds")
    pki = work / "pki"
    for argv in (["init"], ["issue", "--name", "collector", "--role", "collector", "--host", "127.0.0.1"],
                 ["issue", "--name", "gds1", "--role", "gds"], ["issue", "--name", "agent1", "--role", "agent"],
                 ["issue", "--name", "alice", "--role", "analyst"]):
        result = cli("certs", argv[0], "--dir", str(pki), *argv[1:])
        assert result.returncode == 0, result.stderr
    estates, truth, collectors, own = {}, {}, {}, {}
    try:
        for org, assets, seed in ORGS:
            db = work / f"{org}.duckdb"
            estates[org] = estate(org, assets, seed)
            store = Store(db)
            assert all(o.status == "ACCEPTED" for o in store.write_reports(estates[org].reports, via="file"))
            sync_rules(store.con, RULES)
            score(store.con)
            truth[org] = build_cubes(store.con, "org")[1]
            own[org] = str(store.con.execute("SELECT * FROM current_reports").fetchall()) + str(
                store.con.execute("SELECT * FROM interfaces").fetchall())
            store.close()
            collectors[org] = start_collector(db, work / f"{org}.log", [
                "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
                "--tls-ca", str(pki / "ca.pem")])
        gov = Government(pki, collectors, estates, truth, work, own)
        result = gov.pull("gds1")
        assert result.returncode == 0, result.stderr
        assert "pull 1: 3 of 3 collectors merged" in result.stdout
        yield gov
    finally:
        for proc in collectors.values():
            proc.stop()


def source_cubes(con: duckdb.DuckDBPyConnection, pull_id: int, source: str) -> dict[str, Cube]:
    """One collector's tables as the aggregator stored them."""
    from estate.collector.read.summary import Row

    cubes = {name: Cube(name, unit, tuple(dims), tuple(cols)) for name, unit, dims, cols in con.execute(
        "SELECT table_name, unit, row_dims, columns FROM gds_tables WHERE pull_id = ? AND source = ?",
        [pull_id, source]).fetchall()}
    cells: dict[tuple[str, tuple[str, ...]], dict[str | None, Count]] = {}
    for table, key, category, count, withheld in con.execute(
            "SELECT table_name, row_key, category, count, withheld FROM gds_cells WHERE pull_id = ? AND source = ?",
            [pull_id, source]).fetchall():
        cells.setdefault((table, tuple(key)), {})[category] = Count(count, withheld)
    for (table, key), values in sorted(cells.items()):
        cube = cubes[table]
        row = Row(key, [values[c] for c in cube.columns], values[None])
        if key:
            cube.rows.append(row)
        else:
            cube.totals = row
    return cubes


def test_published_counts_are_true_and_merged_counts_are_their_sums(government: Government) -> None:
    with duckdb.connect(str(government.work / "gds.duckdb"), read_only=True) as con:
        per_source = {org: source_cubes(con, 1, org) for org in government.collectors}
        merged = load_merged(con)
    withheld_somewhere = 0
    for org, cubes in per_source.items():
        assert set(cubes) == set(government.truth[org])
        for name, cube in cubes.items():
            true = matrix_of(government.truth[org][name])
            for shown_row, true_row in zip(matrix_of(cube), true, strict=True):
                for shown, real in zip(shown_row, true_row, strict=True):
                    assert shown == real or (shown.withheld and shown.value == 0), (org, name)
                    withheld_somewhere += shown.withheld
    assert withheld_somewhere > 0  # the small organisation's counts are withheld, so the check means something
    for name, cube in merged.cubes.items():
        for row in cube.rows:
            for column, cell in zip(cube.columns, row.cells, strict=True):
                parts = [c for org in per_source for r in per_source[org][name].rows if r.key == row.key
                         for col, c in zip(per_source[org][name].columns, r.cells, strict=True) if col == column]
                assert cell == Count(sum(p.value for p in parts), any(p.withheld for p in parts)), (name, row.key)
        totals = [per_source[org][name].totals.total for org in per_source]
        assert cube.totals.total == Count(sum(t.value for t in totals), any(t.withheld for t in totals))
    # Across government, each organisation is a row of its own: the three estates.
    assert [r.key[0] for r in merged.cubes["status"].rows] == ["dfe", "dwp", "hmrc"]


def test_no_withheld_count_can_be_worked_out(government: Government) -> None:
    with duckdb.connect(str(government.work / "gds.duckdb"), read_only=True) as con:
        for org in government.collectors:
            for name, cube in source_cubes(con, 1, org).items():
                assert recoverable(matrix_of(cube)) == [], (org, name)


def test_no_host_detail_reaches_the_aggregator(government: Government) -> None:
    secrets = set().union(*(e.identifiers() for e in government.estates.values()))
    assert len(secrets) > 63 * 5
    db = government.work / "gds.duckdb"
    texts = []
    with duckdb.connect(str(db), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
                                    ).fetchall():
            texts.append(str(con.execute(f"SELECT * FROM {table}").fetchall()))
    for fmt in ("html", "csv", "json"):
        result = cli("report", "--db", str(db), "--format", fmt)
        assert result.returncode == 0, result.stderr
        texts.append(result.stdout)
    texts.append(db.read_bytes().decode("latin-1"))  # the file itself, free space and all
    everything = "\n".join(texts)
    leaked = sorted(s for s in secrets if s in everything)
    assert leaked == []
    # The same search finds every one of them in what an organisation keeps for itself: not a blind search.
    assert all(s in government.own["dfe"] for s in government.estates["dfe"].identifiers())
    # ...and the report is there, by organisation.
    html = texts[-4]
    assert "Across government, by organisation" in html and ">hmrc<" in html and ">dfe<" in html


@pytest.mark.parametrize("cert", ["agent1", "alice"])
def test_agent_and_analyst_certificates_are_refused(government: Government, cert: str) -> None:
    result = government.pull(cert, db=f"refused-{cert}.duckdb")
    assert result.returncode == 1
    for org in government.collectors:
        assert f"{org}: FAILED: PERMISSION_DENIED" in result.stderr
        assert "may not read the summary" in result.stderr
    assert "0 of 3 collectors merged" in result.stdout


def test_a_failed_collector_is_named_and_the_rest_are_merged(government: Government) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sources = [arg for name, c in government.collectors.items() for arg in ("--from", f"{name}={c.address}")]
    result = cli("gds", "pull", "--db", str(government.work / "partial.duckdb"), *sources,
                 "--from", f"mod=127.0.0.1:{port}", "--timeout", "5",
                 "--tls-ca", str(government.pki / "ca.pem"), "--tls-cert", str(government.pki / "gds1.pem"),
                 "--tls-key", str(government.pki / "gds1.key"))
    assert result.returncode == 1
    assert "mod: FAILED: UNAVAILABLE" in result.stderr
    assert "3 of 4 collectors merged" in result.stdout
    report = cli("report", "--db", str(government.work / "partial.duckdb"), "--format", "json")
    assert report.returncode == 0 and '"ok": false' in report.stdout


def test_bad_requests_are_named(government: Government) -> None:
    no_port = cli("gds", "pull", "--db", str(government.work / "bad.duckdb"), "--from", "hmrc")
    assert no_port.returncode == 2 and "give ADDR (host:port) or NAME=ADDR" in no_port.stderr
    address = government.collectors["hmrc"].address
    twice = cli("gds", "pull", "--db", str(government.work / "bad.duckdb"), "--from", f"x={address}",
                "--from", f"x={address}")
    assert twice.returncode == 2 and "x given twice" in twice.stderr
    no_run = government.pull("gds1", "--as-of", "2031-01-01", db="no-run.duckdb")
    assert no_run.returncode == 1
    for org in government.collectors:
        assert f"{org}: FAILED: NOT_FOUND: no scoring run for 2031-01-01" in no_run.stderr
    by_dept = cli("report", "--db", str(government.work / "gds.duckdb"), "--by", "department")
    assert by_dept.returncode == 2 and "by organisation only" in by_dept.stderr


def test_pull_says_a_withheld_total_is_small_not_zero(government: Government, tmp_path: Path) -> None:
    """A collector with fewer assets than its threshold sends its total withheld (as 0): the pull line
    must not say it has 0 assets."""
    db = tmp_path / "moj.duckdb"
    store = Store(db)
    assert all(o.status == "ACCEPTED" for o in store.write_reports(estate("moj", 2, 21).reports, via="file"))
    sync_rules(store.con, RULES)
    score(store.con)
    store.close()
    pki = government.pki
    proc = start_collector(db, tmp_path / "moj.log", [
        "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
        "--tls-ca", str(pki / "ca.pem")])
    try:
        result = cli("gds", "pull", "--db", str(tmp_path / "gds.duckdb"), "--from", f"moj={proc.address}",
                     "--tls-ca", str(pki / "ca.pem"), "--tls-cert", str(pki / "gds1.pem"),
                     "--tls-key", str(pki / "gds1.key"))
    finally:
        proc.stop()
    assert result.returncode == 0, result.stderr
    assert "moj: fewer than 5 assets (withheld) as of" in result.stdout, result.stdout
