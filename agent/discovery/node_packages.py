"""Node.js packages installed globally (`npm install -g`): <prefix>/lib/node_modules/*/package.json."""

from __future__ import annotations

import json

from estate.agent.discovery._common import add_error, listdir, read_text
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb

GLOBAL_MODULES = ("/usr/lib/node_modules", "/usr/local/lib/node_modules", "/opt/nodejs/lib/node_modules")
MAX_PACKAGE_JSON = 1024 * 1024
MAX_PACKAGES = 5000
FOUND_BY = "npm"


def package_from_json(text: str, evidence: str) -> pb.Package | None:
    """name and version of a package.json; None when it is not a JSON object with both."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return pb.Package(name=name[:214], version=version[:128], manager="npm", found_by=FOUND_BY, evidence=evidence)


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    for root in GLOBAL_MODULES:
        entries = listdir(host, root, found, FOUND_BY, MAX_PACKAGES)
        names: list[str] = []
        for entry in entries:
            if entry.startswith("@"):
                names.extend(f"{entry}/{sub}" for sub in listdir(host, f"{root}/{entry}", found, FOUND_BY, 500))
            elif not entry.startswith("."):
                names.append(entry)
        for name in names[:MAX_PACKAGES]:
            path = f"{root}/{name}/package.json"
            text = read_text(host, path, MAX_PACKAGE_JSON, found, FOUND_BY)
            if text is None:
                continue
            package = package_from_json(text, path)
            if package is None:
                add_error(found, FOUND_BY, f"{path}: not a package.json with name and version", path)
            else:
                found.packages.append(package)
    return found
