"""The committed report set of tests/fixtures/estate (see its SOURCE.md) and a store seeded from it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from estate.collector.cli import read_report_file
from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .conftest import FIXTURES
from .rulekit import seeded

ESTATE = FIXTURES / "estate" / "reports"
# The date the seeded estate is scored for (docs/questions.md reads its results).
AS_OF = dt.date(2026, 12, 1)


def estate_reports() -> list[pb.Inventory]:
    return [read_report_file(path) for path in sorted(ESTATE.glob("*.json"))]


def estate_counts() -> dict[str, int]:
    """What a store holding the whole set must count.

    packages and listeners: rows of each asset's current report (latest collected_at, then the
    smallest report_id), what current_packages and current_listeners hold with history by change.
    """
    reports = estate_reports()
    current: dict[str, pb.Inventory] = {}
    for report in sorted(reports, key=lambda r: (r.collected_at.ToNanoseconds(), r.report_id), reverse=True):
        current.setdefault(report.asset_id, report)
    return {"reports": len(reports), "assets": len(current),
            "packages": sum(len(r.packages) for r in current.values()),
            "listeners": sum(len(r.listeners) for r in current.values())}


def seeded_estate(db: Path) -> Store:
    return seeded(db, default_rules_dir(), estate_reports(), AS_OF)
