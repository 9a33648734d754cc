"""macOS identity from `sw_vers` (ProductName, ProductVersion, BuildVersion)."""

from __future__ import annotations

from estate.agent.hostaccess import CommandsUnavailable, HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

SW_VERS = ("sw_vers",)
# Marketing names by version_id (macOS 11 on: the major; before: 10.x).
CODENAMES = {
    "10.9": "mavericks", "10.10": "yosemite", "10.11": "el capitan", "10.12": "sierra", "10.13": "high sierra",
    "10.14": "mojave", "10.15": "catalina", "11": "big sur", "12": "monterey", "13": "ventura", "14": "sonoma",
    "15": "sequoia", "26": "tahoe",
}


def parse_sw_vers(text: str) -> dict[str, str]:
    """'ProductName:<tab>macOS' lines into a dict."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            values[key.strip()] = value.strip()[:256]
    return values


def os_from_sw_vers(values: dict[str, str]) -> pb.OperatingSystem:
    version = values.get("ProductVersion", "")
    parts = version.split(".")
    version_id = ".".join(parts[:2]) if parts[0] == "10" else parts[0]
    return pb.OperatingSystem(
        family="macos", id="macos", name=values.get("ProductName", ""), version=version, version_id=version_id,
        major=parts[0], codename=CODENAMES.get(version_id, ""), build=values.get("BuildVersion", ""),
        pretty_name=" ".join(p for p in (values.get("ProductName", ""), version) if p),
    )


def discover_os(host: HostAccess, found: pb.Inventory) -> tuple[pb.OperatingSystem | None, list[str]]:
    try:
        result = host.run(list(SW_VERS), timeout=10, limit=64 * 1024)
    except (FileNotFoundError, CommandsUnavailable):
        return None, []
    except (OSError, HostAccessError) as exc:
        found.errors.add(discoverer="os_release", message=str(exc), evidence="sw_vers")
        return None, []
    values = parse_sw_vers(result.text)
    if result.exit_code != 0 or not values.get("ProductVersion"):
        found.errors.add(discoverer="os_release", evidence="sw_vers",
                         message=f"sw_vers exited {result.exit_code} without a ProductVersion")
        return None, []
    return os_from_sw_vers(values), ["decided by sw_vers"]
