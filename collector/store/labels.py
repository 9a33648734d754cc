"""Effective labels of each asset, kept as history: asset_label_history and the view current_asset_labels.

`refresh_labels` resolves the labels of the given assets (or every asset) from their current report,
the ownership rules and the vocabulary in force (rule_ownership, rule_vocabulary; see
ruleset/ownership.py for the precedence), and writes a new interval only for an asset whose
labels, their sources or its flags changed. The scorer calls it before scoring, so scoring reads
labels that are current for the rules in force.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import duckdb
import pyarrow as pa

from estate.collector.ruleset.ownership import AssetFacts, LabelVocabulary, Resolved, Rule, ordered, resolve

STR_MAP = pa.map_(pa.string(), pa.string())
HISTORY_SCHEMA = pa.schema([("asset_id", pa.string()), ("labels", STR_MAP), ("sources", STR_MAP),
                            ("flags", pa.list_(pa.string())), ("report_id", pa.string()),
                            ("rules_digest", pa.string()), ("valid_from", pa.timestamp("us", tz="UTC"))])

FACTS_QUERY = """
SELECT r.asset_id, r.report_id, r.hostname, r.fqdn, r.labels, r.sweep_target, i.addresses
FROM current_reports r
LEFT JOIN (SELECT asset_id, flatten(list(addresses)) AS addresses FROM current_interfaces GROUP BY asset_id) i
    USING (asset_id)
"""


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
    return ordered(Rule(o, kind, value, dict(labels), f"{file}:{line}") for o, kind, value, labels, file, line in rows)


def _addresses(texts: Iterable[str], target: str | None) -> tuple[Any, ...]:
    found = []
    host = (target or "").rsplit(":", 1)[0].strip("[]") if target and ":" in target else (target or "")
    for text in [host, *texts]:
        try:
            found.append(ipaddress.ip_address(text.split("/")[0].split("%")[0]))
        except ValueError:
            continue
    return tuple(found)


def refresh_labels(con: duckdb.DuckDBPyConnection, assets: Iterable[str] | None = None) -> int:
    """Resolve the effective labels of `assets` (None: all); returns how many assets' labels changed."""
    vocabulary, rules = _vocabulary(con), _rules(con)
    digest_row = con.execute("SELECT digest FROM rule_loads ORDER BY loaded_at DESC LIMIT 1").fetchone()
    digest = digest_row[0] if digest_row else None
    query, params = FACTS_QUERY, []
    if assets is not None:
        query += " WHERE r.asset_id IN (SELECT unnest(?::VARCHAR[]))"
        params = [sorted(set(assets))]
    facts = con.execute(query, params).fetchall()
    if not facts:
        return 0
    ids = [row[0] for row in facts]
    open_rows = {row[0]: (row[1], row[2], row[3]) for row in con.execute(
        "SELECT asset_id, labels, sources, flags FROM asset_label_history "
        "WHERE valid_to IS NULL AND asset_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()}
    now = dt.datetime.now(dt.timezone.utc)
    changed: dict[str, list[Any]] = {name: [] for name in HISTORY_SCHEMA.names}
    for asset_id, report_id, hostname, fqdn, labels, target, addresses in facts:
        found = AssetFacts(asset_id, (hostname or "", fqdn or ""), _addresses(addresses or (), target),
                           dict(labels or {}))
        result: Resolved = resolve(found, rules, vocabulary)
        if open_rows.get(asset_id) == (result.labels, result.sources, result.flags):
            continue
        for name, value in (("asset_id", asset_id), ("labels", list(result.labels.items())),
                            ("sources", list(result.sources.items())), ("flags", result.flags),
                            ("report_id", report_id), ("rules_digest", digest), ("valid_from", now)):
            changed[name].append(value)
    if not changed["asset_id"]:
        return 0
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE asset_label_history SET valid_to = ? WHERE valid_to IS NULL "
                    "AND asset_id IN (SELECT unnest(?::VARCHAR[]))", [now, changed["asset_id"]])
        con.register("incoming_labels", pa.Table.from_pydict(changed, schema=HISTORY_SCHEMA))
        con.execute("INSERT INTO asset_label_history BY NAME SELECT * FROM incoming_labels")
        con.unregister("incoming_labels")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(changed["asset_id"])
