"""Every CLI command is documented in the README and answers --help."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from estate.agent.cli import build_parser as agent_parser
from estate.collector.cli import build_parser as collector_parser

from .conftest import REPO


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


CASES = [("estate-agent", "estate.agent.cli", c) for c in _commands(agent_parser())] + [
    ("estate-collector", "estate.collector.cli", c) for c in _commands(collector_parser())]


@pytest.mark.parametrize(("program", "module", "command"), CASES, ids=[f"{p} {c}" for p, _, c in CASES])
def test_command_documented_and_has_help(program: str, module: str, command: str) -> None:
    readme = (REPO / "README.md").read_text()
    assert f"### {program} {command}" in readme
    result = subprocess.run([sys.executable, "-m", module, command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage:" in result.stdout


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    head = readme[: readme.index("## What works today")]
    assert "make demo" in head and "make test" in head
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci
