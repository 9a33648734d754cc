"""The shipped systemd units are valid (systemd-analyze verify) and run the commands that exist."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

UNITS = REPO / "deploy" / "systemd"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_units_verify(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    for unit in UNITS.iterdir():
        # Point ExecStart at this checkout's installed commands: verify checks they are executable.
        text = unit.read_text().replace("/opt/legacy-estate/bin/", f"{bin_dir}/")
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True)
    # verify exits 0 on unknown keys and bad values but says so: any line about our units fails the test.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_units_use_options_the_commands_have() -> None:
    def help_of(module: str, command: str) -> str:
        return subprocess.run([sys.executable, "-m", module, command, "--help"], capture_output=True, text=True,
                              check=True).stdout

    agent_help, serve_help = help_of("estate.agent.cli", "scan"), help_of("estate.collector.cli", "serve")
    for option in ("--collector", "--tls-ca", "--tls-cert", "--tls-key", "--spool"):
        assert option in (UNITS / "estate-agent.service").read_text() and option in agent_help
    for option in ("--db", "--listen", "--tls-cert", "--tls-key", "--tls-ca"):
        assert option in (UNITS / "estate-collector.service").read_text() and option in serve_help
