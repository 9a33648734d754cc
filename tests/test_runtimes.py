"""Runtimes and servers outside package managers.

On this machine: every installed JDK, Python, Node.js and OpenSSL is found with the version the
program itself reports (asked here in the test, never by the agent). In a --root tree: each
product's version file at its usual place.
"""

from __future__ import annotations

import io
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from estate.agent.discovery import runtimes
from estate.agent.hostaccess import LocalHost

from .processes import process_group, wait_until


@pytest.fixture(scope="module")
def live() -> dict[tuple[str, str], str]:
    """(name, real path) -> version, from one discovery of this live host."""
    found = runtimes.discover(LocalHost())
    assert not found.errors, [e.message for e in found.errors]
    return {(s.name, s.path): s.version for s in found.software}


def java_homes() -> list[Path]:
    jvm = Path("/usr/lib/jvm")
    homes = {p.resolve() for p in jvm.iterdir() if (p / "bin" / "java").exists()} if jvm.is_dir() else set()
    return sorted(homes)


@pytest.mark.skipif(not java_homes(), reason="no JDK installed")
def test_every_installed_jdk_with_the_version_java_reports(live: dict[tuple[str, str], str]) -> None:
    found = {path: version for (name, path), version in live.items() if path.startswith("/usr/lib/jvm/")}
    for home in java_homes():
        banner = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True,
                                timeout=120).stderr
        reported = re.search(r'version "([^"]+)"', banner)
        assert reported and found.get(str(home)) == reported.group(1), (home, banner, found)
    vendors = {name for (name, path) in live if path.startswith("/usr/lib/jvm/")}
    if Path("/usr/lib/jvm/temurin-25-jdk-amd64").exists():
        assert "eclipse-temurin" in vendors  # named by vendor, as the Software.name contract says


@pytest.mark.parametrize("program,name", [("python3", "python"), ("node", "nodejs"), ("openssl", "openssl")])
def test_python_node_openssl_with_the_version_they_report(live: dict[tuple[str, str], str], program: str,
                                                          name: str) -> None:
    if not shutil.which(program):
        pytest.skip(f"{program} not installed")
    argv = [program, "version"] if program == "openssl" else [program, "--version"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
    reported = re.search(r"(\d+\.\d+\.\d+)", out)
    assert reported
    assert reported.group(1) in {v for (n, _), v in live.items() if n == name}, (out, live)


def test_scan_reads_no_runtime_by_starting_it(live: dict[tuple[str, str], str]) -> None:
    software = runtimes.discover(LocalHost()).software
    # At least the Python running this test is found (by its process), so the check below has items.
    me = str(Path(sys.executable).resolve())
    assert ("python", platform.python_version(), me) in {(s.name, s.version, s.path) for s in software}, live
    evidence = [s.evidence for s in software]
    assert evidence and all("version from /" in e for e in evidence), evidence  # a file, never a command


def place(root: Path, path: str, data: bytes | str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data if isinstance(data, bytes) else data.encode())


def test_each_product_version_file_in_a_root_tree(tmp_path: Path) -> None:
    # Java release files as Corretto 8 and Oracle JDK 8 ship them (Oracle's names no IMPLEMENTOR).
    place(tmp_path, "/usr/lib/jvm/java-1.8.0-amazon-corretto/release",
          'JAVA_VERSION="1.8.0_392"\nIMPLEMENTOR="Amazon.com Inc."\nOS_NAME="Linux"\n')
    place(tmp_path, "/usr/lib/jvm/java-1.8.0-amazon-corretto/bin/java", "")
    place(tmp_path, "/usr/java/jdk1.8.0_202/release", 'JAVA_VERSION="1.8.0_202"\nBUILD_TYPE="commercial"\n')
    place(tmp_path, "/usr/java/jdk1.8.0_202/bin/java", "")
    place(tmp_path, "/usr/lib/python2.7/os.py", "")
    place(tmp_path, "/usr/include/python2.7/patchlevel.h", '#define PY_VERSION      \t"2.7.5"\n')
    place(tmp_path, "/usr/local/lib/python3.6/os.py", "")  # no headers: the folder gives 3.6
    place(tmp_path, "/opt/node/bin/node", "")
    place(tmp_path, "/opt/node/include/node/node_version.h",
          "#define NODE_MAJOR_VERSION 12\n#define NODE_MINOR_VERSION 22\n#define NODE_PATCH_VERSION 12\n")
    place(tmp_path, "/usr/lib64/libssl.so.10", b"\x7fELF")
    place(tmp_path, "/usr/lib64/libcrypto.so.10", b"\x7fELF\0\0OpenSSL 1.0.2k-fips  26 Jan 2017\0\0")
    place(tmp_path, "/usr/sbin/httpd", b"\x7fELF\0\0Apache/2.4.6 (CentOS)\0")
    place(tmp_path, "/usr/sbin/nginx", b"\x7fELF\0nginx/1.20.1\0")
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("org/apache/catalina/util/ServerInfo.properties",
                         "server.info=Apache Tomcat/7.0.76\nserver.number=7.0.76.0\nserver.built=Nov 16 2020\n")
    place(tmp_path, "/usr/share/tomcat/lib/catalina.jar", jar.getvalue())
    place(tmp_path, "/opt/apache-tomcat-8.5.23/RELEASE-NOTES", "                     Apache Tomcat Version 8.5.23\n")
    place(tmp_path, "/opt/apache-tomcat-8.5.23/bin/catalina.sh", "")
    place(tmp_path, "/opt/jboss-eap-7.4/version.txt",
          "Red Hat JBoss Enterprise Application Platform - Version 7.4.0.GA\n")
    place(tmp_path, "/opt/IBM/WebSphere/AppServer/properties/version/WAS.product",
          '<product name="IBM WebSphere Application Server - ND"><id>ND</id><version>8.5.5.20</version></product>')
    place(tmp_path, "/u01/app/oracle/middleware/inventory/registry.xml",
          '<registry><distributions><distribution status="installed" name="WebLogic Server" version="12.2.1.4.0">'
          "</distribution></distributions></registry>")
    place(tmp_path, "/usr/pgsql-12/bin/postgres", "")
    place(tmp_path, "/var/lib/pgsql/9.6/data/PG_VERSION", "9.6\n")
    place(tmp_path, "/var/lib/mysql/mysql_upgrade_info", "10.3.39-MariaDB\0")
    place(tmp_path, "/etc/oratab", "# comment\nORCL:/u01/app/oracle/product/19.0.0/dbhome_1:Y\n")
    place(tmp_path, "/u01/app/oracle/product/19.0.0/dbhome_1/inventory/ContentsXML/comps.xml",
          '<PRD_LIST><TL_LIST><COMP NAME="oracle.server" VER="19.0.0.0.0" BUILD_NUMBER="0"/></TL_LIST></PRD_LIST>')
    (tmp_path / "usr/share/dotnet/shared/Microsoft.NETCore.App/6.0.25").mkdir(parents=True)
    found = runtimes.discover(LocalHost(str(tmp_path)))
    got = {(s.name, s.version) for s in found.software}
    assert got == {
        ("amazon-corretto", "1.8.0_392"), ("oracle-jdk", "1.8.0_202"), ("python", "2.7.5"), ("python", "3.6"),
        ("nodejs", "12.22.12"), ("openssl", "1.0.2k"), ("apache-http-server", "2.4.6"), ("nginx", "1.20.1"),
        ("tomcat", "7.0.76"), ("tomcat", "8.5.23"), ("red-hat-jboss-eap", "7.4.0.GA"),
        ("websphere-application-server", "8.5.5.20"), ("weblogic-server", "12.2.1.4.0"), ("postgresql", "12"),
        ("postgresql", "9.6"), ("mariadb", "10.3.39"), ("oracle-database", "19.0.0.0.0"), ("dotnet", "6.0.25")}
    assert not found.errors
    tomcat = next(s for s in found.software if s.version == "7.0.76")
    assert tomcat.path == "/usr/share/tomcat" and "catalina.jar!ServerInfo.properties" in tomcat.evidence


def test_broken_version_files_are_errors_and_the_rest_is_found(tmp_path: Path) -> None:
    place(tmp_path, "/usr/lib/jvm/broken/release", b"\0\0\0garbage")
    place(tmp_path, "/usr/lib/jvm/broken/bin/java", "")
    place(tmp_path, "/usr/lib/jvm/good/release", 'JAVA_VERSION="11.0.22"\nIMPLEMENTOR="Red Hat, Inc."\n')
    place(tmp_path, "/usr/lib/jvm/good/bin/java", "")
    place(tmp_path, "/usr/share/tomcat9/lib/catalina.jar", b"PK\3\4 not really a zip")
    found = runtimes.discover(LocalHost(str(tmp_path)))
    assert ("red-hat-build-of-openjdk", "11.0.22") in {(s.name, s.version) for s in found.software}
    messages = " | ".join(e.message for e in found.errors)
    assert "/usr/lib/jvm/broken/release: contains NUL bytes" in messages
    assert "catalina.jar" in messages


def test_running_processes_lead_to_installs_outside_known_locations(tmp_path: Path) -> None:
    """A process whose executable is <home>/bin/java, started with -Dcatalina.home, as Tomcat runs."""
    home, catalina = tmp_path / "apps" / "jdk-custom", tmp_path / "apps" / "tc"
    (home / "bin").mkdir(parents=True)
    shutil.copy("/bin/sh", home / "bin" / "java")  # a real process whose /proc/PID/exe is <home>/bin/java
    (home / "release").write_text('JAVA_VERSION="11.0.21"\nIMPLEMENTOR="Azul Systems, Inc."\n')
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("org/apache/catalina/util/ServerInfo.properties", "server.number=9.0.83.0\n")
    (catalina / "lib").mkdir(parents=True)
    (catalina / "lib" / "catalina.jar").write_bytes(jar.getvalue())
    java = str(home / "bin" / "java")
    property_ = f"-Dcatalina.home={catalina}"
    # The shell forks `sleep` (the trailing `:` stops it exec'ing), so there is a grandchild to kill too.
    with process_group([java, "-c", "sleep 60; :", property_]) as proc:
        # Discovery reads /proc/PID/exe and then /proc/PID/cmdline; during exec the executable can
        # already be the new one while the command line is still empty. Wait for both.
        wait_until(lambda: _exe_and_cmdline(proc.pid) == (java, property_),
                   f"process {proc.pid} showing {java} with {property_}", timeout_s=60)
        found = {(s.name, s.version, s.path): s.evidence for s in runtimes.discover(LocalHost()).software}
    assert f"process {proc.pid}" in found[("azul-zulu", "11.0.21", str(home))]
    assert f"process {proc.pid}" in found[("tomcat", "9.0.83", str(catalina))]


def _exe_and_cmdline(pid: int) -> tuple[str, str] | None:
    """The executable and last argument of a live process, as discovery reads them, or None."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    last = [a for a in argv if a][-1:]
    return exe, last[0].decode() if last else ""
