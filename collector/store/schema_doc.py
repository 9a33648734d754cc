"""docs/schema.md from the database's own COMMENTs: tables, views, columns and table macros.

Usage: python -m estate.collector.store.schema_doc [OUT]   (default docs/schema.md; '-' for stdout)
A test regenerates it from a fresh store and fails when the committed file differs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

from estate.collector.store.database import Store

HEADER = """# The estate database: tables, views and macros

Generated from the COMMENTs in the migrations (collector/store/migrations/) by
`python -m estate.collector.store.schema_doc`; do not edit by hand (a test fails when it is out of date).
Analysts read a snapshot of this database (`estate-collector snapshot`, then `duckdb -readonly FILE`, or
`estate-collector sql`); docs/questions.md has example questions with their SQL.
"""


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render(con: duckdb.DuckDBPyConnection) -> str:
    """The schema as Markdown: one section per table, view and table macro, in name order."""
    out = [HEADER]
    relations = con.execute(
        "SELECT 'table' AS kind, table_name AS name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary "
        "UNION ALL SELECT 'view', view_name, comment FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal AND NOT temporary "
        "ORDER BY kind, name").fetchall()
    columns: dict[str, list[tuple[str, str, str | None]]] = {}
    for table, column, data_type, comment in con.execute(
            "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index"
    ).fetchall():
        columns.setdefault(table, []).append((column, data_type, comment))
    # A current_X view has the columns of table X (current_reports: reports): their descriptions are X's.
    for view, view_columns in columns.items():
        base = view.removeprefix("current_")
        if view.startswith("current_") and base in columns:
            described = {column: text for column, _, text in columns[base]}
            columns[view] = [(c, t, text or described.get(c)) for c, t, text in view_columns]
    for heading, kind in (("Tables", "table"), ("Views", "view")):
        out.append(f"## {heading}\n")
        for _, name, comment in (r for r in relations if r[0] == kind):
            out.append(f"### {name}\n\n{comment or ''}\n\n| column | type | description |\n|---|---|---|")
            out.extend(f"| {column} | {_cell(data_type)} | {_cell(text)} |"
                       for column, data_type, text in columns[name])
            out.append("")
    macros = con.execute(
        "SELECT function_name, parameters, comment, function_type FROM duckdb_functions() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal "
        "AND function_type IN ('table_macro', 'macro') ORDER BY function_name").fetchall()
    out.append("## Macros\n")
    for name, parameters, comment, function_type in macros:
        kind = "table macro" if function_type == "table_macro" else "macro"
        out.append(f"### {name}({', '.join(parameters)})\n\n{kind}: {comment or ''}\n")
    return "\n".join(out).rstrip() + "\n"


def generate() -> str:
    """The schema document of a freshly migrated store."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "schema.duckdb")
        try:
            return render(store.con)
        finally:
            store.close()


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "docs/schema.md"
    text = generate()
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
