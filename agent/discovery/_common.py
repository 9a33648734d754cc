"""Small helpers the discoverers share: bounded reads that turn problems into error entries."""

from __future__ import annotations

from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

MAX_ERRORS_PER_SOURCE = 20


def read_text(host: HostAccess, path: str, limit: int, found: pb.Inventory, discoverer: str,
              binary_ok: bool = False) -> str | None:
    """Read a file; None when absent. Unreadable, oversized or binary files become an error entry."""
    try:
        data = host.read_bytes(path, limit=limit)
    except FileNotFoundError:
        return None
    except (OSError, HostAccessError) as exc:
        add_error(found, discoverer, str(exc) or f"{path}: unreadable", path)
        return None
    if not binary_ok and b"\0" in data:
        add_error(found, discoverer, f"{path}: contains NUL bytes (binary garbage?); ignored", path)
        return None
    return data.decode("utf-8", errors="replace")


def listdir(host: HostAccess, path: str, found: pb.Inventory, discoverer: str, limit: int = 10_000) -> list[str]:
    """List a directory; [] when absent; an unreadable one is an error entry. At most `limit` names."""
    try:
        names = host.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except (OSError, HostAccessError) as exc:
        add_error(found, discoverer, f"{path}: cannot list: {exc}", path)
        return []
    if len(names) > limit:
        add_error(found, discoverer, f"{path}: {len(names)} entries, only the first {limit} read", path)
    return names[:limit]


def add_error(found: pb.Inventory, discoverer: str, message: str, evidence: str) -> None:
    """Add an error entry, at most MAX_ERRORS_PER_SOURCE per discoverer (then one summary line)."""
    count = sum(1 for e in found.errors if e.discoverer == discoverer)
    if count < MAX_ERRORS_PER_SOURCE:
        found.errors.add(discoverer=discoverer, message=message[:1000], evidence=evidence[:500])
    elif count == MAX_ERRORS_PER_SOURCE:
        found.errors.add(discoverer=discoverer, message="more problems not listed", evidence=evidence[:500])
