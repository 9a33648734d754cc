"""Configuration files (agent.toml, collector.toml): validation, precedence, `config check`, and the reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from estate.agent import config
from estate.agent.cli import build_parser as agent_parser
from estate.collector.cli import build_parser as collector_parser
from estate.collector.process import start_collector

from .conftest import REPO

sys.path.insert(0, str(REPO / "deploy"))
import gen_config_reference


def _check(program: str, path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")} | (env or {})
    return subprocess.run([sys.executable, "-m", f"estate.{program}.cli", "config", "check", str(path)],
                          capture_output=True, text=True, env=environ, timeout=60)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """Real certificate files made by `estate-collector certs`, with the modes it writes."""
    pki = tmp_path / "pki"
    for argv in (["init", "--dir", str(pki)],
                 ["issue", "--dir", str(pki), "--name", "collector", "--role", "collector", "--host", "localhost"]):
        subprocess.run([sys.executable, "-m", "estate.collector.cli", "certs", *argv], check=True,
                       capture_output=True)
    return {"ca": pki / "ca.pem", "cert": pki / "collector.pem", "key": pki / "collector.key"}


def _serve_config(tmp_path: Path, pki: dict[str, Path], extra: str = "", listen: str = "0.0.0.0:50051") -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(f'db = "{tmp_path / "e.duckdb"}"\n[serve]\nlisten = "{listen}"\n'
                    f'tls_cert = "{pki["cert"]}"\ntls_key = "{pki["key"]}"\ntls_ca = "{pki["ca"]}"\n{extra}')
    return path


def test_a_good_file_prints_the_effective_configuration(tmp_path: Path, pki: dict[str, Path]) -> None:
    result = _check("collector", _serve_config(tmp_path, pki))
    assert result.returncode == 0, result.stderr
    assert "[serve]" in result.stdout and "listen = '0.0.0.0:50051'  # file [serve]" in result.stdout
    assert f"db = '{tmp_path / 'e.duckdb'}'  # file" in result.stdout


@pytest.mark.parametrize(("case", "expected"), [
    ("unknown key", "[serve]: listne: unknown key"),
    ("wrong type", "[serve]: insecure: Input should be a valid boolean (got 'yes')"),
    ("missing certificate", "[serve]: tls_ca: no such file: "),
    ("world-readable key", "is readable by every user: chmod o-r"),
    ("plaintext off loopback", "0.0.0.0:50051 is not loopback but tls_cert, tls_key and tls_ca are not all set"),
    ("unknown table", "[serv]: unknown table"),
    ("bad choice", "[assets]: format: Input should be 'table', 'json' or 'csv' (got 'yaml')"),
    ("not toml", "not valid TOML: "),
])
def test_config_check_refuses_each_problem_naming_file_key_and_problem(
        tmp_path: Path, pki: dict[str, Path], case: str, expected: str) -> None:
    path = _serve_config(tmp_path, pki)
    text = path.read_text()
    if case == "unknown key":
        path.write_text(text + 'listne = "127.0.0.1:1"\n')
    elif case == "wrong type":
        path.write_text(text + 'insecure = "yes"\n')
    elif case == "missing certificate":
        path.write_text(text.replace(str(pki["ca"]), str(tmp_path / "nosuch.pem")))
    elif case == "world-readable key":
        pki["key"].chmod(0o644)
    elif case == "plaintext off loopback":
        path.write_text(f'[serve]\nlisten = "0.0.0.0:50051"\ndb = "{tmp_path / "e.duckdb"}"\n')
    elif case == "unknown table":
        path.write_text(text + '[serv]\nlisten = "127.0.0.1:1"\n')
    elif case == "bad choice":
        path.write_text(text + '[assets]\nformat = "yaml"\n')
    else:
        path.write_text(text + "listen = \n")
    result = _check("collector", path)
    assert result.returncode == 1 and not result.stdout
    assert expected in result.stderr and str(path) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_environment_is_checked_too(tmp_path: Path, pki: dict[str, Path]) -> None:
    path = _serve_config(tmp_path, pki)
    result = _check("collector", path, {"ESTATE_COLLECTOR_LISTNE": "x"})
    assert result.returncode == 1 and "environment ESTATE_COLLECTOR_LISTNE: unknown setting" in result.stderr
    result = _check("agent", tmp_path / "none.toml")
    assert result.returncode == 1 and "none.toml: cannot read" in result.stderr


def test_precedence_flag_then_environment_then_table_then_top_level(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('spool = "/top"\ncollector = "top:1"\nformat = "pb"\n[scan]\nspool = "/table"\n'
                    'collector = "table:1"\n')
    parser = agent_parser()
    env = {"ESTATE_AGENT_COLLECTOR": "env:1"}
    args = config.parse_args("agent", parser, ["--config", str(path), "scan"], env)
    assert (args.spool, args.collector, args.format) == (Path("/table"), "env:1", "pb")
    args = config.parse_args("agent", agent_parser(), ["--config", str(path), "scan", "--collector", "flag:1"], env)
    assert args.collector == "flag:1"
    args = config.parse_args("agent", agent_parser(), ["scan"], {})
    assert (args.spool, args.collector, args.format) == (None, None, "json")


def test_serve_runs_with_its_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(f'[serve]\ndb = "{tmp_path / "from-config.duckdb"}"\n')
    proc = start_collector(tmp_path / "ignored.duckdb", tmp_path / "log", pre_args=["--config", str(path)],
                           db_flag=False)
    try:
        assert f"storing in {tmp_path / 'from-config.duckdb'}" in proc.log.read_text()
    finally:
        assert proc.stop() == 0
    assert (tmp_path / "from-config.duckdb").exists() and not (tmp_path / "ignored.duckdb").exists()


def test_secrets_are_masked() -> None:
    assert config.masked("community", "public") == "********"
    assert config.masked("snmp_auth_password", "x") == "********"
    assert config.masked("password_file", "/etc/x") == "/etc/x"
    assert config.masked("tls_key", "/etc/k") == "/etc/k"


def test_every_option_is_documented_and_every_documented_key_exists() -> None:
    """docs/configuration.md's key tables are generated from the programs' own options: a new option
    without documentation, or a documented key that no longer exists, fails here."""
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert doc == gen_config_reference.render(doc), "run: python deploy/gen_config_reference.py"
    for program, parser in (("agent", agent_parser()), ("collector", collector_parser())):
        for command, actions in config.keys_by_command(parser).items():
            assert f"### [{command}]" in doc
            for key in actions:
                assert f"| `{key}` |" in doc, (program, command, key)
