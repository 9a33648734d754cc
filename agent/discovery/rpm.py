"""RPM packages: the rpm command (`rpm -qa` with a tab-separated query format) where it runs, else
the database read directly (rpmdb.py: rpmdb.sqlite or Berkeley DB Packages), e.g. under --root."""

from __future__ import annotations

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

# Epoch only where set, as rpm -q prints it: [epoch:]version-release.
# Vendor, Packager and Distribution say who ships the package ("(none)" where unset).
RPM_QUERY = ["rpm", "-qa", "--queryformat",
             r"%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}"
             r"\t%{VENDOR}\t%{PACKAGER}\t%{DISTRIBUTION}\n"]
# The fields before Vendor: what older agents (and recordings made with them) print.
BASE_FIELDS = 4
ORIGIN_FIELDS = 3
RPM_TIMEOUT_S = 120.0
FOUND_BY = "rpm"


def source_name(source_rpm: str) -> str:
    """'bash-4.2.46-34.el7.src.rpm' -> 'bash'; '(none)' (gpg-pubkey) -> ''."""
    if not source_rpm.endswith(".rpm"):
        return ""
    parts = source_rpm.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else ""


def unset(value: str) -> str:
    """rpm prints "(none)" for a tag the package does not set; bounded like every host string."""
    return "" if value == "(none)" else value[:256]


def parse_rpm_query(text: str, evidence: str = " ".join(RPM_QUERY[:2])) -> tuple[list[pb.Package], list[str]]:
    """Parse the output of RPM_QUERY; returns packages and messages for lines that did not parse."""
    packages: list[pb.Package] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) not in (BASE_FIELDS, BASE_FIELDS + ORIGIN_FIELDS) or not fields[0] or not fields[1]:
            problems.append(f"line {number}: expected {BASE_FIELDS + ORIGIN_FIELDS} tab-separated fields, "
                            f"got {line[:80]!r}")
            continue
        name, version, arch, source_rpm = fields[:BASE_FIELDS]
        vendor, packager, distribution = (unset(f) for f in fields[BASE_FIELDS:] or ("", "", ""))
        packages.append(pb.Package(name=name, version=version, architecture=unset(arch),
                                   manager="rpm", source=source_name(source_rpm), found_by=FOUND_BY,
                                   evidence=evidence, origin=vendor, maintainer=packager,
                                   distribution=distribution))
    return packages, problems


# Where a system rpm database lives. Without one there is nothing to list: Debian's rpm package
# keeps a per-user database of packages converted with alien, not the host's software.
RPM_DATABASES = tuple(f"{folder}/{name}" for folder in ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
                      for name in ("rpmdb.sqlite", "Packages", "Packages.db"))


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    if not any(host.exists(path) for path in RPM_DATABASES):
        return found
    try:
        result = host.run(RPM_QUERY, timeout=RPM_TIMEOUT_S)
    except (FileNotFoundError, CommandsUnavailable):
        # No rpm command here (or a --root tree, whose binaries are not ours to run): read the database.
        from estate.agent.discovery import rpmdb

        packages, db_problems, path = rpmdb.read_rpmdb(host)
        found.packages.extend(packages)
        for message in db_problems[:20]:
            found.errors.add(discoverer=FOUND_BY, message=message[:1000], evidence=path)
        if len(db_problems) > 20:
            found.errors.add(discoverer=FOUND_BY, message=f"{len(db_problems) - 20} more problems not listed",
                             evidence=path)
        return found
    except (OSError, HostAccessError) as exc:
        found.errors.add(discoverer=FOUND_BY, message=str(exc), evidence="rpm -qa")
        return found
    if result.exit_code != 0:
        found.errors.add(discoverer=FOUND_BY, evidence="rpm -qa",
                         message=f"rpm -qa exited {result.exit_code}: {result.stderr[:200].decode(errors='replace')}")
    packages, problems = parse_rpm_query(result.text)
    found.packages.extend(packages)
    for problem in problems[:20]:
        found.errors.add(discoverer=FOUND_BY, message=f"rpm -qa output {problem}", evidence="rpm -qa")
    if result.truncated:
        found.errors.add(discoverer=FOUND_BY, message="rpm -qa output truncated at the size limit",
                         evidence="rpm -qa")
    return found
