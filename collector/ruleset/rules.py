"""Rule files: YAML read safely with line numbers, validated per kind, checked across files.

A rule folder holds one sub-folder per kind of rule (lifecycles/, matchers/, assessments/,
exceptions/) and scoring.yaml. RULE_KINDS maps each folder to its validator, so a new kind (for
example the SNMP detection rules in rules/snmp/) is hooked in with one line. Every error names
the file, the line and the field; `load_rules` returns everything or raises RuleErrors with all
the errors found, so a bad file never half-replaces the rules in force.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import re
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator
from pydantic import ValidationError as PydanticError

MAX_RULE_FILE_BYTES = 2 * 1024 * 1024
MAX_RULE_FILES = 5_000
MAX_YAML_NODES = 200_000
MAX_YAML_DEPTH = 32
SLUG = r"^[a-z0-9][a-z0-9._+-]{0,79}$"

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in one rule file: where it is (file, line, field) and what is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RuleErrors(Exception):
    """Rule files that cannot be used; nothing from them was loaded."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = sorted(errors)
        super().__init__("\n".join(map(str, self.errors)))


# --- reading YAML ------------------------------------------------------------------------------

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMPS = yaml.constructor.SafeConstructor()


def read_yaml(path: Path, name: str) -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML file as plain data; returns it and the line of every key and item.

    Refuses files over MAX_RULE_FILE_BYTES, tags that build objects (the safe loader knows only
    plain types), anchors and aliases (a few lines of aliases can expand to gigabytes) and
    documents nested deeper or larger than the bounds.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise RuleErrors([RuleError(name, 0, "", "not a regular file (a device, FIFO or directory): refused")])
        size = info.st_size
        if size > MAX_RULE_FILE_BYTES:
            raise RuleErrors([RuleError(name, 0, "", f"file is {size} bytes, over the limit of "
                                                     f"{MAX_RULE_FILE_BYTES} bytes")])
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RULE_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleErrors([RuleError(name, 0, "", f"cannot read: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleErrors([RuleError(name, 0, "", f"not UTF-8 text (byte {exc.start})")]) from exc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RuleErrors([RuleError(name, 1, "", "the file is empty")])
        lines: dict[Path_, int] = {}
        try:
            _walk(node, (), lines, set(), 0, name)
        except RuleErrors as exc:
            if "aliases" in str(exc):  # the walk sees the anchored node: find the alias's own line
                alias = next(e for e in yaml.parse(text, Loader=_Loader) if isinstance(e, yaml.AliasEvent))
                raise RuleErrors([RuleError(name, int(getattr(alias.start_mark, "line", -1)) + 1, exc.errors[0].field,
                                            exc.errors[0].message)]) from None
            raise
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "constructor for the tag" in str(problem):
            problem = f"{problem}: tags that build objects are not allowed, rule files are plain data"
        line = int(getattr(mark, "line", -1)) + 1
        raise RuleErrors([RuleError(name, line, "", f"invalid YAML: {problem}")]) from exc
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], seen: set[int], depth: int, name: str) -> None:
    line = node.start_mark.line + 1
    if id(node) in seen:
        raise RuleErrors([RuleError(name, line, _field(path), "anchors and aliases are not allowed")])
    seen.add(id(node))
    if len(seen) > MAX_YAML_NODES or depth > MAX_YAML_DEPTH:
        raise RuleErrors([RuleError(name, line, _field(path),
                                    f"document too large or deep (limits: {MAX_YAML_NODES} nodes, "
                                    f"depth {MAX_YAML_DEPTH})")])
    lines[path] = line
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                raise RuleErrors([RuleError(name, key.start_mark.line + 1, _field(path),
                                            "merge keys (<<) are not allowed")])
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            _walk(value, child, lines, seen, depth + 1, name)
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, seen, depth + 1, name)
    elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
        # Looks like a date but may not be one (2027-02-30): PyYAML raises a bare ValueError later.
        try:
            _TIMESTAMPS.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise RuleErrors([RuleError(name, line, _field(path), f"not a real date: {node.value} ({exc})")]) from None


def _field(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(lines: dict[Path_, int], path: Path_) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 0


# --- schemas -----------------------------------------------------------------------------------

def _iso_date(value: Any) -> Any:
    """Dates are YAML dates (2024-06-30) or ISO strings; datetimes and numbers are refused."""
    if isinstance(value, dt.datetime):
        raise ValueError("a date without a time is expected (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    raise ValueError(f"a date (YYYY-MM-DD) is expected, not {value!r}")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Milestone = StrictBool | IsoDate
Slug = Annotated[str, Field(strict=True, pattern=SLUG)]
Text = Annotated[str, Field(strict=True, min_length=1, max_length=2000)]
Url = Annotated[str, Field(strict=True, pattern=r"^https?://\S+$", max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Identifier(Strict):
    purl: Annotated[str, Field(pattern=r"^pkg:[a-z]+/\S+$")] | None = None
    cpe: Annotated[str, Field(pattern=r"^cpe:(/|2\.3:)[aho]:\S+$")] | None = None
    repology: StrictStr | None = None

    @model_validator(mode="after")
    def _one(self) -> Identifier:
        if sum(v is not None for v in (self.purl, self.cpe, self.repology)) != 1:
            raise ValueError("give exactly one of purl, cpe, repology")
        return self


class Release(Strict):
    """One release cycle, with endoflife.date's field names (booleans where a date is not known)."""

    releaseCycle: Annotated[str, Field(min_length=1, max_length=80)]
    releaseLabel: StrictStr | None = None
    codename: StrictStr | None = None
    # Optional for hand-written cycles whose first release day is not documented.
    releaseDate: IsoDate | None = None
    eoas: Milestone | None = None
    eol: Milestone
    eoes: Milestone | None = None
    lts: Milestone | None = None
    latest: StrictStr | None = None
    latestReleaseDate: IsoDate | None = None
    discontinued: Milestone | None = None
    link: Url | None = None


class Imported(Strict):
    source: StrictStr
    commit: StrictStr
    date: IsoDate
    licence: Text


class Lifecycle(Strict):
    """A product's lifecycle: one file per product, in the shape of endoflife.date."""

    product: Slug
    title: Text
    category: StrictStr | None = None
    tags: StrictStr | None = None
    identifiers: list[Identifier] = []
    versionCommand: StrictStr | None = None
    sources: Annotated[list[Url], Field(min_length=1, max_length=50)]
    notes: Text | None = None
    imported: Imported | None = None
    releases: Annotated[list[Release], Field(min_length=1, max_length=2000)]


class Supplement(Strict):
    """Cycles added to an imported product's lifecycle: what endoflife.date lacks (AIX 6.1, Junos 22.x).

    Kept apart from the imported file so that a refresh from endoflife.date never loses them, and a
    refresh that starts giving one of these cycles itself is an error that names both files.
    """

    product: Slug
    sources: Annotated[list[Url], Field(min_length=1, max_length=50)]
    notes: Text | None = None
    releases: Annotated[list[Release], Field(min_length=1, max_length=2000)]


MatcherKind = Literal["os", "kernel", "package", "software", "device"]
# "auto": a package is read by its manager's scheme (dpkg, rpm, apk); anything else as written.
Scheme = Literal["auto", "dpkg", "rpm", "apk", "generic"]


class EditionCase(Strict):
    regex: Annotated[str, Field(max_length=300)]
    then: Annotated[str, Field(max_length=40)]


class EditionRule(Strict):
    """Replaces `{edition}` in a mapped cycle: `then` when the edition matches `regex`, else `otherwise`.

    `cases` are tried first, in order: editions with a lifecycle of their own (Windows LTSC's
    EnterpriseS is an Enterprise edition, but is supported for years longer).
    """

    regex: Annotated[str, Field(max_length=300)]
    then: Annotated[str, Field(max_length=40)]
    otherwise: Annotated[str, Field(max_length=40)]
    cases: Annotated[list[EditionCase], Field(max_length=20)] = []


class CycleRule(Strict):
    # version: OperatingSystem.version_id for an OS; full_version: OperatingSystem.version;
    # model: Device.model (an SNMP device's generation: "Integrated Lights-Out 4", "PowerEdge R720").
    source: Literal["version", "name", "build", "full_version", "model"] = "version"
    regex: Annotated[str, Field(max_length=300)] | None = None
    map: Annotated[dict[str, str], Field(max_length=500)] | None = None
    edition: EditionRule | None = None


class Matcher(Strict):
    """How one kind of observation maps to a product and its cycle."""

    id: Slug
    kind: MatcherKind
    product: Slug
    ns: Annotated[list[StrictStr], Field(min_length=1, max_length=50)] | None = None
    names: Annotated[list[StrictStr], Field(min_length=1, max_length=500)] | None = None
    name_regex: Annotated[str, Field(max_length=300)] | None = None
    scheme: Scheme = "auto"
    cycle: CycleRule = CycleRule()
    priority: StrictInt = 0
    note: Text | None = None

    @model_validator(mode="after")
    def _names(self) -> Matcher:
        if (self.names is None) == (self.name_regex is None):
            raise ValueError("give exactly one of names, name_regex")
        if self.cycle.source == "model" and self.kind != "device":
            raise ValueError("cycle source 'model' is only for kind 'device' (only SNMP devices report a model)")
        return self


class MatcherFile(Strict):
    matchers: Annotated[list[Matcher], Field(min_length=1, max_length=5000)]


Score6 = Annotated[int, Field(strict=True, ge=1, le=6)]
Score5 = Annotated[int, Field(strict=True, ge=1, le=5)]


class Criterion(Strict):
    score: StrictInt
    note: Text | None = None


class Assessment(Strict):
    """A system owner's assessment of the criteria other than L1 for one system (label system=...)."""

    system: Slug
    owner: Text
    assessed: IsoDate
    likelihood: dict[Annotated[str, Field(pattern=r"^L[2-9]$")], Criterion] = {}
    impact: dict[Annotated[str, Field(pattern=r"^C[1-9]$")], Criterion] = {}


class Scope(Strict):
    asset: Annotated[str, Field(strict=True, min_length=1, max_length=256)] | None = None
    system: Slug | None = None
    product: Slug | None = None
    cycle: StrictStr | None = None

    @model_validator(mode="after")
    def _some(self) -> Scope:
        if self.asset is None and self.system is None and self.product is None:
            raise ValueError("give at least one of asset, system, product")
        if self.cycle is not None and self.product is None:
            raise ValueError("cycle needs product")
        return self


class RiskException(Strict):
    """Accepted risk: findings in scope do not count towards L1 until the expiry date."""

    id: Slug
    scope: Scope
    owner: Text
    reason: Text
    expires: IsoDate


class ExceptionFile(Strict):
    exceptions: Annotated[list[RiskException], Field(min_length=1, max_length=5000)]


Pattern = Annotated[str, Field(strict=True, min_length=1, max_length=300)]
Patterns = Annotated[list[Pattern], Field(max_length=50)]
PhaseEnd = Literal["eoas", "eol", "eoes"]


class Signs(Strict):
    """What marks a package as shipped by one side: regular expressions (RE2) searched in each field."""

    origins: Patterns = []        # Package.origin: dpkg Origin, rpm Vendor, Windows Publisher
    maintainers: Patterns = []    # Package.maintainer: dpkg Maintainer, rpm Packager, apk maintainer
    distributions: Patterns = []  # Package.distribution: the rpm DISTRIBUTION tag
    versions: Patterns = []       # markers in the version: +deb12u1, .el8, ubuntu1, .amzn2, -r0


class Phase(Strict):
    """A phase of the OS release during which the vendor patches its packages, ending at a milestone."""

    name: Text
    ends: PhaseEnd


class CoverageLimit(Strict):
    """A rule that ends the vendor's coverage of some of its packages earlier than the release's."""

    id: Slug
    note: Text
    sources: Annotated[list[Url], Field(min_length=1, max_length=20)]
    os_cycles: Annotated[list[StrictStr], Field(min_length=1, max_length=100)] | None = None
    components: Annotated[list[StrictStr], Field(min_length=1, max_length=20)] | None = None
    product: Slug | None = None
    cycles: Annotated[list[StrictStr], Field(min_length=1, max_length=200)] | None = None
    until: IsoDate | None = None
    until_phase: PhaseEnd | None = None
    # The product's own lifecycle is the vendor's statement for these packages (Red Hat's build of
    # OpenJDK, RHEL Application Streams written as lifecycles): its end of life ends the coverage.
    until_lifecycle: Literal[True] | None = None

    @model_validator(mode="after")
    def _shape(self) -> CoverageLimit:
        if sum(v is not None for v in (self.until, self.until_phase, self.until_lifecycle)) != 1:
            raise ValueError("give exactly one of until (a date), until_phase (eoas, eol or eoes), "
                             "until_lifecycle (true)")
        if self.until_lifecycle and self.product is None:
            raise ValueError("until_lifecycle needs product")
        if self.components is None and self.product is None:
            raise ValueError("give components or product (with cycles): what the limit applies to")
        if self.cycles is not None and self.product is None:
            raise ValueError("cycles needs product")
        return self


class Distribution(Strict):
    """Who maintains a package decides: how long an OS vendor patches the packages it ships."""

    id: Slug
    title: Text
    product: Slug                  # lifecycle of the OS release whose phases cover the packages
    os_ids: Annotated[list[StrictStr], Field(min_length=1, max_length=20)]   # OperatingSystem.id values
    managers: Annotated[list[StrictStr], Field(min_length=1, max_length=5)]  # Package.manager values
    sources: Annotated[list[Url], Field(min_length=1, max_length=20)]
    phases: Annotated[list[Phase], Field(min_length=1, max_length=3)]
    vendor: Signs
    third_party: Signs = Signs()
    # What a package with no sign either way is taken to be.
    unmarked: Literal["vendor", "third_party"]
    # Software found outside the package manager under these paths belongs to the OS packages.
    managed_paths: Pattern | None = None
    # Kernel releases (uname -r) the vendor builds; a running kernel that does not match is someone else's.
    kernels: Pattern | None = None
    limits: Annotated[list[CoverageLimit], Field(max_length=2000)] = []
    notes: Text | None = None


class CriterionDef(Strict):
    title: Text


class StatusRules(Strict):
    eol_soon_days: Annotated[int, Field(strict=True, ge=0, le=3650)]
    # An asset not seen for this long is stale: out of current risk, still listed (view asset_status).
    stale_after_days: Annotated[int, Field(strict=True, ge=1, le=3650)] = 30


class L1Step(Strict):
    within_days: Annotated[int, Field(strict=True, ge=0, le=36500)]
    score: Score6


class L1Rules(Strict):
    eol: Score6
    extended: Score6
    steps: list[L1Step]
    supported: Score6
    unknown: Score6
    all_accepted: Score6


class Condition(Strict):
    exposed: StrictBool | None = None
    label: Slug | None = None
    values: list[StrictStr] | None = None

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if (self.exposed is None) == (self.label is None) or (self.label is None) != (self.values is None):
            raise ValueError("give either exposed, or label with values")
        return self


class Adjustment(Strict):
    name: Slug
    when: Condition
    side: Literal["likelihood", "impact"]
    add: Annotated[float, Field(strict=True, ge=-5, le=5)]


class Band(Strict):
    name: Slug
    min_score: Annotated[float, Field(strict=True, ge=0, le=30)]


class Side(Strict):
    criteria: dict[Annotated[str, Field(pattern=r"^[LC][1-9]$")], CriterionDef]
    max_score: Annotated[int, Field(strict=True, ge=1, le=10)]
    default_score: Annotated[float, Field(strict=True, ge=1, le=10)]


class Scoring(Strict):
    """rules/scoring.yaml: every weight and threshold the scoring SQL uses."""

    status: StatusRules
    likelihood: Side
    impact: Side
    l1: L1Rules
    adjustments: list[Adjustment] = []
    bands: Annotated[list[Band], Field(min_length=1)]


# --- the rule set ------------------------------------------------------------------------------

@dataclass
class Located:
    """A validated rule with the file and line it came from."""

    file: str
    line: int
    rule: Any
    lines: dict[Path_, int] = field(default_factory=dict)


@dataclass
class RuleSet:
    lifecycles: list[Located] = field(default_factory=list)
    matchers: list[Located] = field(default_factory=list)
    assessments: list[Located] = field(default_factory=list)
    exceptions: list[Located] = field(default_factory=list)
    distributions: list[Located] = field(default_factory=list)
    scoring: Located | None = None
    # Rules of kinds registered in RULE_KINDS that scoring does not use itself, by kind.
    other: dict[str, list[Located]] = field(default_factory=dict)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, sha256)
    digest: str = ""
    # Rules a local layer replaced, for people: "matchers 'os-debian': /etc/.../x.yaml replaces matchers/os.yaml".
    overrides: list[str] = field(default_factory=list)


# Location parts pydantic adds for the member of a union that failed: not fields of the file.
_UNION_TAGS = re.compile(r"^(bool|str|int|float|date|list|dict|none|literal\[.*|function-\w+\[.*|is-instance\[.*)$")


def _validate(model: type[BaseModel], data: Any, lines: dict[Path_, int], name: str) -> Any:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        merged: dict[tuple[int, str], list[str]] = {}
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAGS.match(p)))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown field (allowed: {', '.join(sorted(_fields(model, loc[:-1])))})"
            elif err["type"] == "string_type" and isinstance(err.get("input"), (int, float)):
                message += f" (got {err['input']!r}: quote it)"
            merged.setdefault((_line(lines, loc), _field(loc)), []).append(message)
        # A union (a date or a boolean) fails once per member: one error saying what would do.
        raise RuleErrors([RuleError(name, line, where, " or ".join(dict.fromkeys(messages)))
                          for (line, where), messages in merged.items()]) from exc


def _fields(model: type[BaseModel], loc: Path_) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return list(getattr(current, "model_fields", {}))
        current = _model_in(info.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _check_releases(rule: Lifecycle | Supplement, lines: dict[Path_, int], name: str) -> list[Located]:
    """A lifecycle's (or a supplement's) own checks: its file name, no cycle twice, dates in order."""
    errors = []
    if Path(name).stem != rule.product:
        errors.append(RuleError(name, _line(lines, ("product",)), "product",
                                f"the file must be named {rule.product}.yaml"))
    seen: dict[str, int] = {}
    for index, release in enumerate(rule.releases):
        where = ("releases", index)
        cycle = release.releaseCycle.lower()
        if cycle in seen:
            errors.append(RuleError(name, _line(lines, (*where, "releaseCycle")), _field((*where, "releaseCycle")),
                                    f"cycle {release.releaseCycle!r} is already given at releases[{seen[cycle]}]"))
        seen[cycle] = index
        errors.extend(_dates_in_order(release, where, lines, name))
    if errors:
        raise RuleErrors(errors)
    return [Located(name, _line(lines, ()), rule, lines)]


def check_lifecycle(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    return _check_releases(_validate(Lifecycle, data, lines, name), lines, name)


def check_supplement(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    return _check_releases(_validate(Supplement, data, lines, name), lines, name)


# Milestones in the order they must fall; a boolean (date unknown) is not compared.
DATE_ORDER = ("releaseDate", "eoas", "eol", "eoes")


def _dates_in_order(release: Release, where: Path_, lines: dict[Path_, int], name: str) -> list[RuleError]:
    errors = []
    dated = [(key, getattr(release, key)) for key in DATE_ORDER if isinstance(getattr(release, key), dt.date)]
    for (before, early), (after, late) in itertools.pairwise(dated):
        if late < early:
            errors.append(RuleError(name, _line(lines, (*where, after)), _field((*where, after)),
                                    f"{after} {late} is before {before} {early}"))
    return errors


def check_matchers(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    rule: MatcherFile = _validate(MatcherFile, data, lines, name)
    errors = []
    for index, matcher in enumerate(rule.matchers):
        edition = matcher.cycle.edition
        patterns = [("name_regex", matcher.name_regex), ("cycle.regex", matcher.cycle.regex),
                    ("cycle.edition.regex", edition.regex if edition else None)]
        cases = edition.cases if edition else []
        patterns += [(f"cycle.edition.cases.{i}.regex", case.regex) for i, case in enumerate(cases)]
        for key, pattern in patterns:
            if pattern is None:
                continue
            path: Path_ = ("matchers", index, *(int(k) if k.isdigit() else k for k in key.split(".")))
            problem = re2_problem(pattern)
            if problem is not None:
                errors.append(RuleError(name, _line(lines, path), _field(path), problem))
                continue
            if key == "cycle.regex" and capture_groups(pattern) != 1:
                errors.append(RuleError(name, _line(lines, path), _field(path),
                                        "needs exactly one capture group: the cycle"))
    if errors:
        raise RuleErrors(errors)
    return [Located(name, _line(lines, ("matchers", i)), m) for i, m in enumerate(rule.matchers)]


_RE2 = threading.local()


def re2_problem(pattern: str) -> str | None:
    """Why DuckDB's regular expression engine (RE2), which runs the rules, refuses pattern; None if it compiles.

    Python's `re` accepts what RE2 does not (back-references, look-arounds): a pattern checked with it
    would pass `rules check` and then fail every scoring run.
    """
    import duckdb

    con = getattr(_RE2, "con", None)
    if con is None:
        con = _RE2.con = duckdb.connect(":memory:")
    try:
        con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        reason = str(exc).removeprefix("Invalid Input Error: ")
        return f"not a regular expression DuckDB (RE2) can run: {reason}"
    return None


def capture_groups(pattern: str) -> int:
    """Number of capturing groups in a pattern RE2 accepted (Python's parser counts; RE2-only syntax by hand)."""
    try:
        return re.compile(pattern).groups
    except re.error:
        return len(re.findall(r"(?<!\\)\((?!\?)|\(\?P?<[A-Za-z_]", pattern))


def check_distribution(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    rule: Distribution = _validate(Distribution, data, lines, name)
    errors = []
    if Path(name).stem != rule.id:
        errors.append(RuleError(name, _line(lines, ("id",)), "id", f"the file must be named {rule.id}.yaml"))
    patterns: list[tuple[Path_, str]] = []
    for side in ("vendor", "third_party"):
        signs: Signs = getattr(rule, side)
        for kind in ("origins", "maintainers", "distributions", "versions"):
            patterns.extend(((side, kind, i), p) for i, p in enumerate(getattr(signs, kind)))
    for key in ("managed_paths", "kernels"):
        if getattr(rule, key) is not None:
            patterns.append(((key,), getattr(rule, key)))
    for path, pattern in patterns:
        problem = re2_problem(pattern)
        if problem is not None:
            errors.append(RuleError(name, _line(lines, path), _field(path), problem))
    ends = [phase.ends for phase in rule.phases]
    if ends != sorted(set(ends), key=DATE_ORDER.index):
        errors.append(RuleError(name, _line(lines, ("phases",)), "phases",
                                "each phase ends at a later milestone than the one before (eoas, eol, eoes)"))
    ids: dict[str, int] = {}
    for index, limit in enumerate(rule.limits):
        if limit.id in ids:
            errors.append(RuleError(name, _line(lines, ("limits", index, "id")), _field(("limits", index, "id")),
                                    f"limit {limit.id!r} is already given at limits[{ids[limit.id]}]"))
        ids[limit.id] = index
    if errors:
        raise RuleErrors(errors)
    return [Located(name, _line(lines, ()), rule, lines)]


def check_assessment(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    return [Located(name, _line(lines, ()), _validate(Assessment, data, lines, name), lines)]


def check_exceptions(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    rule: ExceptionFile = _validate(ExceptionFile, data, lines, name)
    return [Located(name, _line(lines, ("exceptions", i)), e) for i, e in enumerate(rule.exceptions)]


def check_scoring(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    rule: Scoring = _validate(Scoring, data, lines, name)
    errors = []
    for side_name, side in (("likelihood", rule.likelihood), ("impact", rule.impact)):
        if side.default_score > side.max_score:
            path = (side_name, "default_score")
            errors.append(RuleError(name, _line(lines, path), _field(path), "is above max_score"))
    steps = [s.within_days for s in rule.l1.steps]
    if steps != sorted(steps):
        errors.append(RuleError(name, _line(lines, ("l1", "steps")), "l1.steps", "must be in increasing within_days"))
    names = [band.name for band in rule.bands]
    thresholds = [band.min_score for band in rule.bands]
    if len(set(names)) != len(names) or len(set(thresholds)) != len(thresholds):
        errors.append(RuleError(name, _line(lines, ("bands",)), "bands",
                                "each band needs its own name and its own min_score"))
    if min(thresholds) > 1:  # the lowest possible overall score is 1 x 1
        errors.append(RuleError(name, _line(lines, ("bands",)), "bands",
                                f"no band for scores below {min(thresholds):g}: the lowest band needs min_score 0"))
    # Unknown is a gap, not a pass: a finding nobody can date never scores below one still supported.
    best_known = max([rule.l1.supported, *(step.score for step in rule.l1.steps)])
    if rule.l1.unknown < best_known:
        errors.append(RuleError(name, _line(lines, ("l1", "unknown")), "l1.unknown",
                                f"{rule.l1.unknown} is below {best_known}, the L1 a supported finding can get: "
                                "an unknown lifecycle must never score as safer than a known one"))
    if "L1" not in rule.likelihood.criteria:
        errors.append(RuleError(name, _line(lines, ("likelihood", "criteria")), "likelihood.criteria",
                                "must define L1 (filled from the lifecycle dates)"))
    if errors:
        raise RuleErrors(errors)
    return [Located(name, 1, rule, lines)]


_SNMP_ERROR = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<field>[^:]*): (?P<message>.*)$", re.DOTALL)


def check_snmp_detection(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    """rules/snmp/: the agent's SNMP detection rules, checked by the agent's own compiler."""
    from estate.agent.snmp import rules as snmp_rules

    try:
        compiled = snmp_rules.compile_rule_data(data, name, lambda path: _line(lines, tuple(path)))
    except snmp_rules.RuleError as exc:
        match = _SNMP_ERROR.match(str(exc))
        if match is None:
            raise RuleErrors([RuleError(name, 0, "", str(exc))]) from exc
        raise RuleErrors([RuleError(name, int(match["line"]), match["field"], match["message"])]) from exc
    return [Located(name, _line(lines, ("os", i)), rule) for i, rule in enumerate(compiled)]


def check_vocabulary(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    """rules/vocabulary.yaml: label keys and values (ruleset/ownership.py)."""
    from estate.collector.ruleset import ownership

    return ownership.check_vocabulary(data, lines, name)


def check_ownership(data: Any, lines: dict[Path_, int], name: str) -> list[Located]:
    """rules/ownership/: central ownership labels (ruleset/ownership.py)."""
    from estate.collector.ruleset import ownership

    return ownership.check_ownership(data, lines, name)


Checker = Callable[[Any, dict[Path_, int], str], list[Located]]


@dataclass(frozen=True)
class RuleKind:
    """One kind of rule file: where its files are and how each is checked."""

    attr: str
    check: Checker


# Folder (or file) under the rules directory -> its kind. Add a kind here; nothing else to change.
RULE_KINDS: dict[str, RuleKind] = {
    "lifecycles": RuleKind("lifecycles", check_lifecycle),
    "lifecycle-supplements": RuleKind("supplements", check_supplement),
    "matchers": RuleKind("matchers", check_matchers),
    "assessments": RuleKind("assessments", check_assessment),
    "exceptions": RuleKind("exceptions", check_exceptions),
    "distributions": RuleKind("distributions", check_distribution),
    "scoring.yaml": RuleKind("scoring", check_scoring),
    "snmp": RuleKind("snmp", check_snmp_detection),
    "vocabulary.yaml": RuleKind("vocabulary", check_vocabulary),
    "ownership": RuleKind("ownership", check_ownership),
}


def default_rules_dir() -> Path:
    return Path(str(resources.files("estate.rules")))


def rule_files(root: Path) -> Iterator[tuple[str, Path, RuleKind]]:
    """Every rule file a registered kind owns, as (name relative to root, path, kind)."""
    count = 0
    for where, kind in RULE_KINDS.items():
        base = root / where
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml"))
        for path in paths:
            count += 1
            if count > MAX_RULE_FILES:
                raise RuleErrors([RuleError(str(root), 0, "", f"more than {MAX_RULE_FILES} rule files")])
            yield path.relative_to(root).as_posix(), path, kind


def rule_file_sha256(path: Path) -> bytes:
    """SHA-256 of a rule file's bytes, read only if it is a regular file within MAX_RULE_FILE_BYTES.

    The type and size are checked before anything is read: a link to /dev/zero, a FIFO or a 2 GiB
    sparse file costs one stat, and gets a fixed marker instead of a hash (load_rules then names it).
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return b"not a regular file"
        if info.st_size > MAX_RULE_FILE_BYTES:
            return b"over the size limit"
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(MAX_RULE_FILE_BYTES + 1)).digest()
    except OSError:
        return b"unreadable"


# An organisation's own rules, layered over the shipped ones when the folder exists.
LOCAL_RULES_DIR = Path("/etc/legacy-estate/rules.d")
Roots = Path | Sequence[Path]

# How a rule of each kind is known across layers: a later layer's rule with the same key replaces it.
LAYER_KEYS: dict[str, Callable[[Any], str]] = {
    "lifecycles": lambda rule: str(rule.product),
    "matchers": lambda rule: str(rule.id),
    "assessments": lambda rule: str(rule.system),
    "exceptions": lambda rule: str(rule.id),
    "distributions": lambda rule: str(rule.id),
}


def layers(roots: Roots) -> list[Path]:
    """The rule folders in force, lowest first: one folder, or the shipped rules then local layers."""
    return [roots] if isinstance(roots, Path) else list(roots)


def default_layers(base: Path | None = None, local: Sequence[Path] | None = None) -> list[Path]:
    """The base rules (shipped unless given), then the local folders given, or LOCAL_RULES_DIR if it exists."""
    extra = list(local) if local else ([LOCAL_RULES_DIR] if LOCAL_RULES_DIR.is_dir() else [])
    return [base if base is not None else default_rules_dir(), *extra]


def layered_files(roots: Roots) -> Iterator[tuple[str, Path, RuleKind, int]]:
    """Every rule file of every layer: (name, path, kind, layer). Names in the base are relative to it;
    names in a local layer carry the layer's folder, so an error says which folder holds the file."""
    for index, root in enumerate(layers(roots)):
        for name, path, kind in rule_files(root):
            yield (name if index == 0 else f"{root}/{name}"), path, kind, index


def digest_rules(roots: Roots) -> str:
    """A digest of every rule file's name and bytes: it changes when any rule changes."""
    digest = hashlib.sha256()
    for name, path, _, _ in layered_files(roots):
        digest.update(name.encode() + b"\0")
        digest.update(rule_file_sha256(path))
    return digest.hexdigest()


def load_rules(roots: Roots) -> RuleSet:
    """Read and check every rule file of every layer, merge the layers, then check references between rules.

    A rule in a later layer (an organisation's rules.d) replaces the rule with the same id in the
    layers below it (lifecycles by product, matchers and exceptions by id, assessments by system,
    distributions by id; a scoring.yaml replaces the whole file). Raises RuleErrors listing every
    problem found (per file and across files).
    """
    folders = layers(roots)
    missing = [RuleError(str(root), 0, "", "no such rules directory") for root in folders if not root.is_dir()]
    if missing:
        raise RuleErrors(missing)
    ruleset = RuleSet(digest=digest_rules(folders))
    errors: list[RuleError] = []
    by_layer: list[dict[str, list[Located]]] = [{} for _ in folders]
    for name, path, kind, layer in layered_files(folders):
        try:
            data, lines = read_yaml(path, name)
            located = kind.check(data, lines, name)
        except RuleErrors as exc:
            errors.extend(exc.errors)
            continue
        ruleset.files[name] = (kind.attr, rule_file_sha256(path).hex())
        if kind.attr == "scoring":
            if ruleset.scoring is not None:
                ruleset.overrides.append(f"{name}: replaces {ruleset.scoring.file}")
            ruleset.scoring = located[0]
        else:
            by_layer[layer].setdefault(kind.attr, []).extend(located)
    for found in by_layer:
        for attr, located in found.items():
            key = LAYER_KEYS.get(attr)
            target = getattr(ruleset, attr) if key is not None else ruleset.other.setdefault(attr, [])
            if key is not None:
                replaced = {key(loc.rule) for loc in located}
                for old in target:
                    if key(old.rule) in replaced:
                        ruleset.overrides.append(f"{attr} {key(old.rule)!r}: "
                                                 f"{next(n.file for n in located if key(n.rule) == key(old.rule))} "
                                                 f"replaces {old.file}")
                target[:] = [old for old in target if key(old.rule) not in replaced]
            target.extend(located)
    if ruleset.scoring is None and not any(e.file.endswith("scoring.yaml") for e in errors):
        errors.append(RuleError("scoring.yaml", 0, "", "missing: the scoring rules are required"))
    broken = any(e.file.startswith("lifecycles/") or "/lifecycles/" in e.file for e in errors)
    errors.extend(cross_check(ruleset, broken))
    if errors:
        raise RuleErrors(errors)
    ruleset.matchers.extend(derived_matchers(ruleset))
    return ruleset


# purl type -> Package.manager and its version scheme.
PURL_MANAGERS: dict[str, tuple[str, Scheme]] = {"deb": ("dpkg", "dpkg"), "rpm": ("rpm", "rpm"), "apk": ("apk", "apk"),
                 "alpm": ("pacman", "generic"), "pypi": ("pip", "generic"), "npm": ("npm", "generic")}


def derived_matchers(ruleset: RuleSet) -> list[Located]:
    """Matchers that follow from the lifecycles' identifiers, after the hand-written ones (which win).

    A package purl (pkg:deb/debian/nginx) matches that manager and name; an OS or hardware CPE
    (cpe:2.3:o:fortinet:fortios) matches an SNMP device of that vendor and OS; and every product
    id matches Software.name, which the agent writes as the endoflife.date id.
    """
    out: list[Located] = []

    def add(loc: Located, **fields: Any) -> None:
        # An identifier that makes no valid matcher (odd characters) just gives none.
        with contextlib.suppress(PydanticError):
            out.append(Located(loc.file, loc.line, Matcher(priority=-1, **fields)))

    for loc in ruleset.lifecycles:
        life: Lifecycle = loc.rule
        by_manager: dict[str, set[str]] = {}
        devices: dict[str, set[str]] = {}
        for ident in life.identifiers:
            if ident.purl:
                kind, _, rest = ident.purl[4:].partition("/")
                if kind in PURL_MANAGERS:
                    name = rest.split("?")[0].split("@")[0].rsplit("/", 1)[-1].replace("%40", "@")
                    by_manager.setdefault(kind, set()).add(name)
            elif ident.cpe:
                parts = ident.cpe.replace("cpe:2.3:", "cpe:/").split(":")
                if len(parts) >= 4 and parts[1] in ("/o", "/h"):
                    devices.setdefault(parts[2], set()).add(parts[3])
        for kind, names in sorted(by_manager.items()):
            manager, scheme = PURL_MANAGERS[kind]
            add(loc, id=f"purl.{kind}.{life.product}", kind="package", product=life.product, ns=[manager],
                names=sorted(names), scheme=scheme, note="from the product's package URLs (purl)")
        for vendor, names in sorted(devices.items()):
            add(loc, id=f"cpe.{vendor}.{life.product}", kind="device", product=life.product, ns=[vendor],
                names=sorted(names), note="from the product's CPE (vendor and product)")
        add(loc, id=f"software.{life.product}", kind="software", product=life.product, names=[life.product],
            note="Software.name is the endoflife.date product id")
    return out


def cross_check(ruleset: RuleSet, lifecycle_errors: bool = False) -> list[RuleError]:
    """Duplicates and dangling references between files."""
    errors: list[RuleError] = []
    maybe = " (or its lifecycle file has errors)" if lifecycle_errors else ""
    products: dict[str, Located] = {}
    cycles: dict[str, set[str]] = {}
    for loc in ruleset.lifecycles:
        product = loc.rule.product
        if product in products:
            errors.append(RuleError(loc.file, loc.line, "product",
                                    f"product {product!r} is already defined in {products[product].file}"))
            continue
        products[product] = loc
        cycles[product] = {r.releaseCycle.lower() for r in loc.rule.releases}
    for loc in ruleset.other.get("supplements", []):
        product = loc.rule.product
        if product not in products:
            errors.append(RuleError(loc.file, loc.line, "product",
                                    f"no lifecycle for product {product!r} to supplement{maybe}"))
            continue
        for index, release in enumerate(loc.rule.releases):
            cycle = release.releaseCycle.lower()
            if cycle in cycles[product]:
                errors.append(RuleError(loc.file, loc.lines.get(("releases", index), loc.line), "releaseCycle",
                                        f"{product} already has cycle {release.releaseCycle!r} "
                                        f"(in {products[product].file} or another supplement): remove it here"))
            cycles[product].add(cycle)
    seen: dict[str, Located] = {}
    for loc in ruleset.matchers:
        matcher = loc.rule
        if matcher.id in seen:
            errors.append(RuleError(loc.file, loc.line, "id", f"matcher {matcher.id!r} is already defined in "
                                                                 f"{seen[matcher.id].file}:{seen[matcher.id].line}"))
        seen[matcher.id] = loc
        if matcher.product not in products:
            errors.append(RuleError(loc.file, loc.line, "product",
                                    f"no lifecycle for product {matcher.product!r}{maybe}"))
        elif matcher.cycle.map:
            for value in matcher.cycle.map.values():
                for variant in _edition_variants(value, matcher.cycle.edition):
                    if variant.lower() not in cycles[matcher.product]:
                        errors.append(RuleError(loc.file, loc.line, "cycle.map",
                                                f"{matcher.product} has no cycle {variant!r}"))
            # An edition case need not exist for every mapped value (LTSC exists for a few builds:
            # elsewhere the cycle is unknown), but must exist for one, or it is a typo.
            for case in matcher.cycle.edition.cases if matcher.cycle.edition else ():
                made = {value.replace("{edition}", case.then).lower()
                        for value in matcher.cycle.map.values() if "{edition}" in value}
                if not made & cycles[matcher.product]:
                    errors.append(RuleError(loc.file, loc.line, "cycle.edition.cases",
                                            f"{matcher.product} has no cycle for edition {case.then!r}"))
    errors.extend(_check_distributions(ruleset, products, cycles, maybe))
    systems: dict[str, Located] = {}
    for loc in ruleset.assessments:
        system = loc.rule.system
        if system in systems:
            errors.append(RuleError(loc.file, loc.line, "system",
                                    f"system {system!r} is already assessed in {systems[system].file}"))
        systems[system] = loc
    if ruleset.scoring is not None:
        errors.extend(_check_assessment_scores(ruleset))
    ids: dict[str, Located] = {}
    for loc in ruleset.exceptions:
        exc = loc.rule
        if exc.id in ids:
            errors.append(RuleError(loc.file, loc.line, "id", f"exception {exc.id!r} is already defined in "
                                                                f"{ids[exc.id].file}"))
        ids[exc.id] = loc
        if exc.scope.product is not None and exc.scope.product not in products:
            errors.append(RuleError(loc.file, loc.line, "scope.product",
                                    f"no lifecycle for product {exc.scope.product!r}{maybe}"))
        elif exc.scope.cycle is not None and exc.scope.cycle.lower() not in cycles.get(exc.scope.product or "", ()):
            errors.append(RuleError(loc.file, loc.line, "scope.cycle",
                                    f"{exc.scope.product} has no cycle {exc.scope.cycle!r}"))
    from estate.collector.ruleset.ownership import cross_check_labels

    errors.extend(cross_check_labels(ruleset))
    return errors


def _check_distributions(ruleset: RuleSet, products: dict[str, Located], cycles: dict[str, set[str]],
                         maybe: str) -> list[RuleError]:
    errors: list[RuleError] = []
    ids: dict[str, Located] = {}
    claimed: dict[str, str] = {}
    for loc in ruleset.distributions:
        dist: Distribution = loc.rule
        if dist.id in ids:
            errors.append(RuleError(loc.file, loc.line, "id", f"distribution {dist.id!r} is already defined in "
                                                                f"{ids[dist.id].file}"))
        ids[dist.id] = loc
        for os_id in dist.os_ids:
            if claimed.setdefault(os_id, dist.id) != dist.id:
                errors.append(RuleError(loc.file, _line(loc.lines, ("os_ids",)), "os_ids",
                                        f"OS id {os_id!r} already belongs to distribution {claimed[os_id]!r}"))
        if dist.product not in products:
            errors.append(RuleError(loc.file, _line(loc.lines, ("product",)), "product",
                                    f"no lifecycle for product {dist.product!r}{maybe}"))
            continue
        for index, limit in enumerate(dist.limits):
            where: Path_ = ("limits", index)
            for cycle in limit.os_cycles or ():
                if cycle.lower() not in cycles[dist.product]:
                    errors.append(RuleError(loc.file, _line(loc.lines, (*where, "os_cycles")),
                                            _field((*where, "os_cycles")), f"{dist.product} has no cycle {cycle!r}"))
            if limit.product is None:
                continue
            if limit.product not in products:
                errors.append(RuleError(loc.file, _line(loc.lines, (*where, "product")), _field((*where, "product")),
                                        f"no lifecycle for product {limit.product!r}{maybe}"))
                continue
            for cycle in limit.cycles or ():
                if cycle.lower() not in cycles[limit.product]:
                    errors.append(RuleError(loc.file, _line(loc.lines, (*where, "cycles")), _field((*where, "cycles")),
                                            f"{limit.product} has no cycle {cycle!r}"))
    return errors


def _edition_variants(value: str, edition: EditionRule | None) -> list[str]:
    if edition is None or "{edition}" not in value:
        return [value]
    return [value.replace("{edition}", edition.then), value.replace("{edition}", edition.otherwise)]


def _check_assessment_scores(ruleset: RuleSet) -> list[RuleError]:
    assert ruleset.scoring is not None
    scoring: Scoring = ruleset.scoring.rule
    errors = []
    for loc in ruleset.assessments:
        for side_name, side, given in (("likelihood", scoring.likelihood, loc.rule.likelihood),
                                       ("impact", scoring.impact, loc.rule.impact)):
            for criterion, value in given.items():
                if criterion not in side.criteria:
                    errors.append(RuleError(loc.file, _line(loc.lines, (side_name, criterion)),
                                            f"{side_name}.{criterion}",
                                            f"not a criterion in scoring.yaml ({', '.join(side.criteria)})"))
                elif not 1 <= value.score <= side.max_score:
                    errors.append(RuleError(loc.file, _line(loc.lines, (side_name, criterion, "score")),
                                            f"{side_name}.{criterion}.score",
                                            f"{value.score} is outside 1-{side.max_score}"))
    return errors
