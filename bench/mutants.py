"""Mutation testing of delivery, validation and scoring (`make mutants`), bounded to finish in ~15 minutes.

Two parts:
1. The listed mutations (issue 17): each is a change that once left every test green. Each is
   applied, the tests that must catch it run, and the file is restored; any that survives fails.
2. cosmic-ray over agent/transport.py (the spool), collector/ingest/validate.py and the scoring driver in
   collector/scoring/scorer.py: a chosen subset of operators (comparison edges, negations, booleans, and/or,
   numbers, exception types, loops that never run) in chosen functions, each run against the fast
   tests of that module (integration tests excluded, to keep within the time bound). The score is
   killed / (killed + survived); survivors are listed with their diff.

cosmic-ray mutates files in place and restores each one; run nothing else in this checkout meanwhile.
Usage: python bench/mutants.py [--listed-only | --cosmic-only] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]


@dataclass(frozen=True)
class Listed:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


LISTED = (
    Listed("REJECTED spooled reports deleted instead of moved to rejected/", "agent/transport.py",
           "            self._set_aside(path, self.rejected, receipt.reason)",
           "            path.unlink(missing_ok=True)",
           ("tests/test_delivery.py",)),
    Listed("spool size limit removed", "agent/transport.py",
           "while files and (len(files) > self.max_files or total > self.max_bytes) and files[0] != path:",
           "while False:", ("tests/test_delivery.py",)),
    Listed("risk band query <= becomes <", "collector/scoring/sql/risk.sql",
           "b.min_score <= d.likelihood * d.impact", "b.min_score < d.likelihood * d.impact",
           ("tests/test_scoring_risk.py",)),
    Listed("ingest stores a protobuf file under another report_id (the old always-true uuid check)",
           "collector/cli.py", "    return decode_report(data)\n",
           "    report = decode_report(data)\n"
           "    report.report_id = str(__import__('uuid').uuid4())\n    return report\n",
           ("tests/test_collector.py::test_ingest_files_same_rules",)),
    Listed("runtime discovery finds nothing from processes (old all() over nothing)",
           "agent/discovery/runtimes.py", "    if host.is_live:\n        from_processes(c)",
           "    if host.is_live and False:\n        from_processes(c)",
           ("tests/test_runtimes.py::test_scan_reads_no_runtime_by_starting_it",)),
    Listed("DUPLICATE receipt keeps the report in the spool (receipt lost after commit)", "agent/transport.py",
           "if receipt.status in (ingest_pb.Receipt.ACCEPTED, ingest_pb.Receipt.DUPLICATE):",
           "if receipt.status in (ingest_pb.Receipt.ACCEPTED,):",
           ("tests/test_delivery.py::test_a_receipt_lost_after_commit_is_resent_and_stored_once",)),
    Listed("a rejected spooled report is not the agent's failure (exit 0)", "agent/cli.py",
           "            status = EXIT_REJECTED", "            status = 0",
           ("tests/test_delivery.py::test_a_spooled_report_the_collector_rejects_is_set_aside_and_the_rest_delivered",)),
)


def run_listed() -> list[dict[str, str]]:
    """Apply each listed mutation, run its tests, restore; returns one row per mutation."""
    rows = []
    for m in LISTED:
        target = REPO / m.path
        original = target.read_text()
        if original.count(m.old) != 1:
            rows.append({"mutation": m.name, "result": f"NOT APPLIED: the text is not once in {m.path}"})
            continue
        target.write_text(original.replace(m.old, m.new))
        try:
            done = subprocess.run([*PYTEST, *m.tests], capture_output=True, text=True, cwd=REPO, timeout=600)
        finally:
            target.write_text(original)
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE)
        rows.append({"mutation": m.name, "file": m.path, "tests": " ".join(m.tests),
                     "result": "caught" if done.returncode != 0 else "SURVIVED",
                     "failing": ", ".join(failed[:3])})
    return rows


# The operators kept (cosmic-ray names, without "core/"): boundaries and logic, not every arithmetic swap.
OPERATORS = re.compile(
    r"core/(ReplaceComparisonOperator_(Gt_GtE|GtE_Gt|Lt_LtE|LtE_Lt|Eq_NotEq|NotEq_Eq|In_NotIn|NotIn_In|Is_IsNot"
    r"|IsNot_Is)|AddNot|ZeroIterationForLoop|ReplaceTrueWithFalse|ReplaceFalseWithTrue|ReplaceAndWithOr"
    r"|ReplaceOrWithAnd|ExceptionReplacer|NumberReplacer|ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul)"
    r"|ReplaceUnaryOperator_Delete_Not)$")


@dataclass(frozen=True)
class Module:
    path: str
    functions: frozenset[str] | None  # None: every function
    tests: tuple[str, ...]


MODULES = (
    Module("collector/ingest/validate.py", None, ("tests/test_validate.py",)),
    Module("agent/transport.py", frozenset({"is_loopback", "open_channel", "__init__", "pending", "add", "settle",
                                            "default_spool_dir"}),
           ("tests/test_delivery.py", "-m", "not integration",
            "tests/test_collector.py::test_plaintext_refused_off_loopback")),
    Module("collector/scoring/scorer.py",
           frozenset({"cycle_key", "_milestone", "rule_rows", "store_rules", "rules_in_force", "sync_rules", "score"}),
           ("tests/test_scoring_driver.py", "tests/test_scoring_risk.py", "tests/test_status_edges.py")),
)


def _skip_unselected(session: Path, module: Module) -> tuple[int, int]:
    """Mark every mutation outside the chosen operators and functions as skipped; returns (kept, all)."""
    with sqlite3.connect(session) as con:
        specs = con.execute("SELECT job_id, operator_name, definition_name FROM mutation_specs").fetchall()
        skip = [(job,) for job, operator, function in specs
                if not OPERATORS.match(operator) or (module.functions is not None and function not in module.functions)]
        con.executemany("INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id) "
                        "VALUES ('SKIPPED', 'not in the chosen subset', NULL, '', ?)", skip)
    return len(specs) - len(skip), len(specs)


def run_cosmic(out: Path, only: list[str]) -> list[dict[str, object]]:
    rows = []
    for module in MODULES:
        if only and module.path not in only:
            continue
        name = Path(module.path).stem
        config, session = out / f"{name}.toml", out / f"{name}.sqlite"
        session.unlink(missing_ok=True)
        test_command = " ".join(f"'{part}'" if " " in part else part for part in [*PYTEST, *module.tests])
        config.write_text(f'[cosmic-ray]\nmodule-path = "{module.path}"\ntimeout = 300.0\nexcluded-modules = []\n'
                          f'test-command = "{test_command}"\n\n[cosmic-ray.distributor]\nname = "local"\n')
        subprocess.run([str(BIN / "cosmic-ray"), "init", str(config), str(session)], cwd=REPO, check=True)
        kept, total = _skip_unselected(session, module)
        started = time.monotonic()
        subprocess.run([str(BIN / "cosmic-ray"), "exec", str(config), str(session)], cwd=REPO, check=True)
        seconds = time.monotonic() - started
        with sqlite3.connect(session) as con:
            outcomes = dict(con.execute("SELECT coalesce(test_outcome, worker_outcome), count(*) FROM work_results "
                                        "WHERE worker_outcome != 'SKIPPED' GROUP BY 1").fetchall())
            survivors = con.execute("SELECT s.definition_name, s.start_pos_row, s.operator_name, r.diff "
                                    "FROM work_results r JOIN mutation_specs s USING (job_id) "
                                    "WHERE r.test_outcome = 'SURVIVED' ORDER BY s.start_pos_row").fetchall()
        killed, survived = outcomes.get("KILLED", 0), outcomes.get("SURVIVED", 0)
        rows.append({"module": module.path, "mutants": kept, "of": total, "killed": killed, "survived": survived,
                     "other": {k: v for k, v in outcomes.items() if k not in ("KILLED", "SURVIVED")},
                     "score": round(killed / (killed + survived), 3) if killed + survived else None,
                     "seconds": round(seconds), "tests": " ".join(module.tests),
                     "survivors": [f"{f}:{line} {op.removeprefix('core/')}" for f, line, op, _ in survivors],
                     "survivor_diffs": [d for *_, d in survivors]})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listed-only", action="store_true")
    parser.add_argument("--cosmic-only", action="store_true")
    parser.add_argument("--module", action="append", default=[], metavar="PATH",
                        help="only these of the cosmic-ray modules (e.g. agent/transport.py); repeatable")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "mutants-out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    mutated = sorted({m.path for m in MODULES} | {m.path for m in LISTED})
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *mutated], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout
    if dirty:
        print(f"mutants: commit or revert these first (they are mutated in place):\n{dirty}", file=sys.stderr)
        return 2
    failed = False
    result: dict[str, object] = {"uptime": os.getloadavg()}
    if not args.cosmic_only:
        listed = run_listed()
        result["listed"] = listed
        for row in listed:
            print(f"{row['result']:>8}  {row['mutation']}  ({row.get('failing') or row.get('tests', '')})")
        failed |= any(row["result"] != "caught" for row in listed)
    if not args.listed_only:
        cosmic = run_cosmic(args.out, args.module)
        result["cosmic_ray"] = cosmic
        for stats in cosmic:
            print(f"{stats['module']}: {stats['killed']} killed, {stats['survived']} survived of {stats['mutants']} "
                  f"mutants (subset of {stats['of']}), score {stats['score']}, {stats['seconds']} s; "
                  f"other {stats['other']}")
            for survivor in stats["survivors"]:  # type: ignore[attr-defined]
                print(f"    survived: {survivor}")
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    restored = subprocess.run(["git", "status", "--porcelain", "--", *mutated], cwd=REPO, capture_output=True,
                              text=True).stdout
    if restored:
        print(f"mutants: WARNING, files not restored:\n{restored}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
