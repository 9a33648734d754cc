"""Shared by the legacy Unix discoverers: which kernel a host runs (`uname -s`), asked once per host."""

from __future__ import annotations

import os

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError

UNAME_TIMEOUT_S = 30.0


def sysname(host: HostAccess) -> str:
    """'AIX', 'SunOS', 'HP-UX', 'Linux', ... or '' when the host has no uname (or is a --root tree).

    A uname that times out or a connection that drops raises: the caller cannot tell which OS it
    is looking at, and saying nothing would make a failed scan look like an empty host.
    """
    if host.is_live:
        return os.uname().sysname
    try:
        result = host.run(["uname", "-s"], timeout=UNAME_TIMEOUT_S, limit=4096)
    except (CommandsUnavailable, FileNotFoundError):
        return ""
    lines = result.text.strip().splitlines()
    return lines[0].strip() if result.exit_code == 0 and lines else ""


def uname_all(host: HostAccess) -> list[str]:
    """The words of `uname -a`, or [] when it cannot be run."""
    try:
        result = host.run(["uname", "-a"], timeout=UNAME_TIMEOUT_S, limit=4096)
    except (CommandsUnavailable, FileNotFoundError, HostAccessError, OSError):
        return []
    return result.text.split() if result.exit_code == 0 else []
