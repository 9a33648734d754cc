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
    """What a store holding the whole set must count."""
    reports = estate_reports()
    return {"reports": len(reports), "assets": len({r.asset_id for r in reports}),
            "packages": sum(len(r.packages) for r in reports), "listeners": sum(len(r.listeners) for r in reports)}


def seeded_estate(db: Path) -> Store:
    return seeded(db, default_rules_dir(), estate_reports(), AS_OF)
