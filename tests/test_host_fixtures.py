"""The contract suite: every captured host folder in tests/fixtures/hosts goes through the real
discoverers (via RecordedHost) and must give what its expected.json says.

expected.json keys: "os" (fields that must match exactly), "package_count", "packages_include"
([name, version, architecture] triples that must be present), "packages_exclude" (names that must
not be), "software_include" ([name, version] pairs of runtimes that must be found), "errors_include"
(substrings that some error message must contain), "no_errors" (bool).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from estate.agent.hostaccess import RecordedHost
from estate.agent.scan import run_discoverers

from .conftest import host_fixture_dirs


@pytest.mark.parametrize("folder", host_fixture_dirs(), ids=lambda p: p.name)
def test_host_fixture(folder: Path) -> None:
    assert (folder / "SOURCE.md").is_file(), "every fixture says where it came from"
    expected = json.loads((folder / "expected.json").read_text())
    report = run_discoverers(RecordedHost(folder))
    os_found = json_format.MessageToDict(report.os, preserving_proto_field_name=True)
    for field, value in expected.get("os", {}).items():
        assert os_found.get(field, "") == value, f"os.{field}"
    packages = {(p.name, p.version, p.architecture) for p in report.packages}
    if "package_count" in expected:
        assert len(report.packages) == expected["package_count"]
    for triple in expected.get("packages_include", []):
        assert tuple(triple) in packages
    names = {p.name for p in report.packages}
    for name in expected.get("packages_exclude", []):
        assert name not in names
    software = {(s.name, s.version) for s in report.software}
    for pair in expected.get("software_include", []):
        assert tuple(pair) in software, (pair, software)
    messages = [e.message for e in report.errors]
    for fragment in expected.get("errors_include", []):
        assert any(fragment in m for m in messages), (fragment, messages)
    if expected.get("no_errors", "errors_include" not in expected):
        assert not messages


def test_at_least_five_distributions_with_os_release() -> None:
    ids = {json.loads((d / "expected.json").read_text()).get("os", {}).get("id") for d in host_fixture_dirs()
           if (d / "etc" / "os-release").exists() or (d / "usr" / "lib" / "os-release").exists()}
    assert len(ids) >= 5
