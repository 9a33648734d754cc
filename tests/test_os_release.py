"""os-release parsing on hostile and odd input (real files are covered by test_host_fixtures)."""

from __future__ import annotations

from pathlib import Path

from estate.agent.discovery.os_release import discover, os_from_release, parse_os_release
from estate.agent.hostaccess import LocalHost


def test_quotes_escapes_comments_and_junk_lines() -> None:
    text = (
        '# comment\n'
        'NAME="Debian GNU/Linux"\n'
        "ID=debian\n"
        'PRETTY_NAME="Debian \\"quoted\\" name"\n'
        "VERSION_ID='12'\n"
        "this line is junk\n"
        'BROKEN="unterminated\n'
        "=novalue\n"
    )
    values = parse_os_release(text)
    assert values["NAME"] == "Debian GNU/Linux"
    assert values["PRETTY_NAME"] == 'Debian "quoted" name'
    assert values["VERSION_ID"] == "12"
    assert values["BROKEN"] == "unterminated"
    assert "" not in values


def test_codename_from_version_when_no_version_codename() -> None:
    assert os_from_release({"ID": "debian", "VERSION": "7 (wheezy)"}).codename == "wheezy"
    assert os_from_release({"ID": "ubuntu", "VERSION": "14.04.6 LTS, Trusty Tahr"}).codename == "trusty"


def test_empty_etc_os_release_falls_back_to_usr_lib(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("")
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "os-release").write_text("ID=alpine\nVERSION_ID=3.19.1\n")
    found = discover(LocalHost(str(tmp_path)))
    assert (found.os.id, found.os.version_id, found.os.major) == ("alpine", "3.19.1", "3")
    assert found.os.evidence.startswith("decided by /usr/lib/os-release")
    assert "/etc/os-release empty or without ID: skipped" in found.os.evidence
    assert any("no ID or NAME" in e.message and e.evidence == "/etc/os-release" for e in found.errors)


def test_binary_garbage_os_release_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_bytes(bytes(range(256)) * 10)
    found = discover(LocalHost(str(tmp_path)))
    assert found.os.id == ""
    assert found.errors


def test_huge_os_release_is_refused_by_size(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("ID=x\n" * 100_000)
    found = discover(LocalHost(str(tmp_path)))
    assert any("limit" in e.message for e in found.errors)
