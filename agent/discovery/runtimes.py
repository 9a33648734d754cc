"""Runtimes and servers installed outside package managers, with versions read from their files.

Two ways in: well-known install locations (every host, --root trees included), and on the live
host the running processes (psutil), whose executables and command lines point at installs in
any location. Versions come from files the products ship, never by starting them (a JVM start
costs more than a whole scan):

| product | version from |
| --- | --- |
| Java (each JDK/JRE) | `<home>/release` (JAVA_VERSION, IMPLEMENTOR -> vendor name) |
| Python | `<prefix>/include/pythonX.Y/patchlevel.h`, else the `lib/pythonX.Y` folder |
| Node.js | `<prefix>/include/node/node_version.h` |
| OpenSSL | `opensslv.h`, else the libssl soname and the version string in libcrypto |
| Apache httpd, nginx | the version string in the binary (read as bytes, bounded) |
| Tomcat | `lib/catalina.jar` ServerInfo.properties, else RELEASE-NOTES |
| JBoss EAP / WildFly | `version.txt` |
| WebSphere | `properties/version/WAS.product` |
| WebLogic | `inventory/registry.xml` |
| PostgreSQL | install folder (`/usr/lib/postgresql/N`, `/usr/pgsql-N`) and data folders' PG_VERSION |
| MySQL / MariaDB | the data folder's `mysql_upgrade_info` / `mariadb_upgrade_info` |
| Oracle Database | /etc/oratab homes, `inventory/ContentsXML/comps.xml` |
| .NET | `shared/Microsoft.NETCore.App/<version>` folders |

Each entry's evidence says how it was found (process id, install location) and which file gave
the version.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

from estate.agent.discovery._common import add_error, listdir, read_text
from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

FOUND_BY = "runtimes"
MAX_SMALL = 1024 * 1024
MAX_BINARY = 64 * 1024 * 1024
MAX_JAR = 32 * 1024 * 1024
MAX_PROCESSES = 10_000
MAX_SOFTWARE = 2000

# Java vendor (the release file's IMPLEMENTOR) -> Software.name (endoflife.date product ids).
JAVA_VENDORS = (
    ("eclipse adoptium", "eclipse-temurin"), ("adoptopenjdk", "eclipse-temurin"), ("temurin", "eclipse-temurin"),
    ("amazon", "amazon-corretto"), ("azul", "azul-zulu"), ("red hat", "red-hat-build-of-openjdk"),
    ("microsoft", "microsoft-build-of-openjdk"), ("bellsoft", "bellsoft-liberica"), ("sap", "sapmachine"),
    ("ibm", "ibm-semeru"), ("eclipse openj9", "ibm-semeru"), ("graalvm", "oracle-graalvm"),
    ("oracle", "oracle-jdk"),
)
JAVA_HOMES_PARENTS = ("/usr/lib/jvm", "/usr/lib64/jvm", "/usr/java", "/opt/java", "/usr/local/java", "/opt",
                      "/usr/local", "/opt/oracle", "/u01/app/oracle/product")
# Parents that hold nothing but Java installs; in the others only Java-looking names are tried.
JAVA_ONLY_PARENTS = ("/usr/lib/jvm", "/usr/lib64/jvm", "/usr/java", "/opt/java", "/usr/local/java")
_JAVA_DIR = re.compile(r"(jdk|jre|java|openjdk|zulu|corretto|temurin|graalvm|semeru|sapmachine|liberica)", re.I)
PYTHON_PREFIXES = ("/usr", "/usr/local", "/opt/python", "/opt/rh/rh-python36/root/usr",
                   "/opt/rh/rh-python38/root/usr", "/opt/rh/python27/root/usr")
NODE_PREFIXES = ("/usr", "/usr/local", "/opt/node", "/opt/nodejs")
OPENSSL_HEADERS = ("/usr/include/openssl/opensslv.h", "/usr/local/include/openssl/opensslv.h",
                   "/usr/local/ssl/include/openssl/opensslv.h", "/opt/openssl/include/openssl/opensslv.h")
LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
            "/lib64", "/usr/lib", "/lib", "/usr/local/lib", "/usr/local/lib64", "/usr/local/ssl/lib",
            "/opt/openssl/lib")
# Sonames OpenSSL has shipped under (RHEL/CentOS 6-7 call 1.0.x ".so.10"; 0.9.8 is RHEL 5).
LIBSSL_SONAMES = ("3", "1.1", "1.0.2", "1.0.0", "10", "6", "0.9.8")
_LIBSSL = re.compile(r"^libssl\.so\.(\d+(?:\.\d+)*)$")
HTTPD_BINARIES = ("/usr/sbin/httpd", "/usr/sbin/apache2", "/usr/local/apache2/bin/httpd",
                  "/opt/apache/bin/httpd", "/opt/rh/httpd24/root/usr/sbin/httpd")
NGINX_BINARIES = ("/usr/sbin/nginx", "/usr/local/nginx/sbin/nginx", "/opt/nginx/sbin/nginx")
TOMCAT_PARENTS = ("/usr/share", "/opt", "/usr/local", "/srv", "/var/lib")
JBOSS_PARENTS = ("/opt", "/usr/share", "/usr/local", "/srv", "/opt/rh/eap7/root/usr/share")
WEBSPHERE_HOMES = ("/opt/IBM/WebSphere/AppServer", "/usr/IBM/WebSphere/AppServer", "/opt/WebSphere/AppServer")
WEBLOGIC_HOMES = ("/u01/app/oracle/middleware", "/u01/oracle/middleware", "/opt/oracle/middleware",
                  "/oracle/middleware", "/opt/Oracle/Middleware", "/u01/app/oracle/product/fmw")
ORATAB = ("/etc/oratab", "/var/opt/oracle/oratab")
POSTGRES_DATA = ("/var/lib/postgresql", "/var/lib/pgsql")
MYSQL_DATA = ("/var/lib/mysql",)
DOTNET_ROOTS = ("/usr/share/dotnet", "/usr/lib/dotnet", "/usr/lib64/dotnet", "/opt/dotnet")

_DEFINE = re.compile(r'^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+"?([^"\n]*)"?', re.M)
MAX_HOW = 4


class Finding:
    """One install of a product (a plain class: dataclasses cost import time on every scan)."""

    __slots__ = ("how", "name", "path", "vendor", "version", "version_from")

    def __init__(self, name: str, version: str, path: str, vendor: str = "", version_from: str = "") -> None:
        self.name, self.version, self.path, self.vendor, self.version_from = name, version, path, vendor, version_from
        self.how: list[str] = []


class Collector:
    """Gathers findings, one per product and real install path, merging how each was found."""

    def __init__(self, host: HostAccess, found: pb.Inventory) -> None:
        self.host, self.found = host, found
        self.findings: dict[tuple[str, str], Finding] = {}

    def real(self, path: str) -> str:
        realpath: Callable[[str], str] | None = getattr(self.host, "realpath", None)
        try:
            return realpath(path) if realpath else path
        except (OSError, HostAccessError, ValueError):
            return path

    def add(self, finding: Finding, how: str) -> None:
        key = (finding.name, self.real(finding.path))
        existing = self.findings.get(key)
        if existing is None:
            if len(self.findings) >= MAX_SOFTWARE:
                return
            finding.path = key[1]  # the real install, not the alternatives/compat link that led to it
            finding.how.append(how)
            self.findings[key] = finding
        elif how not in existing.how and len(existing.how) < MAX_HOW:
            existing.how.append(how)

    def text(self, path: str, limit: int = MAX_SMALL, binary_ok: bool = False) -> str | None:
        return read_text(self.host, path, limit, self.found, FOUND_BY, binary_ok)

    def exists(self, path: str) -> bool:
        return self.host.exists(path)

    def ls(self, path: str, limit: int = 2000) -> list[str]:
        return listdir(self.host, path, self.found, FOUND_BY, limit)

    def binary_find(self, path: str, marker: bytes, pattern: re.Pattern[bytes]) -> str:
        """The first version `pattern` matches at `marker` in a binary; '' when absent."""
        try:
            data = self.host.read_bytes(path, limit=MAX_BINARY)
        except FileNotFoundError:
            return ""
        except (OSError, HostAccessError) as exc:
            add_error(self.found, FOUND_BY, f"{path}: {exc}", path)
            return ""
        start = data.find(marker)
        while start >= 0:
            match = pattern.match(data, start)
            if match:
                return match.group(1).decode("ascii", errors="replace")
            start = data.find(marker, start + 1)
        return ""


def parse_release_file(text: str) -> dict[str, str]:
    """A JDK `release` file: KEY="value" lines."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().isidentifier():
            values[key.strip()] = value.strip().strip('"')[:256]
    return values


def java_name(implementor: str) -> str:
    lowered = implementor.lower()
    return next((name for prefix, name in JAVA_VENDORS if prefix in lowered), "openjdk")


def java_home(c: Collector, home: str, how: str) -> None:
    for candidate in (home, home.removesuffix("/jre")):
        text = c.text(f"{candidate}/release")
        if text is None:
            continue
        values = parse_release_file(text)
        if not values.get("JAVA_VERSION"):
            add_error(c.found, FOUND_BY, f"{candidate}/release: no JAVA_VERSION", f"{candidate}/release")
            return
        vendor = values.get("IMPLEMENTOR", "")
        if not vendor and values.get("BUILD_TYPE") == "commercial":
            vendor = "Oracle Corporation"  # Oracle JDK 8 release files name no implementor
        detail = ", ".join(f"{k}={values[k]}" for k in ("IMPLEMENTOR_VERSION", "JAVA_RUNTIME_VERSION", "IMAGE_TYPE")
                           if values.get(k))
        c.add(Finding(java_name(vendor), values["JAVA_VERSION"], candidate, vendor,
                      f"{candidate}/release" + (f" ({detail})" if detail else "")), how)
        return
    if c.exists(f"{home}/bin/java"):
        c.add(Finding("openjdk", "", home, "", f"{home}: no release file (Java 6 or older?)"), how)


def find_java(c: Collector) -> None:
    for parent in JAVA_HOMES_PARENTS:
        for entry in c.ls(parent):
            if parent not in JAVA_ONLY_PARENTS and not _JAVA_DIR.search(entry):
                continue
            home = f"{parent}/{entry}"
            if c.exists(f"{home}/bin/java") or c.exists(f"{home}/jre/bin/java"):
                java_home(c, home, f"install location {parent}")


def patchlevel_version(text: str) -> str:
    return next((m.group(2) for m in _DEFINE.finditer(text) if m.group(1) == "PY_VERSION"), "")


def python_prefix(c: Collector, prefix: str, how: str) -> None:
    for entry in c.ls(f"{prefix}/lib", 500):
        match = re.fullmatch(r"python(\d+\.\d+)", entry)
        if not match or not c.exists(f"{prefix}/lib/{entry}/os.py"):
            continue
        version, source = match.group(1), f"{prefix}/lib/{entry}"
        for include in (f"{prefix}/include/{entry}", f"{prefix}/include/{entry}m"):
            header = c.text(f"{include}/patchlevel.h")
            if header and patchlevel_version(header):
                version, source = patchlevel_version(header), f"{include}/patchlevel.h"
                break
        c.add(Finding("python", version, f"{prefix}/bin/{entry}", "", source), how)


def node_version_from_header(text: str) -> str:
    defines = {m.group(1): m.group(2).strip() for m in _DEFINE.finditer(text)}
    parts = [defines.get(f"NODE_{k}_VERSION", "") for k in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts) if all(p.isdigit() for p in parts) else ""


def node_prefix(c: Collector, prefix: str, how: str) -> None:
    if not c.exists(f"{prefix}/bin/node"):
        return
    header = c.text(f"{prefix}/include/node/node_version.h")
    version = node_version_from_header(header) if header else ""
    source = f"{prefix}/include/node/node_version.h" if version else f"{prefix}/bin/node: no node_version.h"
    c.add(Finding("nodejs", version, f"{prefix}/bin/node", "", source), how)


def openssl_version_from_header(text: str) -> str:
    defines = {m.group(1): m.group(2) for m in _DEFINE.finditer(text)}
    if defines.get("OPENSSL_VERSION_STR"):
        return defines["OPENSSL_VERSION_STR"].strip()
    match = re.search(r"OpenSSL (\d+\.\d+\.\d+[a-z]*)", defines.get("OPENSSL_VERSION_TEXT", ""))
    return match.group(1) if match else ""


def soname_line(soname_version: str) -> str:
    """libssl.so.3 -> '3'; .so.1.1 -> '1.1'; .so.1.0.0 and RHEL's .so.10 -> '1.0'."""
    if soname_version in ("10", "1.0.0", "1.0.2"):
        return "1.0"
    if soname_version == "6":  # RHEL 5's libssl.so.6 is OpenSSL 0.9.8
        return "0.9.8"
    parts = soname_version.split(".")
    return parts[0] if parts[0] != "1" else ".".join(parts[:2])


def find_openssl(c: Collector) -> None:
    headers = {}
    for header in OPENSSL_HEADERS:
        text = c.text(header)
        if text and openssl_version_from_header(text):
            headers[header] = openssl_version_from_header(text)
    seen_real: set[str] = set()
    for lib_dir in LIB_DIRS:
        # One listing per folder rather than a check per known soname: over SSH each is a round trip.
        for entry in c.ls(lib_dir, 50_000):
            match = _LIBSSL.match(entry)
            if not match or match.group(1) not in LIBSSL_SONAMES:
                continue
            lib = f"{lib_dir}/{entry}"
            real = c.real(lib)
            if real in seen_real:
                continue
            seen_real.add(real)
            line = soname_line(match.group(1))
            version, source = line, f"{lib} (soname)"
            header = next((h for h, v in headers.items() if soname_line(v) == line or v.startswith(line + ".")), "")
            if header:
                version, source = headers[header], header
            else:
                crypto = f"{lib_dir}/{entry.replace('libssl', 'libcrypto')}"
                marker = b"OpenSSL " + line.encode()
                found = c.binary_find(crypto, marker, re.compile(rb"OpenSSL (\d+\.\d+\.\d+[a-z]*)"))
                if found:
                    version, source = found, f"{crypto} (version string)"
            c.add(Finding("openssl", version, lib, "", source), "install location")


def find_by_binary(c: Collector, name: str, path: str, marker: bytes, pattern: str, how: str) -> None:
    if not c.exists(path):
        return
    version = c.binary_find(path, marker, re.compile(pattern.encode()))
    c.add(Finding(name, version, path, "", f"{path} (version string)" if version else f"{path}: no version string"),
          how)


def tomcat_home(c: Collector, home: str, how: str) -> None:
    import io
    import zipfile

    jar = f"{home}/lib/catalina.jar"
    version = source = ""
    try:
        data = c.host.read_bytes(jar, limit=MAX_JAR)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.read("org/apache/catalina/util/ServerInfo.properties")[:65536].decode("latin-1")
        match = re.search(r"^server\.number=(\S+)", info, re.M) or re.search(r"^server\.info=\D*(\d\S*)", info, re.M)
        if match:
            version, source = match.group(1), f"{jar}!ServerInfo.properties"
            version = re.sub(r"^(\d+\.\d+\.\d+)\.0$", r"\1", version)  # server.number 9.0.70.0 -> 9.0.70
    except FileNotFoundError:
        pass
    except (OSError, HostAccessError, zipfile.BadZipFile, KeyError) as exc:
        add_error(c.found, FOUND_BY, f"{jar}: {exc}", jar)
    if not version:
        notes = c.text(f"{home}/RELEASE-NOTES")
        match = re.search(r"Apache Tomcat Version (\d[\w.]*)", notes or "")
        if match:
            version, source = match.group(1), f"{home}/RELEASE-NOTES"
    if version or c.exists(f"{home}/bin/catalina.sh"):
        c.add(Finding("tomcat", version, home, "Apache Software Foundation", source or f"{home}: no version file"),
              how)


def jboss_home(c: Collector, home: str, how: str) -> None:
    text = c.text(f"{home}/version.txt")
    if not text:
        return
    match = re.search(r"(Red Hat JBoss Enterprise Application Platform|WildFly[\w ]*|JBoss[\w ]*?)"
                      r"\s*-?\s*Version\s*(\d[\w.]*)", text)
    if not match:
        match = re.search(r"(WildFly)\s+\w*\s*(\d[\w.]*)", text)
    if match:
        name = "red-hat-jboss-eap" if "Enterprise Application Platform" in match.group(1) else (
            "wildfly" if "WildFly" in match.group(1) else "jboss")
        c.add(Finding(name, match.group(2), home, "Red Hat", f"{home}/version.txt"), how)


def find_app_servers(c: Collector) -> None:
    for parent in TOMCAT_PARENTS:
        for entry in c.ls(parent):
            if "tomcat" in entry.lower():
                tomcat_home(c, f"{parent}/{entry}", f"install location {parent}")
    for parent in JBOSS_PARENTS:
        for entry in c.ls(parent):
            if re.search(r"jboss|wildfly|eap", entry, re.I):
                jboss_home(c, f"{parent}/{entry}", f"install location {parent}")
    for home in WEBSPHERE_HOMES:
        text = c.text(f"{home}/properties/version/WAS.product")
        match = re.search(r"<version>([\d.]+)</version>", text or "")
        if match:
            c.add(Finding("websphere-application-server", match.group(1), home, "IBM",
                          f"{home}/properties/version/WAS.product"), "install location")
    for home in WEBLOGIC_HOMES:
        for registry in (f"{home}/inventory/registry.xml", f"{home}/registry.xml"):
            text = c.text(registry, 16 * MAX_SMALL)
            match = re.search(r'name="WebLogic Server"\s+version="([\d.]+)"', text or "")
            if match:
                c.add(Finding("weblogic-server", match.group(1), home, "Oracle", registry), "install location")
                break


def find_databases(c: Collector) -> None:
    for parent, pattern in (("/usr/lib/postgresql", r"(\d+(?:\.\d+)?)"), ("/usr", r"pgsql-(\d+(?:\.\d+)?)")):
        for entry in c.ls(parent):
            match = re.fullmatch(pattern, entry)
            if match and c.exists(f"{parent}/{entry}/bin/postgres"):
                c.add(Finding("postgresql", match.group(1), f"{parent}/{entry}", "",
                              f"{parent}/{entry} (install folder)"), "install location")
    for data in POSTGRES_DATA:
        for pg_version in _pg_version_files(c, data):
            text = c.text(pg_version)
            if text and re.fullmatch(r"\d+(\.\d+)?", text.strip()):
                folder, version = pg_version.rsplit("/", 1)[0], text.strip()
                # A cluster of a version whose server is installed is that server's data, not another server.
                server = next((f for f in c.findings.values() if f.name == "postgresql" and f.version == version), None)
                if server is not None:
                    server.how.append(f"data folder {folder} ({pg_version})")
                else:
                    c.add(Finding("postgresql", version, folder, "", pg_version), "data folder")
    for data in MYSQL_DATA:
        for info in ("mariadb_upgrade_info", "mysql_upgrade_info"):
            text = c.text(f"{data}/{info}", 4096, binary_ok=True)  # some versions end it with a NUL
            match = re.match(r"(\d+\.\d+\.\d+)(-MariaDB)?", (text or "").strip("\0 \n"))
            if match:
                name = "mariadb" if match.group(2) or info.startswith("mariadb") else "mysql"
                c.add(Finding(name, match.group(1), data, "", f"{data}/{info}"), "data folder")
                break
    for oratab in ORATAB:
        for line in (c.text(oratab) or "").splitlines():
            fields = line.strip().split(":")
            if line.startswith("#") or len(fields) < 2 or not fields[1].startswith("/"):
                continue
            home = fields[1]
            comps = c.text(f"{home}/inventory/ContentsXML/comps.xml", 32 * MAX_SMALL)
            match = re.search(r'<COMP NAME="oracle\.(?:server|rdbms)" VER="([\d.]+)"', comps or "")
            c.add(Finding("oracle-database", match.group(1) if match else "", home, "Oracle",
                          f"{home}/inventory/ContentsXML/comps.xml" if match else f"{oratab}: no comps.xml"),
                  f"{oratab} (SID {fields[0]})")


def _pg_version_files(c: Collector, data: str) -> Iterator[str]:
    yield f"{data}/data/PG_VERSION"
    for entry in c.ls(data, 100):
        yield f"{data}/{entry}/main/PG_VERSION"
        yield f"{data}/{entry}/data/PG_VERSION"


def find_dotnet(c: Collector, roots: tuple[str, ...] = DOTNET_ROOTS, how: str = "install location") -> None:
    for root in roots:
        base = f"{root}/shared/Microsoft.NETCore.App"
        for entry in c.ls(base, 200):
            if re.fullmatch(r"\d+\.\d+\.\d+[\w.-]*", entry):
                c.add(Finding("dotnet", entry, f"{base}/{entry}", "Microsoft", f"{base}/{entry} (runtime folder)"),
                      how)


def running_executables() -> Iterator[tuple[int, str, Callable[[], list[str]]]]:
    """(pid, executable, command line getter) of each running process of the live host.

    Linux reads /proc directly (a readlink per process, the command line only when asked for);
    elsewhere psutil does it.
    """
    import os

    # os rather than pathlib here and below: this loop runs for every process on every scan.
    if os.path.isdir("/proc/self"):  # noqa: PTH112
        for count, entry in enumerate(os.listdir("/proc")):  # noqa: PTH208
            if count >= MAX_PROCESSES * 2:
                return
            if not entry.isdigit():
                continue
            try:
                exe = os.readlink(f"/proc/{entry}/exe")  # noqa: PTH115
            except OSError:
                continue  # a kernel thread, gone, or another user's (not root)
            yield int(entry), exe.removesuffix(" (deleted)"), functools.partial(_proc_cmdline, entry)
        return
    import psutil

    for count, proc in enumerate(psutil.process_iter(["pid", "exe"])):
        if count >= MAX_PROCESSES:
            return
        yield proc.info["pid"], proc.info.get("exe") or "", functools.partial(_psutil_cmdline, proc)


def _proc_cmdline(pid: str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read(256 * 1024).decode("utf-8", errors="replace").split("\0")
    except OSError:
        return []


def _psutil_cmdline(proc: object) -> list[str]:
    import psutil

    try:
        return list(proc.cmdline())  # type: ignore[attr-defined]
    except (psutil.Error, OSError):
        return []


def from_processes(c: Collector) -> None:
    """Live host only: running executables lead to installs wherever they are."""
    for pid, exe, cmdline in running_executables():
        base = exe.rsplit("/", 1)[-1]
        how = f"process {pid} ({exe})"
        if base == "java" and exe.endswith("/bin/java"):
            java_home(c, exe[: -len("/bin/java")], how)
            _java_app_homes(c, cmdline(), how)
        elif base in ("jsvc", "jsvc.exec"):  # Tomcat as a daemon (Debian/RHEL tomcat packages, Commons Daemon)
            _java_app_homes(c, cmdline(), how)
        elif base == "dotnet":
            find_dotnet(c, (exe.rsplit("/", 1)[0],), how)
        elif re.fullmatch(r"python\d(\.\d+)?", base) and "/bin/" in exe:
            python_prefix(c, exe.rsplit("/bin/", 1)[0], how)
        elif base == "node" and "/bin/" in exe:
            node_prefix(c, exe.rsplit("/bin/", 1)[0], how)
        elif base in ("httpd", "apache2"):
            find_by_binary(c, "apache-http-server", exe, b"Apache/", r"Apache/(\d+\.\d+\.\d+)", how)
        elif base == "nginx":
            find_by_binary(c, "nginx", exe, b"nginx/", r"nginx/(\d+\.\d+\.\d+)", how)
        elif base == "postgres" and "/bin/" in exe:
            version = c.binary_find(exe, b"(PostgreSQL) ", re.compile(rb"\(PostgreSQL\) (\d+(?:\.\d+)?)"))
            c.add(Finding("postgresql", version, exe.rsplit("/bin/", 1)[0], "",
                          f"{exe} (version string)" if version else f"{exe}: no version string"), how)


def _java_app_homes(c: Collector, cmdline: list[str], how: str) -> None:
    for arg in cmdline[:500]:
        key, _, value = arg.partition("=")
        if key == "-Dcatalina.home":
            tomcat_home(c, value, how)
        elif key == "-Djboss.home.dir":
            jboss_home(c, value, how)


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    c = Collector(host, found)
    if host.is_live:
        from_processes(c)
    find_java(c)
    for prefix in PYTHON_PREFIXES:
        python_prefix(c, prefix, "install location")
    for prefix in NODE_PREFIXES:
        node_prefix(c, prefix, "install location")
    find_openssl(c)
    for path in HTTPD_BINARIES:
        find_by_binary(c, "apache-http-server", path, b"Apache/", r"Apache/(\d+\.\d+\.\d+)", "install location")
    for path in NGINX_BINARIES:
        find_by_binary(c, "nginx", path, b"nginx/", r"nginx/(\d+\.\d+\.\d+)", "install location")
    find_app_servers(c)
    find_databases(c)
    find_dotnet(c)
    for f in c.findings.values():
        evidence = f"found by {', '.join(f.how)}; version from {f.version_from}"
        found.software.add(name=f.name, version=f.version[:128], vendor=f.vendor[:128], path=f.path[:512],
                           found_by=FOUND_BY, evidence=evidence[:1000])
    return found
