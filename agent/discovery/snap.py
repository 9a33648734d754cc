"""Snap packages: /snap/<name>/current/meta/snap.yaml (name, version, architectures).

snap.yaml is YAML, but the few top-level scalar keys read here are plain `key: value` lines, so no
YAML library is needed on the agent.
"""

from __future__ import annotations

from estate.agent.discovery._common import add_error, listdir, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

SNAP_ROOTS = ("/snap", "/var/lib/snapd/snap")
NOT_SNAPS = frozenset({"bin", "README"})
MAX_YAML_BYTES = 1024 * 1024
FOUND_BY = "snap"


def parse_snap_yaml(text: str) -> dict[str, str]:
    """Top-level `key: value` scalars, and the first entry of `architectures:`."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line[:1] in (" ", "\t", "#", "-") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = value.strip().strip("'\"")
        if key == "architectures" and not value and index + 1 < len(lines):
            value = lines[index + 1].strip().lstrip("-").strip()
        values.setdefault(key.strip(), value.strip("[]")[:256])
    return values


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    seen: set[str] = set()
    for root in SNAP_ROOTS:
        for name in listdir(host, root, found, FOUND_BY):
            if name in NOT_SNAPS or name in seen:
                continue
            path = f"{root}/{name}/current/meta/snap.yaml"
            text = read_text(host, path, MAX_YAML_BYTES, found, FOUND_BY)
            if text is None:
                continue
            values = parse_snap_yaml(text)
            if not values.get("version"):
                add_error(found, FOUND_BY, f"{path}: no version", path)
                continue
            seen.add(name)
            found.packages.append(pb.Package(name=values.get("name") or name, version=values["version"],
                                             architecture=values.get("architectures", ""), manager="snap",
                                             found_by=FOUND_BY, evidence=path))
    return found
