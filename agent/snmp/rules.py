"""SNMP detection rules (rules/snmp/*.yaml): load, validate against a schema, compile.

A rule file describes one vendor's operating systems, in the spirit of LibreNMS's os_detection:
which sysObjectID prefixes and sysDescr patterns identify each OS, and where its version, model
and serial come from (a sysDescr regex, an ENTITY-MIB column, or a vendor MIB object). The format
is documented in rules/snmp/README.md. Errors name the file, the line and the field.
Patterns are compiled with re.ASCII: word and digit classes never swallow the Latin-1 bytes that some agents
put between fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

MAX_RULE_FILE_BYTES = 1024 * 1024
OID_PATTERN = r"^[0-2](\.[0-9]+)+\.?$"
# Where a fact can come from; "oid" needs an `oid` key naming a vendor MIB object instance.
SOURCES = ("sysDescr", "sysObjectID", "sysName", "entity.model", "entity.serial", "entity.software",
           "entity.firmware", "entity.hardware", "entity.descr", "oid")
FIELDS = ("version", "model", "serial", "hardware_revision", "firmware_revision")

_SOURCE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["from"],
    "properties": {
        "from": {"enum": list(SOURCES)},
        "oid": {"type": "string", "pattern": OID_PATTERN},
        "regex": {"type": "string", "minLength": 1},
    },
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["vendor", "os"],
    "properties": {
        "vendor": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
        "description": {"type": "string"},
        "references": {"type": "array", "items": {"type": "string"}},
        "os": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "detect"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
                    "name": {"type": "string", "minLength": 1},
                    "vendor": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
                    "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "detect": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "minProperties": 1,
                            "properties": {
                                "sysObjectID": {"type": "array", "minItems": 1,
                                                "items": {"type": "string", "pattern": OID_PATTERN}},
                                "sysDescr": {"type": "array", "minItems": 1,
                                             "items": {"type": "string", "minLength": 1}},
                                "sysDescr_except": {"type": "array", "minItems": 1,
                                                    "items": {"type": "string", "minLength": 1}},
                            },
                        },
                    },
                    "extract": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {name: {"type": "array", "minItems": 1, "items": _SOURCE_SCHEMA}
                                       for name in FIELDS},
                    },
                },
            },
        },
    },
}


class RuleError(ValueError):
    """A rule file that does not load or does not fit the schema; the message names file, line and field."""


@dataclass(frozen=True)
class Source:
    """One place a fact may come from, tried in order until one gives a value."""

    kind: str
    oid: str = ""
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Condition:
    sys_object_ids: tuple[str, ...] = ()
    sys_descr: tuple[re.Pattern[str], ...] = ()
    sys_descr_except: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class OsRule:
    id: str
    name: str
    vendor: str
    priority: int
    file: str
    detect: tuple[Condition, ...]
    extract: dict[str, tuple[Source, ...]] = field(default_factory=dict)

    def vendor_oids(self) -> list[str]:
        """Vendor MIB objects to fetch once this OS is detected."""
        return [s.oid for sources in self.extract.values() for s in sources if s.kind == "oid"]


def default_rules_dir() -> Path:
    return Path(str(resources.files("estate.rules").joinpath("snmp")))


def load_rules(directory: Path | None = None) -> list[OsRule]:
    """Load every *.yaml in the directory, validated and compiled, in detection order."""
    directory = directory or default_rules_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise RuleError(f"{directory}: no SNMP rule files (*.yaml) found")
    rules: list[OsRule] = []
    for path in files:
        rules.extend(load_rule_file(path))
    seen: dict[tuple[str, str], str] = {}
    for rule in rules:
        key = (rule.vendor, rule.id)
        if key in seen:
            raise RuleError(f"{rule.file}: os {rule.id!r} of vendor {rule.vendor!r} is already defined in {seen[key]}")
        seen[key] = rule.file
    # Stable sort: file order, then position, within one priority.
    return sorted(rules, key=lambda r: r.priority)


def load_rule_file(path: Path) -> list[OsRule]:
    """Parse, validate and compile one rule file."""
    size = path.stat().st_size
    if size > MAX_RULE_FILE_BYTES:
        raise RuleError(f"{path}: {size} bytes, over the {MAX_RULE_FILE_BYTES}-byte limit for a rule file")
    text = path.read_text(encoding="utf-8")
    return parse_rule_text(text, str(path))


def parse_rule_text(text: str, name: str) -> list[OsRule]:
    """Validate and compile one rule file's text; `name` is used in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{name}: not valid YAML: {exc}") from exc
    return compile_rule_data(data, name, lambda path: _line_of(text, path))


def compile_rule_data(data: Any, name: str, line_of: Callable[[list[Any]], int]) -> list[OsRule]:
    """Validate and compile one rule file's parsed YAML; `line_of(path)` gives a node's line for errors.

    The collector's `rules check` calls this with the line table of its own YAML reader.
    """
    import jsonschema  # only the snmp command and `rules check` need it

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        path = list(error.absolute_path)
        raise RuleError(f"{name}:{line_of(path)}: {_field_name(path)}: {error.message}")
    vendor = data["vendor"]
    compiled = []
    for index, item in enumerate(data["os"]):
        where = ["os", index]
        detect = tuple(_condition(c, name, line_of, [*where, "detect", i]) for i, c in enumerate(item["detect"]))
        extract = {key: tuple(_source(s, name, line_of, [*where, "extract", key, i]) for i, s in enumerate(sources))
                   for key, sources in item.get("extract", {}).items()}
        compiled.append(OsRule(id=item["id"], name=item["name"], vendor=item.get("vendor", vendor),
                               priority=item.get("priority", 100), file=name, detect=detect, extract=extract))
    return compiled


def _condition(item: dict[str, Any], name: str, line_of: Callable[[list[Any]], int], where: list[Any]) -> Condition:
    return Condition(
        sys_object_ids=tuple(item.get("sysObjectID", ())),
        sys_descr=tuple(_regex(p, name, line_of, [*where, "sysDescr", i])
                        for i, p in enumerate(item.get("sysDescr", ()))),
        sys_descr_except=tuple(_regex(p, name, line_of, [*where, "sysDescr_except", i])
                               for i, p in enumerate(item.get("sysDescr_except", ()))),
    )


def _source(item: dict[str, Any], name: str, line_of: Callable[[list[Any]], int], where: list[Any]) -> Source:
    kind = item["from"]
    if kind == "oid" and "oid" not in item:
        raise RuleError(f"{name}:{line_of(where)}: {_field_name(where)}: from: oid needs an `oid`")
    if kind != "oid" and "oid" in item:
        raise RuleError(f"{name}:{line_of(where)}: {_field_name(where)}: `oid` is only for from: oid")
    regex = _regex(item["regex"], name, line_of, [*where, "regex"]) if "regex" in item else None
    if regex is not None and regex.groups == 0:
        raise RuleError(f"{name}:{line_of(where)}: {_field_name([*where, 'regex'])}: "
                        "needs a group (?P<value>...) that captures the value")
    return Source(kind=kind, oid=item.get("oid", "").rstrip("."), regex=regex)


def _regex(pattern: str, name: str, line_of: Callable[[list[Any]], int], where: list[Any]) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise RuleError(f"{name}:{line_of(where)}: {_field_name(where)}: bad regular expression: {exc}") from exc


def _field_name(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_of(text: str, path: Iterable[Any]) -> int:
    """1-based line of the YAML node at `path`, or of the deepest node that exists."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1
    line = 1
    for part in path:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line
