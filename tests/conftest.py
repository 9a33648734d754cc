"""Shared test fixtures: paths, fixture host folders, and a real collector process on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.collector.process import CollectorProcess, start_collector

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
HOST_FIXTURES = FIXTURES / "hosts"


def host_fixture_dirs() -> list[Path]:
    """Every captured host folder: a new folder is a new test case, with no code."""
    return sorted(p for p in HOST_FIXTURES.iterdir() if (p / "expected.json").is_file())


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A real `estate-collector serve` on a free 127.0.0.1 port with its own DuckDB file."""
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) built from this checkout with `python -m build`, as `make dist` does."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], check=True,
                   capture_output=True, text=True)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist
