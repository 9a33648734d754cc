"""Who sent a report, and whether that sender may speak for the report's asset.

Every report is stored with its Sender (the audit columns of `reports`). The writer calls `admit`
for each group of reports before storing them, in its own thread and on the store's connection:

- an `agent` certificate may report one asset: the one enrolled for it (estate-collector enrol), or
  else the first it reports (trust on first use, recorded in asset_bindings). A first contact for an
  asset already bound to another certificate is refused unless both have the same subject (a
  renewed certificate);
- a `scanner` certificate may report SSH and SNMP sweeps of many assets, within the scopes its
  certificate and the collector's --scanner-scopes file give (organisation, address ranges, methods);
- a revoked certificate is refused, also in the middle of a stream;
- reports loaded from files (ingest) and plaintext reports on loopback come from the operator.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.x509.oid import NameOID

from estate.collector.security.certs import CertError, Scopes, fingerprint, load_certificate, parse_scopes, role_of
from estate.collector.security.certs import scopes_of as certificate_scopes
from estate.collector.security.trust import Trust, who
from estate.v1 import inventory_pb2 as pb

# reports columns this module fills (migration 0007); all VARCHAR.
AUDIT_COLUMNS = ("sender_kind", "sender_subject", "sender_fingerprint", "sender_role", "sender_user", "sender_file",
                 "sweep_scanner", "sweep_inventory", "sweep_entry", "sweep_target")
SCANNER_METHODS = frozenset({"ssh", "snmp"})
MAX_SCOPES_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Sender:
    """The sender of a report: a verified certificate, a plaintext loopback peer, or a file loaded by a user."""

    kind: str  # certificate, plaintext or file
    subject: str = ""
    fingerprint: str = ""
    role: str = ""
    user: str = ""
    file: str = ""
    # Each source of scanner scopes (the certificate, the collector's file) with what it allows.
    scopes: tuple[tuple[str, Scopes], ...] = ()
    trust: Trust | None = field(default=None, compare=False, repr=False)

    def name(self) -> str:
        """The certificate as people know it: its subject and the start of its fingerprint."""
        return f"certificate {self.subject} (sha256 {self.fingerprint[:16]}...)"

    def columns(self, report: pb.Inventory) -> dict[str, Any]:
        """The audit columns of `reports` for one report from this sender."""
        sweep = report.sweep
        return {"sender_kind": self.kind, "sender_subject": self.subject or None,
                "sender_fingerprint": self.fingerprint or None, "sender_role": self.role or None,
                "sender_user": self.user or None, "sender_file": self.file or None,
                "sweep_scanner": sweep.scanner or None, "sweep_inventory": sweep.inventory or None,
                "sweep_entry": sweep.entry or None, "sweep_target": sweep.target or None}

    def refusal(self, report: pb.Inventory) -> str | None:
        """Why this sender may not store `report`, checks that need no store; None when they pass."""
        if self.kind != "certificate":
            return None
        if self.trust is not None:
            revoked = self.trust.revocation(self.fingerprint)
            if revoked is not None:
                return (f"{self.name()} was revoked on {revoked.at:%Y-%m-%d %H:%M} UTC"
                        + (f" ({revoked.reason})" if revoked.reason else ""))
        if self.role == "scanner":
            return self._scanner_refusal(report)
        if self.role != "agent":
            return f"{self.name()} has role {self.role!r}, which may not ingest"
        return None

    def _scanner_refusal(self, report: pb.Inventory) -> str | None:
        method = pb.Method.Name(report.method).removeprefix("METHOD_").lower()
        if method not in SCANNER_METHODS:
            return (f"{self.name()} is a scanner: it may send SSH and SNMP sweeps, not {method.upper()} "
                    f"reports (asset {report.asset_id!r})")
        for source, scopes in self.scopes:
            if scopes.methods and method not in scopes.methods:
                return (f"{self.name()} may not report asset {report.asset_id!r} over {method.upper()}: "
                        f"its {source} allows method {','.join(sorted(scopes.methods))}")
            org = report.labels.get("org", "")
            if scopes.orgs and org not in scopes.orgs:
                return (f"{self.name()} may not report asset {report.asset_id!r} of org {org or '(none)'!r}: "
                        f"its {source} allows org {','.join(sorted(scopes.orgs))}")
            if scopes.cidrs:
                addresses = report_addresses(report)
                outside = [a for a in addresses if not any(a in net for net in scopes.cidrs)]
                if not addresses or outside:
                    shown = ", ".join(map(str, outside or addresses)) or "no address"
                    return (f"{self.name()} may not report asset {report.asset_id!r} at {shown}: its {source} "
                            f"allows cidr {','.join(map(str, scopes.cidrs))}")
        return None


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def admit(con: Any, items: Sequence[tuple[Sender | None, str, str | None]]) -> list[str | None]:
    """For each (sender, asset id, refusal) of one group commit, why it may not be stored (None: it may).

    `refusal` is what the checks that need no store (Sender.refusal) found when the report was prepared.
    Runs in the writer thread on the store's connection, with one lookup of asset_bindings for the
    whole group: the agents' bindings are checked in order, so two reports of one new certificate
    in one group bind it once (to the first asset) and the second is judged against that binding.
    """
    reasons: list[str | None] = [refusal for _, _, refusal in items]
    trusts = {id(s.trust): s.trust for s, _, _ in items if s is not None and s.trust is not None}
    for trust in trusts.values():
        sync_trust(con, trust)
    agents = [(i, sender, asset_id) for i, (sender, asset_id, _) in enumerate(items)
              if reasons[i] is None and sender is not None and sender.kind == "certificate" and sender.role == "agent"]
    if not agents:
        return reasons
    fingerprints = sorted({sender.fingerprint for _, sender, _ in agents})
    assets = sorted({asset_id for _, _, asset_id in agents})
    by_fingerprint: dict[str, tuple[str, str]] = {}
    by_asset: dict[str, tuple[str, str]] = {}  # asset -> (fingerprint, subject) of its latest live binding
    for fingerprint_, asset_id, how, subject, revoked in con.execute(
            "SELECT b.fingerprint, b.asset_id, b.how, coalesce(b.subject, ''), r.fingerprint IS NOT NULL "
            "FROM asset_bindings b LEFT JOIN certificate_revocations r USING (fingerprint) "
            "WHERE b.fingerprint IN (SELECT unnest(?::VARCHAR[])) OR b.asset_id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY b.bound_at", [fingerprints, assets]).fetchall():
        by_fingerprint[fingerprint_] = (asset_id, how)
        if not revoked:
            by_asset[asset_id] = (fingerprint_, subject)
    new: list[tuple[str, str, str]] = []
    for i, sender, asset_id in agents:
        bound = by_fingerprint.get(sender.fingerprint)
        if bound is not None:
            if bound[0] != asset_id:
                reasons[i] = (f"{sender.name()} is bound to asset {bound[0]!r} ({bound[1]}); it may not report "
                              f"asset {asset_id!r}")
            continue
        other = by_asset.get(asset_id)
        if other is not None and other[1] != sender.subject:
            reasons[i] = (f"asset {asset_id!r} is bound to another certificate {other[1]} (sha256 "
                          f"{other[0][:16]}...); {sender.name()} may not report it (enrol it with "
                          "'estate-collector enrol' if it replaces that one)")
            continue
        by_fingerprint[sender.fingerprint] = (asset_id, "first-contact")
        by_asset[asset_id] = (sender.fingerprint, sender.subject)
        new.append((sender.fingerprint, asset_id, sender.subject))
    if new:
        fps, ids, subjects = (list(column) for column in zip(*new, strict=True))
        con.execute("INSERT INTO asset_bindings SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                    "unnest(?::VARCHAR[]), 'first-contact', ?, NULL", [fps, ids, subjects,
                                                                       dt.datetime.now(dt.timezone.utc)])
    return reasons


def report_addresses(report: pb.Inventory) -> list[Address]:
    """The addresses a scanner's scope is checked on: the address it reached, else the host's own."""
    host, _, _ = report.sweep.target.rpartition(":") if ":" in report.sweep.target else (report.sweep.target, "", "")
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    found: list[Address] = []
    for nic in report.host.interfaces:
        for text in nic.addresses:
            try:
                address = ipaddress.ip_address(text.split("/")[0].split("%")[0])
            except ValueError:
                continue
            if not (address.is_loopback or address.is_link_local):
                found.append(address)
    return found


def file_sender(path: Path) -> Sender:
    """The sender of a report file loaded by `estate-collector ingest`: the local user running it."""
    return Sender(kind="file", user=who(), file=str(path))


def plaintext_sender(peer: str) -> Sender:
    return Sender(kind="plaintext", user=peer[:200])


def certificate_sender(pem: bytes, trust: Trust | None, configured: dict[str, Scopes] | None = None) -> Sender:
    """The sender behind a verified client certificate, with its scopes from the certificate and configuration."""
    cert = load_certificate(pem)
    role = role_of(pem)
    common_names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    scopes: list[tuple[str, Scopes]] = []
    if role == "scanner":
        from_cert = certificate_scopes(cert)
        if not from_cert.empty():
            scopes.append(("certificate", from_cert))
        for cn in common_names:
            if configured and cn in configured:
                scopes.append(("collector's --scanner-scopes entry", configured[cn]))
    return Sender(kind="certificate", subject=cert.subject.rfc4514_string(), fingerprint=fingerprint(cert),
                  role=role, scopes=tuple(scopes), trust=trust)


def load_scanner_scopes(path: Path) -> dict[str, Scopes]:
    """The --scanner-scopes file: `scanners: {COMMON_NAME: {orgs: [...], cidrs: [...], methods: [...]}}`."""
    import yaml
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class Entry(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        orgs: list[str] = Field(default=[], max_length=1000)
        cidrs: list[str] = Field(default=[], max_length=1000)
        methods: list[str] = Field(default=[], max_length=2)

    class ScopesFile(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        scanners: dict[str, Entry] = Field(max_length=10_000)

    try:
        data = path.read_bytes()[:MAX_SCOPES_FILE_BYTES + 1]
        if len(data) > MAX_SCOPES_FILE_BYTES:
            raise CertError(f"{path}: over {MAX_SCOPES_FILE_BYTES} bytes")
        parsed = ScopesFile.model_validate(yaml.safe_load(data))
    except OSError as exc:
        raise CertError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CertError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CertError(f"{path}: {where}: {first['msg']}") from exc
    out = {}
    for name, entry in parsed.scanners.items():
        try:
            out[name] = parse_scopes(tuple(entry.orgs), tuple(entry.cidrs), tuple(entry.methods))
        except CertError as exc:
            raise CertError(f"{path}: scanners.{name}: {exc}") from exc
    return out


# Per store connection: which trust files (and which generation of them) it has copied.
_GENERATIONS: dict[int, tuple[int, int]] = {}


def sync_trust(con: Any, trust: Trust) -> None:
    """Copy new enrolments and revocations from the trust files into the store (writer thread only).

    An enrolment replaces the binding of its certificate unless that binding is newer.
    """
    generation, enrolments, revocations = trust.snapshot()
    if _GENERATIONS.get(id(con)) == (id(trust), generation):
        return
    for entry in enrolments:
        con.execute("INSERT INTO asset_bindings VALUES (?, ?, ?, 'enrolled', ?, ?) ON CONFLICT (fingerprint) DO "
                    "UPDATE SET asset_id = excluded.asset_id, subject = excluded.subject, how = 'enrolled', "
                    "bound_at = excluded.bound_at, bound_by = excluded.bound_by "
                    "WHERE asset_bindings.bound_at < excluded.bound_at",
                    [entry.fingerprint, entry.asset_id, entry.subject or None, entry.at, entry.by])
    for item in revocations:
        con.execute("INSERT INTO certificate_revocations VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [item.fingerprint, item.subject or None, item.at, item.reason or None, item.by])
    _GENERATIONS[id(con)] = (id(trust), generation)


