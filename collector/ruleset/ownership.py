"""Ownership kept centrally: the label vocabulary (rules/vocabulary.yaml) and ownership rules (rules/ownership/).

The vocabulary lists the label keys assets may carry and, per key, either the closed list of values
allowed (org, criticality, environment) or a pattern every value must match (owner, department,
system). Ownership rules give labels to the assets they match:

    ownership:
      - asset: machine-id:4c4c4544...        # one asset
        set: {org: hmrc, system: payroll, owner: payroll-team, criticality: high}
      - hostname: "pay-*.hmrc.internal"      # host name or FQDN, shell-style pattern, any case
        set: {system: payroll}
      - cidr: 10.20.0.0/16                   # any address of the host, or the address a sweep reached
        set: {org: hmrc}
      - label: {system: payroll}             # every label given must be what the agent sent
        set: {owner: payroll-team}

Precedence, key by key: an asset rule, then a hostname rule, then a CIDR rule (the longest prefix
first), then a label rule, then the label the agent sent; among rules of one kind, the first in file
order (files in name order). A label the agent sent is kept only when its key and value are in the
vocabulary; one refused or overridden is listed in the asset's flags, never silently kept.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, StrictStr, model_validator

from estate.collector.ruleset.rules import Located, Path_, RuleError, RuleErrors, RuleSet, Strict, _line, _validate

MATCH_KINDS = ("asset", "hostname", "cidr", "label")  # in precedence order
# Agents' label keys and values are bounded only by the report limits: flags quote at most this much.
MAX_SHOWN = 100
LabelKey = Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
LabelValue = Annotated[str, Field(strict=True, min_length=1, max_length=200)]


class VocabularyKey(Strict):
    """One label key: a closed list of values, or a pattern values must match."""

    values: Annotated[list[LabelValue], Field(min_length=1, max_length=10_000)] | None = None
    pattern: Annotated[str, Field(strict=True, min_length=1, max_length=300)] | None = None
    note: StrictStr | None = None

    @model_validator(mode="after")
    def _one(self) -> VocabularyKey:
        if (self.values is None) == (self.pattern is None):
            raise ValueError("give exactly one of values, pattern")
        return self


class Vocabulary(Strict):
    """rules/vocabulary.yaml: the label keys and values assets may carry."""

    labels: Annotated[dict[LabelKey, VocabularyKey], Field(min_length=1, max_length=200)]


class OwnershipRule(Strict):
    asset: Annotated[str, Field(strict=True, min_length=1, max_length=256)] | None = None
    hostname: Annotated[str, Field(strict=True, min_length=1, max_length=255)] | None = None
    cidr: Annotated[str, Field(strict=True, min_length=1, max_length=50)] | None = None
    label: Annotated[dict[LabelKey, LabelValue], Field(min_length=1, max_length=10)] | None = None
    set: Annotated[dict[LabelKey, LabelValue], Field(min_length=1, max_length=20)]
    note: StrictStr | None = None

    @model_validator(mode="after")
    def _one(self) -> OwnershipRule:
        if sum(v is not None for v in (self.asset, self.hostname, self.cidr, self.label)) != 1:
            raise ValueError("give exactly one of asset, hostname, cidr, label")
        return self

    def match(self) -> tuple[str, str]:
        """(kind, value) of what the rule matches, as stored in rule_ownership."""
        if self.label is not None:
            return "label", ",".join(f"{k}={v}" for k, v in sorted(self.label.items()))
        for kind in ("asset", "hostname", "cidr"):
            value = getattr(self, kind)
            if value is not None:
                return kind, str(value)
        raise AssertionError("validated: one match is given")


class OwnershipFile(Strict):
    ownership: Annotated[list[OwnershipRule], Field(min_length=1, max_length=50_000)]


@dataclass(frozen=True)
class OwnershipEntry:
    """A validated ownership rule and its index in its file (for error messages)."""

    index: int
    rule: OwnershipRule


def check_vocabulary(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    rule: Vocabulary = _validate(Vocabulary, data, lines, name)
    errors = []
    for key, spec in rule.labels.items():
        if spec.pattern is not None:
            try:
                re.compile(spec.pattern)
            except re.error as exc:
                path: Path_ = ("labels", key, "pattern")
                errors.append(RuleError(name, _line(lines, path), f"labels.{key}.pattern",
                                        f"bad regular expression {spec.pattern!r}: {exc}"))
        elif spec.values is not None and len(set(spec.values)) != len(spec.values):
            twice = sorted({v for v in spec.values if spec.values.count(v) > 1})
            errors.append(RuleError(name, _line(lines, ("labels", key, "values")), f"labels.{key}.values",
                                    f"{twice[0]!r} is listed twice"))
    if errors:
        raise RuleErrors(errors)
    return [Located(name, _line(lines, ()), rule, lines)]


def check_ownership(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    rule: OwnershipFile = _validate(OwnershipFile, data, lines, name)
    errors = []
    out = []
    for index, item in enumerate(rule.ownership):
        where: Path_ = ("ownership", index)
        if item.cidr is not None:
            try:
                ipaddress.ip_network(item.cidr, strict=False)
            except ValueError as exc:
                errors.append(RuleError(name, _line(lines, (*where, "cidr")), f"ownership[{index}].cidr",
                                        f"{item.cidr!r} is not a CIDR range: {exc}"))
        out.append(Located(name, _line(lines, where), OwnershipEntry(index, item),
                           {k[2:]: v for k, v in lines.items() if k[:2] == where}))
    if errors:
        raise RuleErrors(errors)
    return out


@dataclass(frozen=True)
class LabelVocabulary:
    """The vocabulary in a form quick to check values against; None-free (an empty one allows nothing)."""

    closed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    patterns: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    def problem(self, key: str, value: str) -> str | None:
        """Why key=value is not in the vocabulary, or None when it is."""
        if key in self.closed:
            if value in self.closed[key]:
                return None
            near = [v for v in self.closed[key] if v.lower() == value.lower()]
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            return (f"{value[:MAX_SHOWN]!r} is not in the vocabulary for {key}{hint}; "
                    f"allowed: {', '.join(sorted(self.closed[key]))}")
        if key in self.patterns:
            if self.patterns[key].fullmatch(value):
                return None
            return (f"{value[:MAX_SHOWN]!r} does not match the vocabulary pattern for {key} "
                    f"({self.patterns[key].pattern})")
        keys = ", ".join(sorted([*self.closed, *self.patterns]))
        return f"key {key[:MAX_SHOWN]!r} is not in the vocabulary (keys: {keys})"


def vocabulary_keys(ruleset: RuleSet) -> dict[str, tuple[VocabularyKey, str, int]]:
    """Each label key of the vocabularies in force, from the highest layer that defines it: (spec, file, line).

    An organisation's vocabulary.yaml (a --rules-dir layer) replaces the keys it lists, such as its
    own list of org values; keys it does not list keep the shipped definition.
    """
    keys: dict[str, tuple[VocabularyKey, str, int]] = {}
    for loc in ruleset.other.get("vocabulary", []):  # lowest layer first
        for key, spec in loc.rule.labels.items():
            keys[key] = (spec, loc.file, loc.lines.get(("labels", key), loc.line))
    return keys


def vocabulary_in_force(ruleset: RuleSet) -> LabelVocabulary | None:
    """The label vocabulary of the rules in force (layers merged by key), or None when there is none."""
    keys = vocabulary_keys(ruleset)
    if not keys:
        return None
    specs = {key: spec for key, (spec, _, _) in keys.items()}
    return LabelVocabulary({k: frozenset(v.values) for k, v in specs.items() if v.values is not None},
                           {k: re.compile(v.pattern) for k, v in specs.items() if v.pattern is not None})


def cross_check_labels(ruleset: RuleSet) -> list[RuleError]:
    """Every label value a rule file uses (ownership set/label, scoring adjustments) is in the vocabulary."""
    vocabulary = vocabulary_in_force(ruleset)
    if vocabulary is None:
        return []
    errors = []
    for loc in ruleset.other.get("ownership", []):
        index, rule = loc.rule.index, loc.rule.rule
        for part, labels in (("set", rule.set), ("label", rule.label or {})):
            for key, value in labels.items():
                problem = vocabulary.problem(key, value)
                if problem:
                    errors.append(RuleError(loc.file, loc.lines.get((part, key), loc.line),
                                            f"ownership[{index}].{part}.{key}", problem))
    if ruleset.scoring is not None:
        for index, adjustment in enumerate(ruleset.scoring.rule.adjustments):
            if adjustment.when.label is None:
                continue
            for value in adjustment.when.values or ():
                problem = vocabulary.problem(adjustment.when.label, value)
                if problem:
                    errors.append(RuleError(ruleset.scoring.file, _scoring_line(ruleset, index),
                                            f"adjustments[{index}].when.values", problem))
    return errors


def _scoring_line(ruleset: RuleSet, index: int) -> int:
    assert ruleset.scoring is not None
    return ruleset.scoring.lines.get(("adjustments", index, "when", "values"), ruleset.scoring.line)


def rule_rows(ruleset: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """The vocabulary and ownership rules as rows of rule_vocabulary and rule_ownership."""
    rows: dict[str, list[dict[str, Any]]] = {"rule_vocabulary": [], "rule_ownership": []}
    for key, (spec, file, line) in vocabulary_keys(ruleset).items():
        rows["rule_vocabulary"].append({"key": key, "allowed": spec.values, "pattern": spec.pattern,
                                        "file": file, "line": line})
    for ord_, loc in enumerate(ruleset.other.get("ownership", [])):
        kind, value = loc.rule.rule.match()
        for label, text in loc.rule.rule.set.items():
            rows["rule_ownership"].append({"ord": ord_, "match_kind": kind, "match_value": value, "label": label,
                                           "value": text, "file": loc.file, "line": loc.line})
    return rows


# --- resolving an asset's effective labels ---------------------------------------------------------

Address = tuple[int, int]  # (IP version, address as an integer): quick to test against a network


def parse_address(text: str) -> Address | None:
    """An IPv4 or IPv6 address (a /prefix or %zone after it is ignored), or None for anything else."""
    text = text.split("/", 1)[0].split("%", 1)[0].strip("[]")
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            return version, int.from_bytes(socket.inet_pton(family, text), "big")
        except OSError:
            continue
    return None


@dataclass(frozen=True)
class Rule:
    """One stored ownership rule (its rule_ownership rows), ready to match."""

    ord: int
    kind: str
    value: str
    labels: Mapping[str, str]
    where: str  # ownership FILE:LINE
    network: tuple[int, int, int] | None = None  # cidr rules: (version, network, mask)

    @classmethod
    def of(cls, ord_: int, kind: str, value: str, labels: Mapping[str, str], where: str) -> Rule:
        network = None
        if kind == "cidr":
            net = ipaddress.ip_network(value, strict=False)
            network = (net.version, int(net.network_address), int(net.netmask))
        return cls(ord_, kind, value, labels, where, network)


@dataclass(frozen=True)
class AssetFacts:
    """What ownership rules match on, from an asset's current report."""

    asset_id: str
    hostnames: tuple[str, ...]
    addresses: tuple[Address, ...]
    agent_labels: Mapping[str, str]


@dataclass(frozen=True)
class Resolved:
    labels: dict[str, str]
    sources: dict[str, str]
    flags: list[str]


def _matches(rule: Rule, facts: AssetFacts) -> bool:
    if rule.kind == "asset":
        return rule.value == facts.asset_id
    if rule.kind == "hostname":
        pattern = rule.value.lower()
        return any(fnmatch.fnmatchcase(name.lower(), pattern) for name in facts.hostnames if name)
    if rule.network is not None:
        version, network, mask = rule.network
        return any(v == version and a & mask == network for v, a in facts.addresses)
    wanted = dict(pair.split("=", 1) for pair in rule.value.split(","))
    return all(facts.agent_labels.get(k) == v for k, v in wanted.items())


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    """Rules in precedence order: by kind, CIDR rules longest prefix first, then file order."""
    def key(rule: Rule) -> tuple[int, int, int]:
        prefix = -ipaddress.ip_network(rule.value, strict=False).prefixlen if rule.kind == "cidr" else 0
        return MATCH_KINDS.index(rule.kind), prefix, rule.ord

    return sorted(rules, key=key)


def resolve(facts: AssetFacts, rules: list[Rule], vocabulary: LabelVocabulary | None) -> Resolved:
    """The effective labels of one asset: ownership rules (in the order given) over its vocabulary-valid labels."""
    labels: dict[str, str] = {}
    sources: dict[str, str] = {}
    for rule in rules:
        if _matches(rule, facts):
            for key, value in rule.labels.items():
                if key not in labels:
                    labels[key], sources[key] = value, f"ownership {rule.where} ({rule.kind} {rule.value})"
    flags = []
    for key, value in sorted(facts.agent_labels.items()):
        if key in labels:
            if labels[key] != value:
                flags.append(f"{key}={value[:MAX_SHOWN]} from the agent: overridden by {sources[key]}")
            continue
        problem = vocabulary.problem(key, value) if vocabulary is not None else None
        if problem:
            flags.append(f"{key[:MAX_SHOWN]}={value[:MAX_SHOWN]} from the agent: refused: {problem}")
            continue
        labels[key], sources[key] = value, "agent"
    return Resolved(labels, sources, flags)
