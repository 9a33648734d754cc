"""Agentless discovery against a real OpenSSH sshd on 127.0.0.1 (started and stopped by these tests).

Legacy hosts (AIX, Solaris, HP-UX, CentOS 6) are accounts whose forced command replays real captured
outputs, so connect, run, parse and send are all the real code paths.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.agent.ssh.connect import ConnectOptions
from estate.agent.ssh.inventory import Target
from estate.agent.ssh.sweep import SweepOptions, scan_target
from estate.collector.process import CollectorProcess
from estate.v1 import inventory_pb2 as pb

from .conftest import HOST_FIXTURES
from .sshd import Sshd, free_port, keygen, public_key, start_sshd

pytestmark = pytest.mark.integration

AGENT = [sys.executable, "-m", "estate.agent.cli", "ssh"]
LEGACY = {name: HOST_FIXTURES / name for name in ("aix7.2", "aix6.1", "solaris10", "solaris11.4", "hpux11.23",
                                                   "centos6.7")}


@pytest.fixture(scope="module")
def hostile_fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of a real AIX fixture where one command hangs, floods, or drops the connection."""
    base = tmp_path_factory.mktemp("hostile")
    folders = {}
    for behaviour, command in (("hang", "oslevel__s"), ("flood", "lslpp__Lc"), ("drop", "lslpp__Lc")):
        folder = base / f"aix_{behaviour}"
        shutil.copytree(HOST_FIXTURES / "aix7.2", folder)
        (folder / "commands" / f"{command}.{behaviour}").touch()
        folders[f"aix_{behaviour}"] = folder
    audit = base / "aix_audit"
    shutil.copytree(HOST_FIXTURES / "aix7.2", audit)
    (audit / ".received").touch()  # the replay logs every command line it is sent
    folders["aix_audit"] = audit
    return folders


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory, hostile_fixtures: dict[str, Path]) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"), legacy={**LEGACY, **hostile_fixtures})
    try:
        yield server
    finally:
        server.stop()


def _target(sshd: Sshd, name: str, key: Path | None = None, **extra: object) -> Target:
    fields: dict[str, object] = {"name": name, "host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                                 "identity_file": str(key or sshd.key)}
    fields.update(extra)
    return Target(**fields)  # type: ignore[arg-type]


def _options(known_hosts: Path, **extra: object) -> SweepOptions:
    connect = ConnectOptions(known_hosts=known_hosts, allow_agent=False, connect_timeout=20.0)
    return SweepOptions(connect=connect, **extra)  # type: ignore[arg-type]


def test_this_machine_over_ssh_matches_the_local_scan(sshd: Sshd, tmp_path: Path) -> None:
    local = build_report(LocalHost(), pb.METHOD_LOCAL)
    result = scan_target(_target(sshd, "self"), _options(sshd.write_known_hosts(tmp_path / "known_hosts")))
    assert result.status == "ok", result.line()
    remote = result.report
    assert remote is not None and remote.method == pb.METHOD_SSH
    for field in ("family", "id", "name", "version_id", "major", "codename", "kernel", "architecture"):
        assert getattr(remote.os, field) == getattr(local.os, field), field
    assert {(p.name, p.version, p.architecture, p.manager) for p in remote.packages} == {
        (p.name, p.version, p.architecture, p.manager) for p in local.packages}
    assert len(remote.packages) > 50
    assert remote.host.machine_id == local.host.machine_id and remote.asset_id == f"machine-id:{local.host.machine_id}"


def test_legacy_hosts_end_to_end_into_the_collector(sshd: Sshd, collector: CollectorProcess, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(json.dumps({
        "defaults": {"host": "127.0.0.1", "port": sshd.port, "user": sshd.user, "labels": {"org": "test-org"}},
        "groups": {"legacy": {"labels": {"environment": "production"},
                              "hosts": [{"name": name, "identity_file": str(sshd.legacy_keys[name])}
                                        for name in LEGACY]}},
    }))
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    results = tmp_path / "results.jsonl"
    run = subprocess.run([*AGENT, "-i", str(inventory), "--known-hosts", str(known_hosts), "--no-agent",
                          "--collector", collector.address, "--spool", str(tmp_path / "spool"),
                          "--results", str(results), "--concurrency", "3"],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = {json.loads(line)["name"]: json.loads(line) for line in results.read_text().splitlines()}
    assert {name: line["status"] for name, line in lines.items()} == dict.fromkeys(LEGACY, "ok")
    assert "sent accepted" in run.stdout
    assert collector.stop() == 0
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        # package_count: these hosts share one asset id (one sshd port) and arrive out of order, so
        # with history by change a report older than its asset's current one keeps only its header.
        rows = con.execute("SELECT os_id, os_version_id, os_version, method, labels['environment'], package_count "
                           "FROM reports r ORDER BY os_id, os_version_id").fetchall()
    assert rows == [
        ("aix", "6.1", "6.1.4.2", "SSH", "production", 50),
        ("aix", "7.2", "7.2.5.3", "SSH", "production", 32),
        ("centos", "6.7", "6.7", "SSH", "production", 0),
        ("hpux", "11.23", "B.11.23", "SSH", "production", 96),
        ("solaris", "10", "10 1/13", "SSH", "production", 3),
        ("solaris", "11.4", "11.4.0.0.1.15.0", "SSH", "production", 27),
    ]
    # Every swept report says who swept it and which inventory entry it came from (issue 16).
    with duckdb.connect(str(tmp_path / "estate.duckdb"), read_only=True) as con:
        audit = con.execute("SELECT sweep_inventory, sweep_entry, sweep_target, sweep_scanner, sender_kind "
                            "FROM reports ORDER BY sweep_entry").fetchall()
    assert [row[:3] for row in audit] == [(str(inventory), name, f"127.0.0.1:{sshd.port}") for name in sorted(LEGACY)]
    assert all("@" in row[3] and row[4] == "plaintext" for row in audit)


def _dropping_server(hold: bool = False) -> tuple[int, threading.Event]:
    """A TCP listener that accepts and closes at once, as a host dropping connections does, or (`hold`)
    keeps the connection open and never says a word, as a hung host does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                if hold:
                    held.append(conn)
                else:
                    conn.close()
        for conn in held:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1]), stop


def test_every_failure_gets_its_own_line_and_the_sweep_goes_on(sshd: Sshd, tmp_path: Path) -> None:
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    # 127.0.0.2 reaches the same sshd; known_hosts records another key for it: a changed host key.
    impostor = keygen(tmp_path / "impostor")
    with known_hosts.open("a") as handle:
        handle.write(f"[127.0.0.2]:{sshd.port} {public_key(impostor).read_text().split()[0]} "
                     f"{public_key(impostor).read_text().split()[1]}\n")
    wrong_key = keygen(tmp_path / "not_authorized")
    password_file = tmp_path / "password"
    password_file.write_text("Wr0ng-Passw0rd-Sentinel\n")
    drop_port, stop_dropping = _dropping_server()
    silent_port, stop_silent = _dropping_server(hold=True)
    csv_inventory = tmp_path / "targets.csv"
    rows = [
        ("good", "127.0.0.1", sshd.port, str(sshd.legacy_keys["aix7.2"]), ""),
        ("unknown-key", "localhost", sshd.port, str(sshd.key), ""),
        ("changed-key", "127.0.0.2", sshd.port, str(sshd.key), ""),
        ("wrong-key", "127.0.0.1", sshd.port, str(wrong_key), ""),
        ("wrong-password", "127.0.0.1", sshd.port, "", str(password_file)),
        ("missing-key", "127.0.0.1", sshd.port, str(tmp_path / "no_such_key"), ""),
        ("hangs", "127.0.0.1", sshd.port, str(sshd.legacy_keys["aix_hang"]), ""),
        ("floods", "127.0.0.1", sshd.port, str(sshd.legacy_keys["aix_flood"]), ""),
        ("drops-mid-scan", "127.0.0.1", sshd.port, str(sshd.legacy_keys["aix_drop"]), ""),
        ("drops-at-once", "127.0.0.1", drop_port, str(sshd.key), ""),
        ("unreachable", "127.0.0.1", free_port(), str(sshd.key), ""),
        ("silent", "127.0.0.1", silent_port, str(sshd.key), ""),
    ]
    csv_inventory.write_text("name,host,port,identity_file,password_file,user\n" + "".join(
        f"{n},{h},{p},{k},{pw},{sshd.user}\n" for n, h, p, k, pw in rows))
    results = tmp_path / "results.jsonl"
    start = time.monotonic()
    try:
        run = subprocess.run([*AGENT, "-i", str(csv_inventory), "--known-hosts", str(known_hosts), "--no-agent",
                              "--output-dir", str(tmp_path / "reports"), "--results", str(results),
                              "--command-timeout", "10", "--connect-timeout", "8", "--max-output", str(256 * 1024),
                              "--concurrency", "12"],
                             capture_output=True, text=True, timeout=120)
    finally:
        stop_dropping.set()
        stop_silent.set()
    elapsed = time.monotonic() - start
    assert run.returncode == 3, run.stdout + run.stderr  # some hosts failed; the others were reported
    got = {json.loads(line)["name"]: json.loads(line) for line in results.read_text().splitlines()}
    status = {name: line["status"] for name, line in got.items()}
    assert status == {
        "good": "ok", "unknown-key": "unknown host key", "changed-key": "host key mismatch",
        "wrong-key": "auth failed", "wrong-password": "auth failed", "missing-key": "auth failed",
        "hangs": "partial", "floods": "partial",
        "drops-mid-scan": "connection dropped", "drops-at-once": "connection dropped", "unreachable": "unreachable",
        "silent": "timeout",
    }, run.stdout
    unknown = got["unknown-key"]["detail"]
    assert "not in known_hosts" in unknown and "--trust-on-first-use" in unknown
    assert "host key changed" in got["changed-key"]["detail"]
    assert got["missing-key"]["detail"] == f"identity file {tmp_path / 'no_such_key'}: No such file or directory"
    assert "truncated" in got["floods"]["detail"]
    assert "Wr0ng-Passw0rd-Sentinel" not in run.stdout + run.stderr + results.read_text()
    # The hung host did not stall the others: the whole sweep took about one command timeout.
    assert elapsed < 60
    hung = json.loads((tmp_path / "reports" / "hangs.json").read_text())
    assert hung["os"]["id"] == "aix" and len(hung["packages"]) == 32  # what it did answer is kept
    assert any("oslevel -s: timed out after 10 s" in e["message"] for e in hung["errors"]), hung["errors"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "drops-mid-scan.json", "floods.json", "good.json", "hangs.json"]


def test_trust_on_first_use_records_the_key_and_never_replaces_one(sshd: Sshd, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    target = _target(sshd, "first-use")
    refused = scan_target(target, _options(known_hosts))
    assert refused.status == "unknown host key" and not known_hosts.exists()
    trusted = scan_target(target, SweepOptions(connect=ConnectOptions(known_hosts, trust_on_first_use=True,
                                                                      allow_agent=False)))
    assert trusted.status == "ok"
    assert public_key(sshd.host_key).read_text().split()[1] in known_hosts.read_text()
    assert scan_target(target, _options(known_hosts)).status == "ok"  # now checked, no flag needed
    impostor = keygen(tmp_path / "impostor")
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 "
                           f"{public_key(impostor).read_text().split()[1]}\n")
    changed = scan_target(target, SweepOptions(connect=ConnectOptions(known_hosts, trust_on_first_use=True,
                                                                      allow_agent=False)))
    assert changed.status == "host key mismatch"


def test_through_a_jump_host(sshd: Sshd, tmp_path: Path) -> None:
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    # The jump host is this sshd; the target is reached through a direct-tcpip channel it opens.
    result = scan_target(_target(sshd, "behind-jump", jump=f"{sshd.user}@127.0.0.1:{sshd.port}"), _options(known_hosts))
    assert result.status == "ok", result.line()
    assert result.report is not None and result.report.os.id == "debian" and result.report.method == pb.METHOD_SSH
    unreachable = scan_target(_target(sshd, "behind-jump", port=free_port(), jump=f"127.0.0.1:{sshd.port}"),
                              _options(known_hosts))
    assert unreachable.status == "unreachable", unreachable.line()


def test_host_time_budget_ends_a_hung_host(sshd: Sshd, tmp_path: Path) -> None:
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    start = time.monotonic()
    result = scan_target(_target(sshd, "hangs", sshd.legacy_keys["aix_hang"]),
                         _options(known_hosts, host_timeout=2.0, command_timeout=60.0))
    assert time.monotonic() - start < 20
    assert result.status == "timeout", result.line()
    assert result.report is not None and result.report.os.id == "aix"


def test_only_read_only_commands_are_sent_and_sudo_only_where_named(sshd: Sshd, hostile_fixtures: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    log = hostile_fixtures["aix_audit"] / ".received"
    result = scan_target(_target(sshd, "audited", sshd.legacy_keys["aix_audit"], sudo=("lslpp",)),
                         _options(sshd.write_known_hosts(tmp_path / "known_hosts")))
    assert result.status == "ok", result.line()
    sent = log.read_text().splitlines()
    assert sent and all(line.startswith("env LC_ALL=C LANG=C PATH=") for line in sent)
    with_sudo = [line for line in sent if " sudo -n " in line]
    assert with_sudo and all(line.endswith("sudo -n lslpp -Lc") for line in with_sudo)
    programs = {line.split(" sudo -n ")[-1].split()[0] if " sudo -n " in line else line.split()[4] for line in sent}
    assert programs <= {"dd", "test", "ls", "uname", "rpm", "oslevel", "lslpp", "reg"}, programs
    # Directory listings answer for the well-known paths discoverers probe: nothing is asked about a
    # path under a directory the host does not have (the replayed AIX host has no /u01, /usr/lib, ...).
    assert not [line for line in sent if "/u01/" in line or "/usr/lib/" in line], sent
    assert len(sent) <= 20, sent


def test_progress_bar_on_a_terminal_plain_lines_otherwise(sshd: Sshd, tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    argv = [*AGENT, f"{sshd.user}@127.0.0.1:{sshd.port}", "--identity-file", str(sshd.legacy_keys["aix7.2"]),
            "--known-hosts", str(known_hosts), "--no-agent", "--output-dir", str(tmp_path / "out")]
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal has a size
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=secondary) as proc:
        os.close(secondary)
        stdout, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "1/1" in terminal and "host" in terminal  # tqdm's bar: 1/1 [..., host/s]
    assert stdout.decode().startswith(f"{sshd.user}@127.0.0.1:{sshd.port} ok ")  # the result line, not the bar
    piped = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert "1/1" not in piped.stderr and piped.stdout.count("\n") == 1


def test_collector_away_keeps_every_report_in_the_spool(sshd: Sshd, tmp_path: Path) -> None:
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    spool = tmp_path / "spool"
    run = subprocess.run([*AGENT, f"127.0.0.1:{sshd.port}", f"{sshd.user}@127.0.0.1:{sshd.port}", "--user", sshd.user,
                          "--identity-file", str(sshd.legacy_keys["solaris10"]), "--known-hosts", str(known_hosts),
                          "--no-agent", "--collector", f"127.0.0.1:{free_port()}", "--spool", str(spool)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 75, run.stdout + run.stderr
    assert run.stdout.count("not sent (collector away), spooled") == 2
    from estate.agent.transport import Spool

    stored = [pb.Inventory.FromString(Spool(spool).read(p)) for p in spool.glob("*.report")]
    assert sorted(r.os.version_id for r in stored) == ["10", "10"]


def test_results_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    results = tmp_path / "missing" / "results.jsonl"
    run = subprocess.run([*AGENT, "127.0.0.1:1", "--results", str(results), "--no-agent"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and f"--results {results}: No such file or directory" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""  # refused before any host was scanned


def test_a_sweep_does_not_keep_delivered_reports(sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from estate.agent import cli
    from estate.agent.ssh import sweep as sweep_mod

    kept: list[sweep_mod.HostResult] = []
    real_sweep = sweep_mod.sweep

    def recording_sweep(*args: object, **kwargs: object) -> list[sweep_mod.HostResult]:
        kept.extend(real_sweep(*args, **kwargs))  # type: ignore[arg-type]
        return kept

    monkeypatch.setattr(sweep_mod, "sweep", recording_sweep)
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    names = [f"{sshd.user}@127.0.0.1:{sshd.port}"]
    code = cli.main(["ssh", *names, "--identity-file", str(sshd.legacy_keys["aix7.2"]), "--known-hosts",
                     str(known_hosts), "--no-agent", "--no-progress", "--output-dir", str(tmp_path / "out")])
    assert code == 0 and len(list((tmp_path / "out").iterdir())) == 1  # written...
    assert [r.status for r in kept] == ["ok"] and all(r.report is None for r in kept)  # ...then let go
