"""Listening sockets and whether each listens beyond loopback (`exposed`).

Live host: psutil (with the owning process where the agent may see it). Other hosts that
expose /proc (over SSH, or a recorded capture): /proc/net/tcp, tcp6, udp, udp6, whose
addresses are hex in host byte order per 32-bit word. A --root image has no /proc of its own,
so nothing is reported for it (never the live host's sockets).
"""

from __future__ import annotations

import ipaddress
import socket

from estate.agent.discovery._common import add_error, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

PROC_NET = (("tcp", "/proc/net/tcp"), ("tcp6", "/proc/net/tcp6"), ("udp", "/proc/net/udp"), ("udp6", "/proc/net/udp6"))
TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"
MAX_PROC_NET_BYTES = 64 * 1024 * 1024
MAX_LISTENERS = 5000
FOUND_BY = "listeners"


def is_exposed(address: str) -> bool:
    """True unless the address is loopback (127/8, ::1, ::ffff:127.x); the wildcard is exposed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return not ip.ipv4_mapped.is_loopback
    return not ip.is_loopback


def decode_address(hex_address: str) -> str:
    """'0100007F' -> '127.0.0.1'; 32 hex digits -> an IPv6 address (each 32-bit word little-endian)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return str(ipaddress.IPv4Address(words))
    if len(words) == 16:
        return str(ipaddress.IPv6Address(words))
    raise ValueError(f"address of {len(raw)} bytes")


def parse_proc_net(text: str, protocol: str, evidence: str,
                   inodes: list[int] | None = None) -> tuple[list[pb.Listener], list[str]]:
    """Listening (TCP) or bound unconnected (UDP) sockets from one /proc/net table.

    With `inodes`, each listener's socket inode is appended to it (0 where the table has none).
    """
    wanted = TCP_LISTEN if protocol.startswith("tcp") else UDP_UNCONNECTED
    listeners: list[pb.Listener] = []
    problems: list[str] = []
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(text.splitlines()[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            local, state = fields[1], fields[3]
            if state != wanted:
                continue
            hex_address, _, hex_port = local.partition(":")
            address, port = decode_address(hex_address), int(hex_port, 16)
        except (IndexError, ValueError) as exc:
            problems.append(f"{evidence}:{number}: unreadable line ({exc})")
            continue
        if (address, port) in seen:
            continue  # SO_REUSEPORT listeners appear once per socket
        seen.add((address, port))
        listeners.append(pb.Listener(protocol=protocol, address=address, port=port, exposed=is_exposed(address),
                                     found_by=FOUND_BY, evidence=evidence))
        if inodes is not None:
            inodes.append(int(fields[9]) if len(fields) > 9 and fields[9].isdigit() else 0)
    return listeners, problems


def owners_from_proc(inodes: dict[int, pb.Listener], max_fds: int = 1_000_000) -> None:
    """Fill pid and process of each listener by finding its socket inode among /proc/*/fd (live Linux).

    Stops as soon as every listener has its owner; other users' processes are skipped unless root.
    """
    import os

    wanted = {f"socket:[{inode}]": listener for inode, listener in inodes.items()}
    seen = 0
    for pid in os.listdir("/proc"):  # noqa: PTH208 (os: thousands of entries on busy hosts)
        if not wanted or seen > max_fds:
            return
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")  # noqa: PTH208
        except OSError:
            continue
        for fd in fds:
            seen += 1
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")  # noqa: PTH115
            except PermissionError:
                break  # not ours to look at (another user, or a namespace's init): no fd of it will be
            except OSError:
                continue
            listener = wanted.pop(link, None)
            if listener is not None:
                listener.pid = int(pid)
                try:
                    with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                        listener.process = handle.read(64).strip()
                except OSError:
                    pass


def _live(found: pb.Inventory) -> None:
    import psutil

    names: dict[int, str] = {}
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.Error, OSError) as exc:
        add_error(found, FOUND_BY, f"psutil.net_connections: {exc}", "psutil")
        return
    seen: set[tuple[str, str, int]] = set()
    for conn in connections:
        udp = conn.type == socket.SOCK_DGRAM
        if (not udp and conn.status != psutil.CONN_LISTEN) or (udp and conn.raddr):
            continue
        v6 = conn.family == socket.AF_INET6
        protocol = ("udp" if udp else "tcp") + ("6" if v6 else "")
        if not conn.laddr:
            continue
        address, port = conn.laddr[0], conn.laddr[1]
        if (protocol, address, port) in seen or len(found.listeners) >= MAX_LISTENERS:
            continue
        seen.add((protocol, address, port))
        pid = conn.pid or 0
        if pid and pid not in names:
            try:
                names[pid] = psutil.Process(pid).name()
            except (psutil.Error, OSError):
                names[pid] = ""
        found.listeners.add(protocol=protocol, address=address, port=port, pid=pid, process=names.get(pid, ""),
                            exposed=is_exposed(address), found_by=FOUND_BY, evidence="psutil.net_connections")


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    live_linux = host.is_live and host.exists("/proc/net/tcp")
    if host.is_live and not live_linux:
        _live(found)  # psutil where there is no /proc (Windows, macOS, ...)
        return found
    owners: dict[int, pb.Listener] = {}
    tables: tuple[tuple[str, str], ...] = PROC_NET
    if live_linux and _tcp_from_netlink(found, owners):
        tables = tuple(t for t in PROC_NET if t[0].startswith("udp"))
    for protocol, path in tables:
        text = read_text(host, path, MAX_PROC_NET_BYTES, found, FOUND_BY)
        if text is None:
            continue
        inodes: list[int] = []
        listeners, problems = parse_proc_net(text, protocol, path, inodes)
        for listener, inode in zip(listeners, inodes, strict=True):
            if len(found.listeners) >= MAX_LISTENERS:
                break
            found.listeners.append(listener)
            if inode:
                owners[inode] = found.listeners[-1]  # a reference into the report: filled in place
        for problem in problems:
            add_error(found, FOUND_BY, problem, path)
    if live_linux and owners:
        owners_from_proc(owners)
    return found


def _tcp_from_netlink(found: pb.Inventory, owners: dict[int, pb.Listener]) -> bool:
    """Listening TCP sockets via sock_diag (much cheaper than /proc/net/tcp); False to fall back."""
    from estate.agent.discovery import _sockdiag

    try:
        tables = [("tcp", _sockdiag.tcp_listeners(socket.AF_INET)), ("tcp6", _sockdiag.tcp_listeners(socket.AF_INET6))]
    except (OSError, ValueError):
        return False
    for protocol, rows in tables:
        seen: set[tuple[str, int]] = set()
        for address, port, inode in rows:
            if (address, port) in seen or len(found.listeners) >= MAX_LISTENERS:
                continue
            seen.add((address, port))
            found.listeners.add(protocol=protocol, address=address, port=port, exposed=is_exposed(address),
                                found_by=FOUND_BY, evidence="netlink sock_diag")
            if inode:
                owners[inode] = found.listeners[-1]
    return True
