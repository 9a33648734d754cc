"""The wheel and the sdist, built as a release would be: licences in, tests and their fixtures out.

Some fixtures are GPL-licensed third-party data (tests/fixtures/LICENSES.md); they may live in the
repository but must never ship in the Apache-2.0 package.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path


def test_wheel_and_sdist_carry_the_licences_and_nothing_from_tests(dist: tuple[Path, Path]) -> None:
    wheel, sdist = dist
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = archive.namelist()
    with tarfile.open(sdist) as archive:
        sdist_names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    for names in (wheel_names, sdist_names):
        assert not [n for n in names if n.startswith("tests/") or "/tests/" in n or "fixtures" in n], names
        assert not [n for n in names if n.endswith((".snmprec", ".json.gz"))]
    assert {"LICENSE", "NOTICE"} <= {Path(n).name for n in wheel_names if ".dist-info/" in n}
    assert {"LICENSE", "NOTICE", "pyproject.toml"} <= set(sdist_names)
    assert any(n.startswith("estate/collector/") for n in wheel_names)  # the package itself is there
    assert "estate/rules/lifecycles/endoflife/LICENSE" in wheel_names  # the MIT notice of the shipped data
