"""Ownership kept centrally (issue 16): vocabulary, ownership precedence, label history, stale and retired assets."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estate.collector.ruleset.rules import RuleErrors, load_rules
from estate.collector.scoring.scorer import score, store_rules
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .rulekit import report, small_rules

COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]
VOCABULARY = """\
labels:
  org:
    values: [hmrc, dwp]
  criticality:
    values: [low, medium, high, critical]
  system:
    pattern: '^[a-z0-9][a-z0-9.-]*$'
  owner:
    pattern: '^[a-z0-9@.-]+$'
  environment:
    values: [production, test]
"""
OWNERSHIP = """\
ownership:
  - label: {system: payroll}
    set: {owner: payroll-team, criticality: medium, org: dwp}
  - cidr: 10.0.0.0/8
    set: {org: dwp, criticality: low}
  - cidr: 10.20.0.0/16
    set: {org: hmrc}
  - hostname: "PAY-*"
    set: {criticality: high}
  - asset: hostname:pay-special
    set: {criticality: critical}
"""


def ownership_rules(root: Path, ownership: str = OWNERSHIP, vocabulary: str = VOCABULARY) -> Path:
    return small_rules(root, {"vocabulary.yaml": vocabulary, "ownership/estate.yaml": ownership})


def with_address(inv: pb.Inventory, address: str) -> pb.Inventory:
    inv.host.interfaces.add(name="eth0", addresses=[f"{address}/24", "127.0.0.1/8", "fe80::1/64"])
    return inv


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COLLECTOR_CLI, "rules", "check", "--rules", str(root)], capture_output=True, text=True,
                          timeout=120)


def labels_of(store: Store, asset_id: str) -> tuple[dict[str, str], dict[str, str], list[str]]:
    row = store.con.execute("SELECT labels, sources, flags FROM current_asset_labels WHERE asset_id = ?",
                            [asset_id]).fetchone()
    assert row is not None, asset_id
    return dict(row[0]), dict(row[1]), list(row[2])


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return ownership_rules(tmp_path / "rules")


@pytest.fixture
def store(tmp_path: Path, rules: Path) -> Iterator[Store]:
    s = Store(tmp_path / "estate.duckdb")
    store_rules(s.con, load_rules(rules), rules)
    yield s
    s.close()


def stored(store: Store, *reports: pb.Inventory) -> None:
    outcomes = store.write_reports(list(reports), via="file")
    assert all(o.status == "ACCEPTED" for o in outcomes), outcomes
    score(store.con)


# --- the rule files ----------------------------------------------------------------------------

def test_shipped_rules_have_a_vocabulary_and_check_clean() -> None:
    result = subprocess.run([*COLLECTOR_CLI, "rules", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ownership rules, a label vocabulary" in result.stdout


def test_vocabulary_errors_name_file_line_and_value(tmp_path: Path) -> None:
    bad = OWNERSHIP.replace("criticality: high}", "criticality: urgent}").replace("{org: hmrc}", "{org: HMRC}")
    result = check(ownership_rules(tmp_path / "rules", bad))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.endswith("ownership/estate.yaml:9: ownership[3].set.criticality: 'urgent' is not in the "
                             "vocabulary for criticality; allowed: critical, high, low, medium")
               for line in lines), lines
    assert any("ownership/estate.yaml:7: ownership[2].set.org: 'HMRC' is not in the vocabulary for org "
               "(did you mean 'hmrc'?)" in line for line in lines), lines


def test_unknown_label_key_and_bad_scoring_values_are_errors(tmp_path: Path) -> None:
    root = ownership_rules(tmp_path / "rules", "ownership:\n  - asset: a1\n    set: {colour: blue}\n")
    scoring = (root / "scoring.yaml").read_text().replace("values: [high, critical]", "values: [high, severe]")
    (root / "scoring.yaml").write_text(scoring)
    with pytest.raises(RuleErrors) as caught:
        load_rules(root)
    text = str(caught.value)
    assert "ownership/estate.yaml:3: ownership[0].set.colour: key 'colour' is not in the vocabulary" in text
    assert "'severe' is not in the vocabulary for criticality" in text
    line = next(i for i, t in enumerate(scoring.splitlines(), 1) if "severe" in t)
    assert f"scoring.yaml:{line}: adjustments[" in text


@pytest.mark.parametrize("vocabulary, expected", [
    ("labels:\n  org: {values: [a], pattern: 'x'}\n",
     "vocabulary.yaml:2: labels.org: give exactly one of values, pattern"),
    ("labels:\n  org:\n    pattern: '(['\n", "vocabulary.yaml:3: labels.org.pattern: bad regular expression '(['"),
    ("labels:\n  org: {values: [a, b, a]}\n", "vocabulary.yaml:2: labels.org.values: 'a' is listed twice"),
    ("labels:\n  Org: {values: [a]}\n", "vocabulary.yaml:2: labels.Org"),
])
def test_broken_vocabulary_is_named(tmp_path: Path, vocabulary: str, expected: str) -> None:
    result = check(ownership_rules(tmp_path / "rules", "ownership:\n  - asset: a\n    set: {org: a}\n", vocabulary))
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


@pytest.mark.parametrize("ownership, expected", [
    ("ownership:\n  - cidr: 10.0.0.0/33\n    set: {org: hmrc}\n", "ownership/estate.yaml:2: ownership[0].cidr: "
                                                                   "'10.0.0.0/33' is not a CIDR range"),
    ("ownership:\n  - asset: a\n    hostname: b\n    set: {org: hmrc}\n",
     "ownership/estate.yaml:2: ownership[0]: give exactly one of asset, hostname, cidr, label"),
    ("ownership:\n  - asset: a\n    set: {org: hmrc}\n    colour: x\n", "ownership[0].colour: unknown field"),
])
def test_broken_ownership_is_named(tmp_path: Path, ownership: str, expected: str) -> None:
    result = check(ownership_rules(tmp_path / "rules", ownership))
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


# --- precedence and flags -------------------------------------------------------------------------

def test_ownership_precedence_over_agent_labels(store: Store) -> None:
    stored(store,
           # label rule only: it overrides the agent's org and adds owner; environment stays the agent's
           report("hostname:app1", labels={"system": "payroll", "org": "hmrc", "environment": "test"}),
           # cidr 10.0/8 and the longer 10.20/16 match: org from the longer; criticality from 10/8 over the label rule
           with_address(report("hostname:app2", labels={"system": "payroll"}), "10.20.1.5"),
           # hostname pattern (any case) over cidr; asset rule over hostname
           with_address(report("hostname:pay-01"), "10.20.1.6"),
           with_address(report("hostname:pay-special"), "10.20.1.7"))
    labels, sources, flags = labels_of(store, "hostname:app1")
    assert labels == {"system": "payroll", "owner": "payroll-team", "criticality": "medium", "org": "dwp",
                      "environment": "test"}
    assert sources["org"].startswith("ownership ownership/estate.yaml:2 (label system=payroll)")
    assert sources["environment"] == sources["system"] == "agent"
    assert flags == ["org=hmrc from the agent: overridden by ownership ownership/estate.yaml:2 (label system=payroll)"]
    labels, sources, _ = labels_of(store, "hostname:app2")
    assert (labels["org"], labels["criticality"], labels["owner"]) == ("hmrc", "low", "payroll-team")
    assert "(cidr 10.20.0.0/16)" in sources["org"] and "(cidr 10.0.0.0/8)" in sources["criticality"]
    assert labels_of(store, "hostname:pay-01")[0]["criticality"] == "high"
    assert labels_of(store, "hostname:pay-special")[0]["criticality"] == "critical"


def test_unknown_agent_values_are_flagged_never_new(store: Store) -> None:
    stored(store, report("hostname:x1", labels={"criticality": "urgent", "org": "HMRC", "colour": "blue",
                                                "environment": "production"}))
    labels, _, flags = labels_of(store, "hostname:x1")
    assert labels == {"environment": "production"}
    assert any(f.startswith("criticality=urgent from the agent: refused: 'urgent' is not in the vocabulary")
               for f in flags), flags
    assert any("org=HMRC" in f and "did you mean 'hmrc'" in f for f in flags), flags
    assert any("colour=blue" in f and "key 'colour' is not in the vocabulary" in f for f in flags), flags
    # Scoring reads the effective labels: no criticality adjustment from a refused value.
    risk = store.con.execute("SELECT adjustments FROM asset_risk WHERE asset_id = 'hostname:x1'").fetchone()
    assert risk == ([],)


def test_an_organisations_vocabulary_replaces_the_keys_it_lists(tmp_path: Path, rules: Path) -> None:
    """A rules.d layer's vocabulary.yaml replaces the shipped definition of the keys it lists (its own
    organisations); the other keys stay as shipped. One definition per key is stored, from its layer."""
    local = tmp_path / "rules.d"
    local.mkdir()
    (local / "vocabulary.yaml").write_text("labels:\n  org:\n    values: [nhs-digital, dwp, hmrc]\n")
    layers = [rules, local]
    store = Store(tmp_path / "layered.duckdb")
    try:
        store_rules(store.con, load_rules(layers), layers)
        rows = store.con.execute("SELECT key, allowed, file FROM rule_vocabulary WHERE key IN ('org', 'environment') "
                                 "ORDER BY key").fetchall()
        assert rows == [("environment", ["production", "test"], "vocabulary.yaml"),
                        ("org", ["nhs-digital", "dwp", "hmrc"], f"{local}/vocabulary.yaml")]
        stored(store, report("hostname:n1", labels={"org": "nhs-digital", "environment": "test"}),
               report("hostname:c1", labels={"org": "cabinet-office"}))
        assert labels_of(store, "hostname:n1")[0] == {"org": "nhs-digital", "environment": "test"}
        labels, _, flags = labels_of(store, "hostname:c1")
        assert "org" not in labels and any("org=cabinet-office" in f for f in flags), flags
    finally:
        store.close()


def test_scoring_reads_effective_labels(store: Store) -> None:
    """The agent sends no criticality; the hostname rule gives high, and scoring's adjustment sees it."""
    stored(store, with_address(report("hostname:pay-02", packages=[("edgeprod", "2.1-1")],
                                      labels={"criticality": "low"}), "10.1.1.1"))
    risk = store.con.execute("SELECT adjustments FROM asset_risk WHERE asset_id = 'hostname:pay-02'").fetchone()
    assert risk == (["criticality-high"],)


# --- history ----------------------------------------------------------------------------------------

def test_label_changes_are_kept_as_history(store: Store, rules: Path) -> None:
    """The issue's case: labels must not follow whatever the last report said, and every change is kept."""
    first = with_address(report("hostname:h1", labels={"org": "hmrc", "criticality": "high"}), "10.20.3.3")
    stored(store, first)
    stored(store, with_address(report("hostname:h1"), "10.20.3.3"))  # a bare scan: no labels at all
    stored(store, with_address(report("hostname:h1"), "10.20.3.3"))  # unchanged: no new interval
    history = store.con.execute("SELECT labels, flags, valid_to IS NULL FROM asset_label_history "
                                "WHERE asset_id = 'hostname:h1' ORDER BY valid_from").fetchall()
    # The org comes from the CIDR rule both times and criticality from the rules (low), not from the agent:
    # the bare scan changes no label. Its interval differs only in the flags (nothing overridden any more),
    # and the unchanged rescan adds nothing.
    assert [(dict(labels), current) for labels, _, current in history] == [
        ({"org": "hmrc", "criticality": "low"}, False), ({"org": "hmrc", "criticality": "low"}, True)]
    assert history[0][1] == ["criticality=high from the agent: overridden by ownership ownership/estate.yaml:4 "
                             "(cidr 10.0.0.0/8)"]
    assert history[1][1] == []
    # A rule change is a label change: a new interval opens, the old one closes.
    (rules / "ownership/estate.yaml").write_text(OWNERSHIP.replace("{org: hmrc}", "{org: hmrc, owner: tax-team}"))
    store_rules(store.con, load_rules(rules), rules)
    score(store.con)
    history = store.con.execute("SELECT labels, valid_to IS NULL, rules_digest FROM asset_label_history "
                                "WHERE asset_id = 'hostname:h1' ORDER BY valid_from").fetchall()
    assert [(dict(labels), current) for labels, current, _ in history][1:] == [
        ({"org": "hmrc", "criticality": "low"}, False),
        ({"org": "hmrc", "criticality": "low", "owner": "tax-team"}, True)]
    assert history[1][2] != history[2][2]


# --- stale and retired --------------------------------------------------------------------------------

def aged(inv: pb.Inventory, days: int) -> pb.Inventory:
    inv.collected_at.FromDatetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))
    return inv


def assets_cli(db: Path) -> list[dict[str, Any]]:
    result = subprocess.run([*COLLECTOR_CLI, "assets", "--db", str(db), "--format", "json"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_stale_asset_leaves_current_risk_but_is_listed(tmp_path: Path, rules: Path) -> None:
    db = tmp_path / "estate.duckdb"
    store = Store(db)
    store_rules(store.con, load_rules(rules), rules)
    pkg = [("edgeprod", "2.1-1")]
    stored(store, report("hostname:fresh", packages=pkg, labels={"system": "payroll"}),
           aged(report("hostname:old", packages=pkg, labels={"system": "payroll"}), 29))
    assert store.con.execute("SELECT assets FROM system_risk WHERE system = 'payroll'").fetchone() == (2,)
    # Days pass: the old one's latest report is now past stale_after_days (30 in scoring.yaml).
    store.con.execute("UPDATE reports SET collected_at = collected_at - INTERVAL 2 DAY WHERE asset_id = 'hostname:old'")
    score(store.con)
    assert store.con.execute("SELECT asset_id FROM asset_risk ORDER BY 1").fetchall() == [("hostname:fresh",)]
    assert store.con.execute("SELECT count(*) FROM findings WHERE asset_id = 'hostname:old'").fetchone() == (0,)
    assert store.con.execute("SELECT assets FROM system_risk WHERE system = 'payroll'").fetchone() == (1,)
    assert store.con.execute("SELECT count(*) FROM reports WHERE asset_id = 'hostname:old'").fetchone() == (1,)
    store.close()
    statuses = {row["asset_id"]: row["status"] for row in assets_cli(db)}
    assert statuses == {"hostname:fresh": "active", "hostname:old": "stale"}
    explained = subprocess.run([*COLLECTOR_CLI, "explain", "hostname:old", "--db", str(db)], capture_output=True,
                               text=True, timeout=60)
    assert explained.returncode == 0, explained.stderr
    assert "status: stale (last report collected " in explained.stdout and "not in current risk" in explained.stdout


def test_threshold_comes_from_scoring_yaml(tmp_path: Path, rules: Path) -> None:
    text = (rules / "scoring.yaml").read_text()
    (rules / "scoring.yaml").write_text(text.replace("stale_after_days: 30", "stale_after_days: 90"))
    store = Store(tmp_path / "estate.duckdb")
    store_rules(store.con, load_rules(rules), rules)
    stored(store, aged(report("hostname:old"), 60))
    assert store.con.execute("SELECT status FROM asset_status").fetchall() == [("active",)]
    store.close()


def test_retired_asset_leaves_risk_and_is_flagged_if_it_reports_again(tmp_path: Path, rules: Path) -> None:
    db = tmp_path / "estate.duckdb"
    store = Store(db)
    store_rules(store.con, load_rules(rules), rules)
    stored(store, report("hostname:gone", packages=[("edgeprod", "2.1-1")]))
    store.close()
    retire = subprocess.run([*COLLECTOR_CLI, "retire", "hostname:gone", "--reason", "CHG-1234 decommissioned",
                             "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert retire.returncode == 0, retire.stderr
    missing = subprocess.run([*COLLECTOR_CLI, "retire", "hostname:never", "--reason", "x", "--db", str(db)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no asset 'hostname:never'" in missing.stderr
    store = Store(db)
    score(store.con)
    assert store.con.execute("SELECT count(*) FROM asset_risk").fetchone() == (0,)
    row = store.con.execute("SELECT status, retired_reason FROM asset_status").fetchone()
    assert row == ("retired", "CHG-1234 decommissioned")
    stored(store, report("hostname:gone", packages=[("edgeprod", "2.1-1")]))
    assert store.con.execute("SELECT status FROM asset_status").fetchone() == ("reported-after-retirement",)
    assert store.con.execute("SELECT count(*) FROM asset_risk").fetchone() == (1,)
    store.close()
    assert [row["status"] for row in assets_cli(db)] == ["reported-after-retirement"]


def test_assets_lists_effective_labels_and_counts_flags(tmp_path: Path, rules: Path) -> None:
    db = tmp_path / "estate.duckdb"
    store = Store(db)
    store_rules(store.con, load_rules(rules), rules)
    stored(store, report("hostname:x1", labels={"criticality": "urgent", "org": "hmrc"}))
    store.close()
    [row] = assets_cli(db)
    assert (row["status"], row["labels"], row["label_flags"]) == ("active", {"org": "hmrc"}, 1)
