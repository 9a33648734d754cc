"""Windows: OS identity and installed programs from the registry, read with `reg query` output.

`reg query KEY [/s]` prints each key's path on a line of its own, then its values as
`    Name    REG_TYPE    data` (four spaces around each column; names may contain single
spaces). The same parser serves a live Windows host, an SSH session to one, and recorded
outputs in tests.

OS naming follows the project's contract: family `windows`, id `windows` (client) or
`windows-server`, version_id the marketing version ("2008-r2", "2012-r2", "2016", "10", "11"),
build "CurrentBuild.UBR", edition from EditionID, codename DisplayVersion (or ReleaseId).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

CURRENT_VERSION_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
CURRENT_VERSION = ("reg", "query", CURRENT_VERSION_KEY)
ARCHITECTURE = ("reg", "query", r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment",
                "/v", "PROCESSOR_ARCHITECTURE")
UNINSTALL = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
# Machine-wide programs in both registry views: (key, architecture of the programs it lists).
UNINSTALL_VIEWS = (
    (rf"HKLM\{UNINSTALL}", ""),
    (r"HKLM\Software\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall", "x86"),
)
USERS = ("reg", "query", "HKU")
MAX_OUTPUT = 32 * 1024 * 1024
MAX_USERS = 200
MAX_PROGRAMS = 20_000
FOUND_BY = "windows"
PROGRAMS_FOUND_BY = "windows_programs"

_VALUE = re.compile(r"^ {4}(?P<name>.+?) {4}(?P<type>REG_[A-Z_]+)(?: {4}(?P<data>.*))?$")
_SID = re.compile(r"^HKEY_USERS\\(S-1-5-21-[\d-]+)$", re.IGNORECASE)

# Build number -> marketing version. Server and client share builds, so each has its table.
SERVER_BUILDS = {
    3790: "2003", 6001: "2008", 6002: "2008", 6003: "2008", 7600: "2008-r2", 7601: "2008-r2",
    9200: "2012", 9600: "2012-r2", 14393: "2016", 17763: "2019", 20348: "2022", 26100: "2025",
}
CLIENT_BUILDS = ((22000, "11"), (10240, "10"), (9600, "8.1"), (9200, "8"), (7600, "7"), (6000, "vista"),
                 (2600, "xp"))
_SERVER_NAME = re.compile(r"Windows Server (\d{4})( R2)?", re.IGNORECASE)
ARCHITECTURES = {"AMD64": "x86_64", "X86": "i686", "ARM64": "aarch64", "IA64": "ia64"}
# What `uname -s` prints on Windows when a POSIX layer (Cygwin, MSYS, Git for Windows) provides one.
WINDOWS_UNAMES = ("WINDOWS", "CYGWIN", "MINGW", "MSYS")


class RegKey:
    """One registry key of `reg query` output and its values: name -> (REG_TYPE, data)."""

    __slots__ = ("path", "values")

    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[str, tuple[str, str]] = {}

    def get(self, name: str) -> str:
        return self.values.get(name, ("", ""))[1]


def parse_reg_query(text: str, max_keys: int = MAX_PROGRAMS * 2) -> list[RegKey]:
    """Parse `reg query` output into its keys and their values (subkey-only lines become empty keys)."""
    keys: list[RegKey] = []
    current: RegKey | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if line.startswith("HKEY_"):
            if len(keys) >= max_keys:
                break
            current = RegKey(line.strip())
            keys.append(current)
            continue
        match = _VALUE.match(line)
        if match and current is not None:
            current.values[match.group("name")] = (match.group("type"), (match.group("data") or "").strip()[:1024])
    return keys


def merged_values(keys: Sequence[RegKey]) -> RegKey:
    """All values of the keys named like the first one (several `/v` queries print the key each time)."""
    merged = RegKey(keys[0].path if keys else "")
    for key in keys:
        if key.path.lower() == merged.path.lower():
            merged.values.update(key.values)
    return merged


def dword(value: str) -> int | None:
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def os_from_current_version(key: RegKey) -> tuple[pb.OperatingSystem, list[str]]:
    """The OperatingSystem part from the values of HKLM\\...\\Windows NT\\CurrentVersion."""
    notes: list[str] = []
    product = key.get("ProductName")
    installation = key.get("InstallationType")
    build_text = key.get("CurrentBuild") or key.get("CurrentBuildNumber")
    build = int(build_text) if build_text.isdigit() else 0
    ubr = dword(key.get("UBR")) if key.get("UBR") else None
    server = installation.lower().startswith("server") if installation else "server" in product.lower()
    version_id = ""
    if server:
        match = _SERVER_NAME.search(product)
        if match:
            version_id = match.group(1) + ("-r2" if match.group(2) else "")
        elif build in SERVER_BUILDS:
            version_id = SERVER_BUILDS[build]
        if match and build in SERVER_BUILDS and SERVER_BUILDS[build].split("-")[0] != match.group(1):
            notes.append(f"ProductName says {match.group(1)} but build {build} is {SERVER_BUILDS[build]}: "
                         "kept ProductName")
    else:
        version_id = next((v for first, v in CLIENT_BUILDS if build >= first), "")
        if not version_id:
            match = re.search(r"Windows (\d+(?:\.\d)?|XP|Vista)", product, re.IGNORECASE)
            version_id = match.group(1).lower() if match else ""
    name = product
    if not server and version_id == "11" and product.startswith("Windows 10"):
        name = "Windows 11" + product[len("Windows 10"):]
        notes.append(f"build {build} is Windows 11 although ProductName says {product!r}")
    major_minor = (key.get("CurrentMajorVersionNumber"), key.get("CurrentMinorVersionNumber"))
    if all(major_minor):
        kernel_base = f"{dword(major_minor[0])}.{dword(major_minor[1])}"
    else:
        kernel_base = key.get("CurrentVersion") or ("10.0" if build >= 10240 else "")
    kernel = f"{kernel_base}.{build}" if kernel_base and build else ""
    build_full = f"{build}.{ubr}" if build and ubr is not None else (str(build) if build else "")
    os_info = pb.OperatingSystem(
        family="windows",
        id="windows-server" if server else "windows",
        name=name,
        version=f"{kernel}.{ubr}" if kernel and ubr is not None else kernel,
        version_id=version_id,
        major=version_id.split("-")[0].split(".")[0],
        codename=key.get("DisplayVersion") or key.get("ReleaseId") or key.get("CSDVersion"),
        pretty_name=" ".join(p for p in (name, key.get("DisplayVersion")) if p),
        kernel=kernel,
        edition=key.get("EditionID"),
        build=build_full,
    )
    return os_info, notes


def _run(host: HostAccess, argv: Sequence[str], found: pb.Inventory, discoverer: str) -> str | None:
    try:
        result = host.run(list(argv), timeout=60, limit=MAX_OUTPUT)
    except (FileNotFoundError, CommandsUnavailable):
        return None
    except (OSError, HostAccessError) as exc:
        found.errors.add(discoverer=discoverer, message=str(exc), evidence=" ".join(argv))
        return None
    if result.exit_code != 0:
        # reg exits 1 for a key that does not exist: normal for a view or user without programs.
        return None
    if result.truncated:
        found.errors.add(discoverer=discoverer, evidence=" ".join(argv),
                         message=f"{' '.join(argv)}: output truncated at {MAX_OUTPUT} bytes; parsed what arrived")
    return result.stdout.decode("utf-8", errors="replace").replace("\0", "")


def discover_os(host: HostAccess, found: pb.Inventory) -> tuple[pb.OperatingSystem | None, list[str]]:
    """Read CurrentVersion (and the processor architecture) through the host's `reg`."""
    text = _run(host, CURRENT_VERSION, found, FOUND_BY)
    if text is None:
        return None, []
    keys = parse_reg_query(text, max_keys=1000)
    if not keys or not keys[0].values:
        found.errors.add(discoverer="os_release", evidence=" ".join(CURRENT_VERSION),
                         message=f"{' '.join(CURRENT_VERSION)}: no values in the output")
        return None, []
    os_info, notes = os_from_current_version(merged_values(keys))
    notes.insert(0, f"decided by {' '.join(CURRENT_VERSION)}")
    arch_text = _run(host, ARCHITECTURE, found, FOUND_BY)
    if arch_text:
        arch_keys = parse_reg_query(arch_text, max_keys=10)
        raw = arch_keys[0].get("PROCESSOR_ARCHITECTURE") if arch_keys else ""
        os_info.architecture = ARCHITECTURES.get(raw.upper(), raw.lower())
        notes.append(" ".join(ARCHITECTURE))
    return os_info, notes


def programs_from_uninstall(keys: Sequence[RegKey], architecture: str, evidence: str) -> list[pb.Package]:
    """Installed programs: each Uninstall subkey with a DisplayName (as Programs and Features lists them)."""
    packages = []
    for key in keys:
        name = key.get("DisplayName")
        if not name:
            continue
        publisher = f" (publisher {key.get('Publisher')})" if key.get("Publisher") else ""
        # No source package on Windows: the publisher goes in the evidence, `source` stays empty.
        packages.append(pb.Package(name=name[:256], version=key.get("DisplayVersion")[:128],
                                   architecture=architecture, manager="windows", found_by=PROGRAMS_FOUND_BY,
                                   evidence=f"{evidence}: {key.path}{publisher}"[:512]))
    return packages


def _maybe_windows(host: HostAccess) -> bool:
    """False where `reg` cannot exist: a live non-Windows host, one whose `uname -s` named a Unix,
    or one with a POSIX shell. A `reg query` sent to a Unix host fills its audit and sudo logs with
    failed commands, so it is never sent once the host has said what it is."""
    if host.is_live:
        return sys.platform == "win32"
    from estate.agent.discovery.unix import sysname

    try:
        name = sysname(host)  # asked once per host (cached), shared with the other discoverers
    except (OSError, HostAccessError):
        name = ""
    if name and not name.upper().startswith(WINDOWS_UNAMES):
        return False
    return not host.exists("/bin/sh")


def discover_programs(host: HostAccess) -> pb.Inventory:
    """Programs from both machine-wide registry views and from every loaded user hive."""
    found = pb.Inventory()
    if not _maybe_windows(host):
        return found
    users = _run(host, USERS, found, PROGRAMS_FOUND_BY)
    if users is None:
        return found  # no reg here: not a Windows host
    queries: list[tuple[tuple[str, ...], str]] = [(("reg", "query", key, "/s"), arch) for key, arch in UNINSTALL_VIEWS]
    for line in users.splitlines()[:MAX_USERS]:
        match = _SID.match(line.strip())
        if match:
            queries.append((("reg", "query", rf"HKU\{match.group(1)}\{UNINSTALL}", "/s"), ""))
    for argv, arch in queries:
        text = _run(host, argv, found, PROGRAMS_FOUND_BY)
        if text is None:
            continue
        found.packages.extend(programs_from_uninstall(parse_reg_query(text), arch, " ".join(argv[:3])))
        if len(found.packages) > MAX_PROGRAMS:
            del found.packages[MAX_PROGRAMS:]
            found.errors.add(discoverer=PROGRAMS_FOUND_BY, message=f"more than {MAX_PROGRAMS} programs: list cut")
            break
    return found


MACHINE_GUID = ("reg", "query", r"HKLM\SOFTWARE\Microsoft\Cryptography", "/v", "MachineGuid")
COMPUTER_NAME = ("reg", "query", r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName", "/v",
                 "ComputerName")
IDENTITY_FOUND_BY = "windows_identity"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def identity_from_registry(guid_text: str | None, name_text: str | None) -> tuple[str, str]:
    """(MachineGuid, ComputerName) from their `reg query` outputs; '' for what is missing or malformed.

    MachineGuid is made when Windows is installed (sysprep makes a new one for each clone), so it
    plays the part machine-id plays on Linux.
    """
    guid = merged_values(parse_reg_query(guid_text or "", 10)).get("MachineGuid").strip().lower()
    name = merged_values(parse_reg_query(name_text or "", 10)).get("ComputerName").strip()
    return (guid if _GUID.match(guid) else ""), name[:255]


def discover_identity(host: HostAccess) -> pb.Inventory:
    """The Windows machine's MachineGuid (its machine-id) and computer name, from the registry."""
    found = pb.Inventory()
    if not _maybe_windows(host):
        return found
    guid, name = identity_from_registry(_run(host, MACHINE_GUID, found, IDENTITY_FOUND_BY),
                                        _run(host, COMPUTER_NAME, found, IDENTITY_FOUND_BY))
    found.host.machine_id, found.host.hostname = guid, name
    return found


IIS = ("reg", "query", r"HKLM\SOFTWARE\Microsoft\InetStp")
SQL_SERVER = ("reg", "query", r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server", "/s", "/v", "PatchLevel")
DOTNET_FRAMEWORK = ("reg", "query", r"HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full", "/v", "Release")
# .NET Framework 4.x `Release` DWORD -> version (Microsoft's table: the minimum Release of each).
DOTNET_RELEASES = ((533320, "4.8.1"), (528040, "4.8"), (461808, "4.7.2"), (461308, "4.7.1"), (460798, "4.7"),
                   (394802, "4.6.2"), (394254, "4.6.1"), (393295, "4.6"), (379893, "4.5.2"), (378675, "4.5.1"),
                   (378389, "4.5"))
SOFTWARE_FOUND_BY = "windows_software"
_SQL_SETUP = re.compile(r"\\(MSSQL\d+(?:_\d+)?\.[^\\]+)\\Setup$", re.IGNORECASE)


def software_from_registry(iis: str | None, sql: str | None, dotnet: str | None) -> list[pb.Software]:
    """IIS, SQL Server instances and .NET Framework 4.x from their `reg query` outputs."""
    found: list[pb.Software] = []
    if iis:
        key = merged_values(parse_reg_query(iis, 10))
        major, minor = dword(key.get("MajorVersion")), dword(key.get("MinorVersion"))
        version = f"{major}.{minor}" if major is not None and minor is not None else \
            key.get("VersionString").removeprefix("Version ").strip()
        if version:
            found.append(pb.Software(name="iis", version=version, vendor="Microsoft", path=key.get("InstallPath"),
                                     found_by=SOFTWARE_FOUND_BY, evidence=" ".join(IIS)))
    for key in parse_reg_query(sql or "", 1000):
        match = _SQL_SETUP.search(key.path)
        if match and key.get("PatchLevel"):
            found.append(pb.Software(name="mssqlserver", version=key.get("PatchLevel"), vendor="Microsoft",
                                     path=match.group(1), found_by=SOFTWARE_FOUND_BY,
                                     evidence=f"{' '.join(SQL_SERVER[:3])}: {key.path} PatchLevel"))
    if dotnet:
        release = dword(merged_values(parse_reg_query(dotnet, 10)).get("Release"))
        version = next((v for minimum, v in DOTNET_RELEASES if release is not None and release >= minimum), "")
        if version:
            found.append(pb.Software(name="dotnetfx", version=version, vendor="Microsoft",
                                     found_by=SOFTWARE_FOUND_BY, evidence=f"{' '.join(DOTNET_FRAMEWORK)} = {release}"))
    return found


def discover_software(host: HostAccess) -> pb.Inventory:
    """Servers and runtimes Windows registers: IIS, SQL Server, .NET Framework."""
    found = pb.Inventory()
    if not _maybe_windows(host):
        return found
    iis = _run(host, IIS, found, SOFTWARE_FOUND_BY)
    sql = _run(host, SQL_SERVER, found, SOFTWARE_FOUND_BY)
    dotnet = _run(host, DOTNET_FRAMEWORK, found, SOFTWARE_FOUND_BY)
    found.software.extend(software_from_registry(iis, sql, dotnet))
    return found
