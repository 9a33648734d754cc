"""Rules into DuckDB, scoring by the named SQL files, and the explanation of one asset's score.

`sync_rules` loads the rule files when their digest differs from the rules in force, in one
transaction: a rule set that fails its checks is reported and the rules in force stay. `score`
runs collector/scoring/sql/findings.sql then risk.sql for an as_of date over all current assets or a
given few (the collector rescoring what it just stored).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from estate.collector.ruleset.rules import (
    Lifecycle,
    Matcher,
    Release,
    RuleError,
    RuleErrors,
    RuleSet,
    Scoring,
    digest_rules,
    load_rules,
)

log = logging.getLogger("estate.collector")

SCORING_SQL = ("findings.sql", "risk.sql")
RULE_TABLES = ("rule_files", "rule_products", "rule_identifiers", "rule_cycles", "rule_matchers",
               "rule_matcher_names", "rule_cycle_maps", "rule_edition_cases", "rule_params", "rule_l1_steps",
               "rule_criteria", "rule_bands", "rule_adjustments", "rule_assessments", "rule_exceptions")


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
    params = {"eol_soon_days": scoring.status.eol_soon_days, "l1_eol": scoring.l1.eol,
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
    return rows


def _arrow(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> pa.Table:
    columns = con.execute(f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{table}' "  # noqa: S608
                          "AND database_name = current_database() ORDER BY column_index").fetchall()
    names = [c[0] for c in columns]
    return pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows]) if rows else None


def store_rules(con: duckdb.DuckDBPyConnection, ruleset: RuleSet, rules_dir: Path) -> None:
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
                    [ruleset.digest, str(rules_dir), len(ruleset.files)])
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


def sync_rules(con: duckdb.DuckDBPyConnection, rules_dir: Path) -> SyncResult:
    """Load the rule files if they changed; on errors keep the rules in force and say why."""
    digest = digest_rules(rules_dir) if rules_dir.is_dir() else ""
    if digest and digest == rules_in_force(con):
        return SyncResult(changed=False)
    try:
        ruleset = load_rules(rules_dir)
    except RuleErrors as exc:
        return SyncResult(changed=False, errors=exc)
    store_rules(con, ruleset, rules_dir)
    return SyncResult(changed=True)


@dataclass(frozen=True)
class ScoreRun:
    as_of: dt.date
    assets: int
    findings: int
    seconds: float


def score(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None,
          assets: Iterable[str] | None = None) -> ScoreRun:
    """Score the current assets (or only those given) for as_of (today by default), in one transaction."""
    as_of = as_of or dt.date.today()
    if rules_in_force(con) is None:
        raise RuleErrors([RuleError("", 0, "", "no rules loaded: load them first (sync_rules)")])
    started = time.perf_counter()
    con.execute(f"SET VARIABLE as_of = DATE '{as_of.isoformat()}'")
    con.execute("BEGIN TRANSACTION")
    try:
        if assets is None:
            con.execute("CREATE OR REPLACE TEMP TABLE scope_assets AS SELECT asset_id FROM current_reports")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE scope_assets (asset_id VARCHAR)")
            con.execute("INSERT INTO scope_assets SELECT DISTINCT unnest(?::VARCHAR[])", [list(assets)])
        for name in SCORING_SQL:
            con.execute(sql_file(name))
        counts = con.execute("SELECT (SELECT count(*) FROM scope_assets), (SELECT count(*) FROM findings "
                             "WHERE asset_id IN (SELECT asset_id FROM scope_assets))").fetchone()
        assert counts is not None
        seconds = time.perf_counter() - started
        con.execute("INSERT INTO score_runs VALUES (?, now(), ?, ?, ?, ?)",
                    [as_of, rules_in_force(con), counts[0], counts[1], seconds])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ScoreRun(as_of, int(counts[0]), int(counts[1]), seconds)


class Scorer:
    """Rescores after ingest: reloads the rules when they changed, scores the assets just stored."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rules_dir: Path) -> None:
        self.con = con
        self.rules_dir = rules_dir
        self._reported: str | None = None

    def after_ingest(self, asset_ids: Sequence[str]) -> None:
        try:
            sync = sync_rules(self.con, self.rules_dir)
            if sync.errors is not None and str(sync.errors) != self._reported:
                self._reported = str(sync.errors)
                log.error("rule files refused, the rules in force stay:\n%s", sync.errors)
            if rules_in_force(self.con) is None:
                return
            score(self.con, assets=None if sync.changed else asset_ids)
        except Exception as exc:
            # Scoring is derived data: whatever fails here must never stop the writer, which has
            # already stored and acknowledged these reports; the next score run redoes it.
            log.error("scoring after ingest failed (reports are stored): %s", exc)


# --- explain -------------------------------------------------------------------------------------

def explain(con: duckdb.DuckDBPyConnection, asset: str) -> str | None:
    """How an asset's findings and risk were reached, for people; None if no such asset."""
    rows = con.execute("SELECT asset_id, hostname, os_pretty_name, kernel, element_at(labels, 'system')[1] "
                       "FROM current_reports WHERE asset_id = ? OR hostname = ? "
                       "ORDER BY asset_id = ? DESC, asset_id LIMIT 11", [asset, asset, asset]).fetchall()
    if not rows:
        return None
    # Host names repeat (clones, "localhost", devices all called "switch"): never pick one silently.
    if rows[0][0] != asset and len(rows) > 1:
        ids = ", ".join(r[0] for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        raise ValueError(f"host name {asset!r} is shared by several assets ({ids}): give an asset id")
    row = rows[0]
    asset_id, hostname, pretty, kernel, system = row
    out = [f"asset {asset_id} ({hostname})", f"  os: {pretty}  kernel: {kernel}  system: {system or '-'}"]
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
        "p.sources AS sources, e.owner AS e_owner, e.reason AS e_reason, e.expires AS e_expires "
        "FROM findings f LEFT JOIN rule_matchers m USING (matcher_id) "
        "LEFT JOIN rule_cycles c ON c.product = f.product AND c.cycle = f.cycle "
        "LEFT JOIN rule_products p ON p.product = f.product "
        "LEFT JOIN rule_exceptions e USING (exception_id) WHERE f.asset_id = ? "
        "ORDER BY f.l1_score DESC, f.kind, f.product, f.name", [asset_id])
    fnames = [d[0] for d in findings.description or ()]
    for values in findings.fetchall():
        f = dict(zip(fnames, values, strict=True))
        seen = ", ".join(f["observed"][:5]) + (f" (+{f['observations'] - 5} more)" if f["observations"] > 5 else "")
        product = f"{f['product']} {f['cycle'] or '?'}" if f["product"] else "no product"
        out.append(f"- [{f['status']}] {product}  <- {f['kind']} {seen}")
        if f["matcher_id"]:
            others = [m for m in f["matchers"] if m != f["matcher_id"]]
            out.append(f"    matched by {f['matcher_id']} ({f['m_file']}:{f['m_line']})"
                       + (f" and {', '.join(others)}" if others else "") + f"; cycle read as {f['cycle_key']!r}")
        else:
            out.append("    no matcher claims it: status stays unknown")
        if f["product"] and not f["cycle"]:
            out.append(f"    {f['product']} has no cycle {f['cycle_key']!r}: status stays unknown")
        if f["cycle"]:
            out.append(f"    dates from {f['c_file']}:{f['c_line']} ({', '.join(f['sources'] or [])})")
            out.append("    " + "; ".join(_milestone_text(label, f[key], f[f"days_to_{key}"], f[f"{key}_flag"])
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
    out.append(f"  overall: {r['likelihood']:.2f} x {r['impact']:.2f} = {r['overall']:.2f} -> {r['band']}")
    if r["exceptions"]:
        changed = "lowered L1 from " + str(r["l1_raw"]) if r["exception_changed"] else "did not change L1"
        out.append(f"  exceptions: {', '.join(r['exceptions'])} ({changed})")
    return "\n".join(out)


def _milestone_text(label: str, date: dt.date | None, days: int | None, flag: bool | None) -> str:
    if date is None or days is None:
        if flag is None:
            return f"{label}: none given"
        return f"{label}: ended (day not given)" if flag else f"{label}: no end announced"
    when = f"in {days} days" if days > 0 else ("today" if days == 0 else f"{-days} days ago")
    return f"{label} ends {date} ({when})"
