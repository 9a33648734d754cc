"""The Ansible roles in deploy/ansible, run for real by ansible-playbook against this machine.

With a local connection into a temporary prefix: the roles install the built wheel into their own
virtual environment, write certificates, configuration and systemd units with the right modes; a
second run changes nothing; the units pass `systemd-analyze verify` and keep their sandboxing; and
the installed agent, started as its unit says, sends a scan over mTLS to the installed collector,
started as its unit says.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.integration
ANSIBLE = REPO / "deploy" / "ansible"
PLAYBOOK = """\
- name: legacy-estate collector and agent on one host
  hosts: all
  gather_facts: false
  roles:
    - estate_collector
    - estate_agent
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _certs(pki: Path) -> None:
    def certs(*argv: str) -> None:
        subprocess.run([sys.executable, "-m", "estate.collector.cli", "certs", *argv, "--dir", str(pki)],
                       check=True, capture_output=True)

    certs("init")
    certs("issue", "--name", "collector", "--role", "collector", "--host", "127.0.0.1", "--host", "localhost")
    certs("issue", "--name", "web01", "--role", "agent")


@pytest.fixture(scope="module")
def installed(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Both roles run twice into a temporary prefix; what they did and where."""
    tmp = tmp_path_factory.mktemp("ansible")
    prefix, pki = tmp / "root", tmp / "pki"
    _certs(pki)
    port = _free_port()
    (tmp / "site.yml").write_text(PLAYBOOK)
    (tmp / "inventory.ini").write_text(f"target ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    extra = {
        "estate_prefix": str(prefix), "estate_wheel": str(dist[0]), "estate_python": sys.executable,
        "estate_manage_services": False, "estate_collector_create_user": False,
        "estate_collector_user": "root", "estate_collector_group": "root",
        "estate_collector_listen": f"127.0.0.1:{port}",
        "estate_collector_tls_ca_src": str(pki / "ca.pem"), "estate_collector_tls_cert_src": str(pki / "collector.pem"),
        "estate_collector_tls_key_src": str(pki / "collector.key"),
        "estate_agent_collector": f"127.0.0.1:{port}", "estate_agent_tls_ca_src": str(pki / "ca.pem"),
        "estate_agent_tls_cert_src": str(pki / "web01.pem"), "estate_agent_tls_key_src": str(pki / "web01.key"),
        "estate_agent_labels": {"org": "hmrc", "environment": "test"},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")} | {
        "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"), "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_STDOUT_CALLBACK": "default"}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inventory.ini"),
            "-e", json.dumps(extra), str(tmp / "site.yml")]
    runs = [subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900) for _ in range(2)]
    return {"prefix": prefix, "runs": runs, "port": port}


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"target\s+:\s+(.*)", output)
    assert match, output[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def test_roles_converge_and_the_second_run_changes_nothing(installed: dict[str, object]) -> None:
    runs: list[subprocess.CompletedProcess[str]] = installed["runs"]  # type: ignore[assignment]
    first, second = runs
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert _recap(first.stdout)["changed"] > 0
    assert second.returncode == 0, second.stdout[-4000:]
    recap = _recap(second.stdout)
    assert recap["changed"] == 0 and recap["failed"] == 0, second.stdout[-4000:]


def test_files_have_the_modes_they_need(installed: dict[str, object]) -> None:
    etc = Path(str(installed["prefix"])) / "etc" / "legacy-estate"
    modes = {name: stat.S_IMODE((etc / name).stat().st_mode) for name in
             ("ca.pem", "collector.pem", "collector.key", "agent.pem", "agent.key", "collector.toml", "agent.toml")}
    assert modes == {"ca.pem": 0o644, "collector.pem": 0o644, "collector.key": 0o640, "agent.pem": 0o644,
                     "agent.key": 0o600, "collector.toml": 0o644, "agent.toml": 0o644}
    spool = Path(str(installed["prefix"])) / "var" / "spool" / "legacy-estate"
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700


def _unit(prefix: Path, name: str) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for line in (prefix / "etc" / "systemd" / "system" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            options.setdefault(key, []).append(value)
    return options


def test_units_are_sandboxed_and_verify(installed: dict[str, object]) -> None:
    prefix = Path(str(installed["prefix"]))
    collector = _unit(prefix, "estate-collector.service")
    assert collector["User"] == ["root"]  # the test's choice; the role's default is legacy-estate
    for key, value in (("ProtectSystem", "strict"), ("NoNewPrivileges", "true"), ("PrivateTmp", "true"),
                       ("ProtectHome", "true"), ("CapabilityBoundingSet", ""), ("PrivateDevices", "true")):
        assert collector[key] == [value], key
    assert collector["ReadWritePaths"] == [str(prefix / "var" / "lib" / "legacy-estate")]
    assert collector["MemoryMax"] and collector["TasksMax"] and collector["LimitNOFILE"]
    agent = _unit(prefix, "estate-agent.service")
    assert agent["ReadWritePaths"] == [str(prefix / "var" / "spool" / "legacy-estate")]
    for key, value in (("ProtectSystem", "strict"), ("NoNewPrivileges", "true"), ("PrivateTmp", "true")):
        assert agent[key] == [value], key
    assert agent["MemoryMax"] and agent["CPUQuota"]
    units = sorted(str(p) for p in (prefix / "etc" / "systemd" / "system").iterdir())
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_installed_agent_reaches_the_installed_collector(installed: dict[str, object], tmp_path: Path) -> None:
    prefix = Path(str(installed["prefix"]))
    serve = _unit(prefix, "estate-collector.service")["ExecStart"][0]
    scan = _unit(prefix, "estate-agent.service")["ExecStart"][0]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("ESTATE_")}
    log = tmp_path / "collector.log"
    with open(log, "w") as out:
        collector = subprocess.Popen(shlex.split(serve), stdout=out, stderr=subprocess.STDOUT, env=env,
                                     cwd=prefix / "var" / "lib" / "legacy-estate")
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in log.read_text():
            assert collector.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert "(mTLS)" in log.read_text()
        sent = subprocess.run(shlex.split(scan), capture_output=True, text=True, env=env, timeout=120)
        assert sent.returncode == 0, sent.stderr
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0, log.read_text()
    venv_bin = prefix / "opt" / "legacy-estate" / "bin"
    assets = subprocess.run([str(venv_bin / "estate-collector"), "--config",
                             str(prefix / "etc" / "legacy-estate" / "collector.toml"), "assets", "--format", "json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert assets.returncode == 0, assets.stderr
    assert '"org": "hmrc"' in assets.stdout  # a value of rules/vocabulary.yaml, so it is kept
