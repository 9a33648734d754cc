"""Configuration files: one TOML file per program, where every key is also a flag and an environment variable.

The keys are the long options of the program's commands, by their argparse names (`tls_cert` for
`--tls-cert`), so nothing can be settable in one place and not the others, and a new option is a
new key with no code here. A file holds keys for every command at its top level and per command in
a table of that name:

    db = "/var/lib/legacy-estate/estate.duckdb"     # every command that has --db
    [serve]
    listen = "0.0.0.0:50051"

Precedence, highest first: the flag on the command line; the environment (`ESTATE_COLLECTOR_LISTEN`,
`ESTATE_AGENT_TLS_CERT`: the program's prefix and the key in capitals); the command's table; the
file's top level; the built-in default. The file is `--config FILE`, else `$ESTATE_<PROGRAM>_CONFIG`,
else /etc/legacy-estate/<program>.toml when it exists. Files are validated (pydantic) before
anything runs: an unknown key, a wrong type or an impossible value is an error naming the file,
the key and the problem.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MAX_CONFIG_BYTES = 256 * 1024
CONFIG_DIR = Path("/etc/legacy-estate")
# Options that are not settings: they act once (help, version) or name the file itself.
NOT_SETTINGS = frozenset({"help", "version", "config"})
# Values of these keys are never printed (the project keeps secrets in files or the environment,
# and names them with *_file or *_env keys, which are printed).
SECRET_WORDS = ("password", "secret", "community", "token", "passphrase")
TRUE_WORDS, FALSE_WORDS = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


class ConfigError(Exception):
    """A configuration problem: one line per problem, each naming where it is, the key and what is wrong."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class Setting:
    value: Any
    source: str  # "file [serve]", "file", "environment ESTATE_...", "default"
    origin: str = ""  # where, in a message: "/etc/legacy-estate/collector.toml: [serve]: listen"


@dataclass
class Effective:
    """What each command will run with, and where each value came from."""

    path: Path | None
    commands: dict[str, dict[str, Setting]] = field(default_factory=dict)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def settings_of(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The command's long options that are settings, by key (argparse dest)."""
    return {action.dest: action for action in parser._actions
            if any(o.startswith("--") for o in action.option_strings) and action.dest not in NOT_SETTINGS
            and not isinstance(action, (argparse._HelpAction, argparse._VersionAction))}


def keys_by_command(parser: argparse.ArgumentParser) -> dict[str, dict[str, argparse.Action]]:
    """Every configurable command (one with settings) and its settings."""
    commands = {}
    for name, sub in subcommands(parser).items():
        nested = subcommands(sub)
        if nested:  # `certs init`, `rules check`: one-off actions, not services to configure
            continue
        found = settings_of(sub)
        if found:
            commands[name] = found
    return commands


BOOLEAN_ACTIONS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)


def _annotation(action: argparse.Action) -> Any:
    if isinstance(action, BOOLEAN_ACTIONS):
        return bool
    if isinstance(action, argparse._AppendAction):
        return list[str]
    if action.choices is not None:
        return Literal[tuple(action.choices)]
    if action.type is int:
        return int
    if action.type is float:
        return float
    if callable(action.type) and action.type not in (str, Path):
        return str | int | float  # the option's own parser decides (seconds, dates, ...)
    return str


def _model(name: str, actions: Mapping[str, argparse.Action]) -> Any:
    from pydantic import ConfigDict, create_model

    fields: dict[str, Any] = {dest: (_annotation(action) | None, None) for dest, action in actions.items()}
    return create_model(name, __config__=ConfigDict(extra="forbid", strict=True), **fields)


def _convert(action: argparse.Action, value: Any) -> Any:
    """The value as argparse itself would have made it from the command line (Path, date, ...)."""
    convert = action.type
    if convert is None or convert in (str, int, float) or isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [convert(str(v)) if callable(convert) else v for v in value]
    return convert(str(value)) if callable(convert) else value


def _validate(where: str, data: Mapping[str, Any], actions: Mapping[str, argparse.Action]) -> list[str]:
    if not data:
        return []  # nothing to check: pydantic is imported only when a file gives values
    from pydantic import ValidationError

    problems = []
    try:
        _model("Settings", actions).model_validate(dict(data))
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"{where}: {key}: unknown key")
            else:
                problems.append(f"{where}: {key}: {error['msg']} (got {error.get('input')!r})")
    for key, value in data.items():
        if key in actions and not any(p.startswith(f"{where}: {key}:") for p in problems):
            try:
                _convert(actions[key], value)
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                problems.append(f"{where}: {key}: {exc}")
    return problems


def _from_environment(action: argparse.Action, text: str) -> Any:
    if isinstance(action, BOOLEAN_ACTIONS):
        if text.lower() not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(f"not a yes/no value: {text!r}")
        return text.lower() in TRUE_WORDS
    if isinstance(action, argparse._AppendAction):
        return [item.strip() for item in text.split(",") if item.strip()]
    if action.type in (int, float):
        try:
            return action.type(text)
        except ValueError:
            raise ValueError(f"not a number: {text!r}") from None
    return text


def read_file(path: Path) -> dict[str, Any]:
    """The TOML file's tables, bounded in size; a ConfigError naming the file and line otherwise."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{path}: over the {MAX_CONFIG_BYTES}-byte limit of a configuration file"])
    try:
        parsed: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return parsed
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc


def config_path(program: str, given: Path | None, environ: Mapping[str, str]) -> Path | None:
    if given is not None:
        return given
    named = environ.get(f"ESTATE_{program.upper()}_CONFIG")
    if named:
        return Path(named)
    default = CONFIG_DIR / f"{program}.toml"
    return default if default.is_file() else None


def effective(program: str, parser: argparse.ArgumentParser, path: Path | None,
              environ: Mapping[str, str] | None = None) -> Effective:
    """Every configurable command's settings from the file and the environment, validated.

    Raises ConfigError listing every problem found.
    """
    environ = os.environ if environ is None else environ
    commands = keys_by_command(parser)
    every_key: dict[str, argparse.Action] = {}
    for actions in commands.values():
        for key, action in actions.items():
            every_key.setdefault(key, action)
    data = read_file(path) if path is not None else {}
    problems: list[str] = []
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for name in tables:
        if name not in commands:
            problems.append(f"{path}: [{name}]: unknown table (commands: {', '.join(sorted(commands))})")
    for key in top:
        if key not in every_key:
            problems.append(f"{path}: {key}: unknown key")
    prefix = f"ESTATE_{program.upper()}_"
    env_values: dict[str, str] = {}
    for name, text in environ.items():
        if name.startswith(prefix) and name != f"{prefix}CONFIG":
            key = name[len(prefix):].lower()
            if key in every_key:
                env_values[key] = text
            else:
                problems.append(f"environment {name}: unknown setting (no command has --{key.replace('_', '-')})")
    result = Effective(path)
    for command, actions in commands.items():
        settings: dict[str, Setting] = {key: Setting(action.default, "default") for key, action in actions.items()}
        shared = {k: v for k, v in top.items() if k in actions}
        problems += _validate(f"{path}", shared, actions)
        table = tables.get(command, {})
        problems += _validate(f"{path}: [{command}]", table, actions)
        for key, value in shared.items():
            settings[key] = Setting(value, "file", f"{path}: {key}")
        for key, value in table.items():
            if key in actions:
                settings[key] = Setting(value, f"file [{command}]", f"{path}: [{command}]: {key}")
        for key, text in env_values.items():
            if key in actions:
                try:
                    settings[key] = Setting(_from_environment(actions[key], text),
                                            f"environment {prefix}{key.upper()}",
                                            f"environment {prefix}{key.upper()} (for [{command}])")
                except ValueError as exc:
                    problems.append(f"environment {prefix}{key.upper()}: {exc}")
        for key, setting in settings.items():
            if setting.source != "default":
                # A value that does not convert was reported by _validate.
                with contextlib.suppress(argparse.ArgumentTypeError, ValueError, TypeError):
                    setting.value = _convert(actions[key], setting.value)
        result.commands[command] = settings
    if problems:
        raise ConfigError(sorted(set(problems), key=problems.index))
    return result


# --- checks on what the values mean, shared by both programs ------------------------------------

def _is_loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_meaning(command: str, settings: Mapping[str, Setting], whole: bool = True) -> list[str]:
    """Problems no type can catch: files that are missing, keys others can read, plaintext off loopback.

    `whole` says the settings are all the command will have; at start-up, flags may add TLS files
    the configuration lacks, and the commands themselves refuse plaintext off loopback.
    """
    problems = []

    def where(key: str) -> str:
        return settings[key].origin or f"[{command}]: {key}"

    for key, setting in settings.items():
        value = setting.value
        # A default (~/.ssh/known_hosts) that is missing is the command's business, not the file's.
        if value is None or setting.source == "default" or not isinstance(value, (str, Path)):
            continue
        path = Path(value)
        if key.startswith("tls_") or key in ("identity_file", "password_file", "known_hosts"):
            if not path.is_file():
                problems.append(f"{where(key)}: no such file: {path}")
            elif key in ("tls_key", "identity_file", "password_file") and path.stat().st_mode & stat.S_IROTH:
                problems.append(f"{where(key)}: {path} is readable by every user: chmod o-r (0600 or 0640)")
    listen = settings.get("listen")
    if whole and listen is not None and listen.value and not _is_loopback(str(listen.value)):
        has_tls = all(settings.get(k) is not None and settings[k].value for k in ("tls_cert", "tls_key", "tls_ca"))
        insecure = settings.get("insecure") is not None and bool(settings["insecure"].value)
        if not has_tls and not insecure:
            problems.append(f"{where('listen')}: {listen.value} is not loopback but tls_cert, tls_key and tls_ca "
                            "are not all set (or set insecure = true on a network you trust)")
    return problems


def masked(key: str, value: Any) -> Any:
    if value is not None and any(word in key for word in SECRET_WORDS) and not key.endswith(("_file", "_env")):
        return "********"
    return value


# --- wiring into a program's argument parser --------------------------------------------------

def add_config_option(parser: argparse.ArgumentParser, program: str) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"configuration file (default: $ESTATE_{program.upper()}_CONFIG, else "
                             f"{CONFIG_DIR}/{program}.toml when it exists)")


def add_check_command(commands: Any, program: str) -> None:
    config = commands.add_parser("config", help=f"check a configuration file ({program}.toml)",
                                 description="Validate the configuration file and the environment, and print the "
                                             "effective settings of every command (secrets masked).")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate and print the effective configuration")
    check.add_argument("file", type=Path, nargs="?", metavar="FILE",
                       help="the file to check (default: as for --config)")


def parse_args(program: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None,
               environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """Parse the command line over the configuration's values (flags win); exit 2 naming any problem."""
    environ = os.environ if environ is None else environ
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, rest = pre.parse_known_args(argv)
    if rest[:2] == ["config", "check"]:
        return parser.parse_args(argv)  # the check reads the file itself, and reports rather than exits
    try:
        found = effective(program, parser, config_path(program, known.config, environ), environ)
        command = next((a for a in rest if not a.startswith("-")), None)
        settings = found.commands.get(command or "")
        if settings is not None:
            from_config = {k: s for k, s in settings.items() if s.source != "default"}
            problems = check_meaning(command or "", from_config, whole=False)
            if problems:
                raise ConfigError(problems)
            subcommands(parser)[command or ""].set_defaults(**{k: s.value for k, s in from_config.items()})
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"estate-{program}: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    return parser.parse_args(argv)


def run_check(program: str, parser: argparse.ArgumentParser, file: Path | None,
              print_line: Callable[[str], None] = print, environ: Mapping[str, str] | None = None) -> int:
    """`config check`: every problem on stderr (exit 1), else the effective settings of every command."""
    environ = os.environ if environ is None else environ
    path = config_path(program, file, environ)
    try:
        found = effective(program, parser, path, environ)
        problems = [p for command, settings in found.commands.items() for p in check_meaning(command, settings)]
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"estate-{program}: {problem}", file=sys.stderr)
        return 1
    print_line(f"# effective configuration of estate-{program} ({path or 'no configuration file'})")
    for command, settings in found.commands.items():
        print_line(f"\n[{command}]")
        for key, setting in sorted(settings.items()):
            value = masked(key, setting.value)
            text = str(value) if isinstance(value, Path) else repr(value)
            print_line(f"{key} = {text}  # {setting.source}")
    return 0


# --- the reference in docs/configuration.md, generated so that it cannot drift ---------------------

def _type_name(action: argparse.Action) -> str:
    annotation = _annotation(action)
    if annotation is bool:
        return "boolean"
    if annotation == list[str]:
        return "list of strings"
    if action.choices is not None:
        return " \\| ".join(f"`{c}`" for c in action.choices)
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation == str | int | float:
        return "number or string"
    if action.type is Path:
        return "path"
    return "string"


def reference(program: str, parser: argparse.ArgumentParser) -> str:
    """The Markdown tables of every key of one program: flag, environment variable, type, default, meaning."""
    lines = [f"## {program}.toml (estate-{program})", ""]
    for command, actions in keys_by_command(parser).items():
        lines += [f"### [{command}]", "", "| key | flag | environment | type | default | meaning |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for key, action in sorted(actions.items()):
            flag = next(o for o in action.option_strings if o.startswith("--"))
            # Defaults under the home folder differ per user: show them as ~ does.
            shown = str(action.default).replace(str(Path.home()), "~")
            default = "" if action.default in (None, [], False) else f"`{shown}`"
            meaning = (action.help or "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{key}` | `{flag}` | `ESTATE_{program.upper()}_{key.upper()}` | {_type_name(action)} "
                         f"| {default} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
