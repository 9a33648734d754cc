"""Who the host is: hostname, FQDN, machine-id, DMI system UUID, network interfaces, and asset_id.

The asset_id rule (asset_id_for): both identifiers when both are trustworthy,
`dmi:<SMBIOS UUID>/machine-id:<machine-id>`; else whichever one is; else the FQDN or hostname.
- It survives reinstalling or upgrading the agent: both come from the firmware and the OS, and the
  agent stores nothing of its own.
- It does not collide on cloned VMs: a clone made from a template keeps the template's machine-id
  unless the image was generalised, but the hypervisor gives it a new SMBIOS UUID; a VM moved (not
  copied) keeps its UUID but is the same asset. Containers see their host's DMI UUID, so inside a
  container (hardware.container set) the DMI UUID is not used.
- Reinstalling the OS gives a new machine-id and so a new asset_id: the software is new too.
A tree or image scanned with --root (or a host over SSH) often has neither: then the host name from
its files (/etc/hostname, /etc/HOSTNAME, /etc/nodename on Solaris, HOSTNAME= in
/etc/sysconfig/network on RHEL 5-6), then its SSH host key (`ssh-host-key:SHA256:<fingerprint>`, as
`ssh-keygen -l` prints it: made once per installation, copied only with the whole image). The
command line's --asset-id ID wins over every rule, and a --root scan with none of these gets
`file-tree:<scanner host>:<tree path>` (scan.build_report).
Known duplicate patterns are flagged in host.identity_warnings and kept out of the id: placeholder
SMBIOS UUIDs firmware vendors ship on many boards, systemd's "uninitialized" machine-id of an
image that was never booted, empty or all-zero ids, and two machine-id files that disagree.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys

from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
DMI_UUID_FILE = "/sys/class/dmi/id/product_uuid"
HOSTNAME_FILES = ("/etc/hostname", "/etc/HOSTNAME", "/etc/nodename")
SYSCONFIG_NETWORK = "/etc/sysconfig/network"
# Host keys, most modern first: the first one present gives the fallback identity.
SSH_HOST_KEYS = ("/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_ecdsa_key.pub",
                 "/etc/ssh/ssh_host_rsa_key.pub", "/etc/ssh/ssh_host_dsa_key.pub", "/etc/ssh_host_rsa_key.pub")
# Names an image or a fresh install carries that say nothing about which host it is.
GENERIC_HOSTNAMES = frozenset({"localhost", "localhost.localdomain", "localhost6", "unknown", "(none)", ""})
# Placeholder SMBIOS UUIDs that firmware vendors ship on many machines: never an identity.
BOGUS_DMI_UUIDS = frozenset({
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",
})
_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
# A UUID made of one repeated hex digit (00000000-..., 11111111-..., ffffffff-...) is a placeholder.
_REPEATED_UUID = re.compile(r"^([0-9a-f])\1{7}-\1{4}-\1{4}-\1{4}-\1{12}$")
MACHINE_ID_PLACEHOLDERS = frozenset({"uninitialized", "0" * 32})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FOUND_BY = "identity"


def asset_id_for(host: pb.Host) -> tuple[str, str]:
    """The stable asset id and the fields it came from (the rule is in this module's docstring)."""
    dmi = "" if host.hardware.container else host.dmi_product_uuid
    if dmi and host.machine_id:
        return f"dmi:{dmi}/machine-id:{host.machine_id}", "dmi_product_uuid+machine_id"
    if dmi:
        return f"dmi:{dmi}", "dmi_product_uuid"
    if host.machine_id:
        return f"machine-id:{host.machine_id}", "machine_id"
    name = host.fqdn or host.hostname
    if name.lower() in GENERIC_HOSTNAMES:
        return "", ""
    return f"hostname:{name}", "fqdn" if host.fqdn else "hostname"


def ssh_host_key_fingerprint(text: str) -> str:
    """'SHA256:<base64>' of an OpenSSH public key line ('ssh-ed25519 AAAA... comment'), '' if malformed."""
    import base64
    import binascii
    import hashlib

    words = text.split()
    if len(words) < 2:
        return ""
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        return ""
    if len(blob) < 20:
        return ""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def hostname_from_sysconfig(text: str) -> str:
    """HOSTNAME= in /etc/sysconfig/network (RHEL 5-6 keep the host name there, not in /etc/hostname)."""
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "HOSTNAME":
            return value.strip().strip("\"'")
    return ""


def dmi_uuid_problem(uuid: str) -> str:
    """Why an SMBIOS UUID cannot identify a machine ('' when it can)."""
    if not _UUID.match(uuid):
        return f"DMI product_uuid {uuid!r} is not a UUID"
    if uuid in BOGUS_DMI_UUIDS or _REPEATED_UUID.match(uuid):
        return f"DMI product_uuid {uuid} is a placeholder that firmware ships on many machines: not used"
    return ""


def machine_id_problem(value: str, path: str) -> str:
    """Why a machine-id cannot identify a host ('' when it can)."""
    if value in MACHINE_ID_PLACEHOLDERS or not value:
        return (f"{path} is {value or 'empty'!r}: an image that was never booted or not generalised; clones of it "
                "share it, so it is not used")
    if not _MACHINE_ID.match(value):
        return f"{path}: {value[:40]!r} is not a machine-id"
    return ""


def _first_line(host: HostAccess, path: str) -> str:
    try:
        return host.read_text(path, limit=4096).strip().splitlines()[0].strip()
    except (OSError, IndexError, HostAccessError):
        return ""  # absent, root-only (DMI) or not a file: identity goes on with what it has


def fqdn_of(hostname: str) -> str:
    """What socket.getfqdn() answers, without its idna codec import (over 10 ms of a ~100 ms scan).

    An ASCII name goes to the resolver as bytes, which needs no codec; others take the usual path.
    """
    try:
        name = hostname.encode("ascii")
    except UnicodeEncodeError:
        return socket.getfqdn(hostname)
    try:
        canonical, aliases, _ = socket.gethostbyaddr(name)  # type: ignore[arg-type]  # bytes work, unstubbed
    except OSError:
        return hostname
    return next((candidate for candidate in (canonical, *aliases) if "." in candidate), canonical)


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    ident = found.host
    ids: dict[str, str] = {}
    for path in MACHINE_ID_FILES:
        try:
            value = host.read_text(path, limit=4096).strip().lower()
        except FileNotFoundError:
            continue
        except (OSError, HostAccessError) as exc:
            found.errors.add(discoverer=FOUND_BY, message=(str(exc) or f"{path}: unreadable")[:500], evidence=path)
            continue
        problem = machine_id_problem(value, path)
        if problem:
            ident.identity_warnings.append(problem)
        else:
            ids[path] = value
    if ids:
        ident.machine_id = next(iter(ids.values()))
        if len(set(ids.values())) > 1:
            ident.identity_warnings.append(f"{' and '.join(ids)} disagree: {ident.machine_id} used")
    # Through the host: the live /sys, a remote one over SSH, or (under --root) the tree's own,
    # which an image does not have. Only root may read it on most systems.
    uuid = _first_line(host, DMI_UUID_FILE).lower()
    problem = dmi_uuid_problem(uuid) if uuid else ""
    if problem:
        ident.identity_warnings.append(problem)
    elif uuid:
        ident.dmi_product_uuid = uuid
    if host.is_live:
        ident.hostname = socket.gethostname()
        fqdn = fqdn_of(ident.hostname)
        if "." in fqdn and not fqdn.startswith("localhost"):
            ident.fqdn = fqdn
        _add_interfaces(ident)
    else:
        for path in HOSTNAME_FILES:
            ident.hostname = _first_line(host, path)
            if ident.hostname:
                break
        if not ident.hostname:
            with contextlib.suppress(OSError, HostAccessError):
                ident.hostname = hostname_from_sysconfig(host.read_text(SYSCONFIG_NETWORK, limit=64 * 1024))[:255]
        if not ident.machine_id and not ident.dmi_product_uuid and ident.hostname.lower() in GENERIC_HOSTNAMES:
            if ident.hostname:
                ident.identity_warnings.append(f"host name {ident.hostname!r} names no particular host: "
                                               "not used as the asset id")
            fingerprint, path = _ssh_host_key(host)
            if fingerprint:
                # Not a Host field: build_report takes it when asset_id_for finds nothing better.
                found.asset_id, ident.asset_id_source = f"ssh-host-key:{fingerprint}", f"ssh_host_key ({path})"
    return found


def _ssh_host_key(host: HostAccess) -> tuple[str, str]:
    for path in SSH_HOST_KEYS:
        try:
            fingerprint = ssh_host_key_fingerprint(host.read_text(path, limit=16 * 1024))
        except (OSError, HostAccessError):
            continue
        if fingerprint:
            return fingerprint, path
    return "", ""


def _add_interfaces(ident: pb.Host) -> None:
    if sys.platform.startswith("linux"):
        from estate.agent.discovery import _netif  # getifaddrs without psutil's import cost

        try:
            found = _netif.interfaces()
        except (OSError, AttributeError):
            found = {}
        for name in sorted(found):
            mac, addresses = found[name]
            ident.interfaces.add(name=name, mac=mac, addresses=addresses)
        if found:
            return
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
