"""Legacy risk per asset and per system (collector/scoring/sql/risk.sql) on a small seeded DuckDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estate.collector.scoring.scorer import score
from estate.collector.store.database import Store

from .rulekit import report, seeded, small_rules

AS_OF = dt.date(2030, 6, 15)  # edge product: cycle 2 is eol (L1 6), cycle 3 supported (L1 1)
ASSESSMENT = """\
system: payroll
owner: owner@example.gov.uk
assessed: 2030-01-01
likelihood:
  L2: {score: 2}
  L4: {score: 4}
impact:
  C1: {score: 2}
  C3: {score: 4}
"""


def _exceptions(expires: str) -> str:
    return f"""\
exceptions:
  - id: accept-edge-2
    scope: {{system: payroll, product: edgeprod, cycle: "2"}}
    owner: owner@example.gov.uk
    reason: isolated until replaced
    expires: {expires}
"""


def _risk(store: Store, table: str, key: str, value: str) -> dict[str, Any]:
    cursor = store.con.execute(f"SELECT * FROM {table} WHERE {key} = ?", [value])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    assert row is not None, (table, value)
    return dict(zip(names, row, strict=True))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    rules = small_rules(tmp_path / "rules", {"assessments/payroll.yaml": ASSESSMENT,
                                             "exceptions/edge.yaml": _exceptions("2030-07-01")})
    reports = [
        report("hostname:pay1", packages=[("edgeprod", "2.1-1")], labels={"system": "payroll"}, exposed=True),
        report("hostname:pay2", packages=[("edgeprod", "3.0-1")],
               labels={"system": "payroll", "criticality": "high"}),
        report("hostname:lone", packages=[("edgeprod", "2.0-1")]),
    ]
    s = seeded(tmp_path / "risk.duckdb", rules, reports, AS_OF)
    yield s
    s.close()


def test_asset_without_system_uses_l1_and_the_impact_default(store) -> None:  # type: ignore[no-untyped-def]
    r = _risk(store, "asset_risk", "asset_id", "hostname:lone")
    # likelihood: only L1 = 6 -> (6 + 6) / 2; impact: scoring.yaml impact.default_score 3 -> (3 + 3) / 2
    assert (r["likelihood"], r["impact"], r["overall"], r["band"]) == (6.0, 3.0, 18.0, "red")
    assert r["worst_status"] == "eol" and r["exceptions"] == [] and not r["exception_changed"]


def test_exception_accepts_the_finding_and_says_so(store) -> None:  # type: ignore[no-untyped-def]
    r = _risk(store, "asset_risk", "asset_id", "hostname:pay1")
    # the eol finding is accepted: every finding accepted -> l1.all_accepted = 1
    # likelihood criteria 1, 2, 4 -> (7/3 + 4) / 2 = 3.1667, +1 exposed -> 4.1667
    assert r["l1_raw"] == 6 and r["exception_changed"] and r["exceptions"] == ["accept-edge-2"]
    assert r["likelihood"] == pytest.approx((7 / 3 + 4) / 2 + 1)
    assert r["adjustments"] == ["exposed-beyond-loopback"]
    # impact C1 2, C3 4 -> (3 + 4) / 2 = 3.5
    assert r["impact"] == pytest.approx(3.5)
    assert r["overall"] == pytest.approx(r["likelihood"] * r["impact"])
    assert r["band"] == "amber"
    row = store.con.execute("SELECT exception_id FROM findings WHERE asset_id = 'hostname:pay1'").fetchone()
    assert row == ("accept-edge-2",)
    # the same cycle outside the exception's system is not accepted
    assert store.con.execute("SELECT exception_id FROM findings WHERE asset_id = 'hostname:lone'"
                             ).fetchone() == (None,)


def test_an_expired_exception_stops_applying_by_itself(store) -> None:  # type: ignore[no-untyped-def]
    score(store.con, dt.date(2030, 6, 30))
    assert _risk(store, "asset_risk", "asset_id", "hostname:pay1")["exceptions"] == ["accept-edge-2"]
    score(store.con, dt.date(2030, 7, 1))  # the expiry date is the first day it no longer applies
    r = _risk(store, "asset_risk", "asset_id", "hostname:pay1")
    assert r["exceptions"] == [] and not r["exception_changed"]
    # L1 6, L2 2, L4 4 -> (4 + 6) / 2 = 5, +1 exposed = 6, the cap
    assert r["likelihood"] == 6.0 and r["likelihood_adjust"] == 1.0


def test_criticality_label_raises_impact(store) -> None:  # type: ignore[no-untyped-def]
    r = _risk(store, "asset_risk", "asset_id", "hostname:pay2")
    assert r["adjustments"] == ["criticality-high"]
    assert r["impact"] == pytest.approx(3.5 + 1)
    # supported beyond 3 years: L1 = 1; L2 2, L4 4 -> (7/3 + 4) / 2
    assert r["likelihood"] == pytest.approx((7 / 3 + 4) / 2)
    assert r["worst_status"] == "supported"


def test_system_risk_groups_its_assets(store) -> None:  # type: ignore[no-untyped-def]
    r = _risk(store, "system_risk", "system", "payroll")
    assert r["assets"] == 2 and r["exposed"]
    assert r["adjustments"] == ["criticality-high", "exposed-beyond-loopback"]
    assert r["exceptions"] == ["accept-edge-2"] and r["exception_changed"]
    assert r["impact"] == pytest.approx(4.5)
    criteria = store.con.execute("SELECT criterion, score, source FROM risk_criteria WHERE scope = 'system' "
                                 "AND subject = 'payroll' ORDER BY criterion").fetchall()
    assert [c[0] for c in criteria] == ["C1", "C3", "L1", "L2", "L4"]
    assert "payroll.yaml" in criteria[0][2]


def test_partial_rescoring_matches_a_full_one(store) -> None:  # type: ignore[no-untyped-def]
    def snapshot() -> list[tuple[object, ...]]:
        return list(store.con.execute("SELECT * EXCLUDE (as_of) FROM asset_risk ORDER BY asset_id").fetchall())

    full = snapshot()
    score(store.con, AS_OF, assets=["hostname:pay1"])
    assert snapshot() == full
    assert store.con.execute("SELECT count(*) FROM findings").fetchone() == (3,)


def _assessment(system: str, likelihood: int, impact: int) -> str:
    return (f"system: {system}\nowner: owner@example.gov.uk\nassessed: 2030-01-01\n"
            f"likelihood:\n  L2: {{score: {likelihood}}}\nimpact:\n  C1: {{score: {impact}}}\n")


# (system, exposed, L2, C1) -> overall and band. No package matches a rule, so L1 is scoring.yaml's
# l1.unknown (3); likelihood = (mean + max) / 2 of L1 and L2, +1 when exposed; impact likewise of C1.
BAND_EDGES = {
    "at-red": (True, 3, 4, 16.0, "red"),  # (3 + 3) / 2 + 1 = 4; 4 x 4 = 16, exactly red's min_score
    "below-red": (False, 3, 5, 15.0, "amber"),  # 3 x 5
    "at-amber": (True, 3, 2, 8.0, "amber"),  # 4 x 2 = 8, exactly amber's min_score
    "below-amber": (False, 3, 2, 6.0, "green"),  # 3 x 2
}


def test_bands_at_exactly_their_thresholds_through_asset_and_system_risk(tmp_path: Path) -> None:
    """A score equal to a band's min_score is in that band (scoring.yaml: red 16, amber 8, green 0)."""
    extra = {f"assessments/{name}.yaml": _assessment(name, l2, c1) for name, (_, l2, c1, _, _) in BAND_EDGES.items()}
    rules = small_rules(tmp_path / "rules", extra)
    reports = [report(f"hostname:{name}", labels={"system": name}, exposed=exposed)
               for name, (exposed, *_rest) in BAND_EDGES.items()]
    store = seeded(tmp_path / "bands.duckdb", rules, reports, AS_OF)
    try:
        assert dict(store.con.execute("SELECT band, min_score FROM rule_bands").fetchall()) == {
            "red": 16.0, "amber": 8.0, "green": 0.0}
        for name, (_, _, _, overall, band) in BAND_EDGES.items():
            asset = _risk(store, "asset_risk", "asset_id", f"hostname:{name}")
            system = _risk(store, "system_risk", "system", name)
            assert asset["worst_status"] == "unknown" and asset["l1_raw"] == 3, asset
            assert (asset["overall"], asset["band"]) == (overall, band), (name, asset)
            assert (system["overall"], system["band"]) == (overall, band), (name, system)
    finally:
        store.close()
