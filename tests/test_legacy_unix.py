"""The legacy Unix parsers on real captured lines beyond the host fixture folders (sources in comments)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from estate.agent.discovery import aix, hpux, os_release, solaris
from estate.agent.hostaccess import CommandResult, RecordedHost
from estate.agent.scan import run_discoverers

from .conftest import HOST_FIXTURES


@pytest.mark.parametrize(("line", "version", "build"), [
    ("7200-05-03-2148", "7.2.5.3", "2148"),  # AIX 7.2 TL5 SP3
    ("7100-04-01-1543", "7.1.4.1", "1543"),  # a blog post's AIX 7.1 TL4 SP1 host
    ("6100-04-02-1007\n", "6.1.4.2", "1007"),
    ("5300-05-04", "5.3.5.4", ""),  # AIX 5.3 levels before build dates were printed
])
def test_oslevel_technology_level_and_service_pack(line: str, version: str, build: str) -> None:
    level = aix.parse_oslevel(line)
    assert (level.version, level.build) == (version, build)


@pytest.mark.parametrize("garbage", ["", "7.2.0.0", "oslevel: not found", "7200-05", "72OO-05-03-2148"])
def test_oslevel_garbage_is_refused_with_what_was_printed(garbage: str) -> None:
    with pytest.raises(ValueError, match="not VRMF-TL-SP"):
        aix.parse_oslevel(garbage)


def test_lslpp_installp_fileset_with_root_part_counts_once() -> None:
    text = (HOST_FIXTURES / "aix6.1" / "commands" / "lslpp__c__l.txt").read_text()
    packages, problems = aix.parse_lslpp_installp(text)
    names = [p.name for p in packages]
    assert names.count("devices.common.IBM.ml") == 1 and not problems


@pytest.mark.parametrize(("first_line", "version_id", "version", "build", "arch"), [
    # fusioninventory-agent resources/solaris/release/sample5, release-4, sample8 (GPL-2.0-or-later)
    ("                        Solaris 9 9/05 s9s_u8wos_05 SPARC", "9", "9 9/05", "s9s_u8wos_05", "sparc"),
    ("                       Solaris 8 2/02 s28s_u7wos_08a SPARC", "8", "8 2/02", "s28s_u7wos_08a", "sparc"),
    ("                   Oracle Solaris 10 8/11 s10s_u10wos_17b SPARC", "10", "10 8/11", "s10s_u10wos_17b", "sparc"),
    # ansible/ansible distribution fixture solaris_11.json (GPL-3.0-or-later)
    ("                           Oracle Solaris 11 11/11 X86", "11", "11 11/11", "", "x86"),
])
def test_solaris_release_lines(first_line: str, version_id: str, version: str, build: str, arch: str) -> None:
    os_part = solaris.os_from_release(solaris.parse_release(first_line + "\n  Copyright (c) Oracle\n"))
    assert (os_part.version_id, os_part.version, os_part.build, os_part.architecture) == (
        version_id, version, build, arch)


def test_not_solaris_release_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a Solaris release line"):
        solaris.parse_release("             OpenIndiana Development oi_151.1.8 X86 (powered by illumos)\n")


def test_pkg_info_entire_on_11_3_gives_the_sru() -> None:
    # Lines of `pkg info entire` from a real Solaris 11.3 host, in a public admin notebook kept on GitHub.
    text = """          Name: entire
       Summary: Incorporation to lock all system packages to the same build
      Category: Meta Packages/Incorporations
         State: Installed
     Publisher: solaris
       Version: 0.5.11 (Oracle Solaris 11.3.0.19.0)
 Build Release: 5.11
        Branch: 0.175.3.0.0.19.0
"""
    fields = solaris.parse_pkg_info(text)
    assert solaris.sru_from_entire(fields) == "11.3.0.19.0" and fields["Branch"] == "0.175.3.0.0.19.0"


def test_machinfo_both_layouts() -> None:
    new, os_new = hpux.parse_machinfo((HOST_FIXTURES / "hpux11.31_no_swlist" / "commands" / "machinfo.txt").read_text())
    assert (new.cpu_count, new.memory_bytes, new.product, new.vendor) == (
        3, 8180 * 1024 * 1024, "ia64 hp server rx4640", "hp")
    assert new.cpu_model == "Intel(R) Itanium 2" and os_new["release"] == "HP-UX B.11.31"
    old, os_old = hpux.parse_machinfo((HOST_FIXTURES / "hpux11.23" / "commands" / "machinfo.txt").read_text())
    assert (old.cpu_count, old.memory_bytes, old.product, old.serial) == (
        2, 4076 * 1024 * 1024, "ia64 hp server rx2620", "REDACTED01")
    assert old.cpu_model == "Intel(R) Itanium 2 processor" and os_old["release"] == "B.11.23"


def test_swlist_of_another_11_23_host_names_its_operating_environment() -> None:
    # fusioninventory-agent resources/hpux/swlist/hpux1 (GPL-2.0-or-later), a few of its lines.
    text = "\n".join([
        "# Initializing...", "#", "# Bundle(s):", "#", "",
        "  HPUX11i-OE-Ent                        B.11.23.0512   HP-UX Enterprise Operating Environment Component ",
        "  HPUXBaseOS                            B.11.23        HP-UX Base OS  ",
        "  OpenSSL                               A.00.09.07e.013 Secure Network Communications Protocol ",
        "#", "# Product(s) not contained in a Bundle:", "#", "",
        "  sudo                                  1.7.4p6        Provide limited super-user priveleges to "
        "specific users",
    ])
    packages, problems, environment = hpux.parse_swlist(text)
    assert environment == ("HPUX11i-OE-Ent", "B.11.23.0512") and not problems
    assert [(p.name, p.version) for p in packages][2:] == [("OpenSSL", "A.00.09.07e.013"), ("sudo", "1.7.4p6")]


@pytest.mark.parametrize(("release", "version_id", "codename"), [
    ("B.11.11", "11.11", "11i v1"), ("B.11.23", "11.23", "11i v2"), ("B.11.31", "11.31", "11i v3")])
def test_hpux_releases(release: str, version_id: str, codename: str) -> None:
    os_part, node = hpux.os_from_uname(["HP-UX", "node", release, "U", "9000/800", "1", "unlimited-user", "license"])
    assert (os_part.version_id, os_part.codename, os_part.architecture, node) == (version_id, codename, "9000/800",
                                                                                 "node")


def test_suse_release_without_os_release() -> None:
    # ansible/ansible distribution fixture sles_11.4.json: /etc/SuSE-release (GPL-3.0-or-later)
    text = "\nSUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4"
    claim = os_release.parse_release_file("/etc/SuSE-release", text)
    assert claim is not None
    os_part = os_release._os_from_claim(claim)
    assert (os_part.id, os_part.version_id, os_part.major) == ("sles", "11.4", "11")


def test_unknown_red_hat_family_name_keeps_its_own_id() -> None:
    # Not guessed to be RHEL: an unknown distribution keeps its own name, so scoring calls it unknown.
    claim = os_release.parse_release_file("/etc/redhat-release", "Mystery Linux release 1.0 (Nope)\n")
    assert claim is not None
    os_part = os_release._os_from_claim(claim)
    assert (os_part.id, os_part.version_id, os_part.codename) == ("mystery", "1.0", "Nope")


# --- issue 13 -----------------------------------------------------------------------------------

def test_lslpp_fileset_whose_root_part_lags_is_one_package_at_the_usr_level() -> None:
    # Lines in the shape of the aix6.1 fixture's `lslpp -c -l` (a real AIX 6.1 host): bos.rte.libc was
    # updated to 6.1.4.1 and its root part was left at 6.1.4.0; bos.rte.security has parts in all three.
    text = """#Path:Fileset:Level:PTF Id:State:Type:Description:EFIX Locked
/usr/lib/objrepos:bos.rte.libc:6.1.4.1::APPLIED:F:libc Library:
/usr/lib/objrepos:bos.rte.security:6.1.4.0::COMMITTED:I:Base Security Function:
/usr/share/lib/objrepos:bos.rte.security:6.1.4.0::COMMITTED:I:Base Security Function:
/etc/objrepos:bos.rte.libc:6.1.4.0::COMMITTED:I:libc Library:
/etc/objrepos:bos.rte.security:6.1.3.0::COMMITTED:I:Base Security Function:
/etc/objrepos:devices.root.only:1.0.0.0::COMMITTED:I:Root-only fileset:
"""
    packages, problems = aix.parse_lslpp_installp(text)
    assert {p.name: p.version for p in packages} == {
        "bos.rte.libc": "6.1.4.1", "bos.rte.security": "6.1.4.0", "devices.root.only": "1.0.0.0"}
    assert not problems


def test_lslpp_all_lists_an_installp_fileset_once_but_keeps_rpm_versions() -> None:
    # The column layout of the aix7.2 fixture's `lslpp -Lc` (a real AIX 7.2 host); the rows are assembled.
    text = ("bos.rte.libc:bos.rte.libc:6.1.4.1: : :A: :libc Library: : : : : : :0:0:/:\n"
            "bos.rte.libc:bos.rte.libc:6.1.4.0: : :C: :libc Library: : : : : : :0:0:/etc/objrepos:\n"
            "openssl:openssl-1.0.2k-1:1.0.2k-1: : :C:R:Secure Sockets Layer: : : : : : :0:0:/:\n"
            "openssl:openssl-1.1.1-1:1.1.1-1: : :C:R:Secure Sockets Layer: : : : : : :0:0:/:\n")
    packages, _ = aix.parse_lslpp_all(text)
    assert [(p.name, p.version) for p in packages] == [
        ("bos.rte.libc", "6.1.4.1"), ("openssl", "1.0.2k-1"), ("openssl", "1.1.1-1")]


@pytest.mark.parametrize(("fields", "sru"), [
    ({"Version": "0.5.11 (Oracle Solaris 11.1 SRU 4.5)"}, "11.1.4.5"),
    ({"Summary": "entire incorporation including Support Repository Update (Oracle Solaris 11 SRU 10.5)."},
     "11.0.10.5"),
    ({"Version": "0.5.11 (Oracle Solaris 11.2.15.0.5.1)"}, "11.2.15.0.5.1"),
    ({"Version": "0.5.11", "Branch": "0.175.1.4.0.5.0"}, "11.1.4.5"),
    ({"Version": "0.5.11", "Branch": "0.175.3.0.0.19.0"}, "11.3.0.19"),
    ({"Version": "0.5.11"}, ""),
])
def test_solaris_11_0_to_11_3_srus_in_every_format(fields: dict[str, str], sru: str) -> None:
    assert solaris.sru_from_entire(fields) == sru


def test_illumos_over_ssh_is_not_solaris_and_pkg_info_entire_is_not_asked(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    shutil.copy(HOST_FIXTURES / "openindiana151" / "etc" / "release", tmp_path / "etc" / "release")
    (tmp_path / "commands").mkdir()
    (tmp_path / "commands" / "uname__s.txt").write_text("SunOS\n")
    host = CountingHost(tmp_path)
    found = solaris.discover(host)
    assert (found.os.family, found.os.id, found.os.version_id) == ("illumos", "openindiana", "oi_151")
    assert ["pkg", "info", "entire"] not in host.asked


class CountingHost(RecordedHost):
    """A recorded host that remembers every command it was asked to run."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.asked: list[list[str]] = []

    def run(self, argv: Sequence[str], timeout: float = 60.0, limit: int = 64 * 1024 * 1024) -> CommandResult:
        self.asked.append(list(argv))
        return super().run(argv, timeout, limit)


@pytest.mark.parametrize("folder", ["aix7.2", "solaris10", "hpux11.31"])
def test_no_reg_query_is_sent_once_uname_named_a_unix(folder: str) -> None:
    host = CountingHost(HOST_FIXTURES / folder)
    run_discoverers(host)
    assert ["uname", "-s"] in host.asked
    assert not [argv for argv in host.asked if argv[0] == "reg"], host.asked
