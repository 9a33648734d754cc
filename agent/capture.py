"""estate-agent capture: record what the agent reads on this host into a fixture folder.

When a host is recognised wrongly, its owner runs `estate-agent capture --out DIR` and sends DIR.
The folder has the contract suite's shape (tests/fixtures/hosts/<name>/): the files the
discoverers read at their real paths (symlinks kept as symlinks), command outputs in
`commands/<argv with non-alphanumerics as _>.txt` (`.exit` beside a non-zero exit code), an
`expected.json` of what the agent finds when it replays the folder, and a `SOURCE.md`. Dropped
into tests/fixtures/hosts/ it is picked up by tests/test_host_fixtures.py with no code change;
correct expected.json by hand to say what the agent should have found.

The discoverers run twice through a recording host: as on the live host (psutil and the files
beside it) and as on a remote one (uname, /proc/net, /proc/mounts), so the replay, which is never
live, has what it needs.

Redaction: the host name and FQDN, every address of the host's interfaces (also in the hex form
/proc/net uses), MAC addresses, machine-id, DMI UUID and serial numbers are replaced by fixed
documentation values in every recorded text, except package databases, which hold none of them
and where a short host name could match a package name. Files with NUL bytes (binaries read for a
version string) and files over MAX_RECORDED_BYTES are recorded as empty placeholders and listed in
SOURCE.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from estate.agent.hostaccess import (
    COMMAND_TIMEOUT_S,
    MAX_FILE_BYTES,
    MAX_OUTPUT_BYTES,
    CommandResult,
    LocalHost,
    command_fixture_name,
)

MAX_RECORDED_BYTES = 64 * 1024 * 1024
# Package databases: no host identifiers in them, and many package names a short host name could match.
NOT_REDACTED = ("/var/lib/dpkg/status", "/lib/apk/db/installed", "/var/lib/rpm/", "/usr/lib/sysimage/rpm/",
                "/var/lib/pacman/local/")
IDENTIFIER_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id", "/sys/class/dmi/id/product_uuid",
                    "/sys/class/dmi/id/product_serial", "/sys/class/dmi/id/board_serial",
                    "/sys/class/dmi/id/chassis_serial", "/etc/hostname", "/etc/HOSTNAME")
KERNEL_TREES = ("/proc/", "/sys/")
EXTRA_COMMANDS = (("uname", "-s"), ("uname", "-r"), ("uname", "-m"))
_MAC = re.compile(rb"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")


class RecordingHost:
    """A LocalHost that remembers every successful read, listing, existence check and command."""

    def __init__(self, live: bool) -> None:
        self.inner = LocalHost()
        self._live = live
        self.files: dict[str, bytes] = {}
        self.listed: dict[str, list[str]] = {}
        self.existing: set[str] = set()
        self.commands: dict[tuple[str, ...], CommandResult] = {}

    @property
    def description(self) -> str:
        return "capture"

    @property
    def is_live(self) -> bool:
        return self._live

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        data = self.inner.read_bytes(path, limit)
        self.files[path] = data
        return data

    def read_text(self, path: str, limit: int = MAX_FILE_BYTES) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def exists(self, path: str) -> bool:
        present = self.inner.exists(path)
        if present:
            self.existing.add(path)
        return present

    def listdir(self, path: str) -> list[str]:
        names = self.inner.listdir(path)
        self.listed[path] = names
        return names

    def realpath(self, path: str) -> str:
        return self.inner.realpath(path)

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S,
            limit: int = MAX_OUTPUT_BYTES) -> CommandResult:
        result = self.inner.run(argv, timeout, limit)
        self.commands[tuple(argv)] = result
        return result


def identifiers() -> dict[bytes, bytes]:
    """This host's identifying values -> the documentation values that replace them."""
    import psutil

    secrets: dict[bytes, bytes] = {}
    names = {socket.gethostname(), socket.getfqdn()}
    for index, name in enumerate(sorted((n for n in names if n and n not in ("localhost",)), key=len, reverse=True)):
        secrets[name.encode()] = (b"host-redacted.example" if "." in name else b"host-redacted") + (
            str(index).encode() if index > 1 else b"")
    v4 = v6 = mac = 0
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            value = addr.address.split("%", 1)[0]
            if addr.family == socket.AF_INET and not value.startswith("127."):
                v4 += 1
                fake = f"192.0.2.{v4}"
                secrets[value.encode()] = fake.encode()
                secrets[_hex_v4(value)] = _hex_v4(fake)
            elif addr.family == socket.AF_INET6 and value not in ("::1",):
                v6 += 1
                fake = f"2001:db8::{v6:x}"
                secrets[value.encode()] = fake.encode()
                secrets[_hex_v6(value)] = _hex_v6(fake)
            elif addr.family == psutil.AF_LINK and value and value != "00:00:00:00:00:00":
                mac += 1
                secrets[value.encode()] = f"02:00:00:00:00:{mac:02x}".encode()
    for path in IDENTIFIER_FILES:
        try:
            value = Path(path).read_text(errors="replace").strip()
        except OSError:
            continue
        if len(value) >= 4:
            fake = {32: "0123456789abcdef0123456789abcdef",
                    36: "12345678-1234-5678-1234-567812345678"}.get(len(value), "REDACTED")
            secrets.setdefault(value.encode(), fake.encode())
    return secrets


def _hex_v6(address: str) -> bytes:
    """An IPv6 address as /proc/net/tcp6 writes it: four 32-bit words, each little-endian."""
    raw = socket.inet_pton(socket.AF_INET6, address)
    return b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)).hex().upper().encode()


def _hex_v4(address: str) -> bytes:
    """192.0.2.1 -> b'010200C0', as /proc/net/tcp writes it (little-endian)."""
    return bytes(reversed(bytes(int(p) for p in address.split(".")))).hex().upper().encode()


def redact(data: bytes, secrets: dict[bytes, bytes]) -> bytes:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in data:
            pattern = re.escape(secret)
            data = re.sub(rb"(?<![A-Za-z0-9])" + pattern + rb"(?![A-Za-z0-9])", secrets[secret], data)
    return _MAC.sub(lambda m: b"02:00:00:00:00:ff" if m.group(0) not in secrets.values() else m.group(0), data)


def write_capture(out: Path, hosts: Sequence[RecordingHost], secrets: dict[bytes, bytes]) -> list[str]:
    """Write the recordings under `out`; returns the paths recorded as empty placeholders."""
    placeholders: list[str] = []
    local = LocalHost()

    def target(path: str) -> Path:
        return out / path.lstrip("/")

    def real(path: str) -> str:
        # /proc and /sys are kept at the paths read: /proc/net -> self/net names the capturing process.
        return path if path.startswith(KERNEL_TREES) else local.realpath(path)

    def keep_links(path: str) -> None:
        # Re-create each symlink on the way to `path`, so the replay resolves paths as the host did.
        if path.startswith(KERNEL_TREES):
            return
        parts = [p for p in path.split("/") if p]
        for depth in range(1, len(parts)):
            prefix = "/" + "/".join(parts[:depth])
            if Path(prefix).is_symlink() and not os.path.lexists(target(prefix)):
                target(prefix).parent.mkdir(parents=True, exist_ok=True)
                target(prefix).symlink_to(Path(prefix).readlink())

    for host in hosts:
        for path, data in host.files.items():
            keep_links(path)
            if not path.startswith(KERNEL_TREES) and Path(path).is_symlink() and not os.path.lexists(target(path)):
                target(path).parent.mkdir(parents=True, exist_ok=True)
                target(path).symlink_to(Path(path).readlink())
            dest = target(real(path))
            dest.parent.mkdir(parents=True, exist_ok=True)
            if b"\0" in data or len(data) > MAX_RECORDED_BYTES:
                placeholders.append(path)
                dest.write_bytes(b"")
            elif path.startswith(NOT_REDACTED):
                dest.write_bytes(data)
            else:
                dest.write_bytes(redact(data, secrets))
        for path, names in host.listed.items():
            keep_links(path)
            base = target(real(path))
            base.mkdir(parents=True, exist_ok=True)
            for name in names:
                entry = base / name
                if os.path.lexists(entry):
                    continue
                if Path(path, name).is_dir():
                    entry.mkdir(parents=True, exist_ok=True)
                else:
                    entry.touch()
        for path in host.existing:
            keep_links(path)
            dest = target(real(path))
            if os.path.lexists(dest):
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if Path(path).is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                dest.touch()
                placeholders.append(path)
        for argv, result in host.commands.items():
            commands = out / "commands"
            commands.mkdir(parents=True, exist_ok=True)
            name = command_fixture_name(argv)
            (commands / name).write_bytes(redact(result.stdout, secrets))
            if result.exit_code:
                (commands / name).with_suffix(".exit").write_text(f"{result.exit_code}\n")
    return sorted(set(placeholders))


def expected_from_replay(out: Path) -> dict[str, object]:
    """What the agent finds in the capture, as the contract suite's expected.json."""
    from estate.agent.hostaccess import RecordedHost
    from estate.agent.scan import run_discoverers

    report = run_discoverers(RecordedHost(out))
    os_fields = {k: getattr(report.os, k) for k in ("family", "id", "name", "version_id", "major", "codename")
                 if getattr(report.os, k)}
    expected: dict[str, object] = {"os": os_fields, "package_count": len(report.packages)}
    expected["packages_include"] = [[p.name, p.version, p.architecture] for p in list(report.packages)[:5]]
    if report.software:
        expected["software_include"] = [[s.name, s.version] for s in report.software]
    messages = [e.message[:120] for e in report.errors]
    if messages:
        expected["errors_include"] = messages[:10]
    return expected


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "capture", help="record what the agent reads on this host into a fixture folder (redacted)",
        description="Record the files and command outputs the agent reads on this host, redacted, into a "
                    "folder the project's contract tests pick up (tests/fixtures/hosts/<name>/).")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="folder to create (must not exist, or be empty)")


def run(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from estate.agent.scan import run_discoverers

    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"estate-agent capture: {out} exists and is not an empty folder", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"estate-agent capture: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return 2
    live, remote = RecordingHost(live=True), RecordingHost(live=False)
    run_discoverers(live)
    run_discoverers(remote)
    for argv in EXTRA_COMMANDS:
        with contextlib.suppress(OSError):
            remote.run(argv, timeout=10)
    secrets = identifiers()
    placeholders = write_capture(out, (live, remote), secrets)
    expected = expected_from_replay(out)
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    files = sorted({*live.files, *remote.files})
    (out / "SOURCE.md").write_text(
        f"# {out.name}\n\nCaptured with `estate-agent capture` on {dt.date.today().isoformat()} from a live host.\n"
        f"{len(files)} files and {len({*live.commands, *remote.commands})} command outputs recorded.\n\n"
        "Redacted: host name and FQDN, interface addresses (also in /proc/net hex form), MAC addresses, "
        "machine-id, DMI UUID and serial numbers, replaced by documentation values (host-redacted, 192.0.2.x, "
        "2001:db8::x, 02:00:00:00:00:xx, 0123456789abcdef...).\n\n"
        "expected.json is what the agent found when replaying this folder; correct it to what it should find.\n"
        + ("\nRecorded as empty placeholders (binaries, oversized files, or only checked for existence):\n"
           + "".join(f"- {p}\n" for p in placeholders) if placeholders else ""))
    print(f"captured {len(files)} files into {out}; expected.json says: "
          f"{expected['os']}, {expected['package_count']} packages", file=sys.stderr)
    return 0
