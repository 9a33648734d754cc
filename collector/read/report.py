"""The estate report: one organisation's (from its store) or across government (from a GDS pull).

Both start from the same aggregate tables (summary.py); an organisation's report adds its systems
with the reasons for their risk. HTML is one self-contained file (Jinja2 templates, charts drawn
by Vega-Lite into inline SVG, styles inlined, a content security policy that forbids every fetch);
CSV is every count in one tidy table; JSON is everything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from estate.collector.read.summary import (
    DEFAULT_STALE_DAYS,
    Count,
    Cube,
    Row,
    build_cubes,
)

FORMATS = ("html", "csv", "json")
BY = ("org", "department", "system", "environment")
TOP_PRODUCTS = 20
TOP_ROADMAP_PRODUCTS = 25
MAX_SYSTEMS = 500
LEGACY = ("eol", "extended", "eol_soon")

WORDS = {
    "eol": "End of life", "extended": "Extended support only", "eol_soon": "End of life soon",
    "supported": "Supported", "unknown": "Lifecycle unknown", "accepted": "Accepted risk",
    "not_scored": "Not scored", "red": "Red", "amber": "Amber", "green": "Green", "none": "No band",
    "eoas": "Active support ends", "eoes": "Extended support ends",
    "LOCAL": "Local agent", "SSH": "Agentless (SSH)", "SNMP": "Network device (SNMP)", "FILE": "Report file",
    "os_known": "OS lifecycle known", "os_unknown": "OS lifecycle unknown", "no_os": "No OS identified",
    "assessed": "Owner assessment", "not_assessed": "No owner assessment",
    "within_1_day": "Seen in the last day", "within_7_days": "Seen in the last 7 days",
}
PHASE_WORDS = {"eoas": "Active support ends", "eol": "Security support ends (end of life)",
               "eoes": "Extended support ends"}
# GOV.UK Design System colours; every colour also has its word beside it.
COLOURS = {
    "eol": "#d4351c", "extended": "#f47738", "eol_soon": "#ffdd00", "supported": "#00703c", "unknown": "#505a5f",
    "accepted": "#1d70b8", "not_scored": "#b1b4b6", "red": "#d4351c", "amber": "#f47738", "green": "#00703c",
    "none": "#b1b4b6", "eoas": "#1d70b8", "eoes": "#4c2c92", "LOCAL": "#1d70b8", "SSH": "#28a197",
    "SNMP": "#912b88", "FILE": "#f499be", "os_known": "#00703c", "os_unknown": "#f47738", "no_os": "#b1b4b6",
    "assessed": "#00703c", "not_assessed": "#d4351c",
}
PALETTE = ("#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#28a197", "#912b88", "#505a5f")
BY_WORDS = {"org": "Organisation", "department": "Department", "system": "System", "environment": "Environment"}


def words(category: str, stale_days: int = DEFAULT_STALE_DAYS) -> str:
    if category in WORDS:
        return WORDS[category]
    if category == f"within_{stale_days}_days":
        return f"Seen in the last {stale_days} days"
    if category == f"stale_over_{stale_days}_days":
        return f"Stale: not seen for over {stale_days} days"
    if category == "eol":
        return PHASE_WORDS["eol"]
    return category


@dataclass
class ReportData:
    """Everything a report shows, whichever format it is written in."""

    title: str
    scope: str  # "organisation" (one collector's store) or "government" (a GDS pull)
    by: str
    as_of: dt.date
    generated_at: dt.datetime
    stale_days: int
    cubes: dict[str, Cube]
    systems: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    threshold: int | None = None
    pulled_at: dt.datetime | None = None


# --- gathering -------------------------------------------------------------------------------------

def from_store(con: duckdb.DuckDBPyConnection, by: str = "org", as_of: dt.date | None = None,
               stale_days: int = DEFAULT_STALE_DAYS, title: str = "Legacy technology estate") -> ReportData:
    """One organisation's report from its store (or a snapshot of it)."""
    day, cubes = build_cubes(con, by, as_of, stale_days)
    cursor = con.execute("""
        SELECT s.system, g.grp, s.band, s.overall, s.likelihood, s.impact, s.worst_status, s.assets,
               s.adjustments, s.exceptions,
               (SELECT list({'criterion': c.criterion, 'score': c.score, 'source': c.source}
                            ORDER BY c.score DESC, c.criterion)
                FROM rep_risk_criteria c WHERE c.scope = 'system' AND c.subject = s.system) AS why
        FROM rep_system_risk s LEFT JOIN rep_system_groups g USING (system)
        ORDER BY s.overall DESC, s.system LIMIT ?""", [MAX_SYSTEMS])
    names = [d[0] for d in cursor.description or ()]
    systems = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return ReportData(title, "organisation", by, day, dt.datetime.now(dt.timezone.utc), stale_days, cubes,
                      systems=systems)


def from_gds(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None,
             title: str = "Legacy technology across government") -> ReportData:
    """The cross-government report from the aggregator's latest pull (by organisation)."""
    from estate.collector.read.gds import load_merged

    view = load_merged(con, as_of)
    return ReportData(title, "government", "org", view.as_of, dt.datetime.now(dt.timezone.utc),
                      view.stale_days or DEFAULT_STALE_DAYS, view.cubes, sources=view.sources,
                      threshold=view.threshold, pulled_at=view.pulled_at)


# --- tables people read ------------------------------------------------------------------------------

@dataclass
class Table:
    """A table as shown: header cells of each row's key, one column per category, a total column."""

    id: str
    caption: str
    key_headers: list[str]
    columns: list[str]
    column_labels: list[str]
    rows: list[tuple[list[str], list[Count], Count]]
    totals: tuple[list[Count], Count] | None
    unit: str
    chart_note: str = ""


def regroup(cube: Cube, key: Callable[[tuple[str, ...]], tuple[str, ...]], name: str | None = None) -> Cube:
    """Rows added up under a new key (the cube's totals stay as they are)."""
    merged: dict[tuple[str, ...], Row] = {}
    for row in cube.rows:
        k = key(row.key)
        target = merged.setdefault(k, Row(k, [Count(0)] * len(cube.columns), Count(0)))
        target.cells = [a + b for a, b in zip(target.cells, row.cells, strict=True)]
        target.total = target.total + row.total
    return Cube(name or cube.name, cube.unit, cube.row_dims, cube.columns, sorted(merged.values(), key=lambda r: r.key),
                cube.totals)


def table(data: ReportData, cube: Cube, table_id: str, caption: str, key_headers: Sequence[str],
          rows: Iterable[Row] | None = None, totals: bool = True) -> Table:
    chosen = list(cube.rows if rows is None else rows)
    return Table(table_id, caption, list(key_headers), list(cube.columns),
                 [words(c, data.stale_days) for c in cube.columns],
                 [(list(r.key), r.cells, r.total) for r in chosen],
                 (cube.totals.cells, cube.totals.total) if totals else None, cube.unit)


def _legacy(row: Row, cube: Cube) -> int:
    return sum(row.cells[cube.column_index(c)].value for c in LEGACY if c in cube.columns)


def sections(data: ReportData) -> dict[str, Any]:
    """The report's tables and charts, in the order they are shown."""
    c = data.cubes
    group = BY_WORDS[data.by]
    out: dict[str, Any] = {}
    out["status"] = table(data, c["status"], "status-table", f"Assets by support status, by {group.lower()}",
                          [group])
    products = regroup(c["products"], lambda k: k[1:], "products")
    ranked = sorted((r for r in products.rows if _legacy(r, products) > 0
                     or any(r.cells[products.column_index(s)].withheld for s in LEGACY)),
                    key=lambda r: (-_legacy(r, products), r.key))[:TOP_PRODUCTS]
    out["products"] = table(data, products, "products-table",
                            f"Top {len(ranked)} legacy products and versions: assets running each",
                            ["Product", "Version (cycle)"], ranked, totals=False)
    out["systems"] = table(data, c["systems"], "systems-table", f"Systems by risk band, by {group.lower()}", [group])
    roadmap = regroup(c["roadmap"], lambda k: k[1:], "roadmap")
    out["roadmap"] = table(data, roadmap, "roadmap-table",
                           "Assets leaving a support phase, per quarter over the next three years", ["Quarter"],
                           totals=False)
    out["roadmap"].column_labels = [PHASE_WORDS[p] for p in roadmap.columns]
    by_product = regroup(c["roadmap_products"], lambda k: k[1:], "roadmap_products")
    leaving = sorted((r for r in by_product.rows if r.total.value > 0 or r.total.withheld),
                     key=lambda r: (-r.total.value, r.key))[:TOP_ROADMAP_PRODUCTS]
    leaving.sort(key=lambda r: (next((i for i, x in enumerate(r.cells) if x.value or x.withheld), 99), r.key))
    out["roadmap_products"] = table(data, by_product, "roadmap-products-table",
                                    "Products reaching the end of security support, by quarter: assets running each",
                                    ["Product", "Version (cycle)"], leaving, totals=False)
    trend = regroup(c["trend"], lambda k: k[1:], "trend")
    out["trend"] = table(data, trend, "trend-table", "Assets by support status after each day's scoring",
                         ["Date"], totals=False)
    out["methods"] = table(data, c["methods"], "methods-table", f"Assets by discovery method, by {group.lower()}",
                           [group])
    out["seen"] = table(data, c["seen"], "seen-table", f"Assets by when they last reported, by {group.lower()}",
                        [group])
    out["lifecycle"] = table(data, c["lifecycle"], "lifecycle-table",
                             f"Assets whose operating system lifecycle is known, by {group.lower()}", [group])
    out["assessments"] = table(data, c["assessments"], "assessments-table",
                               f"Systems with an owner assessment of impact, by {group.lower()}", [group])
    return out


# --- charts ---------------------------------------------------------------------------------------

def _colour_scale(columns: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    colours = [COLOURS.get(c, PALETTE[i % len(PALETTE)]) for i, c in enumerate(columns)]
    return {"domain": list(labels), "range": colours}


def _records(t: Table, label: Callable[[list[str]], str]) -> list[dict[str, Any]]:
    return [{"row": label(key), "category": t.column_labels[i], "order": i, "count": cell.value}
            for key, cells, _ in t.rows for i, cell in enumerate(cells)]


def bar_spec(t: Table, title: str, label: Callable[[list[str]], str] = " ".join) -> dict[str, Any]:
    """Horizontal stacked bars: one bar per row, split by category."""
    height = max(60, 28 * len(t.rows))
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title, "width": 560,
        "height": height, "data": {"values": _records(t, label)},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "row", "type": "nominal", "title": None, "sort": None},
            "x": {"field": "count", "type": "quantitative", "title": t.unit.capitalize(), "stack": "zero",
                  "axis": {"tickMinStep": 1, "format": "d"}},
            "color": {"field": "category", "type": "nominal", "title": None,
                      "scale": _colour_scale(t.columns, t.column_labels), "legend": {"orient": "bottom"}},
            "order": {"field": "order", "type": "quantitative"},
        },
    }


def grouped_spec(t: Table, title: str) -> dict[str, Any]:
    """Vertical bars per row (quarter), one per category side by side (phases overlap: not stacked)."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title, "width": 640, "height": 220,
        "data": {"values": _records(t, " ".join)},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "row", "type": "ordinal", "title": None, "sort": None},
            "xOffset": {"field": "category", "sort": list(t.column_labels)},
            "y": {"field": "count", "type": "quantitative", "title": t.unit.capitalize(),
                  "axis": {"tickMinStep": 1, "format": "d"}},
            "color": {"field": "category", "type": "nominal", "title": None,
                      "scale": _colour_scale(t.columns, t.column_labels), "legend": {"orient": "bottom"}},
        },
    }


def line_spec(t: Table, title: str) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title, "width": 640, "height": 220,
        "data": {"values": _records(t, " ".join)},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "row", "type": "ordinal", "title": None, "sort": None},
            "y": {"field": "count", "type": "quantitative", "title": t.unit.capitalize(),
                  "axis": {"tickMinStep": 1, "format": "d"}},
            "color": {"field": "category", "type": "nominal", "title": None,
                      "scale": _colour_scale(t.columns, t.column_labels), "legend": {"orient": "bottom"}},
        },
    }


_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


CHART_CONFIG = {"font": "arial", "axis": {"labelFontSize": 13, "titleFontSize": 13},
                "legend": {"labelFontSize": 13, "columns": 4, "symbolType": "square", "labelLimit": 0},
                "title": {"fontSize": 16, "anchor": "start"}, "view": {"stroke": None}}


def svg(spec: dict[str, Any]) -> str:
    """Vega-Lite drawn to SVG, fit to sit inside HTML (no namespace URLs, hidden from screen readers:
    the table after each chart carries the same numbers)."""
    import vl_convert

    drawn = vl_convert.vegalite_to_svg({**spec, "config": CHART_CONFIG})
    drawn = _NAMESPACES.sub("", drawn)
    return drawn.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


# A bar per group stops being readable (and drawable in good time) long before 500 groups: a chart
# shows the largest groups, its table all of them.
MAX_CHART_ROWS = 25


def largest(t: Table) -> Table:
    """The table cut to its MAX_CHART_ROWS largest rows (by total), in their order, for a chart."""
    if len(t.rows) <= MAX_CHART_ROWS:
        return t
    keep = sorted(range(len(t.rows)), key=lambda i: -t.rows[i][2].value)[:MAX_CHART_ROWS]
    t.chart_note = f" The chart shows the {MAX_CHART_ROWS} largest of {len(t.rows)}; the table has them all."
    return Table(t.id, t.caption, t.key_headers, t.columns, t.column_labels, [t.rows[i] for i in sorted(keep)],
                 t.totals, t.unit)


def charts(data: ReportData, tables: dict[str, Any]) -> dict[str, str]:
    out = {"status": svg(bar_spec(largest(tables["status"]), "Assets by support status")),
           "roadmap": svg(grouped_spec(tables["roadmap"], "Assets leaving a support phase, per quarter")),
           "methods": svg(bar_spec(largest(tables["methods"]), "Assets by discovery method"))}
    if tables["systems"].rows:
        out["systems"] = svg(bar_spec(largest(tables["systems"]), "Systems by risk band"))
    if tables["products"].rows:
        out["products"] = svg(bar_spec(tables["products"], "Top legacy products and versions"))
    if tables["trend"].rows:
        out["trend"] = svg(line_spec(tables["trend"], "Assets by support status over time"))
    return out


# --- writing ----------------------------------------------------------------------------------------

def render_html(data: ReportData) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("estate.collector.read", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["count"] = show_count
    env.filters["words"] = lambda c: words(c, data.stale_days)
    tables = sections(data)
    return env.get_template("report.html.j2").render(
        data=data, tables=tables, charts=charts(data, tables), by_words=BY_WORDS[data.by],
        total_assets=data.cubes["status"].totals.total, total_systems=data.cubes["systems"].totals.total,
        phase_words=PHASE_WORDS, colours=COLOURS)


def show_count(count: Count) -> str:
    if not count.withheld:
        return f"{count.value:,}"
    return f"at least {count.value:,}" if count.value else "withheld"


CSV_HEADER = ("table", "unit", "group_by", "group", "product", "cycle", "period", "category", "count", "withheld")


def render_csv(data: ReportData) -> str:
    """Every count of every table, one per line (row totals have category 'total', column totals group 'total')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for cube in data.cubes.values():
        for row in [*cube.rows, cube.totals]:
            parts = dict(zip(cube.row_dims, row.key, strict=False))  # the totals row has no key
            group = parts.get("group", "total" if not row.key else "")
            period = parts.get("quarter", parts.get("date", ""))
            for category, count in [*zip(cube.columns, row.cells, strict=True), ("total", row.total)]:
                writer.writerow((cube.name, cube.unit, data.by, group, parts.get("product", ""),
                                 parts.get("cycle", ""), period, category,
                                 count.value if not count.withheld or count.value else "", str(count.withheld).lower()))
    return out.getvalue()


def _json_count(count: Count) -> Any:
    return count.value if not count.withheld else {"withheld": True, "at_least": count.value}


def render_json(data: ReportData) -> str:
    tables = {name: {"unit": cube.unit, "row_dimensions": list(cube.row_dims), "columns": list(cube.columns),
                     "rows": [{"key": list(r.key), "cells": [_json_count(x) for x in r.cells],
                               "total": _json_count(r.total)} for r in cube.rows],
                     "totals": {"cells": [_json_count(x) for x in cube.totals.cells],
                                "total": _json_count(cube.totals.total)}}
              for name, cube in data.cubes.items()}
    document = {"title": data.title, "scope": data.scope, "by": data.by, "as_of": data.as_of.isoformat(),
                "generated_at": data.generated_at.isoformat(), "stale_days": data.stale_days,
                "threshold": data.threshold, "pulled_at": data.pulled_at.isoformat() if data.pulled_at else None,
                "tables": tables, "systems": data.systems, "sources": data.sources}
    return json.dumps(document, indent=1, default=str)


def render(data: ReportData, fmt: str) -> str:
    return {"html": render_html, "csv": render_csv, "json": render_json}[fmt](data)

