"""Who the host is: hostname, FQDN, machine-id, DMI system UUID, network interfaces, and asset_id."""

from __future__ import annotations

import re
import socket

from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
DMI_UUID_FILE = "/sys/class/dmi/id/product_uuid"
HOSTNAME_FILES = ("/etc/hostname", "/etc/HOSTNAME")
# Placeholder SMBIOS UUIDs that firmware vendors ship on many machines: never an identity.
BOGUS_DMI_UUIDS = frozenset({
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",
})
_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FOUND_BY = "identity"


def asset_id_for(host: pb.Host) -> tuple[str, str]:
    """The stable asset id and the field it came from: DMI UUID, else machine-id, else FQDN/hostname."""
    if host.dmi_product_uuid:
        return f"dmi:{host.dmi_product_uuid}", "dmi_product_uuid"
    if host.machine_id:
        return f"machine-id:{host.machine_id}", "machine_id"
    name = host.fqdn or host.hostname
    return (f"hostname:{name}", "fqdn" if host.fqdn else "hostname") if name else ("", "")


def _first_line(host: HostAccess, path: str) -> str:
    try:
        return host.read_text(path, limit=4096).strip().splitlines()[0].strip()
    except (FileNotFoundError, IndexError, PermissionError):
        return ""


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    ident = found.host
    for path in MACHINE_ID_FILES:
        value = _first_line(host, path).lower()
        if _MACHINE_ID.match(value):
            ident.machine_id = value
            break
        if value:
            found.errors.add(discoverer=FOUND_BY, message=f"{path}: not a machine-id", evidence=path)
    if host.is_live:
        # On a --root tree the DMI data would be the live host's, so it is read only when live.
        uuid = _first_line(host, DMI_UUID_FILE).lower()
        if _UUID.match(uuid) and uuid not in BOGUS_DMI_UUIDS:
            ident.dmi_product_uuid = uuid
        ident.hostname = socket.gethostname()
        fqdn = socket.getfqdn()
        if "." in fqdn and not fqdn.startswith("localhost"):
            ident.fqdn = fqdn
        _add_interfaces(ident)
    else:
        for path in HOSTNAME_FILES:
            ident.hostname = _first_line(host, path)
            if ident.hostname:
                break
    return found


def _add_interfaces(ident: pb.Host) -> None:
    import psutil  # only the live host has psutil facts

    try:
        addrs = psutil.net_if_addrs()
    except (OSError, HostAccessError):
        return
    for name in sorted(addrs):
        nic = ident.interfaces.add(name=name)
        for addr in addrs[name]:
            if addr.family == psutil.AF_LINK:
                nic.mac = addr.address
            elif addr.family in (socket.AF_INET, socket.AF_INET6):
                nic.addresses.append(addr.address.split("%", 1)[0])
