"""Targets for an agentless sweep: our own YAML, CSV, Ansible inventories (YAML and INI), command line.

A `Target` holds where and how to connect, never a secret: passwords are named by a file or an
environment variable and read only when connecting. Every field is validated when the inventory is
loaded, and an error names the file, the host (or line) and the field.

Our YAML::

    defaults: {user: scan, identity_file: /etc/legacy-estate/id_ed25519, labels: {org: cabinet-office}}
    groups:
      aix:
        defaults: {user: aixscan, sudo: [lslpp]}
        labels: {environment: production}
        hosts:
          - host: aix1.example.org
          - {host: 10.1.2.3, name: aix2, port: 2222, jump: bastion.example.org}
    hosts:
      - host: web1.example.org

Field precedence: host fields, then its group's defaults, then the top-level defaults. Labels merge
in the same order.
"""

from __future__ import annotations

import csv
import io
import re
import shlex
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MAX_INVENTORY_BYTES = 16 * 1024 * 1024
MAX_TARGETS = 100_000
MAX_FIELD_CHARS = 1024
DEFAULT_PORT = 22
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# A hostname, an IPv4 address or an IPv6 address (brackets stripped): no spaces, no shell syntax.
HOST_NAME = re.compile(r"^[A-Za-z0-9_.:%-]{1,253}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
COMMAND_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
# Ansible host ranges as its docs write them: web[01:20] (leading zeros kept), db-[a:f] (letters),
# h[0:10:5] (a step), [:3] (start 0).
ANSIBLE_RANGE = re.compile(r"\[([0-9A-Za-z]*):([0-9A-Za-z]+)(?::(\d+))?\]")
MAX_RANGE_HOSTS = 10_000


class InventoryError(ValueError):
    """An inventory that cannot be used; the message names the file, host or line, and the field."""


@dataclass(frozen=True)
class Target:
    """One host to scan and how to reach it (no secret values: only where to find them)."""

    name: str
    host: str
    port: int = DEFAULT_PORT
    user: str = ""
    identity_file: str = ""
    password_file: str = ""
    password_env: str = ""
    jump: str = ""
    sudo: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}:{self.port}"


# Our own field names -> validator. The same table checks YAML, CSV and command-line values.
def _text(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InventoryError(f"{what}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_FIELD_CHARS:
        raise InventoryError(f"{what}: longer than {MAX_FIELD_CHARS} characters")
    return text


def _host(value: object, what: str) -> str:
    text = _text(value, what).strip("[]")
    if not HOST_NAME.match(text):
        raise InventoryError(f"{what}: {text!r} is not a host name or address")
    return text


def _port(value: object, what: str) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        raise InventoryError(f"{what}: {value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise InventoryError(f"{what}: {port} is not a port number (1-65535)")
    return port


def _user(value: object, what: str) -> str:
    text = _text(value, what)
    if text and not re.match(r"^[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}$", text):
        raise InventoryError(f"{what}: {text!r} is not a user name")
    return text


def _env(value: object, what: str) -> str:
    text = _text(value, what)
    if text and not ENV_NAME.match(text):
        raise InventoryError(f"{what}: {text!r} is not an environment variable name")
    return text


def _jump(value: object, what: str) -> str:
    text = _text(value, what)
    if text:
        parse_address(text, what)
    return text


def _sudo(value: object, what: str) -> tuple[str, ...]:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InventoryError(f"{what}: expected a list of command names")
    names = tuple(_text(i, what) for i in items)
    for name in names:
        if not COMMAND_NAME.match(name):
            raise InventoryError(f"{what}: {name!r} is not a command name")
    return names


def _labels(value: object, what: str) -> dict[str, str]:
    if isinstance(value, str):  # CSV and INI: "org=x;environment=y"
        pairs = [p.partition("=") for p in value.split(";") if p.strip()]
        value = {k.strip(): v.strip() for k, _, v in pairs}
    if not isinstance(value, Mapping):
        raise InventoryError(f"{what}: expected a mapping of label names to values")
    labels: dict[str, str] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            raise InventoryError(f"{what}: label key {key!r}: use lower-case letters, digits and _")
        text = _text(raw, f"{what}.{key}")
        if not text or len(text) > 256:
            raise InventoryError(f"{what}.{key}: value must be 1 to 256 characters")
        labels[key] = text
    return labels


FIELDS = {
    "name": _text, "host": _host, "port": _port, "user": _user, "identity_file": _text,
    "password_file": _text, "password_env": _env, "jump": _jump, "sudo": _sudo, "labels": _labels,
}


def parse_address(text: str, what: str = "target") -> tuple[str, str, int | None]:
    """'[user@]host[:port]' (IPv6 in brackets) -> (user, host, port or None)."""
    user, at, rest = text.rpartition("@")
    if not at:
        user, rest = "", text
    port: int | None = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = _port(tail[1:], what)
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
        port = _port(port_text, what)
    else:
        host = rest
    return _user(user, what), _host(host, what), port


def make_target(values: Mapping[str, Any], what: str) -> Target:
    """Validate one host's merged fields into a Target."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise InventoryError(f"{what}: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    if "host" not in values or values["host"] in (None, ""):
        raise InventoryError(f"{what}: no host")
    checked: dict[str, Any] = {k: FIELDS[k](v, f"{what}: {k}") for k, v in values.items() if v is not None}
    checked.setdefault("name", checked["host"])
    if checked.get("password_file") and checked.get("password_env"):
        raise InventoryError(f"{what}: give password_file or password_env, not both")
    return Target(**checked)


def target_from_argument(text: str, defaults: Mapping[str, Any]) -> Target:
    """A single target from the command line: [user@]host[:port], completed by option defaults."""
    user, host, port = parse_address(text, f"target {text!r}")
    values = dict(defaults)
    values["host"] = host
    values["name"] = text
    if user:
        values["user"] = user
    if port is not None:
        values["port"] = port
    return make_target(values, f"target {text!r}")


def _merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "labels" and isinstance(value, Mapping):
                labels.update(value)
            elif value is not None:
                merged[key] = value
    if labels:
        merged["labels"] = labels
    return merged


# -- files -------------------------------------------------------------------------------------

def load_inventory(path: Path, defaults: Mapping[str, Any] | None = None,
                   connections: frozenset[str] | None = None) -> list[Target]:
    """Load targets from an inventory file, recognising its format from the name and content.

    `connections` picks an Ansible inventory's hosts by `ansible_connection` (default: the SSH
    ones); `estate-agent winrm` asks for the WinRM ones. Our YAML and CSV are SSH-only.
    """
    try:
        data = path.read_bytes()[: MAX_INVENTORY_BYTES + 1]
    except OSError as exc:
        raise InventoryError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > MAX_INVENTORY_BYTES:
        raise InventoryError(f"{path}: larger than {MAX_INVENTORY_BYTES} bytes")
    text = data.decode("utf-8", errors="replace")
    base = dict(defaults or {})
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv" and connections not in (None, SSH_CONNECTIONS):
            raise InventoryError("a CSV inventory lists SSH targets only; use an Ansible inventory")
        if suffix == ".csv":
            targets = parse_csv(text, base)
        elif suffix in (".yaml", ".yml", ".json") or text.lstrip().startswith(("---", "{")):
            targets = parse_yaml(text, base, connections)
        elif suffix in (".ini", ".cfg", "") or text.lstrip().startswith("["):
            targets = parse_ansible_ini(text, base, connections)
        else:
            raise InventoryError(f"unknown inventory format {suffix!r}: use .yaml, .yml, .csv or .ini")
    except InventoryError as exc:
        raise InventoryError(f"{path}: {exc}") from None
    if not targets:
        raise InventoryError(f"{path}: no hosts in the inventory")
    return targets


def _check_count(targets: list[Target]) -> list[Target]:
    if len(targets) > MAX_TARGETS:
        raise InventoryError(f"more than {MAX_TARGETS} hosts")
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:5]
        raise InventoryError(f"host name(s) listed twice: {', '.join(dup)}")
    return targets


def parse_csv(text: str, defaults: Mapping[str, Any]) -> list[Target]:
    """CSV with a header row: host (required), name, port, user, identity_file, password_file,
    password_env, jump, sudo (space-separated), labels ("k=v;k=v") and label.KEY columns."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "host" not in [f.strip() for f in reader.fieldnames]:
        raise InventoryError("CSV: the first row must be a header naming at least a 'host' column")
    targets = []
    for row in reader:
        values: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for column, raw in row.items():
            if column is None:
                raise InventoryError(f"CSV line {reader.line_num}: more cells than header columns")
            key, cell = column.strip(), (raw or "").strip()
            if not cell:
                continue
            if key.startswith("label."):
                labels[key[len("label."):]] = cell
            else:
                values[key] = cell
        if not values:
            continue
        if labels:
            values["labels"] = {**_labels(values.get("labels", {}), f"CSV line {reader.line_num}: labels"),
                                **labels}
        targets.append(make_target(_merge(defaults, values), f"CSV line {reader.line_num}"))
    return _check_count(targets)


def parse_yaml(text: str, defaults: Mapping[str, Any], connections: frozenset[str] | None = None) -> list[Target]:
    """Our own YAML (top-level defaults/groups/hosts list) or an Ansible YAML inventory."""
    import yaml  # only needed for YAML inventories

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(f"not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise InventoryError("expected a mapping at the top of the YAML file")
    if is_ansible_list(document):
        return parse_ansible_list(document, defaults, connections)
    ours = {"defaults", "groups"} & set(document) or isinstance(document.get("hosts"), list)
    if ours:
        if connections not in (None, SSH_CONNECTIONS):
            raise InventoryError("this YAML inventory lists SSH targets only; use an Ansible inventory")
        return _parse_own_yaml(document, defaults)
    return _parse_ansible_yaml(document, defaults, connections)


def is_ansible_list(document: dict[str, Any]) -> bool:
    """`ansible-inventory --list` JSON: a `_meta.hostvars` map, or groups whose hosts are a list."""
    if isinstance(document.get("_meta"), dict):
        return True
    groups = [v for k, v in document.items() if k != "hosts" and isinstance(v, dict)]
    return bool(groups) and any(isinstance(g.get("hosts"), list) for g in groups)


def parse_ansible_list(document: dict[str, Any], defaults: Mapping[str, Any],
                       connections: frozenset[str] | None = None) -> list[Target]:
    """`ansible-inventory --list` output, the way dynamic inventories (cloud, CMDB plugins) are consumed.

    {"_meta": {"hostvars": {HOST: {vars}}}, GROUP: {"hosts": [...], "children": [...], "vars": {...}}}.
    Host variables in _meta already include the group variables Ansible resolved; a group's own
    `vars` (from --export) are applied under them.
    """
    meta = _mapping(document.get("_meta"), "_meta")
    hostvars = _mapping(meta.get("hostvars"), "_meta.hostvars")
    groups: dict[str, _Group] = {}
    for name, body in document.items():
        if name == "_meta":
            continue
        body = _mapping(body, f"group {name!r}")
        group = groups.setdefault(str(name), _Group())
        hosts = body.get("hosts", [])
        if not isinstance(hosts, list):
            raise InventoryError(f"group {name!r}: hosts must be a list in ansible-inventory --list output")
        for host in hosts:
            host_name = _text(host, f"group {name!r} host")
            group.hosts[host_name] = _mapping(hostvars.get(host_name), f"_meta.hostvars[{host_name!r}]")
        children = body.get("children", [])
        if not isinstance(children, list):
            raise InventoryError(f"group {name!r}: children must be a list")
        group.children.extend(_text(child, f"group {name!r} child") for child in children)
        group.vars.update(_mapping(body.get("vars"), f"group {name!r} vars"))
    for group in list(groups.values()):
        for child in group.children:
            groups.setdefault(child, _Group())
    # A host only in _meta (an empty group list) is still a host of `all`.
    listed = {host for group in groups.values() for host in group.hosts}
    for host, host_vars in hostvars.items():
        if host not in listed:
            groups.setdefault("ungrouped", _Group()).hosts[str(host)] = _mapping(host_vars, f"host {host!r}")
    return _resolve_ansible(groups, defaults, connections)


def _mapping(value: object, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InventoryError(f"{what}: expected a mapping")
    return value


def _parse_own_yaml(document: dict[str, Any], defaults: Mapping[str, Any]) -> list[Target]:
    unknown = sorted(set(document) - {"defaults", "groups", "hosts"})
    if unknown:
        raise InventoryError(f"unknown top-level key(s) {', '.join(unknown)}; expected defaults, groups, hosts")
    top = _mapping(document.get("defaults"), "defaults")
    targets: list[Target] = []

    def add_hosts(hosts: object, layers: list[Mapping[str, Any]], where: str) -> None:
        if not isinstance(hosts, list):
            raise InventoryError(f"{where}: hosts must be a list")
        for index, entry in enumerate(hosts):
            item = {"host": entry} if isinstance(entry, str) else entry
            what = f"{where} host #{index + 1}"
            if not isinstance(item, dict):
                raise InventoryError(f"{what}: expected a host name or a mapping")
            what = f"{where} host {item.get('name') or item.get('host')!r}"
            targets.append(make_target(_merge(*layers, item), what))

    for group_name, group in _mapping(document.get("groups"), "groups").items():
        group = _mapping(group, f"group {group_name!r}")
        extra = sorted(set(group) - {"defaults", "labels", "hosts"})
        if extra:
            raise InventoryError(f"group {group_name!r}: unknown key(s) {', '.join(extra)}")
        layers = [defaults, top, _mapping(group.get("defaults"), f"group {group_name!r} defaults"),
                  {"labels": _mapping(group.get("labels"), f"group {group_name!r} labels")}]
        add_hosts(group.get("hosts", []), layers, f"group {group_name!r}")
    add_hosts(document.get("hosts", []), [defaults, top], "hosts")
    return _check_count(targets)


# Ansible variables we understand -> our field. ansible_password is refused: secrets come only from
# files or the environment.
ANSIBLE_VARS = {
    "ansible_host": "host", "ansible_ssh_host": "host", "ansible_port": "port", "ansible_ssh_port": "port",
    "ansible_user": "user", "ansible_ssh_user": "user", "ansible_ssh_private_key_file": "identity_file",
    "ansible_private_key_file": "identity_file",
    "estate_password_file": "password_file", "estate_password_env": "password_env", "estate_jump": "jump",
    "estate_sudo": "sudo", "estate_labels": "labels",
}
# Hosts Ansible reaches by other means (WinRM, a container, the controller itself) are not SSH targets.
SSH_CONNECTIONS = frozenset({"ssh", "paramiko", "smart", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"})
# Hosts Ansible reaches over WinRM: `estate-agent winrm --inventory` reads these.
WINRM_CONNECTIONS = frozenset({"winrm", "ansible.builtin.winrm", "psrp", "ansible.builtin.psrp"})
CONNECTION = "_connection"
SECRET_VARS = frozenset({"ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_password",
                         "ansible_become_pass"})


def _ansible_fields(variables: Mapping[str, Any], what: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in variables.items():
        if key in SECRET_VARS:
            raise InventoryError(f"{what}: {key} is not read (secrets never come from an inventory): "
                                 "set estate_password_file or estate_password_env instead")
        if key in ANSIBLE_VARS:
            fields[ANSIBLE_VARS[key]] = value
        elif key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
            jump = _jump_from_ssh_args(_text(value, f"{what}: {key}"))
            if jump:
                fields["jump"] = jump
        elif key == "ansible_connection":
            fields[CONNECTION] = _text(value, f"{what}: {key}")
        elif key.startswith("estate_label_"):
            fields.setdefault("labels", {})[key[len("estate_label_"):]] = value
    return fields


def _jump_from_ssh_args(args: str) -> str:
    """ProxyJump from ssh arguments: '-J host' or '-o ProxyJump=host'."""
    words = shlex.split(args)
    for index, word in enumerate(words):
        if word == "-J" and index + 1 < len(words):
            return words[index + 1].split(",")[0]
        if word.startswith("-J") and len(word) > 2:
            return word[2:].split(",")[0]
        option = word[2:] if word.startswith("-o") and len(word) > 2 else (
            words[index + 1] if word == "-o" and index + 1 < len(words) else "")
        if option.lower().startswith("proxyjump="):
            return option.split("=", 1)[1].split(",")[0]
    return ""


def expand_ansible_range(pattern: str, what: str) -> list[str]:
    """Expand Ansible host ranges as Ansible does: 'web[01:03].x' -> web01.x, web02.x, web03.x;
    'db-[a:c]' -> db-a, db-b, db-c; 'h[0:10:5]' -> h0, h5, h10. Several ranges multiply."""
    match = ANSIBLE_RANGE.search(pattern)
    if not match:
        return [pattern]
    start, end, step_text = match.group(1) or "0", match.group(2), match.group(3)
    step = int(step_text) if step_text else 1
    shown = match.group(0)
    if step < 1:
        raise InventoryError(f"{what}: host range {shown}: the step must be at least 1")
    if start.isdigit() and end.isdigit():
        # Ansible pads to the start's width when the start has a leading zero ([01:10] -> 01..10),
        # and then wants the end written at the same width.
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        if width and len(end) != width:
            raise InventoryError(f"{what}: host range {shown}: a zero-padded range needs a start and end "
                                 "of the same width, as Ansible does")
        values = [str(n).zfill(width) for n in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters and end in string.ascii_letters:
        # Ansible's letter order: a-z then A-Z.
        letters = string.ascii_letters
        values = list(letters[letters.index(start):letters.index(end) + 1:step])
    else:
        raise InventoryError(f"{what}: host range {shown}: use numbers ([01:20]) or single letters ([a:f])")
    if not values or len(values) > MAX_RANGE_HOSTS:
        raise InventoryError(f"{what}: host range {shown} is empty or longer than {MAX_RANGE_HOSTS}")
    names: list[str] = []
    for value in values:
        names += expand_ansible_range(pattern[:match.start()] + value + pattern[match.end():], what)
        if len(names) > MAX_RANGE_HOSTS:
            raise InventoryError(f"{what}: host ranges in {pattern!r} name more than {MAX_RANGE_HOSTS} hosts")
    return names


@dataclass
class _Group:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


def _resolve_ansible(groups: dict[str, _Group], defaults: Mapping[str, Any],
                     connections: frozenset[str] | None = None) -> list[Target]:
    """Apply group vars from the outermost parent inwards, then host vars; each host once."""
    parents: dict[str, list[str]] = {}
    for name, group in groups.items():
        for child in group.children:
            if child not in groups:
                raise InventoryError(f"group {name!r}: child group {child!r} is not defined")
            parents.setdefault(child, []).append(name)

    def chain(name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        if name in seen:
            raise InventoryError(f"group {name!r}: its children include itself")
        order: list[str] = []
        for parent in parents.get(name, ["all"] if name != "all" and "all" in groups else []):
            order += [g for g in chain(parent, seen | {name}) if g not in order]
        return [*order, name]

    merged: dict[str, dict[str, Any]] = {}
    for name, group in groups.items():
        for host, host_vars in group.hosts.items():
            layers = [_ansible_fields(groups[g].vars, f"group {g!r} vars") for g in chain(name)]
            host_fields = _ansible_fields(host_vars, f"host {host!r}")
            merged[host] = _merge(merged.get(host, {}), *layers, host_fields)
    targets = []
    for host, values in merged.items():
        if values.pop(CONNECTION, "ssh") not in (connections or SSH_CONNECTIONS):
            continue
        values = _merge(defaults, values)
        values.setdefault("host", host)
        values["name"] = host
        targets.append(make_target(values, f"host {host!r}"))
    return _check_count(targets)


def _parse_ansible_yaml(document: dict[str, Any], defaults: Mapping[str, Any],
                        connections: frozenset[str] | None = None) -> list[Target]:
    groups: dict[str, _Group] = {}

    def walk(name: str, body: object) -> None:
        body = _mapping(body, f"group {name!r}")
        extra = sorted(set(body) - {"hosts", "vars", "children"})
        if extra:
            raise InventoryError(f"group {name!r}: unknown key(s) {', '.join(extra)} "
                                 "(an Ansible group has hosts, vars and children)")
        group = groups.setdefault(name, _Group())
        for pattern, host_vars in _mapping(body.get("hosts"), f"group {name!r} hosts").items():
            for host in expand_ansible_range(str(pattern), f"group {name!r}"):
                group.hosts[host] = _mapping(host_vars, f"host {host!r}")
        group.vars.update(_mapping(body.get("vars"), f"group {name!r} vars"))
        for child, child_body in _mapping(body.get("children"), f"group {name!r} children").items():
            group.children.append(child)
            walk(child, child_body)

    for name, body in document.items():
        walk(str(name), body)
    return _resolve_ansible(groups, defaults, connections)


def parse_ansible_ini(text: str, defaults: Mapping[str, Any],
                      connections: frozenset[str] | None = None) -> list[Target]:
    """An Ansible INI inventory: [group], [group:vars], [group:children]; host lines 'name k=v ...'."""
    groups: dict[str, _Group] = {"ungrouped": _Group()}
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InventoryError(f"line {number}: unknown section kind {kind!r} in {line}")
            groups.setdefault(section, _Group())
            continue
        group = groups[section]
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InventoryError(f"line {number}: {exc}: {line[:80]!r}") from None
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise InventoryError(f"line {number}: expected key=value in [{section}:vars]")
            group.vars[key.strip()] = _ini_value(value.strip())
        elif kind == "children":
            group.children.append(words[0])
        else:
            host_vars: dict[str, Any] = {}
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep:
                    raise InventoryError(f"line {number}: host variable {word!r} is not key=value")
                host_vars[key] = value
            for host in expand_ansible_range(words[0], f"line {number}"):
                group.hosts[host] = host_vars
    for group in list(groups.values()):
        for child in group.children:
            groups.setdefault(child, _Group())  # as in Ansible, naming a child group creates it
    groups.setdefault("all", _Group())
    return _resolve_ansible(groups, defaults, connections)


def _ini_value(value: str) -> str:
    try:
        words = shlex.split(value)
    except ValueError:
        return value
    return " ".join(words) if len(words) != 1 else words[0]


def dedupe(targets: Iterable[Target]) -> list[Target]:
    """Targets from several sources: a later duplicate name gets a numbered suffix, never dropped."""
    seen: dict[str, int] = {}
    out = []
    for target in targets:
        count = seen.get(target.name, 0)
        seen[target.name] = count + 1
        out.append(target if count == 0 else replace(target, name=f"{target.name}#{count + 1}"))
    return out
