"""The Python side of scoring (collector/scoring/scorer.py): rules into tables, rule loads, and the score run record.

Written from the cosmic-ray mutants that survived the SQL-level tests: each test here fails if the
rule files, identifiers or criteria stop reaching their tables, if a failed load leaves half the rules,
if an unchanged rules folder reloads, or if a score run records the wrong counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.collector.ruleset.rules import RuleErrors, load_rules
from estate.collector.scoring import scorer as scoring
from estate.collector.scoring.scorer import rules_in_force, score, store_rules, sync_rules
from estate.collector.store.database import Store

from .rulekit import report, seeded, small_rules

AS_OF = dt.date(2030, 6, 15)
IDENTIFIED = """\
product: identprod
title: Identified product
sources: [https://example.org/identprod]
identifiers:
  - purl: pkg:deb/debian/identprod
  - cpe: cpe:/a:example:identprod
  - repology: identprod
releases:
  - {releaseCycle: "1", releaseDate: 2020-01-01, eol: 2031-01-01, lts: true}
  - {releaseCycle: "2", releaseDate: 2021-01-01, eol: 2032-01-01}
"""
MAPPED = """\
matchers:
  - {id: ident-os, kind: os, names: [identos], product: identprod, cycle: {map: {"One": "1", "TWO": "2"}}}
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return small_rules(tmp_path / "rules", {"lifecycles/identprod.yaml": IDENTIFIED, "matchers/ident.yaml": MAPPED})


@pytest.fixture
def store(tmp_path: Path, rules: Path) -> Iterator[Store]:
    reports = [report("hostname:a", packages=[("edgeprod", "2.1-1")]), report("hostname:b"),
               report("hostname:c", packages=[("edgeprod", "3.0-1"), ("edgeprod-doc", "3.0-1")])]
    s = seeded(tmp_path / "driver.duckdb", rules, reports, AS_OF)
    yield s
    s.close()


def test_every_rule_file_is_recorded_with_its_kind_and_hash(store: Store, rules: Path) -> None:
    recorded = {file: (kind, sha) for file, kind, sha in store.con.execute("SELECT * FROM rule_files").fetchall()}
    on_disk = {str(p.relative_to(rules)): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in rules.rglob("*.yaml")}
    assert {file: sha for file, (_, sha) in recorded.items()} == on_disk
    assert recorded["scoring.yaml"][0] == "scoring" and recorded["lifecycles/identprod.yaml"][0] == "lifecycles"


def test_identifiers_and_criteria_reach_their_tables(store: Store) -> None:
    assert sorted(store.con.execute("SELECT type, value FROM rule_identifiers WHERE product = 'identprod'").fetchall()
                  ) == [("cpe", "cpe:/a:example:identprod"), ("purl", "pkg:deb/debian/identprod"),
                        ("repology", "identprod")]
    criteria = store.con.execute("SELECT side, criterion FROM rule_criteria").fetchall()
    assert ("likelihood", "L1") in criteria and ("impact", "C6") in criteria and len(criteria) == 13


def test_a_score_run_records_what_it_scored(store: Store) -> None:
    run = score(store.con, AS_OF)
    findings = store.con.execute("SELECT count(*) FROM findings").fetchone()
    assert findings is not None and findings[0] >= 2
    assert (run.as_of, run.assets, run.findings) == (AS_OF, 3, findings[0])
    last = store.con.execute("SELECT as_of, rules_digest, assets, findings FROM score_runs "
                             "ORDER BY scored_at DESC LIMIT 1").fetchone()
    assert last == (AS_OF, rules_in_force(store.con), 3, findings[0])
    assert 0 <= run.seconds < 120
    one = score(store.con, AS_OF, assets=["hostname:c"])
    mine = store.con.execute("SELECT count(*) FROM findings WHERE asset_id = 'hostname:c'").fetchone()
    assert mine is not None and (one.assets, one.findings) == (1, mine[0]) and 0 < mine[0] < findings[0]


def test_an_unchanged_rules_folder_is_not_reloaded_and_a_changed_one_is(store: Store, rules: Path) -> None:
    before = rules_in_force(store.con)
    assert sync_rules(store.con, rules).changed is False
    (rules / "assessments").mkdir(exist_ok=True)
    (rules / "assessments" / "x.yaml").write_text("system: x\nowner: owner@example.gov.uk\nassessed: 2030-01-01\n"
                                                 "likelihood:\n  L2: {score: 2}\n")
    assert sync_rules(store.con, rules).changed is True
    assert rules_in_force(store.con) not in (None, before)


def test_a_failed_load_leaves_the_rules_in_force_whole(store: Store, rules: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    matchers = store.con.execute("SELECT count(*) FROM rule_matchers").fetchone()
    calls = []

    def fail_on_the_third_table(con: object, table: str, rows: list[dict[str, object]]) -> object:
        calls.append(table)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_arrow(con, table, rows)  # type: ignore[arg-type]

    real_arrow = scoring._arrow
    monkeypatch.setattr(scoring, "_arrow", fail_on_the_third_table)
    with pytest.raises(RuntimeError, match="disk full"):
        store_rules(store.con, load_rules(rules), rules)
    assert store.con.execute("SELECT count(*) FROM rule_matchers").fetchone() == matchers
    assert store.con.execute("SELECT count(*) FROM rule_files").fetchone() != (0,)


def test_cycle_flags_and_maps_reach_their_tables(store: Store) -> None:
    assert store.con.execute("SELECT cycle, lts FROM rule_cycles WHERE product = 'identprod' ORDER BY cycle"
                             ).fetchall() == [("1", True), ("2", None)]
    # map keys are lower-cased, as findings.sql compares them
    assert sorted(store.con.execute("SELECT key, cycle FROM rule_cycle_maps WHERE matcher_id = 'ident-os'").fetchall()
                  ) == [("one", "1"), ("two", "2")]


def test_scoring_without_rules_is_refused_by_name(tmp_path: Path) -> None:
    empty = Store(tmp_path / "empty.duckdb")
    try:
        with pytest.raises(RuleErrors, match="no rules loaded: load them first") as raised:
            score(empty.con, AS_OF)
        assert not re.search(r":-?\d+:", str(raised.value))  # no file, so no line number either
    finally:
        empty.close()


def test_a_failed_score_leaves_the_last_results_whole(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = store.con.execute("SELECT count(*) FROM findings").fetchone()
    real_sql = scoring.sql_file
    monkeypatch.setattr(scoring, "sql_file",
                        lambda name: real_sql(name) if name != "risk.sql" else "SELECT no_such_column FROM findings")
    with pytest.raises(Exception, match="no_such_column"):
        score(store.con, AS_OF)
    assert store.con.execute("SELECT count(*) FROM findings").fetchone() == before
    assert store.con.execute("SELECT count(*) FROM score_runs").fetchone() == (1,)  # only the seeding run


def test_broken_rules_are_reported_and_the_rules_in_force_kept(store: Store, rules: Path) -> None:
    before = rules_in_force(store.con)
    (rules / "matchers" / "broken.yaml").write_text("matchers:\n  - {id: x, kind: package, bogus: 1}\n")
    result = sync_rules(store.con, rules)
    assert result.changed is False and result.errors is not None and "matchers/broken.yaml:2" in str(result.errors)
    assert rules_in_force(store.con) == before
