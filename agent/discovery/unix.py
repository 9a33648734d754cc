"""Shared by the legacy Unix discoverers: which kernel a host runs (`uname -s`, asked once per host),
and how a listing command's exit code and truncation become error entries."""

from __future__ import annotations

import os

from estate.agent.hostaccess import CommandResult, CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

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


def checked_output(result: CommandResult, found: pb.Inventory, found_by: str, truncated: str = "") -> str | None:
    """A listing command's output, with a non-zero exit and truncation recorded in `found.errors`.

    None when the command failed and printed nothing; `truncated` is added to the truncation message
    (what the reader loses, e.g. "later packages are missing").
    """
    shown = result.describe()
    if result.exit_code != 0:
        found.errors.add(discoverer=found_by, evidence=shown,
                         message=f"{shown} exited {result.exit_code}: {result.stderr[:200].decode(errors='replace')}")
        if not result.stdout.strip():
            return None
    if result.truncated:
        found.errors.add(discoverer=found_by, evidence=shown,
                         message=f"{shown}: output truncated at the size limit{'; ' + truncated if truncated else ''}")
    return result.text
