"""Enrolments and revocations: append-only files the running collector reads, copied into the store.

`estate-collector enrol` and `estate-collector certs revoke` must work while `serve` holds the
DuckDB file (nothing else can open it then), so they append one JSON line to a file in the trust
folder (by default the folder of the database): enrolled.jsonl binds a certificate fingerprint to an
asset, revoked.jsonl refuses a certificate. The collector rereads a file when its size or time
changes, and copies new entries into asset_bindings and certificate_revocations for the audit trail.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("estate.collector")

ENROLLED, REVOKED = "enrolled.jsonl", "revoked.jsonl"
MAX_TRUST_FILE_BYTES = 16 * 1024 * 1024
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


class TrustError(Exception):
    """A trust file or an entry for it is unusable; the message names which and why."""


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as lower-case hex without colons; raises TrustError otherwise."""
    value = text.strip().lower().replace(":", "")
    if not FINGERPRINT.match(value):
        raise TrustError(f"fingerprint {text[:100]!r}: 64 hexadecimal digits (SHA-256) are needed")
    return value


def who() -> str:
    """The local user and host running a command, for the audit columns."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def default_trust_dir(db: str) -> Path:
    return Path(db).resolve().parent


@dataclass(frozen=True)
class Enrolment:
    fingerprint: str
    asset_id: str
    subject: str
    at: dt.datetime
    by: str


@dataclass(frozen=True)
class Revocation:
    fingerprint: str
    subject: str
    at: dt.datetime
    reason: str
    by: str


def _append(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > MAX_TRUST_FILE_BYTES:
        raise TrustError(f"{path}: over {MAX_TRUST_FILE_BYTES} bytes; archive it before adding more")
    line = json.dumps(entry, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:  # one write: appends of one line do not interleave
        handle.write(line)


def enrol(directory: Path, fingerprint: str, asset_id: str, subject: str = "") -> Enrolment:
    """Record that the agent certificate `fingerprint` speaks for `asset_id` (replacing any binding)."""
    if not asset_id or len(asset_id) > 256 or not asset_id.isprintable():
        raise TrustError(f"asset {asset_id[:100]!r}: a printable asset id of 1-256 characters is needed")
    entry = Enrolment(normalise_fingerprint(fingerprint), asset_id, subject, dt.datetime.now(dt.timezone.utc), who())
    _append(directory / ENROLLED, {"fingerprint": entry.fingerprint, "asset_id": asset_id, "subject": subject,
                                   "at": entry.at.isoformat(), "by": entry.by})
    return entry


def revoke(directory: Path, fingerprint: str, subject: str = "", reason: str = "") -> Revocation:
    """Record that certificate `fingerprint` is refused from now on."""
    entry = Revocation(normalise_fingerprint(fingerprint), subject, dt.datetime.now(dt.timezone.utc),
                       reason[:500], who())
    _append(directory / REVOKED, {"fingerprint": entry.fingerprint, "subject": subject, "reason": entry.reason,
                                  "at": entry.at.isoformat(), "by": entry.by})
    return entry


def _read_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The JSON objects of a trust file with their line numbers; a bad line is logged and skipped."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRUST_FILE_BYTES + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.error("%s: cannot read: %s", path, exc.strerror)
        return []
    if len(data) > MAX_TRUST_FILE_BYTES:
        log.error("%s: over %d bytes: only the first %d bytes are read", path, MAX_TRUST_FILE_BYTES,
                  MAX_TRUST_FILE_BYTES)
        data = data[:MAX_TRUST_FILE_BYTES]
    out = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict):
                raise ValueError("not a JSON object")
            entry["fingerprint"] = normalise_fingerprint(str(entry["fingerprint"]))
            entry["at"] = dt.datetime.fromisoformat(str(entry["at"]))
        except (ValueError, KeyError, TrustError) as exc:
            log.error("%s:%d: entry skipped: %s", path, number, str(exc)[:200])
            continue
        out.append((number, entry))
    return out


class Trust:
    """The enrolments and revocations in force, reread when their files change; safe across threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._stamps: dict[str, tuple[int, int] | None] = {ENROLLED: None, REVOKED: None}
        self._enrolments: list[Enrolment] = []
        self._revoked: dict[str, Revocation] = {}
        self.generation = 0  # bumped on every change, so the store copy knows when to sync

    def _stamp(self, name: str) -> tuple[int, int] | None:
        try:
            info = (self.directory / name).stat()
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    def refresh(self) -> None:
        """Reread whichever file changed since the last look (a stat per file when nothing did)."""
        with self._lock:
            for name in (ENROLLED, REVOKED):
                stamp = self._stamp(name)
                if stamp == self._stamps[name]:
                    continue
                self._stamps[name] = stamp
                entries = _read_lines(self.directory / name)
                if name == ENROLLED:
                    self._enrolments = [Enrolment(e["fingerprint"], str(e.get("asset_id", "")),
                                                  str(e.get("subject", "")), e["at"], str(e.get("by", "")))
                                        for _, e in entries if e.get("asset_id")]
                else:
                    self._revoked = {e["fingerprint"]: Revocation(e["fingerprint"], str(e.get("subject", "")),
                                                                  e["at"], str(e.get("reason", "")),
                                                                  str(e.get("by", "")))
                                     for _, e in entries}
                self.generation += 1

    def revocation(self, fingerprint: str) -> Revocation | None:
        self.refresh()
        with self._lock:
            return self._revoked.get(fingerprint)

    def snapshot(self) -> tuple[int, list[Enrolment], list[Revocation]]:
        self.refresh()
        with self._lock:
            return self.generation, list(self._enrolments), list(self._revoked.values())
