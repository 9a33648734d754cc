"""The host-access seam under --root: symlinks stay inside the root, live facts never mix in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from estate.agent.hostaccess import (
    CommandsUnavailable,
    FileTooLarge,
    HostAccessError,
    LocalHost,
    RecordedHost,
    command_fixture_name,
)


def test_relative_and_absolute_symlinks_resolve_inside_root(tmp_path: Path) -> None:
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "os-release").write_text("ID=inside\n")
    (tmp_path / "etc").mkdir()
    os.symlink("../usr/lib/os-release", tmp_path / "etc" / "os-release")
    os.symlink("/usr/lib/os-release", tmp_path / "etc" / "abs-link")
    host = LocalHost(str(tmp_path))
    assert host.read_text("/etc/os-release") == "ID=inside\n"
    assert host.read_text("/etc/abs-link") == "ID=inside\n"


def test_symlink_escape_to_live_host_is_impossible(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/etc/hostname", tmp_path / "etc" / "hostname")  # absolute: means <root>/etc/hostname
    os.symlink("../../../../../../etc/debian_version", tmp_path / "etc" / "os-release")
    os.symlink("../../../../../../etc/passwd", tmp_path / "etc" / "passwd")  # resolves to itself
    host = LocalHost(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        host.read_text("/etc/os-release")
    with pytest.raises(HostAccessError, match="too many levels"):
        host.read_text("/etc/passwd")
    with pytest.raises((FileNotFoundError, HostAccessError)):
        host.read_text("/etc/hostname")


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(HostAccessError, match="too many levels"):
        LocalHost(str(tmp_path)).read_text("/a")


def test_root_refuses_commands(tmp_path: Path) -> None:
    with pytest.raises(CommandsUnavailable):
        LocalHost(str(tmp_path)).run(["uname", "-r"])


def test_size_bound_and_special_files(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 2000)
    host = LocalHost(str(tmp_path))
    with pytest.raises(FileTooLarge):
        host.read_bytes("/big", limit=1000)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(HostAccessError, match="not a regular file"):
        host.read_bytes("/fifo")


def test_live_command_timeout_and_output_cap() -> None:
    host = LocalHost()
    with pytest.raises(HostAccessError, match="timed out"):
        host.run(["sleep", "5"], timeout=0.2)
    result = host.run(["head", "-c", "100000", "/dev/zero"], limit=1000)
    assert result.truncated and len(result.stdout) == 1000


def test_recorded_host_commands(tmp_path: Path) -> None:
    (tmp_path / "commands").mkdir()
    (tmp_path / "commands" / command_fixture_name(["uname", "-r"])).write_text("2.6.32-754.el6.x86_64\n")
    host = RecordedHost(tmp_path)
    assert host.run(["uname", "-r"]).text.strip() == "2.6.32-754.el6.x86_64"
    assert command_fixture_name(["uname", "-r"]) == "uname__r.txt"
    with pytest.raises(FileNotFoundError):
        host.run(["oslevel", "-s"])
    with pytest.raises(FileNotFoundError):
        host.read_text("/expected.json")
