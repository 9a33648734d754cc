"""dpkg status parsing: the real captured file, and broken copies of it (truncated, corrupt, garbage)."""

from __future__ import annotations

from pathlib import Path

from estate.agent.discovery import dpkg
from estate.agent.hostaccess import LocalHost

from .conftest import HOST_FIXTURES

REAL_STATUS = HOST_FIXTURES / "debian12" / "var" / "lib" / "dpkg" / "status"


def _tree_with_status(tmp_path: Path, data: bytes) -> LocalHost:
    target = tmp_path / "var" / "lib" / "dpkg"
    target.mkdir(parents=True)
    (target / "status").write_bytes(data)
    return LocalHost(str(tmp_path))


def test_real_status_installed_only_with_source() -> None:
    packages, problems = dpkg.parse_dpkg_status(REAL_STATUS.read_text())
    assert not problems
    assert len(packages) == 40
    by_name = {p.name: p for p in packages}
    assert "nano" not in by_name  # 'deinstall ok config-files' is not installed
    assert by_name["bsdutils"].source == "util-linux"  # 'Source: util-linux (2.38.1-5)' -> name only
    assert by_name["adduser"].source == "adduser"
    assert all(p.manager == "dpkg" and p.evidence == dpkg.DPKG_STATUS for p in packages)


def test_truncated_status_names_file_and_line_and_keeps_the_rest(tmp_path: Path) -> None:
    data = REAL_STATUS.read_bytes()
    cut = data[: data.index(b"Package: bsdutils") + 40]  # mid-stanza, mid-line
    found = dpkg.discover(_tree_with_status(tmp_path, cut))
    names = [p.name for p in found.packages]
    assert "adduser" in names and "bsdutils" not in names
    assert len(found.errors) == 1
    error = found.errors[0]
    line = cut[: cut.rindex(b"Package: bsdutils")].count(b"\n") + 1
    assert error.evidence == f"/var/lib/dpkg/status:{line}"
    assert f"/var/lib/dpkg/status:{line}" in error.message


def test_corrupt_line_skips_only_its_stanza(tmp_path: Path) -> None:
    lines = REAL_STATUS.read_text().split("\n")
    index = lines.index("Package: bash")
    lines.insert(index + 2, "%%% this is not a field %%%")
    found = dpkg.discover(_tree_with_status(tmp_path, "\n".join(lines).encode()))
    names = {p.name for p in found.packages}
    assert "bash" not in names
    assert len(names) == 39
    assert found.errors[0].evidence == f"/var/lib/dpkg/status:{index + 3}"
    assert "malformed line" in found.errors[0].message and "bash" in found.errors[0].message


def test_binary_garbage_gives_errors_not_packages(tmp_path: Path) -> None:
    garbage = bytes((i * 7919) % 256 for i in range(200_000))
    found = dpkg.discover(_tree_with_status(tmp_path, garbage))
    assert not found.packages
    assert found.errors
    assert len(found.errors) <= dpkg.MAX_ERRORS_LISTED + 2  # bounded, whatever the input


def test_garbage_appended_to_real_file_keeps_real_packages(tmp_path: Path) -> None:
    data = REAL_STATUS.read_bytes() + b"\n\x00\xff\xfe garbage \x00\n"
    found = dpkg.discover(_tree_with_status(tmp_path, data))
    assert len(found.packages) == 40
    assert any("NUL" in e.message for e in found.errors)


def test_unreadable_status_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "var" / "lib" / "dpkg"
    target.mkdir(parents=True)
    (target / "status").mkdir()  # a directory where the file should be
    found = dpkg.discover(LocalHost(str(tmp_path)))
    assert not found.packages
    assert found.errors and found.errors[0].evidence == "/var/lib/dpkg/status"
