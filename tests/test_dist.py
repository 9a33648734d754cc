"""The built wheel and sdist: what they carry, and that they install and run in fresh virtual environments.

Installed as users install them (issue 15): agent-only, where every estate-agent command works and
estate-collector says in one line which extra it needs; and with the [collector] extra, where the
demo's loop (serve, scan sent over gRPC, score) runs from the installed commands alone.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
import venv
from pathlib import Path

import pytest

from estate.agent.cli import build_parser as agent_parser
from estate.collector.cli import build_parser as collector_parser

pytestmark = pytest.mark.integration


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


def _fresh_venv(where: Path, requirement: str) -> Path:
    """A new virtual environment with `requirement` installed from the wheel file; returns its bin/."""
    venv.EnvBuilder(with_pip=True).create(where)
    bin_dir = where / "bin"
    result = subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check", requirement],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return bin_dir


@pytest.fixture(scope="module")
def agent_only(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fresh_venv(tmp_path_factory.mktemp("agent-venv"), str(dist[0]))


@pytest.fixture(scope="module")
def with_collector(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fresh_venv(tmp_path_factory.mktemp("collector-venv"), f"{dist[0]}[collector]")


def _clean_env() -> dict[str, str]:
    # Nothing from this checkout's environment may leak into the installed commands.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(bin_dir: Path, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / argv[0]), *argv[1:]], capture_output=True, text=True, env=_clean_env(),
                          cwd=cwd, timeout=120)


def test_agent_only_install_runs_every_agent_command(agent_only: Path, tmp_path: Path) -> None:
    for command in _commands(agent_parser()):
        result = _run(agent_only, "estate-agent", command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, (command, result.stderr)
    result = _run(agent_only, "estate-agent", "scan", "--output", str(tmp_path / "r.json"))
    assert result.returncode == 0, result.stderr
    assert '"packages"' in (tmp_path / "r.json").read_text()
    # SNMP and SSH need nothing beyond the agent's own dependencies: their inventory checks run.
    inventory = tmp_path / "network.yaml"
    inventory.write_text("targets:\n  - address: 127.0.0.1\n    version: 9\n")
    result = _run(agent_only, "estate-agent", "snmp", "--inventory", str(inventory))
    assert result.returncode == 2 and "version" in result.stderr and "Traceback" not in result.stderr


def test_agent_only_install_names_the_collector_extra(agent_only: Path) -> None:
    for argv in (("--help",), ("serve", "--help"), ("assets",)):
        result = _run(agent_only, "estate-collector", *argv)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1
        assert "pip install 'legacy-estate[collector]'" in result.stderr


def test_collector_install_runs_every_command_and_the_demo_loop(with_collector: Path, tmp_path: Path) -> None:
    for command in _commands(collector_parser()):
        result = _run(with_collector, "estate-collector", command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, (command, result.stderr)
    db, log = tmp_path / "estate.duckdb", tmp_path / "collector.log"
    with open(log, "w") as out:
        serve = subprocess.Popen([str(with_collector / "estate-collector"), "serve", "--db", str(db),
                                  "--listen", "127.0.0.1:0"], stdout=out, stderr=subprocess.STDOUT,
                                 env=_clean_env())
    try:
        port = None
        for _ in range(600):
            match = re.search(r"listening on 127\.0\.0\.1:(\d+) ", log.read_text())
            if match:
                port = match.group(1)
                break
            assert serve.poll() is None, log.read_text()
            time.sleep(0.05)
        assert port, log.read_text()
        sent = _run(with_collector, "estate-agent", "scan", "--collector", f"127.0.0.1:{port}",
                    "--spool", str(tmp_path / "spool"))
        assert sent.returncode == 0, sent.stderr
    finally:
        serve.terminate()
        assert serve.wait(30) == 0, log.read_text()
    scored = _run(with_collector, "estate-collector", "score", "--db", str(db), "--as-of", "2026-11-30")
    assert scored.returncode == 0, scored.stderr
    assets = _run(with_collector, "estate-collector", "assets", "--db", str(db), "--format", "json")
    assert assets.returncode == 0 and os.uname().nodename.split(".")[0] in assets.stdout
    # The report's templates and stylesheet ship as package data.
    report = _run(with_collector, "estate-collector", "report", "--db", str(db), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "<svg" in (tmp_path / "r.html").read_text()
