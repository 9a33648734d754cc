"""Every shipped rule file: schema, duplicate products, dates in order, dangling references."""

from __future__ import annotations

import datetime as dt
import filecmp
import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from estate.collector.ruleset.endoflife import IMPORT_DIR, import_snapshot
from estate.collector.ruleset.rules import DATE_ORDER, RULE_KINDS, RuleErrors, RuleSet, load_rules, rule_files

from .conftest import REPO

RULES = REPO / "rules"
SNAPSHOT = REPO / "tests" / "fixtures" / "endoflife" / "endoflife-date.json.gz"  # see SOURCE.md there


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules(RULES)


def test_every_shipped_rule_file_passes_its_checks(ruleset) -> None:  # type: ignore[no-untyped-def]
    # load_rules raises on any schema error, duplicate, date out of order or dangling reference
    names = {name for name, _, _ in rule_files(RULES)}
    assert set(ruleset.files) == names
    assert len(ruleset.lifecycles) >= 464 + 4
    assert {"hpux", "junos", "cisco-ios", "arista-eos"} <= {loc.rule.product for loc in ruleset.lifecycles}


def test_no_product_is_defined_twice(ruleset) -> None:  # type: ignore[no-untyped-def]
    products = [loc.rule.product for loc in ruleset.lifecycles]
    assert len(products) == len(set(products))
    for loc in ruleset.lifecycles:
        assert Path(loc.file).stem == loc.rule.product


def test_dates_in_order_in_every_cycle(ruleset) -> None:  # type: ignore[no-untyped-def]
    for loc in ruleset.lifecycles:
        for release in loc.rule.releases:
            dates = [getattr(release, k) for k in DATE_ORDER if isinstance(getattr(release, k), dt.date)]
            assert dates == sorted(dates), (loc.file, release.releaseCycle)


def test_no_dangling_references(ruleset) -> None:  # type: ignore[no-untyped-def]
    cycles = {loc.rule.product: {r.releaseCycle.lower() for r in loc.rule.releases} for loc in ruleset.lifecycles}
    for loc in ruleset.matchers:
        assert loc.rule.product in cycles, loc.rule.id
        for value in (loc.rule.cycle.map or {}).values():
            for edition in ("e", "w"):
                assert value.replace("{edition}", edition).lower() in cycles[loc.rule.product], (loc.rule.id, value)
    for loc in ruleset.exceptions:
        scope = loc.rule.scope
        if scope.product:
            assert scope.product in cycles
            assert scope.cycle is None or scope.cycle.lower() in cycles[scope.product]
    ids = [loc.rule.id for loc in ruleset.matchers]
    assert len(ids) == len(set(ids))


def test_hand_written_lifecycles_cite_their_sources(ruleset) -> None:  # type: ignore[no-untyped-def]
    own = [loc for loc in ruleset.lifecycles if loc.rule.imported is None]
    assert own
    for loc in own:
        assert loc.file.startswith("lifecycles/own/")
        assert loc.rule.sources and all(s.startswith("http") for s in loc.rule.sources)
        assert (RULES / loc.file).read_text().startswith("# Hand-written"), loc.file


def test_imported_lifecycles_keep_the_mit_notice(ruleset) -> None:  # type: ignore[no-untyped-def]
    licence = (RULES / IMPORT_DIR / "LICENSE").read_text()
    assert "MIT License" in licence and "endoflife.date contributors" in licence
    imported = [loc for loc in ruleset.lifecycles if loc.rule.imported is not None]
    assert len(imported) == 464
    for loc in imported[:20]:
        assert "MIT licence" in (RULES / loc.file).read_text().splitlines()[0]


def test_the_committed_import_is_the_snapshot(tmp_path: Path) -> None:
    snapshot = tmp_path / "endoflife-date.json"
    snapshot.write_bytes(gzip.decompress(SNAPSHOT.read_bytes()))
    count, warnings = import_snapshot(snapshot, tmp_path)
    assert (count, warnings) == (464, [])
    fresh, shipped = tmp_path / IMPORT_DIR, RULES / IMPORT_DIR
    names = sorted(p.name for p in shipped.iterdir())
    assert names == sorted(p.name for p in fresh.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(shipped, fresh, names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_every_rule_kind_has_a_folder_and_a_checker() -> None:
    for where, kind in RULE_KINDS.items():
        assert (RULES / where).exists(), where
        assert callable(kind.check)


def test_rules_check_command_passes_on_the_shipped_rules() -> None:
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "rules", "check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "rule files OK" in result.stdout



def test_import_refuses_a_bad_snapshot_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"products": {"x": {"title": "X", "releases": [{"releaseCycle": "1", "eol": "soon"}]}},'
                   ' "source_commit": "c", "source_date": "2026-01-01"}')
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "rules", "import-endoflife", str(bad),
                             "--rules", str(tmp_path / "rules")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "bad.json#products.x: releases[0].eol: Input should be a valid boolean or a date" in result.stderr
    assert not (tmp_path / "rules").exists()
    (tmp_path / "garbage.json").write_bytes(b"\xff\x00not json")
    with pytest.raises(RuleErrors, match="not JSON"):
        import_snapshot(tmp_path / "garbage.json", tmp_path / "rules")


@pytest.mark.parametrize("snapshot, expected", [
    ('{"products": {"x": {"title": "X", "releases": [{"releaseCycle": "1", "eol": "2027-02-30"}]}},'
     ' "source_commit": "c", "source_date": "2026-01-01"}', "releases[0].eol:"),
    ('{"products": {"x": {"releases": [1]}}, "source_date": "2026-01-01"}', "releases[0]:"),
    ('{"products": {"x": {"releases": {"1": {}}}}, "source_date": "2026-01-01"}', "releases:"),
    ('{"products": {}, "source_commit": "c", "source_date": "2026-02-30"}', "source_date: expected YYYY-MM-DD"),
])
def test_import_refuses_impossible_dates_by_name(tmp_path: Path, snapshot: str, expected: str) -> None:
    """A date like 2027-02-30 or releases that are not objects are named, not a traceback."""
    bad = tmp_path / "bad.json"
    bad.write_text(snapshot)
    with pytest.raises(RuleErrors) as caught:
        import_snapshot(bad, tmp_path / "rules")
    assert expected in "\n".join(str(e) for e in caught.value.errors)
    assert not (tmp_path / "rules").exists()
