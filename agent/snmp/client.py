"""Reading one SNMP agent with pysnmp's asyncio API (v1, v2c, v3 USM): GETs and bounded walks.

One `SnmpEngine` (one UDP socket) serves every target of a sweep, so requests to many devices are
in flight at once and silent addresses time out together rather than one after another.
Values are decoded from raw bytes (values.decode_bytes), never through prettyPrint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as usm
from pysnmp.proto import errind, rfc1905

from estate.agent.snmp import detect
from estate.agent.snmp.detect import EntityRow, Facts
from estate.agent.snmp.rules import OsRule
from estate.agent.snmp.values import decode_bytes, hex_id

AUTH_PROTOCOLS = {
    "md5": usm.USM_AUTH_HMAC96_MD5,
    "sha": usm.USM_AUTH_HMAC96_SHA,
    "sha224": usm.USM_AUTH_HMAC128_SHA224,
    "sha256": usm.USM_AUTH_HMAC192_SHA256,
    "sha384": usm.USM_AUTH_HMAC256_SHA384,
    "sha512": usm.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    "des": usm.USM_PRIV_CBC56_DES,
    "aes": usm.USM_PRIV_CFB128_AES,
    "aes128": usm.USM_PRIV_CFB128_AES,
    "aes192": usm.USM_PRIV_CFB192_AES,
    "aes256": usm.USM_PRIV_CFB256_AES,
}
# errorIndication classes that mean "the agent answered but refused our v3 credentials".
AUTH_FAILURES: tuple[type[errind.ErrorIndication], ...] = (
    errind.UnknownUserName, errind.WrongDigest, errind.DecryptionError, errind.AuthenticationFailure,
    errind.AuthenticationError, errind.UnsupportedSecurityLevel, errind.UnknownSecurityName,
    errind.NotInTimeWindow, errind.UnknownEngineID,
)
MAX_REPETITIONS = 25
MAX_ENTITY_ROWS = 20_000
MAX_SOFTWARE_ROWS = 50_000
ENTITY_CANDIDATES = 4
MAX_VENDOR_OIDS = 16


@dataclass(frozen=True)
class Credentials:
    """How to authenticate: a community (v1/v2c) or a USM user (v3). Secrets never appear in repr."""

    version: str = "2c"
    community: str = field(default="", repr=False)
    user: str = ""
    auth_protocol: str = ""
    auth_key: str = field(default="", repr=False)
    priv_protocol: str = ""
    priv_key: str = field(default="", repr=False)

    def auth_data(self) -> CommunityData | UsmUserData:
        if self.version in ("1", "2c"):
            return CommunityData(self.community, mpModel=0 if self.version == "1" else 1)
        kwargs: dict[str, Any] = {}
        if self.auth_key:
            kwargs["authKey"] = self.auth_key
            kwargs["authProtocol"] = AUTH_PROTOCOLS[self.auth_protocol or "sha"]
        if self.priv_key:
            kwargs["privKey"] = self.priv_key
            kwargs["privProtocol"] = PRIV_PROTOCOLS[self.priv_protocol or "aes"]
        # authNoPriv stays possible: old gear has no privacy support, and the inventory decides.
        return UsmUserData(self.user, **kwargs)  # noqa: S509


@dataclass(frozen=True)
class Target:
    """One address to query, with its credentials and limits; `from_range` marks sweep members."""

    address: str
    credentials: Credentials
    port: int = 161
    timeout_s: float = 2.0
    retries: int = 1
    labels: tuple[tuple[str, str], ...] = ()
    from_range: bool = False


class SnmpFailure(Exception):
    """The target could not be read; `kind` is no-response, auth or error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Session:
    """Requests to one target over a shared engine; every failure becomes an SnmpFailure."""

    def __init__(self, engine: SnmpEngine, target: Target, transport: UdpTransportTarget) -> None:
        self.engine, self.target, self.transport = engine, target, transport
        self.auth = target.credentials.auth_data()
        self.context = ContextData()
        self.answered = False

    @classmethod
    async def open(cls, engine: SnmpEngine, target: Target) -> Session:
        try:
            transport = await UdpTransportTarget.create((target.address, target.port), timeout=target.timeout_s,
                                                        retries=target.retries)
        except Exception as exc:  # pysnmp raises its own PySnmpError for unresolvable names
            raise SnmpFailure("error", f"cannot resolve {target.address}: {exc}") from exc
        return cls(engine, target, transport)

    def _check(self, error_indication: Any, error_status: Any, error_index: Any) -> None:
        if error_indication:
            if isinstance(error_indication, errind.RequestTimedOut):
                tries = self.target.retries + 1
                if self.answered:
                    # It spoke a moment ago with these credentials: they are not what is wrong.
                    raise SnmpFailure("no-response", f"stopped answering (no response within "
                                      f"{self.target.timeout_s:g} s x {tries} tries) after it had answered: "
                                      "agent too slow, rate-limiting or overloaded, or packets lost")
                why = ("the community is not accepted (agents drop such requests silently)"
                       if self.target.credentials.version != "3"
                       else "SNMPv3 privacy key or protocol wrong (the agent drops what it cannot decrypt)")
                raise SnmpFailure("no-response", f"no response within {self.target.timeout_s:g} s x {tries} "
                                  f"tries: host down, port filtered, SNMP not enabled, or {why}")
            if isinstance(error_indication, AUTH_FAILURES):
                raise SnmpFailure("auth", f"SNMPv3 credentials refused: {error_indication}")
            raise SnmpFailure("error", f"SNMP error: {error_indication}")
        if error_status and int(error_status) != 0:
            raise SnmpFailure("error", f"agent answered {error_status.prettyPrint()} at index {error_index}")

    async def get(self, oids: Sequence[str]) -> dict[str, Any]:
        """GET several OIDs; missing ones are absent from the result. v1 agents fail a whole
        request for one missing OID (noSuchName), so those are retried one by one."""
        binds = [ObjectType(ObjectIdentity(o)) for o in oids]
        ind, status, index, var_binds = await get_cmd(self.engine, self.auth, self.transport, self.context,
                                                       *binds, lookupMib=False)
        if not ind and status and int(status) == 2:  # noSuchName (SNMPv1): some OID is missing
            out: dict[str, Any] = {}
            if len(oids) > 1:
                for oid in oids:
                    out.update(await self.get([oid]))
            return out
        self._check(ind, status, index)
        self.answered = True
        return {str(name): value for name, value in var_binds if not _is_missing(value)}

    async def walk(self, root: str, max_rows: int) -> tuple[list[tuple[str, Any]], bool]:
        """Walk the subtree under `root` (GETBULK, or GETNEXT on v1); returns rows and whether it was cut short.

        Stops at the end of the subtree, at max_rows, or when an agent returns an OID that does
        not increase (a broken agent would otherwise loop forever).
        """
        rows: list[tuple[str, Any]] = []
        prefix = root + "."
        current = root
        last: tuple[int, ...] = ()
        while True:
            bind = ObjectType(ObjectIdentity(current))
            if self.target.credentials.version == "1":
                ind, status, index, table = await next_cmd(self.engine, self.auth, self.transport, self.context,
                                                           bind, lookupMib=False)
                if not ind and status and int(status) == 2:  # noSuchName: end of MIB on v1
                    return rows, False
            else:
                ind, status, index, table = await bulk_cmd(self.engine, self.auth, self.transport, self.context,
                                                           0, MAX_REPETITIONS, bind, lookupMib=False)
            self._check(ind, status, index)
            self.answered = True
            if not table:
                return rows, False
            for name, value in table:
                oid = str(name)
                if not oid.startswith(prefix) or isinstance(value, rfc1905.EndOfMibView):
                    return rows, False
                key = tuple(int(p) for p in oid.split("."))
                if key <= last:
                    return rows, True
                last = key
                rows.append((oid, value))
                if len(rows) >= max_rows:
                    return rows, True
                current = oid


def _is_missing(value: Any) -> bool:
    return isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView))


def text_of(value: Any, oid: str, problems: list[tuple[str, str]], what: str) -> str:
    """Decode an OCTET STRING (or render another type) to bounded text, noting anything odd."""
    if isinstance(value, univ.OctetString):
        decoded = decode_bytes(bytes(value.asOctets()))
        if decoded.truncated:
            problems.append((f"{what} is {len(value)} bytes; kept the first {len(decoded.value)} characters", oid))
        if decoded.replaced_encoding:
            problems.append((f"{what} is not valid UTF-8; decoded as Latin-1", oid))
        return decoded.value
    problems.append((f"{what} should be an OCTET STRING but is {type(value).__name__}", oid))
    return decode_bytes(str(value.prettyPrint()).encode()).value


def oid_of(value: Any, oid: str, problems: list[tuple[str, str]]) -> str:
    """sysObjectID as dotted text; a malformed one (wrong type, not an OID) is reported."""
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    text = text_of(value, oid, problems, "sysObjectID")
    if text and not all(part.isdigit() for part in text.lstrip(".").split(".")):
        problems.append((f"sysObjectID {text[:80]!r} is not an OBJECT IDENTIFIER", oid))
        return ""
    problems.append(("sysObjectID was sent with the wrong type; used its text", oid))
    return text.lstrip(".")


async def read_device(engine: SnmpEngine, target: Target, rules: Sequence[OsRule],
                      facts: Facts | None = None) -> Facts:
    """Read the system group, engine id, ENTITY-MIB, hrSWInstalled and the detected OS's vendor objects.

    Once the system group has answered, a later failure (a timeout on a big table, an error) ends
    the reading but not the report: what was read is kept and `facts.interrupted` says why. The
    caller may pass the Facts to fill, so that what was read survives its own deadline too.
    """
    session = await Session.open(engine, target)
    facts = facts if facts is not None else Facts(address=target.address, port=target.port)
    problems = facts.problems
    system = await session.get(list(detect.SYSTEM_OIDS.values()))
    if not system:
        raise SnmpFailure("error", "agent answered but has no SNMPv2-MIB system group")
    for name, oid in detect.SYSTEM_OIDS.items():
        if oid not in system:
            continue
        if name == "sys_object_id":
            facts.sys_object_id = oid_of(system[oid], oid, problems)
        else:
            setattr(facts, name, text_of(system[oid], oid, problems, name))
    rule = detect.detect_os(rules, facts.sys_descr, facts.sys_object_id)
    step = "snmpEngineID"
    try:
        engine_id = (await session.get([detect.SNMP_ENGINE_ID])).get(detect.SNMP_ENGINE_ID)
        if isinstance(engine_id, univ.OctetString) and 5 <= len(engine_id) <= 32:
            facts.engine_id = hex_id(bytes(engine_id.asOctets()))
        elif engine_id is not None:
            problems.append(("snmpEngineID is malformed (RFC 3411: 5 to 32 octets); not used",
                             detect.SNMP_ENGINE_ID))
        # Vendor objects before the big tables: they carry the version on devices whose sysDescr does not.
        step = "vendor objects"
        if rule is not None and rule.vendor_oids():
            values = await session.get(rule.vendor_oids()[:MAX_VENDOR_OIDS])
            facts.vendor_values = {oid: text_of(v, oid, problems, f"vendor object {oid}")
                                   if isinstance(v, univ.OctetString) else str(v.prettyPrint())
                                   for oid, v in values.items()}
        step = "ENTITY-MIB"
        facts.entities = await _read_entities(session, problems)
        step = "hrSWInstalled"
        rows, cut = await session.walk(detect.HR_SW_INSTALLED_NAME, MAX_SOFTWARE_ROWS)
        facts.software = [(oid, text) for oid, value in rows
                          if (text := text_of(value, oid, problems, "hrSWInstalledName"))]
        if cut:
            problems.append((f"hrSWInstalled walk stopped after {len(rows)} rows", detect.HR_SW_INSTALLED_NAME))
    except SnmpFailure as exc:
        facts.interrupted = f"reading {step}: {exc}"
    return facts


async def _read_entities(session: Session, problems: list[tuple[str, str]]) -> list[EntityRow]:
    """Find the chassis in entPhysicalTable by class, then GET just its columns (big chassis have
    thousands of entities; walking every column of every one would be slow).

    Some agents fill entPhysicalTable without entPhysicalClass; then the entities that have a
    software revision or a model name are the candidates, in index order.
    """
    rows, cut = await session.walk(detect.ENT_PHYSICAL_CLASS, MAX_ENTITY_ROWS)
    if cut:
        problems.append((f"entPhysicalClass walk stopped after {len(rows)} rows", detect.ENT_PHYSICAL_CLASS))
    classes: dict[int, int] = {}
    for oid, value in rows:
        try:
            classes[int(oid.rsplit(".", 1)[1])] = int(value)
        except (TypeError, ValueError):
            problems.append(("entPhysicalClass is not an integer", oid))
    if classes:
        preferred = [i for i, c in classes.items() if c in (detect.ENT_CLASS_CHASSIS, detect.ENT_CLASS_STACK)]
        candidates = (preferred or list(classes))[:ENTITY_CANDIDATES]
    else:
        candidates = await _entities_without_class(session)
    entities = []
    for index in candidates:
        oids = {f"{detect.ENT_PHYSICAL_ENTRY}.{col}.{index}": attr for attr, col in detect.ENTITY_COLUMNS.items()}
        values = await session.get(list(oids))
        row = EntityRow(index=index, cls=classes.get(index, 0))
        for oid, value in values.items():
            attr = oids[oid]
            text = (text_of(value, oid, problems, f"entPhysical{attr.title()}")
                    if isinstance(value, univ.OctetString) else str(value.prettyPrint()))
            setattr(row, attr, text)
        entities.append(row)
    return entities


async def _entities_without_class(session: Session) -> list[int]:
    """Indexes of entities with a software revision (else a model name) when entPhysicalClass is absent."""
    found: list[int] = []
    for column in (detect.ENTITY_COLUMNS["software"], detect.ENTITY_COLUMNS["model"]):
        root = f"{detect.ENT_PHYSICAL_ENTRY}.{column}"
        rows, _ = await session.walk(root, ENTITY_CANDIDATES * 16)
        for oid, value in rows:
            if isinstance(value, univ.OctetString) and bytes(value.asOctets()).strip():
                index = int(oid.rsplit(".", 1)[1])
                if index not in found:
                    found.append(index)
        if found:
            break
    return found[:ENTITY_CANDIDATES]
