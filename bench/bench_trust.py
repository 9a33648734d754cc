"""What trust costs (issue 16): sender checks on ingest, and effective labels and asset status on scoring.

Ingest: the same 2,048 reports (40 packages each, 64 per group commit, as the writer batches them)
written three ways into fresh stores: without senders (the baseline), from 2,048 agent
certificates on first contact (each check reads asset_bindings and inserts a binding), and again
from the same, now bound, certificates (one lookup each).

Scoring: a store of ASSETS current reports (labels org/system/criticality, two addresses each)
with the shipped rules: the first refresh_labels over every asset (every asset gets its first
interval), a second one (nothing changed: no writes), a scan of current_scored_reports (which
joins asset_status and current_asset_labels) against the plain current_reports it is built on, and
a full score() for scale.

Usage: python bench/bench_trust.py [ASSETS]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.security.senders import Sender
from estate.collector.store.database import Store
from estate.collector.store.labels import refresh_labels
from estate.v1 import inventory_pb2 as pb

REPORTS, BATCH, PACKAGES = 2_048, 64, 40
ASSETS = 20_000
SCAN = "SELECT count(*), sum(length(asset_id) + length(hostname)), count(labels) FROM {view}"


def _reports(count: int) -> list[pb.Inventory]:
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for i in range(count):
        report = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=f"machine-id:{i:032x}", method=pb.METHOD_LOCAL)
        report.collected_at.FromDatetime(now)
        report.host.hostname = f"host{i}"
        report.labels["org"] = "hmrc"
        for k in range(PACKAGES):
            report.packages.add(name=f"lib{k}", version=f"1.{k}-1", manager="dpkg")
        out.append(report)
    return out


def _agent(i: int) -> Sender:
    return Sender(kind="certificate", subject=f"OU=agent,CN=host{i}", role="agent",
                  fingerprint=hashlib.sha256(str(i).encode()).hexdigest())


def _write(store: Store, reports: list[pb.Inventory], senders: list[Sender] | None) -> float:
    started = time.perf_counter()
    for start in range(0, len(reports), BATCH):
        chunk = reports[start:start + BATCH]
        outcomes = store.write_reports(chunk, via="grpc",
                                       senders=None if senders is None else senders[start:start + BATCH])
        assert all(o.status == "ACCEPTED" for o in outcomes), outcomes[0]
    return time.perf_counter() - started


def bench_ingest(tmp: Path) -> None:
    reports = _reports(REPORTS)
    senders = [_agent(i) for i in range(REPORTS)]
    baseline_store, checked_store = Store(tmp / "plain.duckdb"), Store(tmp / "checked.duckdb")
    baseline = _write(baseline_store, reports, None)
    first = _write(checked_store, reports, senders)
    again = _reports(REPORTS)  # new report ids, same assets: the certificates are bound now
    bound = _write(checked_store, again, senders)
    baseline_again = _write(baseline_store, again, None)
    baseline_store.close()
    checked_store.close()
    print(f"ingest {REPORTS} reports x {PACKAGES} packages in groups of {BATCH} into a fresh store: no senders "
          f"{baseline:.2f} s, agents on first contact {first:.2f} s ({first / baseline:.2f}x); the same assets again: "
          f"no senders {baseline_again:.2f} s, bound agents {bound:.2f} s ({bound / baseline_again:.2f}x)")


def build(db: Path, assets: int) -> Store:
    store = Store(db)
    store.con.execute(f"""
        INSERT INTO reports (report_id, asset_id, collected_at, received_at, method, received_via, hostname,
                             os_family, os_id, os_version_id, labels, package_count, error_count)
        SELECT 'r' || i, 'a' || i, now(), now(), 'LOCAL', 'file', 'host' || i, 'linux', 'debian', '12',
               map(['org', 'system', 'criticality'], [['hmrc', 'dwp', 'HMRC'][1 + i % 3], 'sys' || (i % 500),
                   ['low', 'high', 'urgent'][1 + i % 3]]), 0, 0
        FROM range({assets}) t(i)""")
    store.con.execute(f"""
        INSERT INTO interfaces (report_id, asset_id, name, mac, addresses)
        SELECT 'r' || i, 'a' || i, 'eth0', '', ['10.' || (i // 65536) || '.' || (i // 256 % 256) || '.'
                                               || (i % 256) || '/16', 'fe80::1/64']
        FROM range({assets}) t(i)""")
    store.con.execute("CHECKPOINT")
    return store


def bench_scoring(tmp: Path, assets: int) -> None:
    store = build(tmp / "scoring.duckdb", assets)
    con = store.con
    sync = sync_rules(con, default_rules_dir())
    assert sync.errors is None, sync.errors
    started = time.perf_counter()
    changed = refresh_labels(con)
    first = time.perf_counter() - started
    started = time.perf_counter()
    unchanged = refresh_labels(con)
    second = time.perf_counter() - started
    scans = {}
    for view in ("current_reports", "current_scored_reports"):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            con.execute(SCAN.format(view=view)).fetchall()
            best = min(best, time.perf_counter() - started)
        scans[view] = best
    started = time.perf_counter()
    score(con)
    full = time.perf_counter() - started
    store.close()
    print(f"{assets:,} assets: refresh_labels first {first:.2f} s ({changed:,} intervals), again {second:.2f} s "
          f"({unchanged} changed); scan current_reports {scans['current_reports'] * 1000:.0f} ms, "
          f"current_scored_reports {scans['current_scored_reports'] * 1000:.0f} ms "
          f"({scans['current_scored_reports'] / scans['current_reports']:.1f}x); full score() {full:.2f} s")


def main(assets: int = ASSETS) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_ingest(Path(tmp))
        bench_scoring(Path(tmp), assets)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
