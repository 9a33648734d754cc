"""Bad rule files are refused with file, line and field, and the rules in force stay in force."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from estate.collector.ruleset.rules import MAX_RULE_FILE_BYTES, RuleErrors, load_rules
from estate.collector.scoring.scorer import rules_in_force, score, sync_rules
from estate.collector.store.database import Store

from .rulekit import report, small_rules


def _errors(root: Path, only: str = "lifecycles/") -> list[str]:
    """The errors load_rules raises in files under `only` (a broken lifecycle also leaves its
    matchers dangling, which is reported too)."""
    with pytest.raises(RuleErrors) as caught:
        load_rules(root)
    errors = [str(e) for e in caught.value.errors]
    assert all(e.startswith(only) or "or its lifecycle file has errors" in e for e in errors), errors
    return [e for e in errors if e.startswith(only)]


def _lifecycle(root: Path, text: str, name: str = "edgeprod") -> Path:
    path = root / "lifecycles" / f"{name}.yaml"
    path.write_text(text)
    return path


def test_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    _lifecycle(root, "product: edgeprod\ntitle: Edge\nsources: [https://example.org]\nreleases:\n"
                     "  - releaseCycle: 12\n    releaseDate: 2020-01-01\n    eol: soon\n")
    errors = _errors(root)
    assert "lifecycles/edgeprod.yaml:5: releases[0].releaseCycle: Input should be a valid string " \
           "(got 12: quote it)" in errors
    assert any(e.startswith("lifecycles/edgeprod.yaml:7: releases[0].eol:") for e in errors), errors


def test_unknown_field_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    _lifecycle(root, "product: edgeprod\ntitle: Edge\nsources: [https://example.org]\nreleases:\n"
                     "  - releaseCycle: '1'\n    eol: false\n    endOfLife: 2030-01-01\n")
    (error,) = _errors(root)
    assert error.startswith("lifecycles/edgeprod.yaml:7: releases[0].endOfLife: unknown field (allowed: ")
    assert "eoes" in error


def test_yaml_that_builds_objects_is_refused(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    marker = tmp_path / "pwned"
    _lifecycle(root, f"product: !!python/object/apply:os.system ['touch {marker}']\n")
    (error,) = _errors(root)
    assert error.startswith("lifecycles/edgeprod.yaml:1: invalid YAML:")
    assert "tags that build objects are not allowed" in error
    assert not marker.exists()


def test_anchors_and_aliases_are_refused(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n"
    _lifecycle(root, bomb)
    (error,) = _errors(root)
    assert "anchors and aliases are not allowed" in error and ":2:" in error


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    path = _lifecycle(root, "")
    with open(path, "wb") as handle:
        handle.truncate(MAX_RULE_FILE_BYTES + 1)
    (error,) = _errors(root)
    assert f"over the limit of {MAX_RULE_FILE_BYTES} bytes" in error


def test_broken_yaml_names_its_line(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    _lifecycle(root, "product: edgeprod\ntitle: [unclosed\n")
    (error,) = _errors(root)
    assert error.startswith("lifecycles/edgeprod.yaml:") and "invalid YAML" in error


def test_dates_out_of_order(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    _lifecycle(root, "product: edgeprod\ntitle: Edge\nsources: [https://example.org]\nreleases:\n"
                     "  - releaseCycle: '1'\n    releaseDate: 2020-01-01\n    eol: 2025-01-01\n"
                     "    eoes: 2024-01-01\n")
    assert _errors(root) == ["lifecycles/edgeprod.yaml:8: releases[0].eoes: eoes 2024-01-01 is before eol 2025-01-01"]


def test_duplicates_and_dangling_references(tmp_path: Path) -> None:
    root = small_rules(tmp_path, {
        "lifecycles/more/edgeprod.yaml":
        "product: edgeprod\ntitle: Again\nsources: [https://example.org]\n"
        "releases:\n  - {releaseCycle: '1', eol: true}\n",
        "matchers/bad.yaml": "matchers:\n  - {id: edge-pkg, kind: os, names: [x], product: nosuch}\n"
                             "  - {id: ok, kind: os, names: [y], product: edgeprod, cycle: {map: {a: '77'}}}\n",
        "matchers/rx.yaml": "matchers:\n  - {id: rx, kind: os, name_regex: '(', product: edgeprod}\n",
        "exceptions/bad.yaml": "exceptions:\n  - {id: e1, scope: {product: edgeprod, cycle: '42'}, owner: me, "
                               "reason: r, expires: 2030-01-01}\n",
    })
    errors = "\n".join(_errors(root, ""))
    assert "lifecycles/more/edgeprod.yaml:1: product: product 'edgeprod' is already defined in " \
           "lifecycles/edgeprod.yaml" in errors
    assert "matchers/edge.yaml:2: id: matcher 'edge-pkg' is already defined in matchers/bad.yaml:2" in errors
    assert "matchers/bad.yaml:2: product: no lifecycle for product 'nosuch'" in errors
    assert "matchers/bad.yaml:3: cycle.map: edgeprod has no cycle '77'" in errors
    assert "matchers/rx.yaml:2: matchers[0].name_regex: bad regular expression" in errors
    assert "exceptions/bad.yaml:2: scope.cycle: edgeprod has no cycle '42'" in errors


def test_assessment_scores_outside_the_scale(tmp_path: Path) -> None:
    root = small_rules(tmp_path, {"assessments/x.yaml": "system: x\nowner: me\nassessed: 2030-01-01\n"
                                                        "likelihood: {L2: {score: 7}}\nimpact: {C9: {score: 2}}\n"})
    errors = "\n".join(_errors(root, "assessments/"))
    # Each error names the line of the criterion, not the top of the file.
    assert "assessments/x.yaml:4: likelihood.L2.score: 7 is outside 1-6" in errors
    assert "assessments/x.yaml:5: impact.C9: not a criterion in scoring.yaml" in errors


def test_bad_rules_leave_the_rules_in_force(tmp_path: Path) -> None:
    root = small_rules(tmp_path / "rules")
    store = Store(tmp_path / "db.duckdb")
    try:
        store.write_reports([report("hostname:a", packages=[("edgeprod", "2.0-1")])], via="file")
        assert sync_rules(store.con, root).changed
        before = rules_in_force(store.con)
        score(store.con)
        (root / "matchers" / "edge.yaml").write_text("matchers:\n  - {id: edge-pkg, kind: package, bogus: 1}\n")
        result = sync_rules(store.con, root)
        assert not result.changed and result.errors is not None
        assert "matchers/edge.yaml:2" in str(result.errors)
        assert rules_in_force(store.con) == before
        # the two matchers of matchers/edge.yaml and the one the lifecycle implies (software.edgeprod)
        assert store.con.execute("SELECT count(*) FROM rule_matchers").fetchone() == (3,)
        run = score(store.con)  # scoring goes on with the rules in force
        assert run.findings == 1
    finally:
        store.close()


def test_rules_check_command_reports_and_fails(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    _lifecycle(root, "product: edgeprod\ntitle: Edge\nsources: [not-a-url]\nreleases: []\n")
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "rules", "check", "--rules", str(root)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{root}/lifecycles/edgeprod.yaml:3: sources[0]:" in result.stderr
    assert f"{root}/lifecycles/edgeprod.yaml:4: releases:" in result.stderr
    assert "error(s) in the rule files" in result.stderr


def test_snmp_detection_rules_are_checked_too(tmp_path: Path) -> None:
    root = small_rules(tmp_path, {"snmp/broken.yaml": "vendor: acme\nos:\n  - id: acmeos\n    name: AcmeOS\n"
                                                      "    detect:\n      - sysDescr: ['(unclosed']\n"})
    (error,) = _errors(root, only="snmp/")
    assert error.startswith("snmp/broken.yaml:6: os[0].detect[0].sysDescr[0]: bad regular expression")


def test_impossible_date_names_file_line_and_field(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    _lifecycle(root, "product: edgeprod\ntitle: Edge\nsources: [https://x.example]\nreleases:\n"
                     "  - releaseCycle: \"1\"\n    eol: 2027-02-30\n")
    (error,) = _errors(root)
    assert error.startswith("lifecycles/edgeprod.yaml:6: releases[0].eol:") and "2027-02-30" in error


def test_bands_must_cover_every_score_once(tmp_path: Path) -> None:
    root = small_rules(tmp_path)
    scoring = root / "scoring.yaml"
    text = scoring.read_text()
    assert "- {name: green, min_score: 0}" in text
    scoring.write_text(text.replace("- {name: green, min_score: 0}", "- {name: green, min_score: 8}"))
    errors = _errors(root, only="scoring.yaml")
    assert any("bands: each band needs its own name and its own min_score" in e for e in errors), errors
    scoring.write_text(text.replace("- {name: green, min_score: 0}", "- {name: green, min_score: 2}"))
    (error,) = _errors(root, only="scoring.yaml")
    assert "bands: no band for scores below 2" in error


def test_supplement_adds_cycles_and_names_its_conflicts(tmp_path: Path) -> None:
    """lifecycle-supplements/ adds cycles to a product defined elsewhere; one the product already
    has (an endoflife.date refresh that now covers it) or a product that does not exist is an error
    naming the supplement's file and line."""
    root = small_rules(tmp_path, {
        "lifecycle-supplements/edgeprod.yaml": "product: edgeprod\nsources: [https://example.org/old]\n"
                                               "releases:\n  - {releaseCycle: '0', eol: true}\n"
                                               "  - {releaseCycle: '3', eol: true}\n",
        "lifecycle-supplements/nosuch.yaml": "product: nosuch\nsources: [https://example.org]\n"
                                             "releases:\n  - {releaseCycle: '1', eol: true}\n",
    })
    errors = _errors(root, only="lifecycle-supplements/")
    assert errors == [
        "lifecycle-supplements/edgeprod.yaml:5: releaseCycle: edgeprod already has cycle '3' "
        "(in lifecycles/edgeprod.yaml or another supplement): remove it here",
        "lifecycle-supplements/nosuch.yaml:1: product: no lifecycle for product 'nosuch' to supplement",
    ]
    (root / "lifecycle-supplements" / "nosuch.yaml").unlink()
    (root / "lifecycle-supplements" / "edgeprod.yaml").write_text(
        "product: edgeprod\nsources: [https://example.org/old]\nreleases:\n  - {releaseCycle: '0', eol: true}\n")
    ruleset = load_rules(root)
    (supplement,) = ruleset.other["supplements"]
    assert [r.releaseCycle for r in supplement.rule.releases] == ["0"]


def test_edition_case_that_names_no_cycle_is_an_error(tmp_path: Path) -> None:
    root = small_rules(tmp_path, {"matchers/edition.yaml": (
        "matchers:\n  - id: edge-edition\n    kind: os\n    names: [edgeed]\n    product: edgeprod\n"
        "    cycle:\n      map: {'7': '{edition}'}\n"
        "      edition: {regex: '^a', then: '1', otherwise: '2', cases: [{regex: '^b', then: '9'}]}\n")})
    with pytest.raises(RuleErrors) as caught:
        load_rules(root)
    assert [str(e) for e in caught.value.errors] == [
        "matchers/edition.yaml:2: cycle.edition.cases: edgeprod has no cycle for edition '9'"]
