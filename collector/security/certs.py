"""A small certificate authority for mTLS between agents, analysts, GDS and the collector.

The role of a client is the organizational unit (OU) of its certificate's subject, so the CA that
issues a certificate decides what its holder may call: `agent` may only ingest (for the one asset it
is bound to), `scanner` may ingest SSH and SNMP sweeps within its scopes, `analyst` may query, `gds`
may only read aggregates. A scanner's scopes are URI subject alternative names
(urn:legacy-estate:scope:org:hmrc, ...:cidr:10.0.0.0/8, ...:method:ssh), so they are signed with the
rest of the certificate. Keys are EC P-256, written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROLES = ("agent", "scanner", "analyst", "gds", "collector")
CA_CERT, CA_KEY = "ca.pem", "ca.key"
CA_YEARS, LEAF_DAYS = 10, 825
# The longest a leaf certificate may live (the CA/Browser Forum's old ceiling); --days picks less.
MAX_LEAF_DAYS = 825
SCOPE_URN = "urn:legacy-estate:scope:"
SCOPE_KINDS = ("org", "cidr", "method")
SCOPE_METHODS = ("ssh", "snmp")


class CertError(Exception):
    """A certificate could not be issued or read; the message says which file and why."""


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_ca(directory: Path, name: str = "legacy-estate CA") -> Issued:
    """Create a CA (certificate and key) in `directory`; refuses to overwrite an existing one."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if cert_path.exists() or key_path.exists():
        raise CertError(f"{directory}: a CA already exists there; not overwriting it")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path)


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CertError(f"{directory}: cannot read the CA ({exc}); run 'estate-collector certs init' first") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{directory / CA_KEY}: not an EC key")
    return cert, key


@dataclass(frozen=True)
class Scopes:
    """What a scanner may report: organisations, address ranges and methods (empty: not limited)."""

    orgs: frozenset[str] = frozenset()
    cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    methods: frozenset[str] = frozenset()

    def empty(self) -> bool:
        return not (self.orgs or self.cidrs or self.methods)

    def describe(self) -> str:
        parts = [f"org {','.join(sorted(self.orgs))}" if self.orgs else "",
                 f"cidr {','.join(map(str, self.cidrs))}" if self.cidrs else "",
                 f"method {','.join(sorted(self.methods))}" if self.methods else ""]
        return "; ".join(p for p in parts if p) or "none"


def parse_scopes(orgs: tuple[str, ...] = (), cidrs: tuple[str, ...] = (), methods: tuple[str, ...] = ()) -> Scopes:
    """Scopes from their text forms; raises CertError naming a bad one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError as exc:
            raise CertError(f"scope cidr {cidr!r}: not a CIDR range ({exc})") from exc
    for method in methods:
        if method not in SCOPE_METHODS:
            raise CertError(f"scope method {method!r}: one of {', '.join(SCOPE_METHODS)}")
    for org in orgs:
        if not org or len(org) > 80 or not org.isprintable() or ":" in org:
            raise CertError(f"scope org {org!r}: a plain name is needed")
    return Scopes(frozenset(orgs), tuple(networks), frozenset(methods))


def _scope_names(scopes: Scopes) -> list[x509.GeneralName]:
    values = ([f"org:{o}" for o in sorted(scopes.orgs)] + [f"cidr:{c}" for c in scopes.cidrs]
              + [f"method:{m}" for m in sorted(scopes.methods)])
    return [x509.UniformResourceIdentifier(SCOPE_URN + value) for value in values]


def issue(directory: Path, name: str, role: str, hosts: tuple[str, ...] = (), days: int = LEAF_DAYS,
          scopes: Scopes | None = None) -> Issued:
    """Issue a certificate for `name` with `role` (the subject OU), signed by the CA in `directory`.

    `hosts` (DNS names or IP addresses) become subject alternative names: a collector needs the
    names agents connect to. `days` is the lifetime; `scopes` (role scanner only) become URI names.
    """
    if role not in ROLES:
        raise CertError(f"role {role!r}: one of {', '.join(ROLES)}")
    if not name or "/" in name or name.startswith("."):
        raise CertError(f"name {name!r}: a plain file name is needed")
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise CertError(f"--days {days}: a lifetime from 1 to {MAX_LEAF_DAYS} days is needed")
    if scopes is not None and not scopes.empty() and role != "scanner":
        raise CertError(f"scopes are for role scanner, not {role}")
    ca_cert, ca_key = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role)])
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    if scopes is not None:
        sans.extend(_scope_names(scopes))
    # The collector's certificate also authenticates its operators' admin calls (Admin.Snapshot) as a client.
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if role == "collector"
              else [ExtendedKeyUsageOID.CLIENT_AUTH])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path)


def role_of(pem: bytes) -> str:
    """The role (subject OU) of a PEM certificate, or '' when it has none we know."""
    cert = x509.load_pem_x509_certificate(pem)
    units = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    roles = [str(unit) for unit in units if unit in ROLES]
    return roles[0] if len(roles) == 1 else ""


def load_certificate(pem: bytes, where: str = "certificate") -> x509.Certificate:
    """One PEM certificate; raises CertError naming `where` when it is not one."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertError(f"{where}: not a PEM certificate") from exc


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex (what `openssl x509 -fingerprint -sha256` shows)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def scopes_of(cert: x509.Certificate) -> Scopes:
    """The scanner scopes written in the certificate's URI subject alternative names."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Scopes()
    found: dict[str, list[str]] = {kind: [] for kind in SCOPE_KINDS}
    for uri in names.get_values_for_type(x509.UniformResourceIdentifier):
        if not uri.startswith(SCOPE_URN):
            continue
        kind, _, value = uri[len(SCOPE_URN):].partition(":")
        if kind in found:
            found[kind].append(value)
    return parse_scopes(tuple(found["org"]), tuple(found["cidr"]), tuple(found["method"]))
