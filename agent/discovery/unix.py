"""Shared by the legacy Unix discoverers: which kernel a host runs (`uname -s`), asked once per host."""

from __future__ import annotations

import os

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError

UNAME_TIMEOUT_S = 10.0


def sysname(host: HostAccess) -> str:
    """'AIX', 'SunOS', 'HP-UX', 'Linux', ... or '' when it cannot be known (a --root tree, no uname)."""
    if host.is_live:
        return os.uname().sysname
    try:
        result = host.run(["uname", "-s"], timeout=UNAME_TIMEOUT_S, limit=4096)
    except (CommandsUnavailable, FileNotFoundError, HostAccessError, OSError):
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
