"""estate-agent capture on this live host: a redacted folder the contract suite accepts as it is."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import psutil

from .test_host_fixtures import test_host_fixture


def test_capture_is_redacted_and_passes_the_contract_suite(tmp_path: Path) -> None:
    out = tmp_path / "thishost"
    result = subprocess.run([sys.executable, "-m", "estate.agent.cli", "capture", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    expected = json.loads((out / "expected.json").read_text())
    release = Path("/etc/os-release").read_text()
    assert f'ID={expected["os"]["id"]}' in release or f'ID="{expected["os"]["id"]}"' in release
    assert expected["package_count"] > 0 and (out / "SOURCE.md").is_file()
    test_host_fixture(out)  # the same check every folder in tests/fixtures/hosts gets
    secrets = [socket.gethostname(), Path("/etc/machine-id").read_text().strip()]
    secrets += [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                if a.address and not a.address.startswith(("127.", "::1", "00:00:00")) and len(a.address) > 6]
    for path in out.rglob("*"):
        if path.is_file() and not path.is_symlink() and "var/lib/dpkg" not in str(path):
            data = path.read_text(errors="replace")
            for secret in secrets:
                if len(secret) > 3:
                    assert secret not in data, (secret, path)
    assert (out / "etc" / "machine-id").read_text().strip() == "0123456789abcdef0123456789abcdef"


def test_capture_refuses_a_folder_with_content(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = subprocess.run([sys.executable, "-m", "estate.agent.cli", "capture", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is not an empty folder" in result.stderr


def test_capture_into_a_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run([sys.executable, "-m", "estate.agent.cli", "capture", "--out", str(blocker / "sub")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot create {blocker / 'sub'}" in result.stderr and "Traceback" not in result.stderr
