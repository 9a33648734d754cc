"""Effective labels of each asset, kept as history: asset_label_history and the view current_asset_labels.

`refresh_labels` resolves the labels of the given assets (or every asset) from their current report,
the ownership rules and the vocabulary in force (rule_ownership, rule_vocabulary; see
ruleset/ownership.py for the precedence), and writes a new interval only for an asset whose
labels, their sources or its flags changed. The scorer calls it before scoring, so scoring reads
labels that are current for the rules in force. Resolving is Python (patterns, address ranges);
reading and comparing stay in DuckDB (maps cross into Python slowly, JSON text quickly).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

import duckdb
import pyarrow as pa

from estate.collector.ruleset.ownership import AssetFacts, LabelVocabulary, Rule, ordered, parse_address, resolve

STR_MAP = pa.map_(pa.string(), pa.string())
RESOLVED_SCHEMA = pa.schema([("asset_id", pa.string()), ("labels", STR_MAP), ("sources", STR_MAP),
                             ("flags", pa.list_(pa.string())), ("report_id", pa.string())])

FACTS_QUERY = """
SELECT r.asset_id, r.report_id, r.hostname, r.fqdn, to_json(r.labels)::VARCHAR, r.sweep_target,
       {addresses} AS addresses
FROM current_reports r
"""
# The host's addresses, read only when some ownership rule matches on a CIDR range.
ADDRESSES = ("(SELECT flatten(list(i.addresses)) FROM current_interfaces i WHERE i.asset_id = r.asset_id "
             "AND i.report_id = r.report_id)")


def _vocabulary(con: duckdb.DuckDBPyConnection) -> LabelVocabulary | None:
    rows = con.execute("SELECT key, allowed, pattern FROM rule_vocabulary").fetchall()
    if not rows:
        return None  # no vocabulary.yaml in the rules in force: labels are not checked
    return LabelVocabulary({k: frozenset(a) for k, a, _ in rows if a is not None},
                           {k: re.compile(p) for k, _, p in rows if p is not None})


def _rules(con: duckdb.DuckDBPyConnection) -> list[Rule]:
    rows = con.execute("SELECT ord, any_value(match_kind), any_value(match_value), "
                       "map_from_entries(list((label, value))), any_value(file), any_value(line) "
                       "FROM rule_ownership GROUP BY ord").fetchall()
    return ordered(Rule.of(o, kind, value, dict(labels), f"{file}:{line}")
                   for o, kind, value, labels, file, line in rows)


def _target_host(target: str | None) -> str:
    if not target:
        return ""
    return target.rsplit(":", 1)[0] if target.count(":") == 1 or target.startswith("[") else target


def refresh_labels(con: duckdb.DuckDBPyConnection, assets: Iterable[str] | None = None) -> int:
    """Resolve the effective labels of `assets` (None: all); returns how many assets' labels changed."""
    vocabulary, rules = _vocabulary(con), _rules(con)
    use_addresses = any(rule.kind == "cidr" for rule in rules)
    query, params = FACTS_QUERY.format(addresses=ADDRESSES if use_addresses else "NULL"), []
    if assets is not None:
        query += " WHERE r.asset_id IN (SELECT unnest(?::VARCHAR[]))"
        params = [sorted(set(assets))]
    resolved: dict[str, list[Any]] = {name: [] for name in RESOLVED_SCHEMA.names}
    for asset_id, report_id, hostname, fqdn, labels, target, addresses in con.execute(query, params).fetchall():
        found: tuple[Any, ...] = ()
        if use_addresses:
            parsed = (parse_address(text) for text in [_target_host(target), *(addresses or ())])
            found = tuple(a for a in parsed if a is not None)
        result = resolve(AssetFacts(asset_id, (hostname or "", fqdn or ""), found, json.loads(labels or "{}")),
                         rules, vocabulary)
        for name, value in (("asset_id", asset_id), ("labels", list(result.labels.items())),
                            ("sources", list(result.sources.items())), ("flags", result.flags),
                            ("report_id", report_id)):
            resolved[name].append(value)
    if not resolved["asset_id"]:
        return 0
    digest_row = con.execute("SELECT digest FROM rule_loads ORDER BY loaded_at DESC LIMIT 1").fetchall()
    now = dt.datetime.now(dt.timezone.utc)
    con.register("resolved_labels", pa.Table.from_pydict(resolved, schema=RESOLVED_SCHEMA))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE changed_labels AS
            SELECT n.* FROM resolved_labels n
            LEFT JOIN asset_label_history h ON h.asset_id = n.asset_id AND h.valid_to IS NULL
            WHERE h.asset_id IS NULL OR h.labels <> n.labels OR h.sources <> n.sources OR h.flags <> n.flags""")
        con.execute("UPDATE asset_label_history SET valid_to = ? WHERE valid_to IS NULL "
                    "AND asset_id IN (SELECT asset_id FROM changed_labels)", [now])
        con.execute("INSERT INTO asset_label_history BY NAME SELECT *, ? AS rules_digest, ? AS valid_from "
                    "FROM changed_labels", [digest_row[0][0] if digest_row else None, now])
        [(changed,)] = con.execute("SELECT count(*) FROM changed_labels").fetchall()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("resolved_labels")
    return int(changed)
