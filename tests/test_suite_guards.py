"""The suite's own guards: a skipped integration test fails the run, a missing real program is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from . import programs
from .conftest import REPO
from .sshd import start_sshd


def test_a_skipped_integration_test_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.integration\n"
        "def test_needs_a_server():\n    pytest.skip('no server here')\n\n"
        "def test_plain():\n    pass\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                          "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
                          str(tmp_path / "test_skips.py")],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "integration tests skipped: the run fails" in run.stdout
    assert "test_skips.py::test_needs_a_server: no server here" in run.stdout


def test_a_missing_program_is_named_with_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(programs, "SEARCH_PATH", str(tmp_path))  # a machine without sshd
    with pytest.raises(programs.MissingProgram, match=r"sshd is not installed.*openssh-server"):
        start_sshd(tmp_path / "sshd")
    assert not (tmp_path / "sshd").exists()  # nothing was started or written first


def test_sshd_is_found_in_sbin_without_it_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(programs, "SEARCH_PATH", "/nonexistent:/usr/sbin")
    assert programs.program("sshd") == "/usr/sbin/sshd"


def test_make_test_fails_by_name_when_a_program_is_missing() -> None:
    run = subprocess.run(["make", "-s", "check-system", "REQUIRED_PROGRAMS=sshd estate-no-such-sshd"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert run.returncode != 0
    assert "not installed: estate-no-such-sshd" in run.stderr and "do not skip" in run.stderr
    assert subprocess.run(["make", "-s", "check-system"], capture_output=True, cwd=REPO, timeout=60).returncode == 0
