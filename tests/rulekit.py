"""Helpers for the rules and scoring tests: small rule folders and seeded DuckDB stores."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from estate.collector.ruleset.rules import load_rules
from estate.collector.scoring.scorer import score, store_rules
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .conftest import REPO

RULES = REPO / "rules"

# One product whose cycles sit on the edges the status rules care about (see test_status_edges).
EDGE_LIFECYCLE = """\
product: edgeprod
title: Edge product
sources: [https://example.org/edgeprod]
releases:
  - {releaseCycle: "1", releaseDate: 2020-01-01, eoas: 2029-06-15, eol: 2030-06-15, eoes: 2031-06-15}
  - {releaseCycle: "2", releaseDate: 2020-01-01, eol: 2030-06-15}
  - {releaseCycle: "3", releaseDate: 2020-01-01, eol: false}
  - {releaseCycle: "4", releaseDate: 2020-01-01, eol: true}
  - {releaseCycle: "5", releaseDate: 2020-01-01, eol: 2030-06-15, eoes: false}
  - {releaseCycle: "6", releaseDate: 2020-01-01, eol: 2030-06-15, eoes: true}
"""
EDGE_MATCHERS = """\
matchers:
  - {id: edge-pkg, kind: package, ns: [dpkg], names: [edgeprod], product: edgeprod, cycle: {regex: '^(\\d+)'}}
  - {id: edge-os, kind: os, names: [edgeos], product: edgeprod}
"""


def small_rules(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A rules folder with the shipped scoring.yaml, the edge product and its matchers."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(RULES / "scoring.yaml", root / "scoring.yaml")
    files = {"lifecycles/edgeprod.yaml": EDGE_LIFECYCLE, "matchers/edge.yaml": EDGE_MATCHERS, **(extra or {})}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def report(asset_id: str, *, os_id: str = "", version_id: str = "", kernel: str = "",
           packages: Iterable[tuple[str, str]] = (), manager: str = "dpkg",
           labels: dict[str, str] | None = None, exposed: bool = False,
           software: Iterable[tuple[str, str, str]] = (), device: tuple[str, str, str] | None = None,
           build: str = "", edition: str = "", os_version: str = "") -> pb.Inventory:
    """An Inventory as an agent would send it, with only what a test needs."""
    inv = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=asset_id, method=pb.METHOD_FILE)
    inv.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    inv.host.hostname = asset_id.split(":")[-1]
    inv.os.family, inv.os.id, inv.os.version_id = ("linux" if kernel else ""), os_id, version_id
    inv.os.kernel, inv.os.build, inv.os.edition, inv.os.version = kernel, build, edition, os_version
    for name, version in packages:
        inv.packages.add(name=name, version=version, manager=manager, architecture="amd64")
    for name, version, vendor in software:
        inv.software.add(name=name, version=version, vendor=vendor)
    if device is not None:
        inv.device.vendor, inv.device.os, inv.device.version = device
    inv.listeners.add(protocol="tcp", address="0.0.0.0" if exposed else "127.0.0.1", port=22, exposed=exposed)
    for key, value in (labels or {}).items():
        inv.labels[key] = value
    return inv


def seeded(db: Path, rules: Path | list[Path], reports: Iterable[pb.Inventory], as_of: dt.date | None = None) -> Store:
    """A store holding the reports and the rules, scored for as_of."""
    store = Store(db)
    outcomes = store.write_reports(list(reports), via="file")
    assert all(o.status == "ACCEPTED" for o in outcomes), outcomes
    store_rules(store.con, load_rules(rules), rules)
    score(store.con, as_of)
    return store


def finding(store: Store, asset_id: str, product: str | None = None, kind: str | None = None) -> dict[str, Any]:
    cursor = store.con.execute(
        "SELECT * FROM findings WHERE asset_id = ? AND (? IS NULL OR product = ?) "
        "AND (? IS NULL OR list_contains(kinds, ?))",
        [asset_id, product, product, kind, kind])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(names, rows[0], strict=True))
