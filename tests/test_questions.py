"""docs/questions.md: every question's SQL runs in the sandbox on a snapshot of the seeded estate, and
gives what the question says; docs/schema.md is what the COMMENTs generate."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from estate.collector.read.sandbox import run_sql
from estate.collector.store.schema_doc import generate
from estate.collector.store.snapshot import snapshot_file

from .conftest import REPO
from .estate_seed import seeded_estate

QUESTIONS = REPO / "docs" / "questions.md"
Rows = list[dict[str, Any]]
D = dt.date


def questions() -> list[tuple[int, str, str]]:
    """(number, question, sql) of each section of docs/questions.md."""
    found = re.findall(r"^## (\d+)\. (.+?)\n\n```sql\n(.+?)```", QUESTIONS.read_text(), re.MULTILINE | re.DOTALL)
    return [(int(n), title, sql.strip()) for n, title, sql in found]


def hosts(rows: Rows) -> list[str]:
    return sorted({row["hostname"] for row in rows})


def check_1(rows: Rows) -> None:  # every Windows Server 2012 host
    assert hosts(rows) == ["fin-app1", "fin-dc1"]
    assert {row["cycle"] for row in rows} == {"2012-r2"} and {row["status"] for row in rows} == {"eol"}


def check_2(rows: Rows) -> None:  # ends between today and 31 March 2027
    assert [(r["hostname"], r["product"], r["phase"], r["ends_on"]) for r in rows] == [
        ("ledger2", "oracle-solaris", "extended", D(2027, 1, 1))]


def check_3(rows: Rows) -> None:  # out of security support by 31 March 2027
    assert hosts(rows) == ["build2", "crm-db1", "fin-app1", "fin-db1", "fin-dc1", "intra-web1", "ledger1", "ledger2"]
    assert "build1" not in hosts(rows), "Ubuntu 22.04 ends on 1 April 2027, after the date"


def check_4(rows: Rows) -> None:  # red systems and why
    assert sorted({r["system"] for r in rows}) == ["build", "crm", "intranet", "ledger", "payroll"]
    payroll_l1 = [r for r in rows if r["system"] == "payroll" and r["criterion"] == "L1"]
    assert len(payroll_l1) == 1 and payroll_l1[0]["score"] == 6
    behind = {(f["hostname"], f["product"], f["status"]) for f in payroll_l1[0]["findings"]}
    assert ("fin-dc1", "windows-server", "eol") in behind and ("fin-db1", "rhel", "eol") in behind
    assert all(r["overall"] >= 16 for r in rows), "red starts at 16"


def check_5(rows: Rows) -> None:  # changed OS
    assert [(r["hostname"], r["os_then"], r["os_now"]) for r in rows] == [
        ("build1", "Ubuntu 20.04.6 LTS", "Ubuntu 22.04.2 LTS")]


def check_6(rows: Rows) -> None:  # exposed listeners on EOL software
    assert [(r["hostname"], r["port"]) for r in rows] == [
        ("build2", 8080), ("crm-db1", 1521), ("fin-db1", 5432), ("fin-dc1", 445), ("intra-web1", 443),
        ("ledger1", 22)]
    assert all(r["address"] == "0.0.0.0" for r in rows), "loopback listeners are not exposed"
    assert "intra-web2" not in hosts(rows), "its Windows Server 2019 is supported"


def check_7(rows: Rows) -> None:  # next 180 days
    assert [(r["hostname"], r["phase"], r["days_left"]) for r in rows] == [
        ("ledger2", "extended", 31), ("build1", "security", 121)]
    assert all(0 <= r["days_left"] <= 180 for r in rows)


def check_8(rows: Rows) -> None:  # assets by org and status
    counts = {(r["org"], r["status"]): r["assets"] for r in rows}
    assert counts == {("hmrc", "eol"): 3, ("hmrc", "extended"): 1, ("hmrc", "supported"): 2,
                      ("dwp", "eol"): 3, ("dwp", "eol_soon"): 1, ("dwp", "extended"): 1,
                      ("dwp", "supported"): 1}
    assert sum(counts.values()) == 12, "every asset once"


def check_9(rows: Rows) -> None:  # legacy products on most assets
    assert (rows[0]["product"], rows[0]["cycle"], rows[0]["assets"]) == ("windows-server", "2012-r2", 2)
    assert all(r["assets"] <= rows[0]["assets"] for r in rows)


def check_10(rows: Rows) -> None:  # extended support only
    assert [(r["hostname"], r["eoes"]) for r in rows] == [("ledger2", D(2027, 1, 1)), ("intra-web1", D(2028, 6, 30))]
    assert all(r["eol"] < D(2026, 12, 1) < r["eoes"] for r in rows)


def check_11(rows: Rows) -> None:  # production hosts with an EOL OS
    assert [(r["system"], r["hostname"]) for r in rows] == [
        ("crm", "crm-db1"), ("ledger", "ledger1"), ("payroll", "fin-app1"), ("payroll", "fin-db1"),
        ("payroll", "fin-dc1")]
    assert "build2" not in hosts(rows), "build2 is end of life but in test, not production"


def check_12(rows: Rows) -> None:  # unidentified
    assert [(r["hostname"], r["kind"]) for r in rows] == [("intra-web2", "kernel")]


def check_13(rows: Rows) -> None:  # systems ranked
    assert [r["overall"] for r in rows] == sorted((r["overall"] for r in rows), reverse=True)
    assert {r["system"] for r in rows} == {"build", "crm", "intranet", "ledger", "payroll"}
    assert sum(r["assets"] for r in rows) == 12


CHECKS: dict[int, Callable[[Rows], None]] = {
    int(name.removeprefix("check_")): fn for name, fn in globals().items() if name.startswith("check_")}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("questions")
    seeded_estate(tmp / "estate.duckdb").close()
    return snapshot_file(tmp / "estate.duckdb", tmp / "estate.snapshot.duckdb").path


def test_at_least_twelve_questions_each_with_a_check() -> None:
    found = questions()
    assert len(found) >= 12
    assert [n for n, _, _ in found] == list(range(1, len(found) + 1))
    assert sorted(CHECKS) == [n for n, _, _ in found], "every question is checked, and only those"


@pytest.mark.parametrize(("number", "title", "sql"), questions(), ids=[f"q{n}" for n, _, _ in questions()])
def test_question(snapshot: Path, number: int, title: str, sql: str) -> None:
    rows = run_sql(snapshot, sql).to_pylist()
    assert rows, f"question {number} ({title}) found nothing on the seeded estate"
    CHECKS[number](rows)


def test_schema_doc_is_up_to_date() -> None:
    committed = (REPO / "docs" / "schema.md").read_text()
    assert committed == generate(), "docs/schema.md is out of date: python -m estate.collector.store.schema_doc"


def test_every_table_view_column_and_macro_is_described() -> None:
    text = generate()
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        title, _, body = section.partition("\n")
        assert body.strip() and not body.strip().startswith("|"), f"{title} has no description"
        for line in body.splitlines():
            if line.startswith("| ") and not line.startswith(("| column", "|---")):
                assert not line.rstrip().endswith("|  |"), f"{title}: {line}"
