"""An auditor's check that no withheld count can be worked out from what a table publishes."""

from __future__ import annotations

from fractions import Fraction

from estate.collector.read.summary import Count, Cube


def matrix_of(cube: Cube) -> list[list[Count]]:
    """The table with its row totals as the last column and its column totals as the last row."""
    rows = [[*r.cells, r.total] for r in cube.rows]
    rows.append([*cube.totals.cells, cube.totals.total])
    return rows


def reduced_rows(matrix: list[list[int]]) -> list[list[Fraction]]:
    """Reduced row echelon form by exact Gaussian elimination (fractions: no rounding decides)."""
    rows = [[Fraction(v) for v in row] for row in matrix]
    found = 0
    width = len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((r for r in range(found, len(rows)) if rows[r][col] != 0), None)
        if pivot is None:
            continue
        rows[found], rows[pivot] = rows[pivot], rows[found]
        lead = rows[found][col]
        rows[found] = [v / lead for v in rows[found]]
        for r in range(len(rows)):
            if r != found and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[found], strict=True)]
        found += 1
    return rows[:found]


def recoverable(cells: list[list[Count]]) -> list[tuple[int, int]]:
    """Withheld cells whose value follows from the published counts and the additivity of the table.

    Every row (cells minus its total) and every column sums to zero: a linear system in the withheld
    cells. A cell is determined exactly when its unit vector lies in the row space of that system's
    matrix; with every withheld count at least 1 (zeros are never withheld), one that is not
    determined can also move by one either way without any count going negative.
    """
    hidden = [(i, j) for i, row in enumerate(cells) for j, c in enumerate(row) if c.withheld]
    if not hidden:
        return []
    n_rows, n_cols = len(cells), len(cells[0])
    index = {cell: k for k, cell in enumerate(hidden)}
    equations: list[list[int]] = []
    for i in range(n_rows):
        eq = [0] * len(hidden)
        for j in range(n_cols):
            if (i, j) in index:
                eq[index[(i, j)]] = -1 if j == n_cols - 1 else 1
        equations.append(eq)
    for j in range(n_cols):
        eq = [0] * len(hidden)
        for i in range(n_rows):
            if (i, j) in index:
                eq[index[(i, j)]] = -1 if i == n_rows - 1 else 1
        equations.append(eq)
    # A unit vector lies in the row space exactly when the reduced form has it as one of its rows.
    found = []
    for row in reduced_rows(equations):
        nonzero = [k for k, v in enumerate(row) if v != 0]
        if len(nonzero) == 1:
            found.append(hidden[nonzero[0]])
    return sorted(found)
