"""SSHHost over a real sshd: bounded reads, read-only commands only, sudo only where named, no shell syntax."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.agent.hostaccess import FileTooLarge, HostAccessError
from estate.agent.ssh.connect import Connection, ConnectOptions, connect
from estate.agent.ssh.host import CommandRefused, SSHHost, check_read_only, remote_command
from estate.agent.ssh.inventory import Target

from .sshd import Sshd, start_sshd


@pytest.fixture(scope="module")
def connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sshd, Connection]]:
    directory = tmp_path_factory.mktemp("sshd-host")
    server = start_sshd(directory)
    target = Target(name="self", host="127.0.0.1", port=server.port, user=server.user, identity_file=str(server.key))
    conn = connect(target, ConnectOptions(known_hosts=server.write_known_hosts(directory / "known_hosts"),
                                          allow_agent=False))
    try:
        yield server, conn
    finally:
        conn.close()
        server.stop()


@pytest.mark.integration
def test_file_reads_are_bounded_and_errors_mapped(connection: tuple[Sshd, Connection], tmp_path: Path) -> None:
    _, conn = connection
    host = SSHHost(conn.transport, "self")
    data = tmp_path / "file with spaces; $(touch pwned)"
    data.write_bytes(b"x" * 5000)
    assert host.read_bytes(str(data)) == b"x" * 5000
    with pytest.raises(FileTooLarge, match="larger than the 4096-byte limit"):
        host.read_bytes(str(data), limit=4096)
    assert not (tmp_path / "pwned").exists()  # the path reached dd as one word, never as shell syntax
    with pytest.raises(FileNotFoundError):
        host.read_text(str(tmp_path / "missing"))
    with pytest.raises(FileTooLarge):
        host.read_bytes("/dev/zero", limit=100_000)
    assert host.exists(str(data)) and not host.exists(str(tmp_path / "missing"))
    assert host.listdir(str(tmp_path)) == [data.name]
    with pytest.raises(FileNotFoundError):
        host.listdir(str(tmp_path / "missing"))


@pytest.mark.integration
def test_commands_output_bound_and_missing_command(connection: tuple[Sshd, Connection]) -> None:
    _, conn = connection
    host = SSHHost(conn.transport, "self", max_output=1000)
    result = host.run(["cat", "/dev/zero"], timeout=30)
    assert result.truncated and len(result.stdout) == 1000
    with pytest.raises(FileNotFoundError, match="lslpp: command not found on self"):
        host.run(["lslpp", "-Lc"])
    uname = host.run(["uname", "-s"])
    assert uname.text.strip() == "Linux" and host.run(["uname", "-s"]) is uname  # asked once per host


@pytest.mark.integration
def test_a_spent_host_budget_stops_commands(connection: tuple[Sshd, Connection]) -> None:
    import time

    _, conn = connection
    host = SSHHost(conn.transport, "self", deadline=time.monotonic() - 1)
    with pytest.raises(HostAccessError, match="time budget is spent"):
        host.run(["uname", "-r"])


def test_only_read_only_commands_and_subcommands() -> None:
    for argv in (["rm", "-rf", "/"], ["pkg", "install", "x"], ["rpm", "-e", "bash"], ["sh", "-c", "id"],
                 ["/usr/bin/dd2"], []):
        with pytest.raises(CommandRefused):
            check_read_only(argv)
    for argv in (["pkg", "list", "-H"], ["rpm", "-qa"], ["/usr/sbin/swlist"], ["lslpp", "-Lc"], ["oslevel", "-s"]):
        check_read_only(argv)


def test_remote_command_quotes_every_word_and_sudo_is_explicit() -> None:
    line = remote_command(["pkginfo", "-l", "a b;reboot"], sudo=False)
    assert line.startswith("env LC_ALL=C LANG=C PATH=") and line.endswith("pkginfo -l 'a b;reboot'")
    assert "sudo" not in line
    assert " sudo -n lslpp -Lc" in remote_command(["lslpp", "-Lc"], sudo=True)
