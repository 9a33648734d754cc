"""Who maintains a package decides (issue 12): distribution coverage against upstream dates on real
package data, limits, one finding per product, unknown as a gap, unassessed impact, layered rules.

Every expected date below is the vendor's published one (cited beside it) as it stands in the
shipped lifecycle files.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from estate.agent.discovery import apk, dpkg, rpm
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.collector.ruleset.rules import RuleErrors, load_rules
from estate.collector.scoring.scorer import explain, score, sync_rules
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

from .conftest import REPO
from .rulekit import report, seeded

RULES = REPO / "rules"
COVERAGE = Path(__file__).parent / "fixtures" / "coverage"


def host(case: str, asset: str, *, os_id: str, version_id: str, kernel: str = "",
         software: tuple[tuple[str, str, str, str], ...] = ()) -> pb.Inventory:
    """A report of one captured host: its packages read by the agent's own parsers."""
    inv = report(asset, os_id=os_id, version_id=version_id, kernel=kernel)
    folder = COVERAGE / case
    if (folder / "var/lib/dpkg/status").exists():
        packages, problems = dpkg.parse_dpkg_status((folder / "var/lib/dpkg/status").read_text())
        assert not problems
    elif (folder / "lib/apk/db/installed").exists():
        packages, _ = apk.parse_apk_installed((folder / "lib/apk/db/installed").read_text())
    else:
        packages, rpm_problems = rpm.parse_rpm_query((folder / "rpm-qa.txt").read_text())
        assert not rpm_problems
    inv.packages.extend(packages)
    for name, version, vendor, path in software:
        inv.software.add(name=name, version=version, vendor=vendor, path=path, found_by="runtimes")
    return inv


def findings(store: Store, asset: str) -> dict[str, dict[str, Any]]:
    cursor = store.con.execute("SELECT * FROM findings WHERE asset_id = ?", [asset])
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {f"{row['product'] or row['name']} {row['cycle'] or '?'}": row for row in rows}


def scored(tmp_path: Path, inv: pb.Inventory, as_of: dt.date, rules: Path | list[Path] = RULES) -> Store:
    return seeded(tmp_path / "c.duckdb", rules, [inv], as_of)


def test_the_agent_records_who_ships_each_package() -> None:
    packages, _ = dpkg.parse_dpkg_status((COVERAGE / "debian12_thirdparty/var/lib/dpkg/status").read_text())
    node = next(p for p in packages if p.name == "nodejs")
    assert (node.maintainer, node.component, node.origin) == ("NodeSource Support <support@nodesource.com>", "main", "")
    assert dpkg.component("universe/python") == "universe" and dpkg.component("non-free/libs") == "non-free"
    alpine, _ = apk.parse_apk_installed((COVERAGE / "alpine3.4/lib/apk/db/installed").read_text())
    assert {p.name: p.maintainer for p in alpine}["musl"] == "Timo Teräs <timo.teras@iki.fi>"


def test_debian12_vendor_packages_are_covered_by_debian_third_party_keep_upstream(tmp_path: Path) -> None:
    inv = host("debian12_thirdparty", "machine-id:deb12", os_id="debian", version_id="12")
    store = scored(tmp_path, inv, dt.date(2026, 11, 30))
    got = findings(store, "machine-id:deb12")
    # Perl 5.36 ended upstream on 2025-05-27 and Maven 3.8 on 2025-06-14 (endoflife.date perl, apache-maven);
    # Debian 12's security support ended 2026-06-10/07-11 and Debian LTS covers bookworm to 2028-06-30
    # (https://wiki.debian.org/LTS): Debian's packages are covered, in its LTS phase.
    for key in ("perl 5.36", "apache-maven 3.8"):
        row = got[key]
        assert row["upstream_status"] == "eol", key
        assert (row["coverage"], row["covered_by"], row["status"]) == ("distribution", "debian 12", "extended"), key
        assert row["coverage_until"] == dt.date(2028, 6, 30) and row["l1_score"] == 5
        assert "Debian 12 decides" in row["decided_by"]
    assert got["perl 5.36"]["observations"] == 2  # perl and perl-base: one finding
    # PostgreSQL 15 (15.18-0+deb12u1) is Debian's; upstream supports 15 to 2027-11-11.
    assert got["postgresql 15"]["coverage"] == "distribution"
    # NodeSource's Node.js 20: a third party (its maintainer and version say so), so upstream's dates
    # decide: security support ended 2026-04-30 (https://github.com/nodejs/release), extended offered.
    node = got["nodejs 20"]
    assert (node["coverage"], node["covered_by"], node["status"]) == ("upstream", None, "extended")
    assert "third-party version marker" in node["decided_by"]
    assert node["evidence"] == [
        "package dpkg nodejs 20.20.2-1nodesource1+repack1 [third party: third-party version marker]"]


def test_ubuntu2004_python38_is_covered_through_standard_support_then_esm(tmp_path: Path) -> None:
    inv = host("ubuntu20.04", "machine-id:focal", os_id="ubuntu", version_id="20.04")
    # Python 3.8 ended upstream on 2024-10-07 (PEP 569); Ubuntu 20.04 standard support runs to
    # 2025-05-31, ESM to 2030-04-02 (https://ubuntu.com/about/release-cycle).
    store = scored(tmp_path, inv, dt.date(2024, 11, 1))
    python = findings(store, "machine-id:focal")["python 3.8"]
    assert (python["upstream_status"], python["coverage"], python["status"]) == ("eol", "distribution", "supported")
    assert python["eol"] == dt.date(2025, 5, 31) and python["coverage_until"] == dt.date(2030, 4, 2)
    score(store.con, dt.date(2026, 11, 30))
    assert findings(store, "machine-id:focal")["python 3.8"]["status"] == "extended"


def test_alpine34_packages_end_with_the_release(tmp_path: Path) -> None:
    inv = host("alpine3.4", "machine-id:alpine", os_id="alpine", version_id="3.4.6")
    # OpenSSL 1.0.2 was supported upstream to 2019-12-31 (https://openssl-library.org/policies/releasestrat/),
    # but Alpine 3.4's packages were fixed only until 2018-05-01 (https://alpinelinux.org/releases/):
    # Alpine's libcrypto1.0 is what is installed, so Alpine's coverage decides.
    store = scored(tmp_path, inv, dt.date(2018, 6, 1))
    openssl = findings(store, "machine-id:alpine")["openssl 1.0.2"]
    assert (openssl["upstream_status"], openssl["coverage"], openssl["status"]) == ("supported", "distribution", "eol")
    assert "Alpine Linux version marker" in openssl["decided_by"]
    assert any(e.endswith("1.0.2j-r0 [vendor: Alpine Linux version marker]") for e in openssl["evidence"])


def test_centos7_base_python_covered_pgdg_postgresql_upstream(tmp_path: Path) -> None:
    inv = host("centos7_pgdg", "machine-id:c7", os_id="centos", version_id="7")
    # As of 2023-01-01: Python 3.6 ended upstream 2021-12-23 (PEP 494) but CentOS 7 updated its
    # packages to 2024-06-30 (https://www.redhat.com/en/topics/linux/centos-linux-eol); PostgreSQL 12
    # from PGDG keeps upstream's end, 2024-11-21 (https://www.postgresql.org/support/versioning/).
    store = scored(tmp_path, inv, dt.date(2023, 1, 1))
    got = findings(store, "machine-id:c7")
    python = got["python 3.6"]
    assert (python["upstream_status"], python["coverage"], python["status"]) == ("eol", "distribution", "supported")
    assert python["eol"] == dt.date(2024, 6, 30)
    assert "CentOS Linux version marker" in python["decided_by"]
    pg = got["postgresql 12"]
    assert (pg["coverage"], pg["status"], pg["eol"]) == ("upstream", "supported", dt.date(2024, 11, 21))
    assert "third-party version marker" in pg["decided_by"] and pg["observations"] == 2  # postgresql12, -server


def test_rhel6_vendor_field_decides_and_the_kernel_is_red_hats(tmp_path: Path) -> None:
    packages, _ = rpm.parse_rpm_query((COVERAGE / "rhel6_vendors" / "rpm-qa.txt").read_text())
    assert {p.name: p.origin for p in packages} == {
        "crash": "Red Hat, Inc.", "xorg-x11-drv-vmmouse": "Red Hat, Inc.", "libnl": "", "BESAgent": "IBM Corp.",
        "kernel": ""}
    inv = host("rhel6_vendors", "machine-id:r6", os_id="rhel", version_id="6.10", kernel="2.6.32-573.el6.x86_64")
    # RHEL 6 Maintenance Support ended 2020-11-30; Extended Life-cycle Support runs to 2024-06-30
    # (https://access.redhat.com/support/policy/updates/errata). Upstream has no 2.6.32 cycle in the
    # lifecycle data: unknown upstream, but Red Hat's kernel is dated by Red Hat.
    store = scored(tmp_path, inv, dt.date(2022, 1, 1))
    kernel = findings(store, "machine-id:r6")["linux-kernel ?"]
    assert (kernel["upstream_status"], kernel["coverage"], kernel["status"]) == ("unknown", "distribution", "extended")
    assert sorted(kernel["kinds"]) == ["kernel", "package"] and kernel["coverage_until"] == dt.date(2024, 6, 30)


def test_amazon_linux2_python37_is_covered_by_amazon(tmp_path: Path) -> None:
    inv = host("amzn2", "machine-id:al2", os_id="amzn", version_id="2")
    # Python 3.7 ended upstream 2023-06-27 (PEP 537); Amazon Linux 2 is supported to 2026-06-30
    # (https://aws.amazon.com/amazon-linux-2/faqs/).
    store = scored(tmp_path, inv, dt.date(2025, 1, 1))
    python = findings(store, "machine-id:al2")["python 3.7"]
    assert (python["upstream_status"], python["coverage"], python["covered_by"]) == ("eol", "distribution",
                                                                                    "amazon-linux 2")
    assert python["status"] == "supported" and python["eol"] == dt.date(2026, 6, 30)


def test_sles15sp4_kernel_is_covered_by_ltss(tmp_path: Path) -> None:
    inv = host("sles15sp4", "machine-id:sles", os_id="sles", version_id="15.4",
               kernel="5.14.21-150400.24.60-default")
    # Linux 5.14 ended upstream 2021-11-21 (kernel.org); SLES 15 SP4 general support ended 2023-12-31
    # and LTSS runs to 2026-12-31 (https://www.suse.com/lifecycle/).
    store = scored(tmp_path, inv, dt.date(2025, 6, 1))
    kernel = findings(store, "machine-id:sles")["linux-kernel 5.14"]
    assert (kernel["upstream_status"], kernel["coverage"], kernel["status"]) == ("eol", "distribution", "extended")
    assert "kernel release built by SUSE" in kernel["decided_by"]


def test_rhel8_application_stream_retires_before_the_release(tmp_path: Path) -> None:
    """python38 on RHEL 8 retired in May 2023 (Red Hat's Application Streams life cycle page), though
    RHEL 8 itself is maintained to 2029-05-31; python3 (3.6) is supported for the life of RHEL 8."""
    inv = report("machine-id:r8", os_id="rhel", version_id="8.8", manager="rpm",
                 packages=[("python38", "3.8.16-1.module+el8.8.0+17819+bed7a0b7"),
                           ("python3", "3.6.8-51.el8_8.1")])
    store = scored(tmp_path, inv, dt.date(2024, 1, 1))
    got = findings(store, "machine-id:r8")
    assert got["python 3.8"]["coverage_limit"] == "rhel8-python-3.8"
    assert (got["python 3.8"]["status"], got["python 3.8"]["eol"]) == ("eol", dt.date(2023, 6, 1))
    assert "shortened by limit rhel8-python-3.8" in got["python 3.8"]["decided_by"]
    assert (got["python 3.6"]["status"], got["python 3.6"]["eol"]) == ("supported", dt.date(2029, 5, 31))


def test_red_hats_openjdk_keeps_its_own_lifecycle_on_rhel(tmp_path: Path) -> None:
    """Red Hat supports its build of OpenJDK 17 to 2027-12-31 (https://access.redhat.com/articles/1299013),
    though RHEL 8 itself is maintained to 2029-05-31: the package's own lifecycle ends the coverage."""
    inv = report("machine-id:r8java", os_id="rhel", version_id="8.10", manager="rpm",
                 packages=[("java-17-openjdk-headless", "1:17.0.12.0.7-2.el8")])
    store = scored(tmp_path, inv, dt.date(2028, 6, 1))
    java = findings(store, "machine-id:r8java")["red-hat-build-of-openjdk 17"]
    assert (java["coverage"], java["coverage_limit"], java["status"]) == ("distribution", "rhel-openjdk", "eol")
    assert java["coverage_until"] == dt.date(2027, 12, 31)


def test_ubuntu_universe_is_covered_only_during_standard_support(tmp_path: Path) -> None:
    """Ubuntu 22.04: standard support to 2027-06-01, ESM to 2032-04-09 (ubuntu.com/about/release-cycle);
    universe packages count only to the end of standard support."""
    inv = report("machine-id:jammy", os_id="ubuntu", version_id="22.04")
    inv.packages.add(name="nodejs", version="12.22.9~dfsg-1ubuntu3", manager="dpkg", component="universe")
    inv.packages.add(name="perl-base", version="5.34.0-3ubuntu1.3", manager="dpkg", component="main")
    store = scored(tmp_path, inv, dt.date(2028, 1, 1))
    got = findings(store, "machine-id:jammy")
    ubuntu = store.con.execute("SELECT eol, eoes FROM rule_cycles WHERE product = 'ubuntu' AND cycle = '22.04'"
                               ).fetchone()
    assert ubuntu is not None
    assert (got["nodejs 12"]["coverage_limit"], got["nodejs 12"]["status"]) == ("ubuntu-universe", "eol")
    assert got["nodejs 12"]["coverage_until"] == ubuntu[0]
    assert (got["perl 5.34"]["status"], got["perl 5.34"]["coverage_until"]) == ("extended", ubuntu[1])


def test_one_finding_per_product_and_cycle_with_every_piece_of_evidence(tmp_path: Path) -> None:
    """OpenSSL as a package and as software found on disk is one finding listing both."""
    inv = report("machine-id:one", os_id="debian", version_id="12",
                 packages=[("openssl", "3.0.19-1~deb12u2"), ("libssl3", "3.0.19-1~deb12u2")])
    inv.software.add(name="openssl", version="3.0.19", path="/usr/lib/x86_64-linux-gnu/libssl.so.3")
    inv.software.add(name="nodejs", version="20.20.2", path="/opt/node/bin/node")
    store = scored(tmp_path, inv, dt.date(2026, 11, 30))
    rows = store.con.execute("SELECT product, cycle, kinds, evidence, coverage FROM findings "
                             "WHERE asset_id = 'machine-id:one' AND product = 'openssl'").fetchall()
    assert len(rows) == 1
    _, cycle, kinds, evidence, coverage = rows[0]
    assert cycle == "3.0" and kinds == ["package", "software"] and coverage == "distribution"
    assert len(evidence) == 3 and any(e.startswith("software /usr/lib/x86_64-linux-gnu/libssl.so.3 openssl")
                                      for e in evidence)
    # Node.js unpacked under /opt is nobody's package: upstream's dates.
    node = findings(store, "machine-id:one")["nodejs 20"]
    assert node["coverage"] == "upstream" and "found outside the package manager" in node["decided_by"]


def test_unknown_lifecycle_never_ranks_below_a_supported_host(tmp_path: Path) -> None:
    """An OS with no lifecycle (Scientific Linux, AIX 6.1 among the captured hosts) is a coverage gap:
    it scores at least what any supported host with the same labels scores."""
    labels = {"org": "x", "environment": "prod"}
    hosts = [report("machine-id:known", os_id="debian", version_id="13", labels=labels,
                    packages=[("perl-base", "5.40.1-6")]),
             report("machine-id:sl6", os_id="scientific", version_id="6.10", labels=labels),
             report("machine-id:noos", labels=labels)]
    store = seeded(tmp_path / "u.duckdb", RULES, hosts, dt.date(2026, 11, 30))
    risk = {row[0]: row[1:] for row in store.con.execute(
        "SELECT asset_id, overall, worst_status, coverage_gaps FROM asset_risk").fetchall()}
    assert risk["machine-id:known"][1] == "supported"
    for unknown in ("machine-id:sl6", "machine-id:noos"):
        assert risk[unknown][0] >= risk["machine-id:known"][0], unknown
        assert risk[unknown][2], unknown
    assert risk["machine-id:sl6"][2] == ["os scientific 6.10: no lifecycle rule matches it"]
    assert risk["machine-id:noos"][2] == ["os: not identified (the report names no OS)"]
    gaps = store.con.execute("SELECT asset_id, gap FROM coverage_gaps ORDER BY asset_id").fetchall()
    assert [g[0] for g in gaps] == ["machine-id:noos", "machine-id:sl6"]
    text = explain(store.con, "machine-id:sl6")
    assert text is not None and "coverage gaps (1)" in text and "missing data: no lifecycle rule matches os" in text


def test_unassessed_systems_are_listed_and_explained(tmp_path: Path) -> None:
    rules = tmp_path / "local"
    (rules / "assessments").mkdir(parents=True)
    (rules / "assessments" / "hr.yaml").write_text(
        "system: hr\nowner: hr-owner@example.gov.uk\nassessed: 2026-10-01\nimpact: {C1: {score: 2}}\n")
    hosts = [report("machine-id:pay", os_id="debian", version_id="12", labels={"system": "payroll"}),
             report("machine-id:hr", os_id="debian", version_id="12", labels={"system": "hr"}),
             report("machine-id:lone", os_id="debian", version_id="12")]
    store = seeded(tmp_path / "a.duckdb", [RULES, rules], hosts, dt.date(2026, 11, 30))
    assert store.con.execute("SELECT system, assets, default_impact FROM unassessed_systems ORDER BY system NULLS LAST"
                             ).fetchall() == [("payroll", 1, 3.0), (None, 1, 3.0)]
    assert store.con.execute("SELECT asset_id, impact_assessed FROM asset_risk ORDER BY asset_id").fetchall() == [
        ("machine-id:hr", True), ("machine-id:lone", False), ("machine-id:pay", False)]
    text = explain(store.con, "machine-id:pay")
    assert text is not None and "impact UNASSESSED" in text and "owner of system 'payroll'" in text


def test_local_rules_layer_overrides_by_id_and_is_validated_the_same_way(tmp_path: Path) -> None:
    local = tmp_path / "rules.d"
    (local / "lifecycles").mkdir(parents=True)
    (local / "exceptions").mkdir()
    # The organisation's own reading of Debian 12 (same product id): replaces the shipped file.
    (local / "lifecycles" / "debian.yaml").write_text(
        "product: debian\ntitle: Debian (our support contract)\nsources: [https://intranet.example/debian]\n"
        "releases:\n  - {releaseCycle: '12', releaseDate: 2023-06-10, eol: 2030-01-01}\n")
    (local / "exceptions" / "ours.yaml").write_text(
        "exceptions:\n  - {id: ours, scope: {product: debian, cycle: '12'}, owner: me@example.gov.uk, "
        "reason: contract, expires: 2027-01-01}\n")
    ruleset = load_rules([RULES, local])
    debian = [loc for loc in ruleset.lifecycles if loc.rule.product == "debian"]
    assert len(debian) == 1 and debian[0].file == f"{local}/lifecycles/debian.yaml"
    assert any("replaces lifecycles/endoflife/debian.yaml" in o for o in ruleset.overrides)
    store = seeded(tmp_path / "l.duckdb", [RULES, local],
                   [report("machine-id:d", os_id="debian", version_id="12")], dt.date(2026, 11, 30))
    assert store.con.execute("SELECT status, eol, exception_id FROM findings WHERE kind = 'os'").fetchone() == (
        "supported", dt.date(2030, 1, 1), "ours")
    # A broken local file is refused with its file, line and field, like a shipped one.
    (local / "exceptions" / "bad.yaml").write_text("exceptions:\n  - {id: bad, scope: {product: nosuch}, "
                                                   "owner: me, reason: r, expires: 2027-01-01}\n")
    with pytest.raises(RuleErrors, match=rf"{local}/exceptions/bad.yaml:2: scope.product: no lifecycle"):
        load_rules([RULES, local])
    result = subprocess.run([sys.executable, "-m", "estate.collector.cli", "rules", "check", "--rules-dir",
                             str(local)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and f"{local}/exceptions/bad.yaml:2: scope.product" in result.stderr


def test_the_shipped_examples_are_not_active_rules() -> None:
    ruleset = load_rules(RULES)
    assert ruleset.assessments == [] and ruleset.exceptions == []
    assert (REPO / "docs" / "examples" / "rules" / "assessments" / "example-payroll.yaml").is_file()
    assert load_rules([RULES, REPO / "docs" / "examples" / "rules"]).exceptions[0].rule.id == "example-payroll-rhel7"


def test_a_back_reference_is_a_rule_error_not_a_scoring_failure(tmp_path: Path) -> None:
    """Python's re accepts (a)\\1; DuckDB's RE2, which runs the rules, does not."""
    local = tmp_path / "rules.d"
    (local / "matchers").mkdir(parents=True)
    (local / "matchers" / "backref.yaml").write_text(
        "matchers:\n  - id: backref\n    kind: package\n    name_regex: '(lib)\\1ssl'\n    product: openssl\n")
    (local / "distributions").mkdir()
    (local / "distributions" / "debian.yaml").write_text(
        (RULES / "distributions" / "debian.yaml").read_text().replace("versions: ['[+~]deb\\d+u\\d+']",
                                                                       "versions: ['(?<=deb)12']"))
    with pytest.raises(RuleErrors) as caught:
        load_rules([RULES, local])
    text = str(caught.value)
    assert f"{local}/matchers/backref.yaml:4: matchers[0].name_regex: not a regular expression DuckDB (RE2) " \
           "can run: invalid escape sequence: \\1" in text
    assert f"{local}/distributions/debian.yaml:" in text and "vendor.versions[0]: not a regular expression" in text


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="needs a Debian host")
def test_this_debian_hosts_perl_and_maven_are_covered_by_debian(tmp_path: Path) -> None:
    """What `make demo` shows on the development machine (Debian 12 with perl and maven), through a
    real local scan scored for a fixed date."""
    inv = build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "test"})
    names = {p.name for p in inv.packages}
    if (inv.os.id, inv.os.version_id) != ("debian", "12") or not {"perl-base", "maven"} <= names:
        pytest.skip("not a Debian 12 host with perl and maven installed")
    store = Store(tmp_path / "local.duckdb")
    try:
        store.write_reports([inv], via="file")
        assert sync_rules(store.con, RULES).errors is None
        score(store.con, dt.date(2026, 11, 30))
        got = findings(store, inv.asset_id)
        # Upstream Perl 5.36 and Maven 3.8 are past their end of life; Debian LTS covers bookworm to 2028-06-30.
        for key in ("perl 5.36", "apache-maven 3.8"):
            assert got[key]["upstream_status"] == "eol", key
            assert (got[key]["coverage"], got[key]["covered_by"]) == ("distribution", "debian 12"), key
            assert got[key]["status"] != "eol" and got[key]["coverage_until"] == dt.date(2028, 6, 30), key
        text = explain(store.con, inv.asset_id)
        assert text is not None and "Debian 12 decides" in text
    finally:
        store.close()
