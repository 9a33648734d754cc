"""Every fixture says where it came from, in a way anyone can check, and under which licence.

A source is checkable when it names a repository with a commit and path, a released package version,
or the command and system that produce it; "found in a search index" is not a source. Fixtures built
by hand say so. Composite fixtures name the source of each file, so every file of a host folder must be
named in its SOURCE.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import FIXTURES, HOST_FIXTURES

DESCRIPTIONS = {"SOURCE.md", "README.md"}
LICENCE_LINE = re.compile(r"^Licen[cs]e: \S", re.MULTILINE)
UNCHECKABLE_WORDING = re.compile(r"\bfile id\b|\bindexed file\b|index id", re.IGNORECASE)
COMMIT = re.compile(r"\b[0-9a-f]{40}\b")


def _description(folder: Path) -> str:
    found = [folder / name for name in DESCRIPTIONS if (folder / name).is_file()]
    assert found, f"{folder.relative_to(FIXTURES)} has no SOURCE.md"
    return found[0].read_text()


FOLDERS = sorted([p for p in FIXTURES.iterdir() if p.is_dir() and p.name != "hosts"]
                 + [p for p in HOST_FIXTURES.iterdir() if p.is_dir()])


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(p.relative_to(FIXTURES)) for p in FOLDERS])
def test_every_fixture_folder_names_its_source_and_licence(folder: Path) -> None:
    text = _description(folder)
    assert LICENCE_LINE.search(text), f"{folder.name}: no 'Licence:' line"
    assert not UNCHECKABLE_WORDING.search(text), f"{folder.name}: a search-index id is not a checkable source"


@pytest.mark.parametrize("folder", sorted(p for p in HOST_FIXTURES.iterdir() if p.is_dir()),
                         ids=lambda p: p.name)
def test_every_file_of_a_host_fixture_is_accounted_for(folder: Path) -> None:
    text = _description(folder)
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in DESCRIPTIONS | {"expected.json"}:
            relative = str(path.relative_to(folder))
            assert relative in text, f"{folder.name}/SOURCE.md does not say where {relative} came from"


def test_third_party_sources_with_a_repository_name_a_commit_or_a_release() -> None:
    for source in sorted(HOST_FIXTURES.glob("*/SOURCE.md")):
        text = source.read_text()
        if re.search(r"ansible/ansible|fusioninventory/|saltstack/salt|chef/ohai|briefcase|with-cloudsmith", text):
            assert COMMIT.search(text), f"{source.parent.name}: a repository without a commit"
        if "python-distro" in text:
            assert "distro 1.9.0 on PyPI" in text, source.parent.name


def test_recorded_snmp_devices_name_repository_path_and_commit_or_release() -> None:
    for path in sorted((FIXTURES / "snmp").glob("*.json")):
        source = json.loads(path.read_text())["source"]
        assert source["repository"] and source["path"] and source["licence"], path.name
        assert COMMIT.fullmatch(source.get("commit") or "") or re.search(r"PyPI \S+ \d+\.\d+", source["repository"]), \
            path.name


def test_constructed_windows_fixtures_say_so_and_end_lines_as_reg_does() -> None:
    for folder in sorted(HOST_FIXTURES.glob("windows-*")):
        assert "CONSTRUCTED" in _description(folder).splitlines()[0], folder.name
        for output in (folder / "commands").glob("reg_query_*.txt"):
            data = output.read_bytes()
            assert data.count(b"\r\n") == data.count(b"\n") > 0, output.name  # reg.exe writes CRLF


def test_the_licence_list_names_every_third_party_licence_used() -> None:
    listing = (FIXTURES / "LICENSES.md").read_text()
    for licence in ("GPL-3.0-or-later", "GPL-2.0-or-later", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "MIT"):
        assert licence in listing, licence
    for project in ("ansible/ansible", "fusioninventory/fusioninventory-agent", "librenms/librenms",
                    "python-distro/distro", "saltstack/salt", "chef/ohai", "endoflife-date"):
        assert project in listing, project
