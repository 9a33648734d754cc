"""Where a swept report came from (Inventory.sweep): who ran the sweep, which inventory entry, which address.

SSH and SNMP sweeps stamp every report with it, so a collector (and an auditor reading `reports`)
can tell which scanner produced a report and from which line of which inventory.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import socket

from estate.v1 import inventory_pb2 as pb

COMMAND_LINE = "command line"
MAX_FIELD_CHARS = 1024


def scanner_identity() -> str:
    """user@host of this process: who ran the sweep."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def host_port(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def stamp(report: pb.Inventory, inventory: str, entry: str, target: str) -> None:
    """Record in `report` who swept it, from which inventory and entry, at which address."""
    report.sweep.scanner = scanner_identity()[:MAX_FIELD_CHARS]
    report.sweep.inventory = (inventory or COMMAND_LINE)[:MAX_FIELD_CHARS]
    report.sweep.entry = entry[:MAX_FIELD_CHARS]
    report.sweep.target = target[:MAX_FIELD_CHARS]
