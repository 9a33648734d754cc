"""`estate-agent winrm`: a Windows host over WinRM gives the same facts as its `reg query` recordings.

No Windows host runs here: tests/winrm_server.py replays WS-Management exchanges (constructed from
Microsoft's documented format, see tests/fixtures/winrm/SOURCE.md) over real HTTPS, carrying the real
`reg query` outputs of a host fixture. The agent side is the real pywinrm client and the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.agent.hostaccess import RecordedHost
from estate.agent.scan import run_discoverers
from estate.agent.winrm.host import WinRMError, WinRMHost, allowed, command_line
from estate.collector.security import certs

from .conftest import HOST_FIXTURES
from .winrm_server import Replay, split_windows_command_line, winrm_server

pytestmark = pytest.mark.integration

HOST = HOST_FIXTURES / "windows-server2012r2"
USER, PASSWORD = r"EXAMPLE\estate-scan", "correct horse battery staple"
AGENT = [sys.executable, "-m", "estate.agent.cli"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, certs.Issued]:
    directory = tmp_path_factory.mktemp("winrm-ca")
    ca = certs.init_ca(directory, "WinRM test CA")
    return ca.cert, certs.issue(directory, "windows-host", "collector", hosts=("127.0.0.1",))


@pytest.fixture(scope="module")
def server(tls: tuple[Path, certs.Issued]) -> Iterator[tuple[int, Replay]]:
    _, issued = tls
    with winrm_server(HOST, issued.cert, issued.key, USER, PASSWORD) as running:
        yield running


def _agent(args: list[str], password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ESTATE_WINRM_PASSWORD": password}
    return subprocess.run([*AGENT, "winrm", *args], capture_output=True, text=True, timeout=120, env=env)


def test_command_lines_survive_the_round_trip() -> None:
    argv = ["query", r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "/v", "Product Name", 'odd"quote\\']
    assert split_windows_command_line(command_line(argv)) == argv
    assert allowed(["reg", "query", "HKLM\\X"]) and not allowed(["reg", "add", "HKLM\\X"])
    assert not allowed(["uname", "-s"]) and not allowed(["powershell", "-c", "reg query x"])


def test_winrm_report_has_the_same_facts_as_the_reg_query_path(server: tuple[int, Replay],
                                                               tls: tuple[Path, certs.Issued]) -> None:
    port, replay = server
    ca, _ = tls
    done = _agent(["127.0.0.1", "--port", str(port), "--user", USER, "--auth", "basic", "--ca", str(ca)])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["method"] == "METHOD_WINRM"
    recorded = run_discoverers(RecordedHost(HOST))
    for field in ("family", "id", "name", "version", "version_id", "build", "edition", "architecture"):
        assert report["os"].get(field, "") == getattr(recorded.os, field), field
    assert (report["os"]["id"], report["os"]["version_id"]) == ("windows-server", "2012-r2")
    assert "127.0.0.1 ok: Windows Server 2012 R2" in done.stderr
    assert report["asset_id"] == "hostname:127.0.0.1"  # no MachineGuid in this recording
    # Only registry queries crossed the wire: nothing for uname, rpm, dpkg or the files.
    assert replay.commands and all(argv[:2] == ["reg", "query"] for argv in replay.commands)


def test_a_certificate_from_another_ca_is_refused(server: tuple[int, Replay], tmp_path: Path) -> None:
    port, _ = server
    other = certs.init_ca(tmp_path / "other", "Some other CA")
    done = _agent(["127.0.0.1", "--port", str(port), "--user", USER, "--auth", "basic", "--ca", str(other.cert)])
    assert done.returncode == 3
    assert "127.0.0.1 tls: https://127.0.0.1:" in done.stderr and "certificate" in done.stderr
    assert done.stdout == ""


def test_wrong_password_is_an_auth_failure(server: tuple[int, Replay], tls: tuple[Path, certs.Issued]) -> None:
    port, _ = server
    ca, _ = tls
    done = _agent(["127.0.0.1", "--port", str(port), "--user", USER, "--auth", "basic", "--ca", str(ca)],
                  password="wrong")
    assert done.returncode == 3 and "127.0.0.1 auth: " in done.stderr and "credentials refused" in done.stderr
    assert "wrong" not in done.stderr  # the password is never printed


def test_nothing_listening_is_unreachable(tls: tuple[Path, certs.Issued]) -> None:
    ca, _ = tls
    with pytest.raises(WinRMError) as info, WinRMHost("127.0.0.1", USER, PASSWORD, port=9, auth="basic",
                                                      ca_file=str(ca), timeout_s=5) as host:
        host.run(["reg", "query", "HKLM\\SOFTWARE"])
    assert info.value.kind == "unreachable"


def test_usage_errors_name_what_is_missing() -> None:
    no_password = subprocess.run([*AGENT, "winrm", "host1", "--user", "x"], capture_output=True, text=True,
                                 timeout=60, env={k: v for k, v in os.environ.items() if k != "ESTATE_WINRM_PASSWORD"})
    assert no_password.returncode == 2 and "no password: set ESTATE_WINRM_PASSWORD" in no_password.stderr
    bad_port = _agent(["host1:99999", "--user", "x"])
    assert bad_port.returncode == 2 and "port '99999' is not 1-65535" in bad_port.stderr


def test_winrm_hosts_of_an_ansible_inventory(server: tuple[int, Replay], tls: tuple[Path, certs.Issued],
                                             tmp_path: Path) -> None:
    """The hosts an Ansible inventory reaches over WinRM (`ansible_connection: winrm`), and only those."""
    port, _ = server
    ca, _ = tls
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[windows]\nwin2012 ansible_host=127.0.0.1 ansible_port={port} estate_label_system=payroll\n"
                         "[windows:vars]\nansible_connection=winrm\n\n[linux]\nweb1.example.org\n")
    done = _agent(["--inventory", str(inventory), "--user", USER, "--auth", "basic", "--ca", str(ca)])
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(reports) == 1 and reports[0]["labels"] == {"system": "payroll"}
    assert reports[0]["os"]["version_id"] == "2012-r2"
    assert "web1" not in done.stderr
