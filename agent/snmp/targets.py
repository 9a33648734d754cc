"""Which devices to query and with what credentials: the inventory file and the environment.

Secrets never come from the command line (it is visible in `ps` and shell history). They come
from the inventory file (inline, or `*_env: NAME` naming an environment variable) or from the
ESTATE_SNMP_* environment variables. The file format is in README.md ("estate-agent snmp").
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from estate.agent.snmp.client import AUTH_PROTOCOLS, PRIV_PROTOCOLS, Credentials, Target

MAX_INVENTORY_BYTES = 16 * 1024 * 1024
MAX_ADDRESSES = 65_536
ENV_PREFIX = "ESTATE_SNMP_"
SECRET_KEYS = ("community", "auth_key", "priv_key")
SETTING_KEYS = ("version", "user", "auth_protocol", "priv_protocol", "port", "timeout", "retries")

_SETTINGS = {
    "version": {"enum": ["1", "2c", "3", 1, 2, 3]},
    "community": {"type": "string"},
    "community_env": {"type": "string"},
    "user": {"type": "string"},
    "auth_protocol": {"enum": sorted(AUTH_PROTOCOLS)},
    "auth_key": {"type": "string"},
    "auth_key_env": {"type": "string"},
    "priv_protocol": {"enum": sorted(PRIV_PROTOCOLS)},
    "priv_key": {"type": "string"},
    "priv_key_env": {"type": "string"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
    "retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
}
INVENTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["targets"],
    "properties": {
        "defaults": {"type": "object", "additionalProperties": False, "properties": _SETTINGS},
        "targets": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "oneOf": [{"required": ["address"]}, {"required": ["range"]}],
                "properties": {"address": {"type": "string"}, "range": {"type": "string"}, **_SETTINGS},
            },
        },
    },
}


class InventoryError(ValueError):
    """A bad inventory file or missing credential; the message names the file and the entry."""


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from ESTATE_SNMP_VERSION, _COMMUNITY, _USER, _AUTH_PROTOCOL, _AUTH_KEY, _PRIV_PROTOCOL, _PRIV_KEY."""
    keys = ("version", "community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
    found = {k: environ[ENV_PREFIX + k.upper()] for k in keys if environ.get(ENV_PREFIX + k.upper())}
    # The inventory schema checks these in files; a typo in the environment must not become
    # "v3" (any unknown version) or a KeyError on every target.
    for key in ("version", "auth_protocol", "priv_protocol"):
        allowed = sorted({str(v) for v in cast(dict[str, list[object]], _SETTINGS[key])["enum"]})
        if key in found and found[key] not in allowed:
            raise InventoryError(f"{ENV_PREFIX}{key.upper()}={found[key]!r}: not one of {', '.join(allowed)}")
    return found


def credentials_from(settings: Mapping[str, Any], environ: Mapping[str, str], where: str) -> Credentials:
    """Credentials from merged settings; `*_env` keys are resolved; a missing secret is an error."""
    resolved: dict[str, str] = {}
    for key in SECRET_KEYS:
        if f"{key}_env" in settings:
            name = settings[f"{key}_env"]
            if not environ.get(name):
                raise InventoryError(f"{where}: {key}_env names {name}, which is not set in the environment")
            resolved[key] = environ[name]
        elif key in settings:
            resolved[key] = str(settings[key])
    version = str(settings.get("version", "2c"))
    version = "2c" if version == "2" else version
    if version in ("1", "2c"):
        if not resolved.get("community"):
            raise InventoryError(f"{where}: SNMPv{version} needs a community (community, community_env "
                                 f"or {ENV_PREFIX}COMMUNITY)")
        return Credentials(version=version, community=resolved["community"])
    if not settings.get("user"):
        raise InventoryError(f"{where}: SNMPv3 needs a user (user or {ENV_PREFIX}USER)")
    if resolved.get("priv_key") and not resolved.get("auth_key"):
        raise InventoryError(f"{where}: SNMPv3 privacy (priv_key) needs authentication (auth_key) too")
    for key in ("auth_key", "priv_key"):
        if resolved.get(key) and len(resolved[key]) < 8:
            raise InventoryError(f"{where}: {key} is shorter than the 8 characters SNMPv3 requires")
    return Credentials(version="3", user=str(settings["user"]), auth_protocol=settings.get("auth_protocol", "sha"),
                       auth_key=resolved.get("auth_key", ""), priv_protocol=settings.get("priv_protocol", "aes"),
                       priv_key=resolved.get("priv_key", ""))


def expand(spec: str, where: str) -> tuple[list[str], bool]:
    """An address or a CIDR range -> (addresses, is_range). Host names are kept as given."""
    if "/" not in spec:
        return [spec], False
    try:
        network = ipaddress.ip_network(spec, strict=False)
    except ValueError as exc:
        raise InventoryError(f"{where}: {spec!r} is not a CIDR range: {exc}") from exc
    if network.num_addresses > MAX_ADDRESSES:
        raise InventoryError(f"{where}: {spec} has {network.num_addresses} addresses; at most {MAX_ADDRESSES} "
                             "per sweep (split it)")
    hosts = list(network.hosts()) if network.num_addresses > 2 else list(network)
    return [str(h) for h in hosts], True


def build_targets(entries: Iterable[tuple[str, dict[str, Any]]], environ: Mapping[str, str]) -> list[Target]:
    """Targets from (where, settings-with-address-or-range) entries.

    A target is (address, port, credentials): two entries on one address with different ports or
    communities are two targets (two agents, or two contexts of one). An address listed on its own
    wins over the same address inside a range, whatever the order, and an exact repeat is kept once.
    """
    explicit: dict[tuple[str, int, Credentials], Target] = {}
    swept: dict[tuple[str, int, Credentials], Target] = {}
    for where, settings in entries:
        creds = credentials_from(settings, environ, where)
        addresses, is_range = expand(settings.get("address") or settings["range"], where)
        labels = tuple(sorted(settings.get("labels", {}).items()))
        port = int(settings.get("port", 161))
        for address in addresses:
            target = Target(address=address, credentials=creds, port=port,
                            timeout_s=float(settings.get("timeout", 2.0)), retries=int(settings.get("retries", 1)),
                            labels=labels, from_range=is_range)
            bucket = swept if is_range else explicit
            bucket.setdefault((address, port, creds), target)
    listed = {address for address, _, _ in explicit}
    targets = list(explicit.values()) + [t for key, t in swept.items() if key[0] not in listed]
    if len(targets) > MAX_ADDRESSES:
        raise InventoryError(f"{len(targets)} targets; at most {MAX_ADDRESSES} per sweep")
    return targets


def load_inventory(path: Path, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> list[Target]:
    """Targets from an inventory file; the environment fills credentials the file leaves out."""
    import jsonschema

    try:
        info = path.stat()
        if info.st_size > MAX_INVENTORY_BYTES:
            raise InventoryError(f"{path}: {info.st_size} bytes, over the {MAX_INVENTORY_BYTES}-byte limit")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: not valid YAML: {exc}") from exc
    errors = sorted(jsonschema.Draft202012Validator(INVENTORY_SCHEMA).iter_errors(data),
                    key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise InventoryError(f"{path}: {where}: {errors[0].message}")
    has_inline_secret = any(k in entry for entry in [data.get("defaults", {}), *data["targets"]] for k in SECRET_KEYS)
    if has_inline_secret and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InventoryError(f"{path}: holds secrets but is readable by group or others; chmod 600 it "
                             "(or use *_env keys)")
    base = {**env_settings(environ), **data.get("defaults", {}), **overrides}
    entries = [(f"{path}: targets[{i}]", {**base, **entry}) for i, entry in enumerate(data["targets"])]
    return build_targets(entries, environ)


def targets_from_args(specs: Iterable[str], environ: Mapping[str, str], overrides: Mapping[str, Any]) -> list[Target]:
    """Targets named on the command line (addresses and ranges only); credentials from the environment."""
    base = {**env_settings(environ), **overrides}
    return build_targets(((f"target {spec}", {**base, "address": spec}) for spec in specs), environ)


def default_environ() -> Mapping[str, str]:
    return os.environ
