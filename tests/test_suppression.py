"""Small counts withheld, and their complements: no withheld count follows from the totals."""

from __future__ import annotations

import random

import pytest

from estate.collector.read.summary import Count, Cube, Row, cube_from_counts, merge, suppress

from .disclosure import matrix_of, recoverable


def random_cube(seed: int, rows: int, cols: int) -> Cube:
    rng = random.Random(seed)
    values = (0, 0, 1, 2, 3, 4, 5, 7, 12, 40)
    table: dict[tuple[str, ...], list[int]] = {(f"org{r}",): [rng.choice(values) for _ in range(cols)]
                                               for r in range(rows)}
    return cube_from_counts("t", "assets", ("group",), tuple(f"c{j}" for j in range(cols)), table)


@pytest.mark.parametrize("seed", range(60))
def test_no_withheld_count_can_be_worked_out(seed: int) -> None:
    rng = random.Random(seed)
    cube = random_cube(seed, rng.randrange(1, 9), rng.randrange(1, 8))
    published = suppress(cube, 5)
    cells, true = matrix_of(published), matrix_of(cube)
    for i, row in enumerate(true):
        for j, c in enumerate(row):
            shown = cells[i][j]
            if 0 < c.value < 5:
                assert shown.withheld, (i, j, c)  # every small count is withheld, totals included
            if shown.withheld:
                assert shown.value == 0 and c.value >= 1  # never sent, never a zero (zeros are public)
            else:
                assert shown.value == c.value
    assert recoverable(cells) == []


@pytest.mark.parametrize("seed", range(4))
def test_large_tables_too(seed: int) -> None:
    """Many withheld counts at once: several bridges get their complements in one pass."""
    cube = random_cube(100 + seed, 30, 10)
    cells = matrix_of(suppress(cube, 5))
    assert sum(c.withheld for row in cells for c in row) > 60
    assert recoverable(cells) == []


def test_one_small_count_in_a_row_takes_a_partner_with_it() -> None:
    """3 next to 100 with the row total shown would give the 3 away: something else goes too."""
    cube = cube_from_counts("t", "assets", ("group",), ("eol", "supported"), {("a",): [3, 100], ("b",): [20, 30]})
    published = suppress(cube, 5)
    assert published.rows[0].cells[0].withheld
    assert sum(c.withheld for c in [*published.rows[0].cells, published.rows[0].total]) >= 2
    assert recoverable(matrix_of(published)) == []


def test_the_auditor_finds_a_lone_withheld_count() -> None:
    """The check itself can fail: one withheld cell with its totals shown is recoverable."""
    leaky = Cube("t", "assets", ("group",), ("x", "y"),
                 [Row(("a",), [Count(0, True), Count(9)], Count(12))], Row((), [Count(3), Count(9)], Count(12)))
    assert recoverable(matrix_of(leaky)) == [(0, 0)]


def test_threshold_one_withholds_nothing() -> None:
    cube = random_cube(3, 4, 4)
    assert suppress(cube, 1) == cube


def test_merge_adds_rows_and_carries_withheld() -> None:
    a = cube_from_counts("t", "assets", ("group",), ("x", "y"), {("a",): [10, 20]})
    b = cube_from_counts("t", "assets", ("group",), ("x", "y"), {("b",): [7, 8], ("a",): [1, 1]})
    b.rows[0].cells[0] = Count(0, True)
    merged = merge([a, b])
    assert [r.key for r in merged.rows] == [("a",), ("b",)]
    assert merged.rows[0].cells == [Count(10, True), Count(21)]
    assert merged.totals.total == Count(a.totals.total.value + b.totals.total.value)
