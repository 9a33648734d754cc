"""OS identity: order of trust, contradictions, derivatives, Windows and macOS parsing, other Unixes.

Real release files come from the host fixtures; the cases here are the odd and hostile ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from estate.agent.discovery import macos, os_release, windows
from estate.agent.hostaccess import LocalHost, RecordedHost

from .conftest import HOST_FIXTURES


def tree(tmp_path: Path, files: dict[str, str]) -> LocalHost:
    for path, text in files.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return LocalHost(str(tmp_path))


def test_contradiction_keeps_os_release_and_says_so(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/os-release": "ID=debian\nVERSION_ID=11\nNAME=Debian\n",
                           "/etc/redhat-release": "CentOS release 6.7 (Final)\n"})
    found = os_release.discover(host)
    assert (found.os.id, found.os.version_id) == ("debian", "11")
    assert "contradiction: /etc/redhat-release says centos 6.7; kept /etc/os-release" in found.os.evidence


def test_oracle_linux_shipping_rhel_os_release_is_oracle_linux(tmp_path: Path) -> None:
    # The release file text is Oracle's own (ol7 fixture); the os-release is RHEL 7's (rhel7 fixture).
    host = tree(tmp_path, {
        "/etc/os-release": (HOST_FIXTURES / "rhel7" / "etc" / "os-release").read_text(),
        "/etc/oracle-release": (HOST_FIXTURES / "ol7" / "etc" / "oracle-release").read_text()})
    found = os_release.discover(host)
    assert (found.os.id, found.os.version_id, found.os.major) == ("ol", "7.5", "7")
    assert found.os.id_like[0] == "rhel"
    assert "a derivative that ships its parent's os-release: chose /etc/oracle-release" in found.os.evidence


def test_os_release_symlink_inside_root_is_followed(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/usr/lib/os-release": "ID=alpine\nVERSION_ID=3.19.1\nNAME=\"Alpine Linux\"\n"})
    (tmp_path / "etc").mkdir()
    os.symlink("/usr/lib/os-release", tmp_path / "etc" / "os-release")  # absolute: inside the root
    found = os_release.discover(host)
    assert (found.os.id, found.os.version_id) == ("alpine", "3.19.1")
    assert found.os.evidence.startswith("decided by /etc/os-release")


def test_suse_release_without_os_release(tmp_path: Path) -> None:
    suse = (HOST_FIXTURES / "sles11" / "etc" / "SuSE-release").read_text()
    found = os_release.discover(tree(tmp_path, {"/etc/SuSE-release": suse}))
    assert (found.os.id, found.os.version_id, found.os.major) == ("sles", "11.4", "11")


def test_lsb_release_then_numeric_debian_version(tmp_path: Path) -> None:
    found = os_release.discover(tree(tmp_path, {"/etc/debian_version": "7.9\n"}))
    assert (found.os.id, found.os.version_id, found.os.version) == ("debian", "7", "7.9")
    ubuntu = tree(tmp_path / "u", {"/etc/debian_version": "jessie/sid\n", "/etc/lsb-release":
                                   "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=14.04\nDISTRIB_CODENAME=trusty\n"})
    found = os_release.discover(ubuntu)
    assert (found.os.id, found.os.version_id, found.os.codename) == ("ubuntu", "14.04", "trusty")


def test_garbage_fifo_and_huge_release_files_are_errors_and_the_rest_decides(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/redhat-release": "Red Hat Enterprise Linux Server release 5.11 (Tikanga)\n",
                           "/etc/lsb-release": "DISTRIB_ID=" + "x" * 100_000})
    (tmp_path / "etc" / "os-release").write_bytes(b"\x7fELF\0\0\x01" * 100)
    os.mkfifo(tmp_path / "etc" / "centos-release")  # would block a naive reader for ever
    found = os_release.discover(host)
    assert (found.os.id, found.os.version_id) == ("rhel", "5.11")
    messages = " | ".join(e.message for e in found.errors)
    assert "/etc/os-release: contains NUL bytes" in messages
    assert "/etc/centos-release: not a regular file" in messages
    assert "/etc/lsb-release: larger than the 65536-byte limit" in messages


def test_aix_solaris_hpux_are_left_to_their_discoverers(tmp_path: Path) -> None:
    for system in ("AIX", "SunOS", "HP-UX"):
        folder = tmp_path / system / "commands"
        folder.mkdir(parents=True)
        (folder / "uname__s.txt").write_text(f"{system}\n")
        found = os_release.discover(RecordedHost(folder.parent))
        assert found.os.id == "" and found.os.family == ""
        assert f"uname -s says {system}" in found.os.evidence


def test_windows_current_version_full_output_and_windows_11_naming() -> None:
    # Written in `reg query`'s line format (no public full capture of a Windows 11 key was found); the
    # point is the rule: build 22000+ is Windows 11 although ProductName still says "Windows 10".
    text = ("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\r\n"
            "    SystemRoot    REG_SZ    C:\\WINDOWS\r\n    CurrentBuild    REG_SZ    22631\r\n"
            "    CurrentMajorVersionNumber    REG_DWORD    0xa\r\n    CurrentMinorVersionNumber    REG_DWORD    0x0\r\n"
            "    DisplayVersion    REG_SZ    23H2\r\n    EditionID    REG_SZ    Professional\r\n"
            "    InstallationType    REG_SZ    Client\r\n    ProductName    REG_SZ    Windows 10 Pro\r\n"
            "    UBR    REG_DWORD    0x10dd\r\n    RegisteredOwner    REG_SZ    \r\n\r\n"
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Accessibility\r\n")
    keys = windows.parse_reg_query(text)
    assert [k.path.rsplit("\\", 1)[-1] for k in keys] == ["CurrentVersion", "Accessibility"]
    info, notes = windows.os_from_current_version(windows.merged_values(keys))
    assert (info.id, info.version_id, info.name, info.build, info.edition, info.codename) == (
        "windows", "11", "Windows 11 Pro", "22631.4317", "Professional", "23H2")
    assert info.version == "10.0.22631.4317" and info.kernel == "10.0.22631"
    assert "Windows 11 although ProductName says 'Windows 10 Pro'" in notes[0]


def test_windows_server_from_build_when_product_name_is_generic() -> None:
    key = windows.RegKey("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion")
    key.values.update({"ProductName": ("REG_SZ", "Windows Server Datacenter"), "CurrentBuild": ("REG_SZ", "20348"),
                       "InstallationType": ("REG_SZ", "Server Core"), "EditionID": ("REG_SZ", "ServerDatacenter")})
    info, _ = windows.os_from_current_version(key)
    assert (info.id, info.version_id, info.major, info.edition) == ("windows-server", "2022", "2022",
                                                                   "ServerDatacenter")


def test_windows_programs_from_both_views_and_user_hives(tmp_path: Path) -> None:
    # In `reg query /s`'s line format; no public real capture of an Uninstall key was found.
    commands = tmp_path / "commands"
    commands.mkdir()
    from estate.agent.hostaccess import command_fixture_name as name

    (commands / name(windows.USERS)).write_text(
        "\r\nHKEY_USERS\\.DEFAULT\r\nHKEY_USERS\\S-1-5-19\r\nHKEY_USERS\\S-1-5-21-1-2-3-1001\r\n"
        "HKEY_USERS\\S-1-5-21-1-2-3-1001_Classes\r\n")
    native, wow = (("reg", "query", key, "/s") for key, _ in windows.UNINSTALL_VIEWS)
    (commands / name(native)).write_text(
        "\r\nHKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{A}\r\n"
        "    DisplayName    REG_SZ    Microsoft SQL Server 2012 (64-bit)\r\n"
        "    DisplayVersion    REG_SZ    11.0.7001.0\r\n    Publisher    REG_SZ    Microsoft Corporation\r\n\r\n"
        "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB123\r\n"
        "    NoRemove    REG_DWORD    0x1\r\n")
    (commands / name(wow)).write_text(
        "\r\nHKEY_LOCAL_MACHINE\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Java\r\n"
        "    DisplayName    REG_SZ    Java 8 Update 202\r\n    DisplayVersion    REG_SZ    8.0.2020.8\r\n")
    user = ("reg", "query", f"HKU\\S-1-5-21-1-2-3-1001\\{windows.UNINSTALL}", "/s")
    (commands / name(user)).write_text(
        f"\r\nHKEY_USERS\\S-1-5-21-1-2-3-1001\\{windows.UNINSTALL}\\Zoom\r\n"
        "    DisplayName    REG_SZ    Zoom\r\n    DisplayVersion    REG_SZ    5.4.3\r\n")
    found = windows.discover_programs(RecordedHost(tmp_path))
    assert {(p.name, p.version, p.architecture) for p in found.packages} == {
        ("Microsoft SQL Server 2012 (64-bit)", "11.0.7001.0", ""), ("Java 8 Update 202", "8.0.2020.8", "x86"),
        ("Zoom", "5.4.3", "")}
    assert all(p.manager == "windows" and not p.source for p in found.packages)
    assert any(p.evidence.endswith("(publisher Microsoft Corporation)") for p in found.packages)
    # The publisher is who ships the program (Package.origin); Zoom's key names none.
    assert {p.name: p.origin for p in found.packages}["Microsoft SQL Server 2012 (64-bit)"] == "Microsoft Corporation"
    assert {p.name: p.origin for p in found.packages}["Zoom"] == ""


def test_macos_sw_vers_real_outputs() -> None:
    # Verbatim outputs quoted in public repositories (see tests/fixtures/hosts/macos10.14/SOURCE.md).
    modern = macos.os_from_sw_vers(macos.parse_sw_vers("ProductName:\t\tmacOS\nProductVersion:\t\t14.6.1\n"
                                                       "BuildVersion:\t\t23G93\n"))
    assert (modern.id, modern.version_id, modern.major, modern.codename, modern.build) == (
        "macos", "14", "14", "sonoma", "23G93")
    old = macos.os_from_sw_vers(macos.parse_sw_vers("ProductName:\tMac OS X\nProductVersion:\t10.13.3\n"
                                                    "BuildVersion:\t17D102\n"))
    assert (old.version_id, old.codename) == ("10.13", "high sierra")


def test_windows_iis_sql_server_and_dotnet_framework() -> None:
    # In `reg query`'s line format, with the keys and value names these products register.
    iis = ("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\InetStp\r\n    MajorVersion    REG_DWORD    0xa\r\n"
           "    MinorVersion    REG_DWORD    0x0\r\n"
           "    InstallPath    REG_EXPAND_SZ    C:\\Windows\\system32\\inetsrv\r\n"
           "    VersionString    REG_SZ    Version 10.0\r\n")
    sql = ("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL11.MSSQLSERVER\\Setup\r\n"
           "    PatchLevel    REG_SZ    11.4.7001.0\r\n\r\n"
           "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL15.REPORTING\\Setup\r\n"
           "    PatchLevel    REG_SZ    15.0.4198.2\r\n\r\nEnd of search: 2 match(es) found.\r\n")
    dotnet = ("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full\r\n"
              "    Release    REG_DWORD    0x70bf6\r\n")
    found = windows.software_from_registry(iis, sql, dotnet)
    assert [(s.name, s.version, s.path) for s in found] == [
        ("iis", "10.0", "C:\\Windows\\system32\\inetsrv"), ("mssqlserver", "11.4.7001.0", "MSSQL11.MSSQLSERVER"),
        ("mssqlserver", "15.0.4198.2", "MSSQL15.REPORTING"), ("dotnetfx", "4.7.2", "")]
    assert windows.software_from_registry(None, "garbage\x00\r\n", "    Release    REG_DWORD    0xzz\r\n") == []
