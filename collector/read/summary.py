"""Aggregate tables of the estate (the report's numbers and the Summary RPC), and their suppression.

Every table is a count of assets (or systems) with rows keyed by a group (an organisation,
department, system or environment label) and sometimes a product, cycle, quarter or date, and
columns that split the row total (statuses, bands, support phases, discovery methods...). The
report of one organisation shows them whole; the Summary RPC, for GDS, sends them with every count
under a threshold withheld, plus enough other counts withheld that no withheld count can be worked
out from the totals (complementary suppression). Nothing here ever selects a host name, address,
serial or asset id: only labels, rule products and cycles, statuses, bands, methods and dates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

STATUSES = ("eol", "extended", "eol_soon", "supported", "unknown", "accepted", "not_scored")
PRODUCT_STATUSES = ("eol", "extended", "eol_soon", "supported", "unknown")
PHASES = ("eoas", "eol", "eoes")
METHODS = ("LOCAL", "SSH", "SNMP", "FILE")
LIFECYCLE_COVERAGE = ("os_known", "os_unknown", "no_os")
ASSESSMENT_COVERAGE = ("assessed", "not_assessed")
GROUP_LABELS = {"org": "org", "department": "department", "system": "system", "environment": "environment"}
NO_LABEL = "(no label)"
# Current reports with each asset's effective labels (ownership rules over the agent's labels, only
# vocabulary values: current_asset_labels), as scoring reads them; the agent's own labels only for an
# asset whose labels were never resolved.
LABELLED_REPORTS = ("(SELECT r.* REPLACE (coalesce(l.labels, r.labels) AS labels) FROM current_reports r "
                    "LEFT JOIN current_asset_labels l USING (asset_id))")
MAX_KEY_CHARS = 100
ROADMAP_QUARTERS = 12
TREND_POINTS = 24
DEFAULT_THRESHOLD = 5
DEFAULT_STALE_DAYS = 30


def stale_days_in_force(con: Any) -> int:
    """The staleness threshold of the rules in force (scoring.yaml status.stale_after_days): the one the
    store's asset_status and scoring use, so the report and the Summary count stale assets alike."""
    try:
        row = con.execute("SELECT value FROM rule_params WHERE name = 'stale_after_days'").fetchone()
    except Exception:  # a GDS database or a store from before the rules were loaded: no rule_params
        return DEFAULT_STALE_DAYS
    return int(row[0]) if row and row[0] is not None else DEFAULT_STALE_DAYS


@dataclass(slots=True)  # not frozen: reports make hundreds of thousands, and frozen init is slow
class Count:
    """A count; when withheld, `value` is only what is known of it (0 from a collector, a partial sum once merged)."""

    value: int
    withheld: bool = False

    def __add__(self, other: Count) -> Count:
        return Count(self.value + other.value, self.withheld or other.withheld)


ZERO = Count(0)


@dataclass
class Row:
    key: tuple[str, ...]
    cells: list[Count]
    total: Count


@dataclass
class Cube:
    """One aggregate table: rows by key, columns that split each row's total, and the column totals."""

    name: str
    unit: str
    row_dims: tuple[str, ...]
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    totals: Row = field(default_factory=lambda: Row((), [], ZERO))

    def column_index(self, column: str) -> int:
        return self.columns.index(column)


def clean_key(value: object) -> str:
    """A label value fit to show anywhere: no control characters, bounded length, never empty."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", str(value or "")).strip()
    return text[:MAX_KEY_CHARS] if text else NO_LABEL


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def roadmap_quarters(as_of: dt.date) -> list[str]:
    """The quarter of as_of and the eleven after it: the next three years."""
    year, quarter = as_of.year, (as_of.month - 1) // 3
    out = []
    for step in range(ROADMAP_QUARTERS):
        q = quarter + step
        out.append(f"{year + q // 4}-Q{q % 4 + 1}")
    return out


def seen_columns(stale_days: int) -> tuple[str, ...]:
    return ("within_1_day", "within_7_days", f"within_{stale_days}_days", f"stale_over_{stale_days}_days")


@dataclass(frozen=True)
class Summary:
    """One collector's aggregates, suppressed: what the Summary RPC sends to GDS."""

    generated_at: dt.datetime
    as_of: dt.date
    threshold: int
    stale_days: int
    cubes: dict[str, Cube]


# --- where the numbers come from ----------------------------------------------------------------

class NoData(Exception):
    """The database has nothing to report for what was asked (no such run, nothing scored)."""


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> object:
    row = con.execute(sql, list(params)).fetchone()
    return row[0] if row else None


def prepare(con: duckdb.DuckDBPyConnection, by: str, as_of: dt.date | None = None) -> dt.date:
    """Temporary tables rep_* holding the assets, findings and risks to report on; returns their date.

    Without as_of: today's results (findings, asset_risk, system_risk, risk_criteria). With it: the
    scoring runs for that date (per asset its latest run of that date, per system the latest run).
    """
    label = GROUP_LABELS[by]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rep_assets AS
        SELECT asset_id, coalesce(nullif(trim(element_at(labels, '{label}')[1]), ''), '{NO_LABEL}') AS grp,
               method, collected_at, os_id
        FROM {LABELLED_REPORTS}""")  # noqa: S608  (label from GROUP_LABELS)
    if as_of is None:
        for table in ("findings", "asset_risk", "system_risk", "risk_criteria"):
            con.execute(f"CREATE OR REPLACE TEMP VIEW rep_{table} AS SELECT * FROM {table}")  # noqa: S608
        day = _one(con, "SELECT max(as_of) FROM asset_risk")
        return day if isinstance(day, dt.date) else dt.date.today()
    runs = con.execute("SELECT run_id FROM score_runs WHERE as_of = ? ORDER BY run_id", [as_of]).fetchall()
    if not runs:
        raise NoData(f"no scoring run for {as_of}: run 'estate-collector score --as-of {as_of}' first")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE rep_runs AS
        SELECT asset_id, max(run_id) AS run_id FROM run_asset_risk
        WHERE run_id IN (SELECT run_id FROM score_runs WHERE as_of = $day) GROUP BY asset_id""", {"day": as_of})
    last = max(r[0] for r in runs)
    con.execute("CREATE OR REPLACE TEMP VIEW rep_findings AS SELECT * EXCLUDE (run_id) FROM run_findings "
                "SEMI JOIN rep_runs USING (asset_id, run_id)")
    con.execute("CREATE OR REPLACE TEMP VIEW rep_asset_risk AS SELECT * EXCLUDE (run_id) FROM run_asset_risk "
                "SEMI JOIN rep_runs USING (asset_id, run_id)")
    # Views cannot take parameters: the run number is an integer from score_runs.
    con.execute("CREATE OR REPLACE TEMP VIEW rep_system_risk AS SELECT * EXCLUDE (run_id) FROM run_system_risk "  # noqa: S608
                f"WHERE run_id = {int(last)}")
    con.execute("CREATE OR REPLACE TEMP VIEW rep_risk_criteria AS SELECT * EXCLUDE (run_id) "  # noqa: S608
                f"FROM run_risk_criteria c WHERE (c.scope = 'system' AND c.run_id = {int(last)}) OR "
                "(c.scope = 'asset' AND EXISTS (SELECT 1 FROM rep_runs r WHERE r.asset_id = c.subject "
                "AND r.run_id = c.run_id))")
    return as_of


def _bands(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    bands = [r[0] for r in con.execute("SELECT band FROM rule_bands ORDER BY min_score DESC").fetchall()]
    return (*bands, "none", "not_scored")


def _cube(name: str, unit: str, row_dims: tuple[str, ...], columns: Sequence[str],
          counts: Iterable[tuple[Any, ...]], keys: Iterable[tuple[str, ...]] = ()) -> Cube:
    """A cube from (key..., column, count) rows; `keys` are rows to show even when all zero."""
    width = len(row_dims)
    table: dict[tuple[str, ...], list[int]] = {tuple(k): [0] * len(columns) for k in keys}
    index = {c: i for i, c in enumerate(columns)}
    for record in counts:
        key = tuple(clean_key(v) if d in ("group",) else str(v) for d, v in zip(row_dims, record[:width], strict=True))
        column = str(record[width])
        if column not in index:
            continue
        table.setdefault(key, [0] * len(columns))[index[column]] += int(record[width + 1])
    return cube_from_counts(name, unit, row_dims, tuple(columns), table)


def cube_from_counts(name: str, unit: str, row_dims: tuple[str, ...], columns: tuple[str, ...],
                     table: dict[tuple[str, ...], list[int]]) -> Cube:
    rows = [Row(key, [Count(v) for v in values], Count(sum(values))) for key, values in sorted(table.items())]
    totals = [Count(sum(r.cells[i].value for r in rows)) for i in range(len(columns))]
    return Cube(name, unit, row_dims, columns, rows, Row((), totals, Count(sum(t.value for t in totals))))


def build_cubes(con: duckdb.DuckDBPyConnection, by: str, as_of: dt.date | None = None,
                stale_days: int = DEFAULT_STALE_DAYS) -> tuple[dt.date, dict[str, Cube]]:
    """Every aggregate table of the report, grouped by the `by` label, unsuppressed."""
    day = prepare(con, by, as_of)
    groups = [(r[0],) for r in con.execute("SELECT DISTINCT grp FROM rep_assets").fetchall()]
    q = con.execute
    cubes: dict[str, Cube] = {}
    cubes["status"] = _cube("status", "assets", ("group",), STATUSES, q(
        "SELECT a.grp, coalesce(r.worst_status, 'not_scored'), count(*) FROM rep_assets a "
        "LEFT JOIN rep_asset_risk r USING (asset_id) GROUP BY ALL").fetchall(), groups)
    bands = _bands(con)
    cubes["band"] = _cube("band", "assets", ("group",), bands, q(
        "SELECT a.grp, coalesce(r.band, 'not_scored'), count(*) FROM rep_assets a "
        "LEFT JOIN rep_asset_risk r USING (asset_id) GROUP BY ALL").fetchall(), groups)
    # A system belongs to the group most of its assets carry (by=system: itself).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rep_system_groups AS
        SELECT element_at(c.labels, 'system')[1] AS system, mode(a.grp) AS grp
        FROM {LABELLED_REPORTS} c JOIN rep_assets a USING (asset_id)
        WHERE element_at(c.labels, 'system')[1] IS NOT NULL GROUP BY 1""")  # noqa: S608 (constant text)
    cubes["systems"] = _cube("systems", "systems", ("group",), bands, q(
        "SELECT g.grp, s.band, count(*) FROM rep_system_risk s JOIN rep_system_groups g USING (system) "
        "GROUP BY ALL").fetchall())
    cubes["products"] = _cube("products", "assets", ("group", "product", "cycle"), PRODUCT_STATUSES, q(
        "SELECT a.grp, f.product, coalesce(f.cycle, '(unknown cycle)'), f.status, count(DISTINCT f.asset_id) "
        "FROM rep_findings f JOIN rep_assets a USING (asset_id) WHERE f.product IS NOT NULL "
        "GROUP BY ALL").fetchall())
    quarters = roadmap_quarters(day)
    start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    end = dt.date(start.year + 3, start.month, 1)
    phase_dates = ("SELECT f.asset_id, f.product, coalesce(f.cycle, '') AS cycle, p.phase, p.day "
                   "FROM rep_findings f, LATERAL (VALUES ('eoas', f.eoas), ('eol', f.eol), ('eoes', f.eoes)) "
                   "p(phase, day) WHERE f.product IS NOT NULL AND p.day >= $day AND p.day < $end")
    quarter_sql = "year(l.day) || '-Q' || quarter(l.day)"
    cubes["roadmap"] = _cube("roadmap", "assets", ("group", "quarter"), PHASES, q(
        f"SELECT a.grp, {quarter_sql}, l.phase, count(DISTINCT l.asset_id) FROM ({phase_dates}) l "  # noqa: S608
        "JOIN rep_assets a USING (asset_id) GROUP BY ALL", {"day": day, "end": end}).fetchall(),
        [(g[0], quarter) for g in groups for quarter in quarters])
    cubes["roadmap_products"] = _cube("roadmap_products", "assets", ("group", "product", "cycle"), quarters, q(
        f"SELECT a.grp, l.product, l.cycle, {quarter_sql}, count(DISTINCT l.asset_id) "  # noqa: S608
        f"FROM ({phase_dates}) l JOIN rep_assets a USING (asset_id) WHERE l.phase = 'eol' GROUP BY ALL",
        {"day": day, "end": end}).fetchall())
    cubes["trend"] = _cube("trend", "assets", ("group", "date"), STATUSES, _trend(con, day))
    seen = seen_columns(stale_days)
    cubes["seen"] = _cube("seen", "assets", ("group",), seen, q(
        "SELECT grp, CASE WHEN age <= 1 THEN $s0 WHEN age <= 7 THEN $s1 WHEN age <= $stale THEN $s2 ELSE $s3 END, "
        "count(*) FROM (SELECT grp, ($day::DATE - collected_at::DATE) AS age FROM rep_assets) GROUP BY ALL",
        {"day": day, "stale": stale_days, "s0": seen[0], "s1": seen[1], "s2": seen[2], "s3": seen[3]}).fetchall(),
        groups)
    cubes["methods"] = _cube("methods", "assets", ("group",), METHODS, q(
        "SELECT grp, method, count(*) FROM rep_assets GROUP BY ALL").fetchall(), groups)
    cubes["lifecycle"] = _cube("lifecycle", "assets", ("group",), LIFECYCLE_COVERAGE, q(
        "SELECT a.grp, CASE WHEN NOT EXISTS (SELECT 1 FROM rep_findings f WHERE f.asset_id = a.asset_id "
        "AND f.kind IN ('os', 'device')) THEN 'no_os' WHEN EXISTS (SELECT 1 FROM rep_findings f "
        "WHERE f.asset_id = a.asset_id AND f.kind IN ('os', 'device') AND f.status <> 'unknown') THEN 'os_known' "
        "ELSE 'os_unknown' END, count(*) FROM rep_assets a GROUP BY ALL").fetchall(), groups)
    cubes["assessments"] = _cube("assessments", "systems", ("group",), ASSESSMENT_COVERAGE, q(
        "SELECT g.grp, CASE WHEN EXISTS (SELECT 1 FROM rule_assessments r WHERE r.system = g.system) "
        "THEN 'assessed' ELSE 'not_assessed' END, count(*) FROM rep_system_groups g GROUP BY ALL").fetchall())
    return day, cubes


def _trend(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[tuple[Any, ...]]:
    """Worst status of every current asset at the end of each day that had a run for its own date.

    Each point takes, per asset, its row from the latest such run on or before that day (the
    collector rescoring after ingest scores only the assets it just stored).
    """
    return con.execute("""
        WITH live AS (
            SELECT run_id, as_of FROM score_runs WHERE live AND as_of <= $day
        ), points AS (
            SELECT DISTINCT as_of AS point FROM live ORDER BY point DESC LIMIT $points
        ), per_day AS (
            SELECT r.asset_id, l.as_of, arg_max(r.worst_status, r.run_id) AS worst_status
            FROM run_asset_risk r JOIN live l USING (run_id) GROUP BY r.asset_id, l.as_of
        ), latest AS (
            SELECT a.point, a.grp, x.worst_status
            FROM (SELECT p.point, r.asset_id, r.grp FROM points p CROSS JOIN rep_assets r) a
            ASOF JOIN per_day x ON x.asset_id = a.asset_id AND x.as_of <= a.point
        )
        SELECT grp, strftime(point, '%Y-%m-%d'), worst_status, count(*) FROM latest
        WHERE worst_status IS NOT NULL GROUP BY ALL""", {"day": day, "points": TREND_POINTS}).fetchall()


# --- suppression ---------------------------------------------------------------------------------

def _bridges(edges: Sequence[tuple[int, int]], rows: int) -> set[tuple[int, int]]:
    """Edges (row, column) of the bipartite graph that lie on no cycle (Tarjan, iterative).

    A withheld count that is such a bridge is fixed by the published totals; one on a cycle of
    withheld counts (each at least 1) can move by one either way along the cycle without changing
    any total, so it cannot be worked out.
    """
    adjacency: dict[int, list[tuple[int, int]]] = {}
    for index, (r, c) in enumerate(edges):
        a, b = r, rows + c
        adjacency.setdefault(a, []).append((b, index))
        adjacency.setdefault(b, []).append((a, index))
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    found: set[tuple[int, int]] = set()
    counter = 0
    for root in adjacency:
        if root in order:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack: list[tuple[int, int, int]] = [(root, -1, 0)]
        while stack:
            node, via, position = stack[-1]
            neighbours = adjacency[node]
            if position < len(neighbours):
                stack[-1] = (node, via, position + 1)
                nxt, edge = neighbours[position]
                if edge == via:
                    continue
                if nxt in order:
                    low[node] = min(low[node], order[nxt])
                else:
                    order[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append((nxt, edge, 0))
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        found.add(edges[via])
    return found


def suppression_pattern(matrix: list[list[int]], threshold: int) -> set[tuple[int, int]]:
    """Cells to withhold in a table whose last row and last column are the totals.

    Primary: every count from 1 to threshold - 1 (totals included). Complementary: while a withheld
    count could be worked out from the rest (it is a bridge in the graph of withheld cells), withhold
    the cheapest rectangle of counts of at least 1 that puts it on a cycle. A rectangle through the
    totals always exists, so this ends. Zeros are never withheld (nor needed): they are published.
    """
    n_rows, n_cols = len(matrix), len(matrix[0]) if matrix else 0
    hidden = {(i, j) for i in range(n_rows) for j in range(n_cols) if 0 < matrix[i][j] < threshold}
    nonzero_in_row = [[j for j in range(n_cols) if matrix[i][j] > 0] for i in range(n_rows)]
    nonzero_in_col = [[i for i in range(n_rows) if matrix[i][j] > 0] for j in range(n_cols)]
    while True:
        bridges = _bridges(sorted(hidden), n_rows)
        if not bridges:
            return hidden
        # Every bridge found gets its rectangle in this pass (one that an earlier rectangle of the pass
        # already touched is left for the next pass): far fewer passes on large tables.
        touched: set[tuple[int, int]] = set()
        for i, j in sorted(bridges):
            if any(cell[0] == i or cell[1] == j for cell in touched):
                continue
            best: tuple[tuple[int, int], list[tuple[int, int]]] | None = None
            for i2 in nonzero_in_col[j]:
                if i2 == i:
                    continue
                for j2 in nonzero_in_row[i]:
                    if j2 == j or matrix[i2][j2] <= 0:
                        continue
                    new = [cell for cell in ((i, j2), (i2, j), (i2, j2)) if cell not in hidden]
                    cost = (sum(matrix[a][b] for a, b in new), len(new))
                    if best is None or cost < best[0]:
                        best = (cost, new)
            if best is None:  # cannot happen with consistent totals; withhold everything rather than leak
                return {(a, b) for a in range(n_rows) for b in range(n_cols) if matrix[a][b] > 0}
            hidden.update(best[1])
            touched.update([(i, j), *best[1]])


def suppress(cube: Cube, threshold: int) -> Cube:
    """The cube with small counts and their complements withheld (their value replaced by 0)."""
    matrix = [[c.value for c in row.cells] + [row.total.value] for row in cube.rows]
    matrix.append([c.value for c in cube.totals.cells] + [cube.totals.total.value])
    hidden = suppression_pattern(matrix, threshold) if threshold > 1 else set()

    def count(i: int, j: int) -> Count:
        return Count(0, True) if (i, j) in hidden else Count(matrix[i][j])

    width = len(cube.columns)
    rows = [Row(r.key, [count(i, j) for j in range(width)], count(i, width)) for i, r in enumerate(cube.rows)]
    last = len(cube.rows)
    totals = Row((), [count(last, j) for j in range(width)], count(last, width))
    return Cube(cube.name, cube.unit, cube.row_dims, cube.columns, rows, totals)


# --- merging (the GDS view) ----------------------------------------------------------------------

def merge(cubes: Iterable[Cube]) -> Cube:
    """Add cubes of one kind: rows with the same key add up; a sum with a withheld part is withheld."""
    items = list(cubes)
    first = items[0]
    columns = list(first.columns)
    for cube in items[1:]:
        columns += [c for c in cube.columns if c not in columns]
    table: dict[tuple[str, ...], Row] = {}
    totals = Row((), [ZERO] * len(columns), ZERO)

    def add(target: Row, source: Row, cube: Cube) -> None:
        for column, cell in zip(cube.columns, source.cells, strict=True):
            k = columns.index(column)
            target.cells[k] = target.cells[k] + cell
        target.total = target.total + source.total

    for cube in items:
        for row in cube.rows:
            add(table.setdefault(row.key, Row(row.key, [ZERO] * len(columns), ZERO)), row, cube)
        add(totals, cube.totals, cube)
    ordered: Callable[[Row], tuple[str, ...]] = lambda r: r.key  # noqa: E731
    merged = Cube(first.name, first.unit, first.row_dims, tuple(columns), sorted(table.values(), key=ordered), totals)
    if all(re.fullmatch(r"\d{4}-Q[1-4]", c) for c in columns) and columns != sorted(columns):
        # Collectors a quarter apart: keep the quarters in time order.
        order = sorted(range(len(columns)), key=lambda k: columns[k])
        for row in [*merged.rows, merged.totals]:
            row.cells = [row.cells[k] for k in order]
        merged.columns = tuple(columns[k] for k in order)
    return merged


def summarise(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None, threshold: int = DEFAULT_THRESHOLD,
              stale_days: int = DEFAULT_STALE_DAYS) -> Summary:
    """The estate's aggregates by organisation with small counts withheld: the Summary RPC's answer."""
    day, cubes = build_cubes(con, "org", as_of, stale_days)
    return Summary(dt.datetime.now(dt.timezone.utc), day, threshold, stale_days,
                   {name: suppress(cube, threshold) for name, cube in cubes.items()})
