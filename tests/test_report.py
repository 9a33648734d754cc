"""The estate report from a real store: its numbers against the store, its formats, and the HTML
opened in headless Chromium (charts and tables drawn, no network, a screenshot for review)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.store.database import Store

from .conftest import REPO
from .estate_data import estate
from .rulekit import RULES

COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]
ROADMAP_DAY = "2027-03-31"
ARTIFACTS = REPO / "build" / "test-artifacts"


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    db = tmp_path_factory.mktemp("report") / "estate.duckdb"
    store = Store(db)
    reports = estate("hmrc", 30, 1).reports + estate("dwp", 12, 2).reports + estate("dfe", 4, 3).reports
    assert all(o.status == "ACCEPTED" for o in store.write_reports(reports, via="file"))
    sync_rules(store.con, RULES)
    score(store.con)
    score(store.con, dt.date.fromisoformat(ROADMAP_DAY), live=False)
    store.close()
    yield db


def run_report(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COLLECTOR_CLI, "report", "--db", str(db), *args], capture_output=True, text=True,
                          timeout=300)


def load_json(db: Path, *args: str) -> dict[str, Any]:
    result = run_report(db, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_numbers_equal_the_store(store_db: Path) -> None:
    doc = load_json(store_db)
    with duckdb.connect(str(store_db), read_only=True) as con:
        expected = dict(con.execute(
            "SELECT element_at(c.labels, 'org')[1] || '/' || r.worst_status, count(*) FROM current_reports c "
            "JOIN asset_risk r USING (asset_id) GROUP BY ALL").fetchall())
        products = dict(con.execute(
            "SELECT product || ' ' || cycle || '/' || status, count(DISTINCT asset_id) FROM findings "
            "WHERE product IS NOT NULL AND cycle IS NOT NULL GROUP BY ALL").fetchall())
        systems = con.execute("SELECT system, band FROM system_risk ORDER BY overall DESC, system").fetchall()
    status = doc["tables"]["status"]
    got = {f"{row['key'][0]}/{col}": n for row in status["rows"]
           for col, n in zip(status["columns"], row["cells"], strict=True) if n}
    assert got == expected
    assert status["totals"]["total"] == 46
    table = doc["tables"]["products"]
    summed: dict[str, int] = {}
    for row in table["rows"]:
        for col, n in zip(table["columns"], row["cells"], strict=True):
            if n and row["key"][2] != "(unknown cycle)":
                name = f"{row['key'][1]} {row['key'][2]}/{col}"
                summed[name] = summed.get(name, 0) + n
    assert summed == products
    assert [(s["system"], s["band"]) for s in doc["systems"]] == systems
    assert all(s["why"] for s in doc["systems"])  # every system says why
    assert doc["as_of"] == dt.date.today().isoformat()


def test_roadmap_run_and_grouping(store_db: Path) -> None:
    today, later = load_json(store_db), load_json(store_db, "--as-of", ROADMAP_DAY)
    assert later["as_of"] == ROADMAP_DAY
    assert [r["key"][1] for r in later["tables"]["roadmap"]["rows"][:4]] == ["2027-Q1", "2027-Q2", "2027-Q3",
                                                                             "2027-Q4"]
    worse = later["tables"]["status"]["totals"]["cells"][0]
    assert worse >= today["tables"]["status"]["totals"]["cells"][0]  # nothing gets younger
    by_dept = load_json(store_db, "--by", "department")
    assert {r["key"][0] for r in by_dept["tables"]["status"]["rows"]} == {
        "hmrc-dept-0", "hmrc-dept-1", "dwp-dept-0", "dwp-dept-1", "dfe-dept-0", "dfe-dept-1"}
    missing = run_report(store_db, "--as-of", "2030-01-01")
    assert missing.returncode == 1 and "no scoring run for 2030-01-01" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_csv_has_the_same_counts(store_db: Path) -> None:
    doc = load_json(store_db)
    result = run_report(store_db, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    status = {(r["group"], r["category"]): int(r["count"]) for r in rows if r["table"] == "status"}
    for row in doc["tables"]["status"]["rows"]:
        for col, n in zip(doc["tables"]["status"]["columns"], row["cells"], strict=True):
            assert status[(row["key"][0], col)] == n
    assert status[("total", "total")] == 46


def test_bad_database_and_output_are_named(tmp_path: Path, store_db: Path) -> None:
    missing = run_report(tmp_path / "nope.duckdb")
    assert missing.returncode == 1 and "no such database" in missing.stderr
    empty = tmp_path / "other.duckdb"
    duckdb.connect(str(empty)).close()
    other = run_report(empty)
    assert other.returncode == 1 and "neither a collector's store nor a GDS database" in other.stderr
    unwritable = run_report(store_db, "--out", str(tmp_path / "no-such-dir" / "r.html"))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr


# --- the HTML in a real browser ---------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
                  "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: 'make system-packages' installs it"
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180)


# Chromium's traffic annotation of the renderer's resource loads (blink_resource_loader): what a page
# asks for, as opposed to the browser's own background requests.
PAGE_LOADS = 101845102


def page_requests(tmp_path: Path, page: Path, *args: str) -> set[str]:
    """Every URL the page itself asked for, from Chromium's network log."""
    netlog = tmp_path / f"{page.stem}-netlog.json"
    result = chromium(tmp_path, f"--log-net-log={netlog}", *args, page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    events = json.loads(netlog.read_text())["events"]
    return {e["params"]["url"] for e in events
            if e.get("params", {}).get("traffic_annotation") == PAGE_LOADS and "url" in e["params"]}


class DomCounter(HTMLParser):
    """Charts (svg) with their drawn marks, and the body rows of each table by id."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[int] = []
        self.in_svg = 0
        self.table_rows: dict[str, int] = {}
        self.declared: dict[str, int] = {}
        self.table: str | None = None
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.svgs.append(0)
            self.in_svg += 1
        elif self.in_svg and tag in ("path", "rect", "line", "text") and (a.get("d") or tag != "path"):
            self.svgs[-1] += 1
        elif tag == "table":
            self.table = a.get("id") or ""
            self.table_rows[self.table] = 0
            self.declared[self.table] = int(a.get("data-rows") or 0)
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and self.table is not None and "total" not in (a.get("class") or ""):
            self.table_rows[self.table] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_svg -= 1
        elif tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.table = None


def test_html_renders_in_chromium_without_network(store_db: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run_report(store_db, "--format", "html", "--out", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    doc = load_json(store_db)

    # Nothing to fetch: a policy forbidding every fetch, and no web address anywhere in the page.
    assert "default-src 'none'" in html
    assert re.findall(r"https?://", html) == []
    assert not re.search(r"<script|<link|@import|url\(", html)

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    counter = DomCounter()
    counter.feed(dom.stdout)
    assert len(counter.svgs) >= 6 and all(marks > 10 for marks in counter.svgs), counter.svgs
    # Table rows equal the data behind them.
    t = doc["tables"]
    assert counter.table_rows["status-table"] == len(t["status"]["rows"]) == 3
    assert counter.table_rows["systems-why-table"] == len(doc["systems"])
    assert counter.table_rows["roadmap-table"] == 12
    assert counter.table_rows["methods-table"] == len(t["methods"]["rows"])
    for table_id, rows in counter.table_rows.items():
        assert rows == max(counter.declared[table_id], 1), table_id  # an empty table says so in one row
    # Headings in order: one h1, and no level skipped.
    levels = [int(h) for h in re.findall(r"<h([1-6])", dom.stdout)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert 'scope="col"' in dom.stdout and 'scope="row"' in dom.stdout and "<caption" in dom.stdout

    # The page asked for nothing (the check itself sees a page that does: see the control page).
    shot = tmp_path / "report.png"
    assert page_requests(tmp_path, page, "--window-size=1280,6000", f"--screenshot={shot}") == set()
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://127.0.0.1:9/pixel.png" alt=""></body></html>')
    assert page_requests(tmp_path, control, "--dump-dom") == {"http://127.0.0.1:9/pixel.png"}
    assert shot.stat().st_size > 50_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report.png")  # for people to look at

    pdf = tmp_path / "report.pdf"
    printed = chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert printed.returncode == 0 and pdf.read_bytes().startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) >= 4  # printable: sections break into pages


def test_stale_threshold_follows_the_rules_in_force(tmp_path: Path, store_db: Path) -> None:
    """Without --stale-days the report counts stale assets as scoring.yaml's status.stale_after_days
    says (the threshold asset_status and scoring use), so the two never disagree."""
    assert load_json(store_db)["stale_days"] == 30  # the shipped rules
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    scoring = rules / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("stale_after_days: 30", "stale_after_days: 45"))
    db = tmp_path / "estate.duckdb"
    shutil.copy(store_db, db)
    store = Store(db)
    try:
        assert sync_rules(store.con, rules).changed
    finally:
        store.close()
    assert load_json(db)["stale_days"] == 45
    assert load_json(db, "--stale-days", "60")["stale_days"] == 60
