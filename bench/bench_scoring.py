"""Matching and scoring 10 million package rows (50,000 assets) against the shipped rules.

Builds a DuckDB file with 50,000 current reports of 200 packages each: 190 names that no rule
claims (drawn from 5,000 distinct names) and 10 that the rules map (OpenSSL, libssl, Python,
kernel images, Perl, PostgreSQL, nginx, Apache, Node.js, OpenJDK) in versions that vary by asset.
Prints the time of a plain scan of the package rows (reading every asset id, name and version:
count and summed lengths; min/max alone would come from DuckDB's zone maps), then of
`score()` (findings.sql + risk.sql: match, who ships each matched package and the distribution's
coverage, status, per-asset and per-system risk), with rows/s,
best of three full rescorings (each replaces all findings and risks).

Usage: python bench/bench_scoring.py [ASSETS [PACKAGES_PER_ASSET]]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.store.database import Store

SCAN = "SELECT count(*), sum(length(asset_id) + length(name) + length(version)) FROM {table}"
RUNS = 3
ASSETS = 50_000
PER_ASSET = 200
MATCHED = [  # name pattern, version pattern: {a} is a per-asset number
    ("openssl", "3.0.{a10}-1~deb12u1"), ("libssl3", "3.0.{a10}-1~deb12u1"), ("python3.{py}", "3.{py}.2-6"),
    ("linux-image-{kv}.0-{a10}-amd64", "{kv}.{a10}-1"), ("perl-base", "5.36.0-7"), ("postgresql-{pg}", "{pg}.4-0"),
    ("nginx", "1.{ng}.0-1"), ("apache2", "2.4.{a10}-1"), ("nodejs", "{nd}.1.0-1"), ("openjdk-17-jre", "17.0.{a10}-1"),
]


def build(db: Path, assets: int, per_asset: int) -> Store:
    store = Store(db)
    con = store.con
    con.execute(f"""
        INSERT INTO reports (report_id, asset_id, collected_at, received_at, method, received_via, hostname,
                             os_family, os_id, os_version_id, kernel, labels, package_count, error_count)
        SELECT 'r' || i, 'a' || i, now(), now(), 'LOCAL', 'file', 'host' || i, 'linux',
               ['debian', 'ubuntu', 'rhel', 'centos'][1 + i % 4], ['12', '22.04', '8', '7'][1 + i % 4],
               ['6.1.0-28-amd64', '5.15.0-91-generic', '4.18.0-513.el8.x86_64', '3.10.0-1160.el7.x86_64'][1 + i % 4],
               map(['system'], ['sys' || (i % 500)]), {per_asset}, 0
        FROM range({assets}) t(i)""")
    # Each asset's state: its report is the current one (history by change, migration 0003).
    con.execute("""
        INSERT INTO asset_state (asset_id, report_id, collected_at, received_at, first_report_id, first_seen,
                                 reports, changed_commit)
        SELECT asset_id, report_id, collected_at, received_at, report_id, collected_at, 1, 0 FROM reports""")
    names = "[" + ", ".join(f"'{n}'" for n, _ in MATCHED) + "]"
    versions = "[" + ", ".join(f"'{v}'" for _, v in MATCHED) + "]"
    fill = ("replace(replace(replace(replace(replace(replace({s}, '{{a10}}', (a % 10)::VARCHAR), "
            "'{{py}}', (7 + a % 6)::VARCHAR), '{{kv}}', ['4.19', '5.10', '6.1'][1 + a % 3]), "
            "'{{pg}}', (11 + a % 6)::VARCHAR), '{{ng}}', (18 + a % 10)::VARCHAR), "
            "'{{nd}}', (14 + 2 * (a % 6))::VARCHAR)")
    # Packages are stored by number (migration 0011): each name once in package_catalog, the rows as
    # (asset, package, version, first report).
    con.execute(f"""
        CREATE TEMP TABLE bench_rows AS
        SELECT a, CASE WHEN k < {len(MATCHED)} THEN {fill.format(s=f"{names}[k + 1]")}
                       ELSE 'lib' || ((a * 7919 + k * 104729) % 5000) || '-common' END AS name,
               CASE WHEN k < {len(MATCHED)} THEN {fill.format(s=f"{versions}[k + 1]")}
                    ELSE '1.' || (k % 40) || '.' || (a % 7) || '-1' END AS version
        FROM (SELECT i // {per_asset} AS a, i % {per_asset} AS k FROM range({assets * per_asset}) t(i))""")
    con.execute("""
        INSERT INTO package_catalog (package_no, name, architecture, manager)
        SELECT nextval('package_numbers'), name, 'amd64', 'dpkg'
        FROM (SELECT DISTINCT name FROM bench_rows ORDER BY name)""")
    con.execute("""
        INSERT INTO packages_current (asset_no, package_no, version, first_report_no, first_seen)
        SELECT s.asset_no, c.package_no, b.version, r.report_no, r.collected_at
        FROM bench_rows b JOIN asset_state s ON s.asset_id = 'a' || b.a JOIN reports r ON r.report_id = s.report_id
        JOIN package_catalog c USING (name)
        ORDER BY s.asset_no, c.package_no""")
    con.execute("DROP TABLE bench_rows")
    con.execute("CHECKPOINT")
    return store


def main(assets: int = ASSETS, per_asset: int = PER_ASSET) -> None:
    rows = assets * per_asset
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store = build(Path(tmp) / "bench.duckdb", assets, per_asset)
        print(f"built {rows:,} package rows for {assets:,} assets in {time.perf_counter() - started:.1f} s")
        con = store.con
        sync = sync_rules(con, default_rules_dir())
        assert sync.errors is None, sync.errors
        started = time.perf_counter()
        con.execute(SCAN.format(table="packages")).fetchall()
        scan = time.perf_counter() - started
        started = time.perf_counter()
        con.execute(SCAN.format(table="current_packages")).fetchall()
        scan_current = time.perf_counter() - started
        # The same rows as one plain table (their layout before migration 0011) behind current_packages,
        # scored in alternating rounds with the numbered layout: same findings, and the time ratio.
        numbered = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'current_packages' "
                               "AND database_name = current_database()").fetchone()
        assert numbered is not None
        con.execute("CREATE TABLE plain_packages AS SELECT * FROM current_packages")
        layouts = {"numbered": str(numbered[0]).replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1),
                   "plain": "CREATE OR REPLACE VIEW current_packages AS SELECT * FROM plain_packages"}
        seconds: dict[str, list[float]] = {name: [] for name in layouts}
        results = {}
        for _ in range(RUNS):
            for name, view in layouts.items():
                con.execute(view)
                seconds[name].append(score(con, dt.date(2026, 11, 24)).seconds)
                # observed lists the observations in the order the rows came: compared as a set.
                results[name] = con.execute("SELECT count(*), sum(hash(f)) FROM (SELECT * REPLACE "
                                            "(list_sort(observed) AS observed) FROM findings) f").fetchone()
        assert results["numbered"] == results["plain"], results
        runs = seconds["numbered"]
        findings, risks = con.execute("SELECT (SELECT count(*) FROM findings), (SELECT count(*) FROM asset_risk)"
                                      ).fetchone() or (0, 0)
        statuses = con.execute("SELECT status, count(*) FROM findings GROUP BY ALL ORDER BY ALL").fetchall()
        coverage = con.execute("SELECT coverage, count(*) FROM findings GROUP BY ALL ORDER BY ALL").fetchall()
        store.close()
    print(f"plain scan of packages:          {scan:.2f} s  ({rows / scan / 1e6:.1f} M rows/s)")
    print(f"plain scan of current_packages:  {scan_current:.2f} s  ({rows / scan_current / 1e6:.1f} M rows/s)")
    best = min(runs)
    print(f"match + score (findings + risk): best of {RUNS} {best:.2f} s  ({rows / best / 1e6:.2f} M rows/s), "
          f"{best / scan_current:.1f}x the current_packages scan; runs: {', '.join(f'{r:.2f}' for r in runs)} s")
    print(f"findings {findings:,}, asset risks {risks:,}; statuses {dict(statuses)}; decided by {dict(coverage)}")
    plain = min(seconds["plain"])
    print(f"the same rows as one plain table: best of {RUNS} {plain:.2f} s (same findings); packages stored by "
          f"number score in {best / plain:.2f}x its time; runs: {', '.join(f'{r:.2f}' for r in seconds['plain'])} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
