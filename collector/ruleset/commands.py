"""estate-collector rules check | rules import-endoflife FILE | score | explain ASSET."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from estate.collector.ruleset.rules import LOCAL_RULES_DIR, RuleErrors, default_layers, default_rules_dir, load_rules

COMMANDS = ("rules", "score", "explain")
DEFAULT_DB = "estate.duckdb"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _rules_option(parser: argparse.ArgumentParser, layered: bool = True) -> None:
    parser.add_argument("--rules", type=Path, default=None, metavar="DIR",
                        help="rules folder (default: the rules shipped with the collector)")
    if layered:
        rules_dir_option(parser)


def rules_dir_option(parser: argparse.ArgumentParser) -> None:
    """--rules-dir: an organisation's own rules layered over --rules (repeatable)."""
    parser.add_argument("--rules-dir", type=Path, action="append", default=None, metavar="DIR",
                        help=f"an organisation's own rules (lifecycles, matchers, distributions, assessments, "
                             f"exceptions, scoring.yaml) layered over --rules, replacing rules with the same id; "
                             f"repeat for more layers, later ones winning (default: {LOCAL_RULES_DIR} if it exists)")


def add_parser(commands: Any) -> None:
    rules = commands.add_parser("rules", help="check rule files, import endoflife.date data",
                                description="Check every rule file, or import the endoflife.date format.")
    sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate every rule file (file, line and field of each error)")
    _rules_option(check)
    imp = sub.add_parser("import-endoflife", help="write lifecycles/endoflife/*.yaml from an endoflife.date snapshot")
    imp.add_argument("file", type=Path, metavar="FILE")
    _rules_option(imp, layered=False)

    score = commands.add_parser("score", help="rescore every asset for a date (default today)",
                                description="Load the rules if they changed, then rescore every current asset.")
    score.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")
    score.add_argument("--as-of", type=_date, default=None, metavar="DATE", help="score for this date (YYYY-MM-DD)")
    _rules_option(score)

    explain = commands.add_parser("explain", help="show an asset's findings, the rules that matched and its risk",
                                  description="Explain how an asset's findings and legacy risk were reached.")
    explain.add_argument("asset", metavar="ASSET", help="asset id or host name")
    explain.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB file (default ./{DEFAULT_DB})")


def run(args: argparse.Namespace) -> int:
    if args.command == "rules":
        return cmd_import(args) if args.rules_command == "import-endoflife" else cmd_check(args)
    if args.command == "score":
        return cmd_score(args)
    return cmd_explain(args)


def _rules_dir(args: argparse.Namespace) -> Path:
    return args.rules if args.rules is not None else default_rules_dir()


def rule_layers(args: argparse.Namespace) -> list[Path]:
    """The rules in force for a command: --rules (or the shipped rules), then the --rules-dir layers."""
    return default_layers(getattr(args, "rules", None), getattr(args, "rules_dir", None))


def scorer(store: Any, rules: Path | None, local: list[Path] | None = None,
           on_run: Callable[[], AbstractContextManager[Any]] | None = None) -> Any:
    """The Scorer the collector runs off the ingest path (ingest and serve), started, on its own connection.

    on_run: a context manager around each run (serve times them for its metrics).
    """
    from estate.collector.scoring.scorer import Scorer

    return Scorer(store.con.cursor(), default_layers(rules, local), on_run=on_run).start()


def cmd_check(args: argparse.Namespace) -> int:
    folders = rule_layers(args)
    root = folders[0]
    try:
        ruleset = load_rules(folders)
    except RuleErrors as exc:
        for error in exc.errors:
            print(error if error.file.startswith("/") else f"{root}/{error}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s) in the rule files", file=sys.stderr)
        return 1
    for override in ruleset.overrides:
        print(f"override: {override}")
    print(f"{', '.join(map(str, folders))}: {len(ruleset.files)} rule files OK: {len(ruleset.lifecycles)} products, "
          f"{len(ruleset.matchers)} matchers, {len(ruleset.distributions)} distributions, "
          f"{len(ruleset.assessments)} assessments, {len(ruleset.exceptions)} exceptions, "
          f"{len(ruleset.other.get('ownership', []))} ownership rules, "
          f"{'a' if ruleset.other.get('vocabulary') else 'no'} label vocabulary")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from estate.collector.ruleset.endoflife import import_snapshot

    root = _rules_dir(args)
    try:
        count, warnings = import_snapshot(args.file, root)
    except (RuleErrors, OSError) as exc:
        print(f"estate-collector: {args.file}: nothing written:\n{exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {count} lifecycle files to {root}/lifecycles/endoflife/ (every one fits the schema; "
          f"'estate-collector rules check' checks them with the other rules)")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from estate.collector.scoring.scorer import rules_in_force, score, sync_rules
    from estate.collector.store.database import Store

    store = Store(args.db)
    try:
        sync = sync_rules(store.con, rule_layers(args))
        if sync.errors is not None:
            print(f"rule files refused, the rules in force stay:\n{sync.errors}", file=sys.stderr)
        if rules_in_force(store.con) is None:
            print("estate-collector: no rules in force: fix the rule files ('estate-collector rules check')",
                  file=sys.stderr)
            return 1
        # Only a run for today replaces today's results; any other date is kept as a run of its own.
        live = args.as_of is None or args.as_of == dt.date.today()
        result = score(store.con, args.as_of, live=live)
        print(f"scored {result.assets} assets as of {result.as_of}: {result.findings} findings "
              f"in {result.seconds:.2f} s (run {result.run_id})" + (" (rules reloaded)" if sync.changed else ""))
        if live:
            print_summary(store.con)
        else:
            print(f"kept as run {result.run_id} only: today's results are unchanged "
                  f"(see it with 'estate-collector report --as-of {result.as_of}')")
    finally:
        store.close()
    return 1 if sync.errors is not None else 0


def print_summary(con: Any) -> None:
    """Every finding, worst first, and the risk of each asset."""
    from estate.collector.cli import print_rows

    cursor = con.execute(
        "SELECT r.hostname AS host, f.kind, coalesce(f.product, f.name) AS product, "
        "coalesce(f.cycle, '?') AS cycle, f.status, "
        "CASE f.coverage WHEN 'upstream' THEN 'upstream' WHEN 'distribution' THEN f.covered_by "
        "ELSE 'worse of upstream, ' || f.covered_by END AS decided_by, f.upstream_status AS upstream, "
        "f.eol, f.days_to_eol, f.eoes, f.observations AS evidence, f.exception_id AS exception "
        "FROM findings f JOIN asset_risk r USING (asset_id) "
        "ORDER BY r.hostname, f.l1_score DESC, f.days_to_eol NULLS LAST, product")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    print("\nEnd-of-life findings:")
    print_rows(rows, names, "table")
    cursor = con.execute(
        "SELECT hostname AS host, system, worst_status, round(likelihood, 2) AS likelihood, "
        "round(impact, 2) || CASE WHEN impact_assessed THEN '' ELSE ' (unassessed)' END AS impact, "
        "round(overall, 2) AS overall, band, len(coverage_gaps) AS gaps, "
        "array_to_string(adjustments, ',') AS adjustments, array_to_string(exceptions, ',') AS exceptions "
        "FROM asset_risk ORDER BY overall DESC, hostname")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    print("\nLegacy risk (likelihood 1-6 x impact 1-5, out of 30):")
    print_rows(rows, names, "table")
    _print_query(con, "Coverage gaps (lifecycle data missing: scored as unknown, never as supported):",
                 "SELECT hostname AS host, gap FROM coverage_gaps ORDER BY hostname, gap")
    _print_query(con, "Unassessed systems (impact is scoring.yaml's default, which nobody chose; "
                      "ask their owners for an assessment):",
                 "SELECT coalesce(system, '(assets with no system label)') AS system, assets, default_impact, "
                 "round(overall, 2) AS overall, band FROM unassessed_systems ORDER BY overall DESC, system")


def _print_query(con: Any, title: str, sql: str) -> None:
    from estate.collector.cli import print_rows

    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if rows:
        print(f"\n{title}")
        print_rows(rows, names, "table")


def cmd_explain(args: argparse.Namespace) -> int:
    from estate.collector.cli import open_read_only
    from estate.collector.scoring.scorer import explain

    store = open_read_only(args.db)
    try:
        text = explain(store.con, args.asset)
    except ValueError as exc:  # names the assets that share a host name: host data, so made printable
        from estate.agent.text import printable

        print(f"estate-collector: {printable(exc)}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if text is None:
        print(f"estate-collector: no asset {args.asset!r} (give an asset id or host name)".encode(
            "ascii", "backslashreplace").decode(), file=sys.stderr)
        return 1
    from estate.agent.text import printable

    print(printable(text, keep_newlines=True))
    return 0
