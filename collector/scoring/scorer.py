"""Rules into DuckDB, scoring by the named SQL files, and the explanation of one asset's score.

`sync_rules` loads the rule files when their digest differs from the rules in force, in one
transaction: a rule set that fails its checks is reported and the rules in force stay. `score`
runs collector/scoring/sql/findings.sql then risk.sql for an as_of date over all current assets or a
given few (the collector rescoring what it just stored).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

from estate.collector.ruleset import ownership
from estate.collector.ruleset.rules import (
    Distribution,
    Lifecycle,
    Located,
    Matcher,
    Release,
    Roots,
    RuleError,
    RuleErrors,
    RuleSet,
    Scoring,
    layered_files,
    layers,
    load_rules,
    rule_file_sha256,
)
from estate.collector.store.labels import refresh_labels

log = logging.getLogger("estate.collector")

# A pattern that matches nothing (a word boundary that is not one), for patterns a rule leaves out.
NEVER = r"\b\B"
RULE_TABLES = ("rule_files", "rule_products", "rule_identifiers", "rule_cycles", "rule_matchers",
               "rule_matcher_names", "rule_cycle_maps", "rule_edition_cases", "rule_params", "rule_l1_steps",
               "rule_criteria", "rule_bands", "rule_adjustments", "rule_assessments", "rule_exceptions",
               "rule_distributions", "rule_coverage_limits", "rule_vocabulary", "rule_ownership")


# Rows of assets no longer in risk (stale, retired): removed after each score run.
OUT_OF_RISK = tuple(
    f"DELETE FROM {table} WHERE {column} NOT IN (SELECT asset_id FROM current_scored_reports){extra}"  # noqa: S608
    for table, column, extra in (("findings", "asset_id", ""), ("asset_risk", "asset_id", ""),
                                 ("risk_criteria", "subject", " AND scope = 'asset'")))


def cycle_key(cycle: str) -> str:
    """Lower case, without leading zeros in numbers ("17.09" and "17.9" are one cycle); findings.sql does the same."""
    return re.sub(r"(^|\.)0+(\d)", r"\1\2", cycle.lower())


def sql_file(name: str) -> str:
    return (resources.files("estate.collector.scoring") / "sql" / name).read_text()


def _milestone(value: object) -> tuple[dt.date | None, bool | None]:
    if isinstance(value, bool):
        return None, value
    if isinstance(value, dt.date):
        return value, None
    return None, None


def _cycle_row(product: str, release: Release, file: str, line: int) -> dict[str, Any]:
    """One rule_cycles row: a release of a lifecycle (or of a supplement to one)."""
    eoas, eoas_flag = _milestone(release.eoas)
    eol, eol_flag = _milestone(release.eol)
    eoes, eoes_flag = _milestone(release.eoes)
    return {
        "product": product, "cycle": release.releaseCycle, "cycle_key": cycle_key(release.releaseCycle),
        "label": release.releaseLabel, "codename": release.codename, "release_date": release.releaseDate,
        "eoas": eoas, "eoas_flag": eoas_flag, "eol": eol, "eol_flag": eol_flag, "eoes": eoes,
        "eoes_flag": eoes_flag, "lts": bool(release.lts) if release.lts is not None else None,
        "latest": release.latest, "latest_date": release.latestReleaseDate, "file": file, "line": line}


def rule_rows(ruleset: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """The rule set as rows of the rule_* tables."""
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in RULE_TABLES}
    for name, (kind, sha) in sorted(ruleset.files.items()):
        rows["rule_files"].append({"file": name, "kind": kind, "sha256": sha})
    for loc in ruleset.lifecycles:
        life: Lifecycle = loc.rule
        imported = f"{life.imported.source} {life.imported.commit} {life.imported.date}" if life.imported else None
        rows["rule_products"].append({"product": life.product, "title": life.title, "category": life.category,
                                      "sources": list(life.sources), "imported_from": imported, "file": loc.file})
        for ident in life.identifiers:
            for kind in ("purl", "cpe", "repology"):
                if getattr(ident, kind):
                    rows["rule_identifiers"].append({"product": life.product, "type": kind,
                                                     "value": getattr(ident, kind)})
        for index, release in enumerate(life.releases):
            rows["rule_cycles"].append(_cycle_row(life.product, release, loc.file,
                                                  loc.lines.get(("releases", index), loc.line)))
    for loc in ruleset.other.get("supplements", []):
        for index, release in enumerate(loc.rule.releases):
            rows["rule_cycles"].append(_cycle_row(loc.rule.product, release, loc.file,
                                                  loc.lines.get(("releases", index), loc.line)))
    for ord_, loc in enumerate(ruleset.matchers):
        m: Matcher = loc.rule
        edition = m.cycle.edition
        rows["rule_matchers"].append({
            "matcher_id": m.id, "ord": ord_, "kind": m.kind, "product": m.product, "ns": m.ns,
            "name_regex": m.name_regex, "scheme": m.scheme, "cycle_source": m.cycle.source,
            "cycle_regex": m.cycle.regex, "edition_regex": edition.regex if edition else None,
            "edition_then": edition.then if edition else None, "edition_else": edition.otherwise if edition else None,
            "priority": m.priority, "note": m.note, "file": loc.file, "line": loc.line})
        for name in m.names or ():
            rows["rule_matcher_names"].append({"matcher_id": m.id, "kind": m.kind, "name": name})
        for key, cycle in (m.cycle.map or {}).items():
            rows["rule_cycle_maps"].append({"matcher_id": m.id, "key": key.lower(), "cycle": cycle_key(cycle)})
        for case_ord, case in enumerate(edition.cases if edition else ()):
            rows["rule_edition_cases"].append({"matcher_id": m.id, "ord": case_ord, "regex": case.regex,
                                               "edition": case.then})
    assert ruleset.scoring is not None
    scoring: Scoring = ruleset.scoring.rule
    params = {"eol_soon_days": scoring.status.eol_soon_days, "stale_after_days": scoring.status.stale_after_days,
              "l1_eol": scoring.l1.eol,
              "l1_extended": scoring.l1.extended, "l1_supported": scoring.l1.supported,
              "l1_unknown": scoring.l1.unknown, "l1_all_accepted": scoring.l1.all_accepted,
              "likelihood_max": scoring.likelihood.max_score, "impact_max": scoring.impact.max_score,
              "likelihood_default": scoring.likelihood.default_score,
              "impact_default": scoring.impact.default_score}
    rows["rule_params"] = [{"name": k, "value": float(v)} for k, v in params.items()]
    rows["rule_l1_steps"] = [{"within_days": s.within_days, "score": s.score} for s in scoring.l1.steps]
    for side_name, side in (("likelihood", scoring.likelihood), ("impact", scoring.impact)):
        for criterion, definition in side.criteria.items():
            rows["rule_criteria"].append({"side": side_name, "criterion": criterion, "title": definition.title})
    rows["rule_bands"] = [{"band": b.name, "min_score": b.min_score} for b in scoring.bands]
    rows["rule_adjustments"] = [{"name": a.name, "side": a.side, "exposed": a.when.exposed, "label": a.when.label,
                                 "label_values": a.when.values, "amount": a.add} for a in scoring.adjustments]
    for loc in ruleset.assessments:
        a = loc.rule
        for side_name, given in (("likelihood", a.likelihood), ("impact", a.impact)):
            for criterion, value in sorted(given.items()):
                rows["rule_assessments"].append({"system": a.system, "side": side_name, "criterion": criterion,
                                                 "score": value.score, "note": value.note, "owner": a.owner,
                                                 "assessed": a.assessed, "file": loc.file})
    for loc in ruleset.exceptions:
        e = loc.rule
        rows["rule_exceptions"].append({"exception_id": e.id, "asset_id": e.scope.asset, "system": e.scope.system,
                                        "product": e.scope.product, "cycle": e.scope.cycle, "owner": e.owner,
                                        "reason": e.reason, "expires": e.expires, "file": loc.file,
                                        "line": loc.line})
    for loc in ruleset.distributions:
        rows["rule_distributions"].append(distribution_row(loc))
        dist: Distribution = loc.rule
        for index, limit in enumerate(dist.limits):
            rows["rule_coverage_limits"].append({
                "limit_id": limit.id, "distribution": dist.id,
                "os_cycles": [cycle_key(c) for c in limit.os_cycles] if limit.os_cycles else None,
                "components": limit.components, "product": limit.product,
                "cycles": [cycle_key(c) for c in limit.cycles] if limit.cycles else None,
                "until": limit.until, "until_phase": limit.until_phase,
                "until_lifecycle": bool(limit.until_lifecycle), "note": limit.note,
                "sources": list(limit.sources), "file": loc.file,
                "line": loc.lines.get(("limits", index), loc.line)})
    rows.update(ownership.rule_rows(ruleset))
    return rows


def any_of(patterns: Sequence[str]) -> str | None:
    """One RE2 pattern matching where any of patterns matches (each keeps its own flags); None for none."""
    return "|".join(f"(?:{p})" for p in patterns) if patterns else None


def distribution_row(loc: Located) -> dict[str, Any]:
    dist: Distribution = loc.rule
    row: dict[str, Any] = {
        "distribution": dist.id, "title": dist.title, "product": dist.product, "os_ids": list(dist.os_ids),
        "managers": list(dist.managers), "phase_names": [p.name for p in dist.phases],
        "phase_ends": [p.ends for p in dist.phases], "unmarked": dist.unmarked,
        "managed_paths": dist.managed_paths, "kernels": dist.kernels, "sources": list(dist.sources),
        "file": loc.file, "line": loc.line}
    for side, prefix in (("vendor", "vendor"), ("third_party", "third")):
        signs = getattr(dist, side)
        for kind in ("origins", "maintainers", "distributions", "versions"):
            row[f"{prefix}_{kind}"] = any_of(getattr(signs, kind))
    return row


def _arrow(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> pa.Table:
    columns = con.execute(f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{table}' "  # noqa: S608
                          "AND database_name = current_database() ORDER BY column_index").fetchall()
    names = [c[0] for c in columns]
    return pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows]) if rows else None


def store_rules(con: duckdb.DuckDBPyConnection, ruleset: RuleSet, rules_dir: Roots) -> None:
    """Replace the rules in force by ruleset, in one transaction."""
    rows = rule_rows(ruleset)
    con.execute("BEGIN TRANSACTION")
    try:
        for table in RULE_TABLES:
            con.execute(f"DELETE FROM {table}")  # noqa: S608
            data = _arrow(con, table, rows[table])
            if data is not None:
                con.register("incoming_rules", data)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rules")  # noqa: S608
                con.unregister("incoming_rules")
        con.execute("INSERT INTO rule_loads VALUES (?, ?, now(), ?)",
                    [ruleset.digest, ", ".join(map(str, layers(rules_dir))), len(ruleset.files)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def rules_in_force(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT digest FROM rule_loads ORDER BY loaded_at DESC LIMIT 1").fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class SyncResult:
    """What sync_rules did: loaded new rules, kept the ones in force, or found nothing changed."""

    changed: bool
    errors: RuleErrors | None = None


def sync_rules(con: duckdb.DuckDBPyConnection, rules_dir: Roots) -> SyncResult:
    """Load the rule files (one folder, or layers: shipped then local) if they changed; on errors keep
    the rules in force and say why."""
    digest = RuleWatch(rules_dir).digest()
    if digest and digest == rules_in_force(con):
        return SyncResult(changed=False)
    try:
        ruleset = load_rules(rules_dir)
    except RuleErrors as exc:
        return SyncResult(changed=False, errors=exc)
    store_rules(con, ruleset, rules_dir)
    return SyncResult(changed=True)


def match_name_patterns(con: duckdb.DuckDBPyConnection) -> None:
    """Fill name_regex_match: one query per name_regex matcher, its pattern a parameter.

    DuckDB compiles a regular expression given as a constant once; one read from a column is
    compiled again for every row, which made pattern matching cost seconds on large estates.
    """
    for matcher_id, kind, ns, pattern in con.execute(
            "SELECT matcher_id, kind, ns, name_regex FROM rule_matchers WHERE name_regex IS NOT NULL "
            "ORDER BY ord").fetchall():
        con.execute("INSERT INTO name_regex_match SELECT kind, ns, name, ? FROM obs_names "
                    "WHERE kind = ? AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], ns)) "
                    "AND regexp_full_match(name, ?)", [matcher_id, kind, ns, ns, pattern])


def classify_shipped(con: duckdb.DuckDBPyConnection) -> None:
    """Fill shipped (who ships each observation) by sql/classify.sql, once per distribution in use."""
    query = sql_file("classify.sql")
    cursor = con.execute("SELECT * FROM rule_distributions WHERE distribution IN "
                         "(SELECT DISTINCT distribution FROM shipped_keys) ORDER BY distribution")
    names = [d[0] for d in cursor.description or ()]
    for values in cursor.fetchall():
        d = dict(zip(names, values, strict=True))
        params: dict[str, Any] = {"distribution": d["distribution"], "title": d["title"], "managers": d["managers"],
                                  "unmarked": d["unmarked"], "has_vendor_origins": d["vendor_origins"] is not None,
                                  "has_kernels": d["kernels"] is not None}
        for key in ("vendor_origins", "vendor_maintainers", "vendor_distributions", "vendor_versions",
                    "third_origins", "third_maintainers", "third_distributions", "third_versions",
                    "managed_paths", "kernels"):
            params[key] = d[key] if d[key] is not None else NEVER
        con.execute(query, params)


# What score() runs, in order: the named SQL files, and the two steps that give DuckDB each rule
# pattern as a constant.
SCORING_STEPS: tuple[str | Callable[[duckdb.DuckDBPyConnection], None], ...] = (
    "observations.sql", match_name_patterns, "matching.sql", classify_shipped, "findings.sql", "risk.sql")


@dataclass(frozen=True)
class ScoreRun:
    as_of: dt.date
    assets: int
    findings: int
    seconds: float
    run_id: int = 0
    live: bool = True


# Today's results live in these tables (readers rely on them); every run also keeps its rows in run_<table>.
RESULT_TABLES = ("findings", "asset_risk", "system_risk", "risk_criteria")


def _shadow_results(con: duckdb.DuckDBPyConnection) -> None:
    """Empty temporary tables named like the result tables: the scoring SQL then writes into them.

    DuckDB resolves an unqualified name to the temporary table first, so a run for another date
    fills these and today's results in the database stay untouched.
    """
    database = con.execute("SELECT current_database()").fetchone()
    assert database is not None
    for table in RESULT_TABLES:
        con.execute(f'CREATE OR REPLACE TEMP TABLE {table} AS '  # noqa: S608  (names from RESULT_TABLES)
                    f'SELECT * FROM "{database[0]}".main.{table} LIMIT 0')


def _keep_run(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Copy this run's rows (the assets in scope, every system) into the run_* tables."""
    scoped = {"findings": "asset_id IN (SELECT asset_id FROM scope_assets)",
              "asset_risk": "asset_id IN (SELECT asset_id FROM scope_assets)",
              "system_risk": "true",
              "risk_criteria": "scope = 'system' OR subject IN (SELECT asset_id FROM scope_assets)"}
    for table, where in scoped.items():
        # Only the columns both tables have: a column added to a result table later is simply not kept.
        columns = [row[0] for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database() "
            "AND column_name IN (SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
            "AND database_name = current_database()) ORDER BY column_index", [f"run_{table}", table]).fetchall()]
        names = ", ".join(f'"{c}"' for c in columns if c != "run_id")
        con.execute(f"INSERT INTO run_{table} (run_id, {names}) SELECT ?, {names} FROM {table} "  # noqa: S608
                    f"WHERE {where}", [run_id])


def _drop_superseded(con: duckdb.DuckDBPyConnection, run_id: int, as_of: dt.date) -> None:
    """Drop what this live run supersedes: earlier live runs' rows of the same day for the same assets.

    The collector rescores after every burst of reports, many times a day; each run keeps the rows of
    the assets it scored and of every system. A day's trend point and report read each asset's latest
    row of that day (read/summary.py), so earlier rows of the same day and assets are never read again:
    without this the run_* tables would grow with every rescoring instead of with days. score_runs keeps
    every run.
    """
    earlier = "run_id IN (SELECT run_id FROM score_runs WHERE live AND as_of = $day AND run_id < $run)"
    scoped = "asset_id IN (SELECT asset_id FROM scope_assets)"
    for table, which in (("run_findings", scoped), ("run_asset_risk", scoped), ("run_system_risk", "true"),
                         ("run_risk_criteria", "scope = 'system' OR subject IN (SELECT asset_id FROM scope_assets)")):
        con.execute(f"DELETE FROM {table} WHERE {earlier} AND ({which})",  # noqa: S608 (names written here)
                    {"day": as_of, "run": run_id})


def score(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None,
          assets: Iterable[str] | None = None, *, live: bool = True) -> ScoreRun:
    """Score the current assets (or only those given) for as_of (today by default), in one transaction.

    A live run replaces the results readers see (findings, asset_risk, system_risk, risk_criteria);
    a run with live=False (`score --as-of` for a date other than today: a roadmap, a look back)
    scores every asset and is kept only in the run_* tables. Every run is recorded in score_runs
    under its run_id, and its rows are kept in run_*.
    """
    as_of = as_of or dt.date.today()
    if not live:
        assets = None  # a what-if date has no today's rows to complete: score everything
    if rules_in_force(con) is None:
        raise RuleErrors([RuleError("", 0, "", "no rules loaded: load them first (sync_rules)")])
    started = time.perf_counter()
    assets = None if assets is None else list(assets)
    refresh_labels(con, assets)  # issue 16: effective labels (ownership, vocabulary) before scoring reads them
    con.execute(f"SET VARIABLE as_of = DATE '{as_of.isoformat()}'")
    con.execute("BEGIN TRANSACTION")
    try:
        # Scoring reads current_scored_reports: assets in risk (not stale, not retired), effective labels.
        if not live:
            _shadow_results(con)
        if assets is None:
            con.execute("CREATE OR REPLACE TEMP TABLE scope_assets AS SELECT asset_id FROM current_scored_reports")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE scope_assets (asset_id VARCHAR)")
            con.execute("INSERT INTO scope_assets SELECT DISTINCT unnest(?::VARCHAR[]) "
                        "INTERSECT SELECT asset_id FROM current_scored_reports", [list(assets)])
        for step in SCORING_STEPS:
            if isinstance(step, str):
                con.execute(sql_file(step))
            else:
                step(con)
        # Assets that went stale or were retired leave current risk (they stay in the store and asset_status).
        for statement in OUT_OF_RISK:
            con.execute(statement)
        counts = con.execute("SELECT (SELECT count(*) FROM scope_assets), (SELECT count(*) FROM findings "
                             "WHERE asset_id IN (SELECT asset_id FROM scope_assets))").fetchone()
        assert counts is not None
        seconds = time.perf_counter() - started
        row = con.execute("INSERT INTO score_runs (as_of, scored_at, rules_digest, assets, findings, seconds, live, "
                          "scope) VALUES (?, now(), ?, ?, ?, ?, ?, ?) RETURNING run_id",
                          [as_of, rules_in_force(con), counts[0], counts[1], seconds, live,
                           "all" if assets is None else "assets"]).fetchone()
        assert row is not None
        _keep_run(con, int(row[0]))
        if live:
            _drop_superseded(con, int(row[0]), as_of)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        if not live:
            for table in RESULT_TABLES:
                con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return ScoreRun(as_of, int(counts[0]), int(counts[1]), seconds, int(row[0]), live)


class RuleWatch:
    """Tells cheaply whether the rule files changed: a stat of each, and a hash only of those whose stat moved.

    The digest equals digest_rules(roots) (the one rule_loads records), without re-reading files
    whose size, mtime and inode are unchanged; "" when a rules folder is missing.
    """

    def __init__(self, roots: Roots) -> None:
        self.roots = roots
        self._known: dict[str, tuple[tuple[int, ...], bytes]] = {}

    def digest(self) -> str:
        if not all(root.is_dir() for root in layers(self.roots)):
            return ""
        digest = hashlib.sha256()
        known: dict[str, tuple[tuple[int, ...], bytes]] = {}
        for name, path, _, _ in layered_files(self.roots):
            try:
                info = path.stat()
                key: tuple[int, ...] = (info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)
            except OSError:
                key = ()
            cached = self._known.get(name)
            file_hash = cached[1] if cached is not None and cached[0] == key and key else rule_file_sha256(path)
            known[name] = (key, file_hash)
            digest.update(name.encode() + b"\0")
            digest.update(file_hash)
        self._known = known
        return digest.hexdigest()


class Scorer:
    """Rescores off the ingest path: its own thread and DuckDB connection, debounced.

    The writer only calls notify() after a commit, which returns at once. The scorer's thread then
    waits until commits pause for `debounce_s` (at most `max_delay_s`), reloads the rules if their
    files changed (RuleWatch) and scores the assets whose state changed since its last run
    (asset_state.changed_commit), or every asset when the rules or the date changed. Receipts never
    wait for it; whatever fails here is logged and retried on the next run.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, rules_dir: Roots, debounce_s: float = 2.0,
                 max_delay_s: float = 30.0, recheck_s: float = 60.0,
                 on_run: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.on_run = on_run
        self.con = con
        self.rules_dir = rules_dir
        self.debounce_s = debounce_s
        self.max_delay_s = max_delay_s
        self.recheck_s = recheck_s
        self.watch = RuleWatch(rules_dir)
        self.runs = 0
        self._watermark: int | None = None  # changed_commit scored so far; None: score everything
        self._scored_on: dt.date | None = None
        self._reported: str | None = None
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._dirty = True
        self._lock = threading.Lock()
        self._stopping = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> Scorer:
        """Run in its own thread, with a first run soon (it scores every asset once)."""
        self._thread = threading.Thread(target=self._loop, name="scorer", daemon=True)
        self._thread.start()
        self.notify()
        return self

    def notify(self, asset_ids: Sequence[str] = ()) -> None:
        """Something was committed (asset_ids, for the log): score it soon. Never blocks."""
        with self._lock:
            self._dirty = True
            self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until everything notified so far is scored; False on timeout."""
        return self._idle.wait(timeout_s)

    def close(self, finish_within_s: float | None = None) -> None:
        """Stop the thread, after a last run for what is pending if it ends within finish_within_s
        (None: however long it takes); a run still going then is interrupted (the next start redoes it)."""
        self._closing = True  # no more debouncing: run what is pending now
        if self._thread is not None:
            self.notify()
            self.wait_idle(1e9 if finish_within_s is None else finish_within_s)
        self._stopping = True
        self._wake.set()
        while self._thread is not None and self._thread.is_alive():
            # An interrupt only stops the statement running at that moment: repeat until the thread is out.
            with contextlib.suppress(duckdb.Error):
                self.con.interrupt()
            self._thread.join(0.1)
        self.con.close()

    def _loop(self) -> None:
        while not self._stopping:
            woken = self._wake.wait(self.recheck_s)
            if self._stopping:
                return
            if woken:
                first = time.monotonic()
                # Debounce: go on waiting while commits keep coming, up to max_delay_s in all.
                while not (self._stopping or self._closing) and time.monotonic() - first < self.max_delay_s:
                    self._wake.clear()
                    if not self._wake.wait(self.debounce_s):
                        break
            self._wake.clear()
            with self._lock:
                self._dirty = False
            with self.on_run() if self.on_run is not None else contextlib.nullcontext():
                self.run_once()
            with self._lock:
                if not self._dirty:
                    self._idle.set()

    def run_once(self) -> ScoreRun | None:
        """Reload changed rules, then score what changed since the last run (in this thread)."""
        try:
            digest = self.watch.digest()
            changed_rules = False
            if digest != rules_in_force(self.con):
                sync = sync_rules(self.con, self.rules_dir)
                changed_rules = sync.changed
                if sync.changed:
                    log.info("rules loaded from %s (digest %s)", ", ".join(map(str, layers(self.rules_dir))),
                             (rules_in_force(self.con) or "")[:12])
                if sync.errors is not None and str(sync.errors) != self._reported:
                    self._reported = str(sync.errors)
                    log.error("rule files refused, the rules in force stay:\n%s", sync.errors)
            if rules_in_force(self.con) is None:
                return None
            row = self.con.execute("SELECT max(changed_commit) FROM asset_state").fetchone()
            top = int(row[0]) if row and row[0] is not None else 0
            today = dt.date.today()
            if changed_rules or self._watermark is None or self._scored_on != today:
                assets: list[str] | None = None
            else:
                assets = [r[0] for r in self.con.execute(
                    "SELECT asset_id FROM asset_state WHERE changed_commit > ?", [self._watermark]).fetchall()]
                if not assets:
                    return None
            run = score(self.con, today, assets)
            self._watermark, self._scored_on = top, today
            self.runs += 1
            return run
        except Exception as exc:
            # Scoring is derived data: the reports are stored and acknowledged; the next run redoes it.
            log.error("scoring failed (reports are stored; retried on the next run): %s", exc)
            return None


# --- explain -------------------------------------------------------------------------------------

def explain(con: duckdb.DuckDBPyConnection, asset: str) -> str | None:
    """How an asset's findings and risk were reached, for people; None if no such asset."""
    rows = con.execute("SELECT r.asset_id, hostname, os_pretty_name, kernel, "
                       "element_at(coalesce(l.labels, r.labels), 'system')[1], s.status, s.last_seen "
                       "FROM current_reports r LEFT JOIN current_asset_labels l USING (asset_id) "
                       "LEFT JOIN asset_status s USING (asset_id) WHERE r.asset_id = ? OR hostname = ? "
                       "ORDER BY r.asset_id = ? DESC, r.asset_id LIMIT 11", [asset, asset, asset]).fetchall()
    if not rows:
        return None
    # Host names repeat (clones, "localhost", devices all called "switch"): never pick one silently.
    if rows[0][0] != asset and len(rows) > 1:
        ids = ", ".join(r[0] for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        raise ValueError(f"host name {asset!r} is shared by several assets ({ids}): give an asset id")
    row = rows[0]
    asset_id, hostname, pretty, kernel, system, status, last_seen = row
    out = [f"asset {asset_id} ({hostname})", f"  os: {pretty}  kernel: {kernel}  system: {system or '-'}"]
    if status in ("stale", "retired"):  # issue 16: out of current risk, kept in the store
        out.append(f"  status: {status} (last report collected {last_seen:%Y-%m-%d}): not in current risk")
        return "\n".join(out)
    risk = con.execute("SELECT * FROM asset_risk WHERE asset_id = ?", [asset_id]).fetchone()
    if risk is None:
        out.append("  not scored yet: run 'estate-collector score'")
        return "\n".join(out)
    names = [d[0] for d in con.description or ()]
    r = dict(zip(names, risk, strict=True))
    out.append(f"  scored as of {r['as_of']}")
    out.append("")
    out.append("findings:")
    findings = con.execute(
        "SELECT f.*, m.file AS m_file, m.line AS m_line, m.note AS m_note, c.file AS c_file, c.line AS c_line, "
        "c.eoas_flag, c.eol_flag, c.eoes_flag, "
        "p.sources AS sources, e.owner AS e_owner, e.reason AS e_reason, e.expires AS e_expires, "
        "d.file AS d_file, d.sources AS d_sources, d.product AS d_product, d.phase_names AS d_phases "
        "FROM findings f LEFT JOIN rule_matchers m USING (matcher_id) "
        "LEFT JOIN rule_distributions d ON d.distribution = split_part(f.covered_by, ' ', 1) "
        "LEFT JOIN rule_cycles c ON c.product = f.product AND c.cycle = f.cycle "
        "LEFT JOIN rule_products p ON p.product = f.product "
        "LEFT JOIN rule_exceptions e USING (exception_id) WHERE f.asset_id = ? "
        "ORDER BY f.l1_score DESC, f.kind, f.product, f.name", [asset_id])
    fnames = [d[0] for d in findings.description or ()]
    for values in findings.fetchall():
        f = dict(zip(fnames, values, strict=True))
        seen = ", ".join(f["observed"][:5]) + (f" (+{f['observations'] - 5} more)" if f["observations"] > 5 else "")
        product = f"{f['product']} {f['cycle'] or '?'}" if f["product"] else "no product"
        out.append(f"- [{f['status']}] {product}  <- {f['kind']} {_printable(seen)}")
        _explain_coverage(out, f)
        if f["matcher_id"]:
            others = [m for m in f["matchers"] if m != f["matcher_id"]]
            out.append(f"    matched by {f['matcher_id']} ({f['m_file']}:{f['m_line']})"
                       + (f" and {', '.join(others)}" if others else "") + f"; cycle read as {f['cycle_key']!r}")
        elif f["status"] == "unknown":
            out.append("    no matcher claims it: status stays unknown")
        else:
            out.append("    no matcher claims it: no upstream lifecycle, the distribution's coverage decides")
        if f["product"] and not f["cycle"]:
            out.append(f"    {f['product']} has no cycle {f['cycle_key']!r}: status stays unknown")
            out.append(f"    missing data: cycle {f['cycle_key']!r} in the {f['product']} lifecycle (a coverage gap; "
                       "add it in a rules.d/lifecycles/ file with its source)")
        elif f["status"] == "unknown" and not f["product"]:
            out.append(f"    missing data: no lifecycle rule matches {f['kind']} {_printable(f['name'])!r} "
                       "(a coverage gap; add a matcher and lifecycle in rules.d/)")
        by_distribution = f["coverage"] == "distribution" or (
            f["coverage"] == "both" and f["status"] == f["coverage_status"])
        if f["cycle"] and not by_distribution:
            out.append(f"    dates from {f['c_file']}:{f['c_line']} ({', '.join(f['sources'] or [])})")
        elif by_distribution:
            out.append(f"    dates from {f['d_file']} ({', '.join(f['d_sources'] or [])}) and the {f['d_product']} "
                       "lifecycle")
        if f["cycle"] or by_distribution:
            out.append("    " + "; ".join(_milestone_text(label, f[key], f[f"days_to_{key}"],
                                                          None if by_distribution else f[f"{key}_flag"])
                                          for label, key in (("active support", "eoas"), ("security", "eol"),
                                                             ("extended", "eoes"))))
        out.append(f"    L1 score {f['l1_score']}")
        if f["exception_id"]:
            out.append(f"    accepted by exception {f['exception_id']} ({f['e_owner']}: {f['e_reason']}; "
                       f"until {f['e_expires']}): does not count towards L1")
    out.append("")
    out.append("risk:")
    criteria = con.execute("SELECT side, criterion, score, source FROM risk_criteria WHERE scope = 'asset' "
                           "AND subject = ? ORDER BY side DESC, criterion", [asset_id]).fetchall()
    for side in ("likelihood", "impact"):
        for s, criterion, value, source in criteria:
            if s == side:
                out.append(f"  {criterion:8} {value:g}  {source}")
        mean, top, adjust, final = (r[f"{side}_mean"], r[f"{side}_max"], r[f"{side}_adjust"], r[side])
        out.append(f"  {side}: (mean {mean:.2f} + max {top:g}) / 2 = {(mean + top) / 2:.2f}"
                   + (f", adjusted by {adjust:+g}" if adjust else "") + f" -> {final:.2f}")
    if r["adjustments"]:
        out.append(f"  adjustments (scoring.yaml): {', '.join(r['adjustments'])}")
    if not r["impact_assessed"]:
        owner = f"the owner of system {system!r}" if system else "an owner (the asset has no system label)"
        out.append(f"  impact UNASSESSED: the impact {r['impact']:g} is scoring.yaml's impact.default_score, "
                   f"which nobody chose; ask {owner} for an assessment (rules.d/assessments/)")
    out.append(f"  overall: {r['likelihood']:.2f} x {r['impact']:.2f} = {r['overall']:.2f} -> {r['band']}")
    if r["coverage_gaps"]:
        out.append(f"  coverage gaps ({len(r['coverage_gaps'])}): lifecycle data missing, scored as "
                   "scoring.yaml l1.unknown, never as supported:")
        out.extend(f"    - {_printable(gap)}" for gap in r["coverage_gaps"])
    if r["exceptions"]:
        changed = "lowered L1 from " + str(r["l1_raw"]) if r["exception_changed"] else "did not change L1"
        out.append(f"  exceptions: {', '.join(r['exceptions'])} ({changed})")
    return "\n".join(out)


def _explain_coverage(out: list[str], f: dict[str, Any]) -> None:
    """Which of upstream's dates and the distribution's coverage decided a finding, and every piece of evidence."""
    if f["kind"] in ("package", "kernel", "software") or f["coverage"] != "upstream":
        phases = f" and patches it through {', '.join(f['d_phases'])}" if f["d_phases"] else ""
        out.append(f"    decided: {_printable(f['decided_by'] or '')}"
                   + (phases if f["coverage"] == "distribution" else ""))
        upstream = f"upstream {f['upstream_status']}" + (f" (end of life {f['upstream_eol']})" if f["upstream_eol"]
                                                        else "")
        covered = (f"; distribution {f['coverage_status']} ({f['covered_by']} covers it until {f['coverage_until']}"
                   + (f", limited by {f['coverage_limit']}" if f["coverage_limit"] else "") + ")"
                   if f["coverage_status"] else "; no distribution coverage")
        out.append(f"    {upstream}{covered}")
    evidence = f["evidence"] or []
    if len(evidence) > 1 or f["coverage"] != "upstream":
        out.append(f"    evidence ({f['observations']}):")
        out.extend(f"      {_printable(item)}" for item in evidence)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Text that came from a host, safe for a terminal: control characters become '?'."""
    return _CONTROL.sub("?", text)


def _milestone_text(label: str, date: dt.date | None, days: int | None, flag: bool | None) -> str:
    if date is None or days is None:
        if flag is None:
            return f"{label}: none given"
        return f"{label}: ended (day not given)" if flag else f"{label}: no end announced"
    when = f"in {days} days" if days > 0 else ("today" if days == 0 else f"{-days} days ago")
    return f"{label} ends {date} ({when})"
