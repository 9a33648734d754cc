"""The Scorer off the ingest path: own thread and connection, debounced, changed assets only, rule changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from estate.collector.ruleset.rules import RuleErrors, digest_rules, load_rules
from estate.collector.scoring.scorer import RuleWatch, Scorer
from estate.collector.store.database import Store

from .rulekit import report, small_rules


def _runs(store: Store) -> list[tuple[int, str]]:
    return [(int(r[0]), str(r[1])) for r in store.con.execute(
        "SELECT assets, rules_digest FROM score_runs ORDER BY scored_at").fetchall()]


def test_scorer_rescores_only_what_changed_debounced(tmp_path: Path) -> None:
    rules = small_rules(tmp_path / "rules")
    store = Store(tmp_path / "s.duckdb")
    store.write_reports([report(f"hostname:h{i}", packages=[("edgeprod", "1.0-1")]) for i in range(5)], via="file")
    scorer = Scorer(store.con.cursor(), rules, debounce_s=0.3).start()
    try:
        assert scorer.wait_idle(60)
        assert _runs(store)[-1][0] == 5  # the first run scores every asset
        for i in range(10):  # ten commits in quick succession: one run
            store.write_reports([report("hostname:h1", packages=[("edgeprod", f"{1 + i % 2}.0-1")])], via="file")
            scorer.notify(["hostname:h1"])
        assert scorer.wait_idle(60)
        runs = _runs(store)
        assert len(runs) <= 3 and runs[-1][0] == 1, runs  # debounced, and only the changed asset
        status = store.con.execute("SELECT status FROM findings WHERE asset_id = 'hostname:h1' "
                                   "AND product = 'edgeprod'").fetchone()
        assert status is not None
        # A rule file changes: the rules are reloaded and every asset rescored.
        lifecycle = rules / "lifecycles" / "edgeprod.yaml"
        lifecycle.write_text(lifecycle.read_text().replace("Edge product", "Edge product, renamed"))
        scorer.notify()
        assert scorer.wait_idle(60)
        last = _runs(store)[-1]
        assert last[0] == 5 and last[1] == digest_rules(rules)
    finally:
        scorer.close(finish_within_s=0)
    store.close()


def test_rule_watch_digest_matches_and_follows_changes(tmp_path: Path) -> None:
    rules = small_rules(tmp_path / "rules")
    watch = RuleWatch(rules)
    assert watch.digest() == digest_rules(rules)
    assert watch.digest() == digest_rules(rules)  # from the stat cache
    scoring = rules / "scoring.yaml"
    text = scoring.read_text()
    scoring.write_text(text + "\n# a comment\n")
    assert watch.digest() == digest_rules(rules) != load_rules(small_rules(tmp_path / "again")).digest


def test_rule_files_are_checked_before_they_are_read(tmp_path: Path) -> None:
    """A link to /dev/zero and a 2 GiB sparse file cost a stat each, never a read."""
    rules = small_rules(tmp_path / "rules")
    (rules / "matchers" / "zero.yaml").symlink_to("/dev/zero")
    with open(rules / "matchers" / "huge.yaml", "wb") as handle:
        handle.truncate(2 * 1024**3)
    os.mkfifo(rules / "matchers" / "fifo.yaml")
    started = time.perf_counter()
    digest = digest_rules(rules)
    assert RuleWatch(rules).digest() == digest
    with pytest.raises(RuleErrors) as refused:
        load_rules(rules)
    assert time.perf_counter() - started < 10
    message = str(refused.value)
    assert "matchers/zero.yaml" in message and "not a regular file" in message
    assert "matchers/fifo.yaml" in message
    assert "matchers/huge.yaml" in message and "over the limit" in message
