"""Support status at the edges of each milestone, scored by collector/scoring/sql/findings.sql on a seeded DuckDB.

A milestone date is the first day without that support: on the end-of-life date a cycle is out
of support. Cycles of the edge product (tests/rulekit.py) sit on every case: dated eol with and
without extended support, eol not announced (false) or already past with no date (true),
extended support offered with no end (eoes false) or ended with no date (eoes true).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.collector.scoring.scorer import score
from estate.collector.store.database import Store

from .rulekit import finding, report, seeded, small_rules

EOL = dt.date(2030, 6, 15)
EOES = dt.date(2031, 6, 15)
DAY = dt.timedelta(days=1)
WINDOW = dt.timedelta(days=180)  # rules/scoring.yaml status.eol_soon_days

CASES = [
    # cycle, as_of, status
    ("1", EOL - WINDOW - DAY, "supported"),
    ("1", EOL - WINDOW, "eol_soon"),
    ("1", EOL - DAY, "eol_soon"),
    ("1", EOL, "extended"),
    ("1", EOL + DAY, "extended"),
    ("1", EOES - DAY, "extended"),
    ("1", EOES, "eol"),
    ("1", EOES + DAY, "eol"),
    ("2", EOL - DAY, "eol_soon"),
    ("2", EOL, "eol"),
    ("2", EOL + DAY, "eol"),
    ("3", dt.date(2099, 1, 1), "supported"),
    ("4", dt.date(2000, 1, 1), "eol"),
    ("5", EOL - DAY, "eol_soon"),
    ("5", EOL, "extended"),
    ("5", dt.date(2099, 1, 1), "extended"),
    ("6", EOL, "eol"),
    ("9", EOL, "unknown"),  # a cycle the lifecycle does not have
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("edges")
    rules = small_rules(tmp / "rules")
    reports = [report(f"hostname:c{c}", packages=[("edgeprod", f"{c}.0-1")]) for c in "1234569"]
    reports.append(report("hostname:plan9", os_id="plan9", version_id="4"))
    reports.append(report("hostname:nomatch", packages=[("edgeprod-doc", "1.0-1")]))
    s = seeded(tmp / "edges.duckdb", rules, reports, EOL)
    yield s
    s.close()


@pytest.mark.parametrize(("cycle", "as_of", "status"), CASES, ids=[f"cycle{c}-{d}-{s}" for c, d, s in CASES])
def test_status_at_the_edges(store, cycle: str, as_of: dt.date, status: str) -> None:  # type: ignore[no-untyped-def]
    score(store.con, as_of)
    row = finding(store, f"hostname:c{cycle}", kind="package")
    assert row["status"] == status
    assert row["as_of"] == as_of
    if row["eol"] is not None:
        assert row["days_to_eol"] == (row["eol"] - as_of).days
    if cycle == "1":
        assert row["days_to_eoas"] == (dt.date(2029, 6, 15) - as_of).days
        assert row["days_to_eoes"] == (EOES - as_of).days


def test_unknown_stays_unknown_whatever_the_date(store) -> None:  # type: ignore[no-untyped-def]
    for as_of in (dt.date(2000, 1, 1), EOL, dt.date(2099, 1, 1)):
        score(store.con, as_of)
        assert finding(store, "hostname:c9")["status"] == "unknown"
        os_row = finding(store, "hostname:plan9", kind="os")
        assert (os_row["status"], os_row["product"], os_row["matcher_id"]) == ("unknown", None, None)
        # unknown scores the L1 of scoring.yaml's l1.unknown (4: at least any supported finding), never 1
        assert os_row["l1_score"] == 4
    statuses = {r[0] for r in store.con.execute("SELECT status FROM findings WHERE product IS NULL "
                                                "OR cycle IS NULL").fetchall()}
    assert statuses == {"unknown"}


def test_packages_no_matcher_claims_are_not_findings(store) -> None:  # type: ignore[no-untyped-def]
    score(store.con, EOL)
    assert store.con.execute("SELECT count(*) FROM findings WHERE asset_id = 'hostname:nomatch'").fetchone() == (0,)
    risk = store.con.execute("SELECT worst_status, l1_raw FROM asset_risk WHERE asset_id = 'hostname:nomatch'"
                             ).fetchone()
    assert risk == ("unknown", 4)  # nothing known about the asset: never "supported"


def test_l1_steps_follow_scoring_yaml(store) -> None:  # type: ignore[no-untyped-def]
    # cycle 2 ends on EOL: 4 within 365 days, 3 within 1095 days, 1 beyond (rules/scoring.yaml l1)
    for days, l1 in ((1096, 1), (1095, 3), (366, 3), (365, 4), (1, 4), (0, 6)):
        score(store.con, EOL - dt.timedelta(days=days))
        assert finding(store, "hostname:c2")["l1_score"] == l1, days


def test_edge_rules_folder_is_valid(tmp_path: Path) -> None:
    from estate.collector.ruleset.rules import load_rules

    ruleset = load_rules(small_rules(tmp_path / "rules"))
    assert [loc.rule.product for loc in ruleset.lifecycles] == ["edgeprod"]
