"""Run every discoverer against one host and assemble the report (one Inventory)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

from google.protobuf.timestamp_pb2 import Timestamp

from estate.agent import __version__
from estate.agent.discovery import (
    aix,
    apk,
    dpkg,
    flatpak,
    hardware,
    hpux,
    identity,
    listeners,
    node_packages,
    os_release,
    pacman,
    python_packages,
    rpm,
    runtimes,
    snap,
    solaris,
    windows,
)
from estate.agent.hostaccess import HostAccess
from estate.v1 import inventory_pb2 as pb


class Discoverer(NamedTuple):
    """A source of facts: its name, its function and its time limit (a NamedTuple: see CommandResult)."""

    name: str
    discover: Callable[[HostAccess], pb.Inventory]
    timeout_s: float = 30.0


# The discoverers a scan runs, in the order their findings are merged. No import magic: a new
# source of facts is added here.
DISCOVERERS: tuple[Discoverer, ...] = (
    Discoverer("identity", identity.discover, 15.0),
    Discoverer("os_release", os_release.discover, 15.0),
    Discoverer("dpkg", dpkg.discover, 60.0),
    Discoverer("rpm", rpm.discover, 150.0),
    Discoverer("apk", apk.discover, 60.0),
    Discoverer("pacman", pacman.discover, 60.0),
    Discoverer("snap", snap.discover, 30.0),
    Discoverer("flatpak", flatpak.discover, 30.0),
    Discoverer("windows_programs", windows.discover_programs, 120.0),
    Discoverer("windows_software", windows.discover_software, 60.0),
    Discoverer("windows_identity", windows.discover_identity, 30.0),
    Discoverer("pip", python_packages.discover, 60.0),
    Discoverer("npm", node_packages.discover, 60.0),
    Discoverer("runtimes", runtimes.discover, 60.0),
    Discoverer("listeners", listeners.discover, 30.0),
    Discoverer("hardware", hardware.discover, 30.0),
    Discoverer("aix", aix.discover, 150.0),
    Discoverer("solaris", solaris.discover, 200.0),
    Discoverer("hpux", hpux.discover, 200.0),
)

LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
KNOWN_LABELS = ("org", "department", "environment", "owner", "criticality", "system")
MAX_LABELS = 32
MAX_LABEL_VALUE = 256


class LabelError(ValueError):
    """A --label that is not KEY=VALUE with a well-formed key and a bounded value."""


def parse_labels(items: list[str]) -> dict[str, str]:
    """Parse KEY=VALUE strings; keys are lower-case identifiers (org, department, environment, ...)."""
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise LabelError(f"label {item!r}: expected KEY=VALUE, e.g. department=dwp")
        if not LABEL_KEY.match(key):
            raise LabelError(f"label key {key!r}: use lower-case letters, digits and _ (at most 32), "
                             f"e.g. {', '.join(KNOWN_LABELS)}")
        if not value or len(value) > MAX_LABEL_VALUE:
            raise LabelError(f"label {key!r}: value must be 1 to {MAX_LABEL_VALUE} characters")
        if any("\ud800" <= char <= "\udfff" for char in value):
            # Non-UTF-8 bytes from the shell arrive as lone surrogates, which protobuf cannot encode.
            raise LabelError(f"label {key!r}: value is not UTF-8 text")
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise LabelError(f"at most {MAX_LABELS} labels")
    return labels


def run_discoverers(host: HostAccess, discoverers: tuple[Discoverer, ...] = DISCOVERERS) -> pb.Inventory:
    """Run discoverers concurrently, each isolated and time-bounded, and merge their findings.

    A discoverer that raises or overruns its timeout becomes an entry in `errors`; the others'
    findings are still merged. Threads are daemons: a hung read cannot keep the agent alive.
    """
    results: dict[str, pb.Inventory | BaseException] = {}

    def call(discoverer: Discoverer) -> None:
        try:
            results[discoverer.name] = discoverer.discover(host)
        except Exception as exc:  # isolate any failure of one source; it is reported, not raised
            results[discoverer.name] = exc

    threads = []
    for discoverer in discoverers:
        thread = threading.Thread(target=call, args=(discoverer,), name=f"discover-{discoverer.name}",
                                  daemon=True)
        thread.start()
        threads.append((discoverer, thread, time.monotonic() + discoverer.timeout_s))

    report = pb.Inventory()
    for discoverer, thread, deadline in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        outcome = results.get(discoverer.name)
        if thread.is_alive() or outcome is None:
            report.errors.add(discoverer=discoverer.name,
                              message=f"timed out after {discoverer.timeout_s:g} s; its findings are missing")
        elif isinstance(outcome, BaseException):
            report.errors.add(discoverer=discoverer.name,
                              message=f"failed: {type(outcome).__name__}: {outcome}"[:1000])
        else:
            report.MergeFrom(outcome)
    return report


def random_uuid4() -> str:
    """A random RFC 4122 version 4 UUID, as str(uuid.uuid4()) gives, without importing uuid.

    uuid imports platform and probes for libuuid: about 10 ms of a ~100 ms scan.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,255}$")


class AssetIdError(ValueError):
    """An --asset-id that is empty, too long or holds characters an identifier should not."""


def check_asset_id(value: str) -> str:
    """The --asset-id as given, or AssetIdError saying what is wrong with it."""
    if not ASSET_ID.fullmatch(value):
        raise AssetIdError(f"--asset-id {value[:60]!r}: use 1 to 256 characters from letters, digits and "
                           "._:@/+=- (starting with a letter or digit), e.g. cmdb:CI0012345")
    return value


def build_report(host: HostAccess, method: int, labels: Mapping[str, str] | None = None,
                 discoverers: tuple[Discoverer, ...] = DISCOVERERS, asset_id: str = "") -> pb.Inventory:
    """Scan `host` and return a complete report with a fresh report_id.

    `asset_id` (the --asset-id option) wins over the identity rules; a --root tree that has no
    identity of its own gets `file-tree:<scanner host>:<tree path>`.
    """
    report = run_discoverers(host, discoverers)
    report.report_id = random_uuid4()
    collected_at = Timestamp()
    collected_at.GetCurrentTime()
    report.collected_at.CopyFrom(collected_at)
    report.method = method  # type: ignore[assignment]
    report.agent_version = __version__
    report.labels.update(labels or {})
    fallback, fallback_source = report.asset_id, report.host.asset_id_source
    derived, source = identity.asset_id_for(report.host)
    if asset_id:
        derived, source = asset_id, "asset_id_option"
    elif not derived and fallback:
        derived, source = fallback, fallback_source
    elif not derived and not host.is_live and host.description.startswith("root:"):
        import socket

        derived, source = f"file-tree:{socket.gethostname()}:{host.description[len('root:'):]}"[:256], "root_path"
        report.errors.add(discoverer="identity", message=(
            "no machine-id, DMI UUID, host name or SSH host key in the tree: asset_id is derived from this "
            "scanner and the tree's path (stable only while both are); give --asset-id for a lasting one"))
    report.asset_id, report.host.asset_id_source = derived, source
    if not derived:
        report.errors.add(discoverer="identity", message="no machine-id, DMI UUID or hostname: asset_id is empty")
    return report
