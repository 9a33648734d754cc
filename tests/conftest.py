"""Shared test fixtures: paths, fixture host folders, and a real collector process on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    """(wheel, sdist) built from this checkout with `python -m build`, as `make dist` does.

    --no-isolation: with the setuptools already installed, so building needs no network.
    """
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out),
                    str(REPO)], check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist
# An integration test that skips has tested nothing while the run looks green: a missing sshd,
# snmpd or collector is a setup error. Any skipped integration test fails the whole session.
_SKIPPED_INTEGRATION = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SKIPPED_INTEGRATION] = []


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception) \
            and item.get_closest_marker("integration") is not None:
        item.config.stash[_SKIPPED_INTEGRATION].append(f"{item.nodeid}: {call.excinfo.value}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    skipped = config.stash[_SKIPPED_INTEGRATION]
    if skipped:
        terminalreporter.section("integration tests skipped: the run fails", sep="=", red=True, bold=True)
        for line in skipped:
            terminalreporter.line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash[_SKIPPED_INTEGRATION] and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
