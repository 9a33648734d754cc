"""The host-access seam: every discoverer reads files and runs commands through this interface.

Three implementations share it, so one set of parsers serves every way of reaching a host:
- `LocalHost`: the live host, or a filesystem tree under `root` (a mounted image, a container root);
- an SSH host (agent/ssh), for agentless scans;
- `RecordedHost`: captured files and command outputs, for tests and for fixtures users send in.

Every read and every command is bounded in size and time: a hostile or broken host must not be
able to exhaust the agent.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

# Default bounds. Discoverers that legitimately read large files (package databases) pass a larger
# limit explicitly; nothing reads an unbounded amount.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
COMMAND_TIMEOUT_S = 20.0
MAX_SYMLINK_HOPS = 40


class HostAccessError(Exception):
    """A file or command could not be read; the message names the path or command."""


class FileTooLarge(HostAccessError):
    """A file exceeded the size bound given to the read."""


class CommandsUnavailable(HostAccessError):
    """This host access cannot run commands (a --root tree: its binaries are not the live host's)."""


class CommandResult(NamedTuple):
    """A finished command. (A NamedTuple: importing dataclasses costs the agent ~7 ms per scan.)"""

    argv: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: bytes
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    def describe(self) -> str:
        return " ".join(self.argv)


class HostAccess(Protocol):
    """What a discoverer may do to a host: read files, list directories, run read-only commands."""

    @property
    def description(self) -> str:
        """Where facts come from, for evidence and error messages (e.g. "local", "root:/mnt/img")."""
        ...

    @property
    def is_live(self) -> bool:
        """True when this is the running local host, so psutil and os.uname describe it."""
        ...

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """Read a file; raises FileNotFoundError if absent, FileTooLarge above `limit` bytes."""
        ...

    def read_text(self, path: str, limit: int = MAX_FILE_BYTES) -> str:
        """Read a file as text (UTF-8, undecodable bytes replaced)."""
        ...

    def exists(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[str]: ...

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S,
            limit: int = MAX_OUTPUT_BYTES) -> CommandResult:
        """Run a read-only command; raises CommandsUnavailable where commands cannot run."""
        ...


def _read_bounded(path: Path, limit: int, shown: str) -> bytes:
    # Refuse special files: reading /dev/zero or a FIFO planted in an image must not hang or flood.
    st = path.stat()
    if not stat.S_ISREG(st.st_mode) and not str(path).startswith("/proc/") and not str(path).startswith("/sys/"):
        raise HostAccessError(f"{shown}: not a regular file")
    if st.st_size > limit:  # refuse before reading: a sparse or huge file must not cost its size in memory
        raise FileTooLarge(f"{shown}: larger than the {limit}-byte limit for this file")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"{shown}: larger than the {limit}-byte limit for this file")
    return data


class LocalHost:
    """The local host, or a filesystem tree under `root` read as if it were a host.

    With a root, paths resolve inside it: symlinks (absolute or relative) are followed within the
    root and can never escape it, and commands are refused so that no fact of the live host mixes
    into a scan of an image.
    """

    def __init__(self, root: str | None = None) -> None:
        self.root = Path(root).resolve() if root else None
        if self.root is not None and not self.root.is_dir():
            raise HostAccessError(f"--root {root}: not a directory")

    @property
    def description(self) -> str:
        return f"root:{self.root}" if self.root else "local"

    @property
    def is_live(self) -> bool:
        return self.root is None

    def resolve(self, path: str) -> Path:
        """Map a host path to a real path, following symlinks inside the root."""
        if self.root is None:
            return Path(path)
        return _resolve_in_root(self.root, path)

    def realpath(self, path: str) -> str:
        """The host path `path` names once symlinks are followed (inside the root when there is one)."""
        if self.root is None:
            return os.path.realpath(path)
        return "/" + str(self.resolve(path).relative_to(self.root)).lstrip(".")

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        return _read_bounded(self.resolve(path), limit, path)

    def read_text(self, path: str, limit: int = MAX_FILE_BYTES) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def exists(self, path: str) -> bool:
        try:
            return self.resolve(path).exists()
        except (OSError, HostAccessError):
            return False

    def listdir(self, path: str) -> list[str]:
        # os.listdir, not Path.iterdir: a Path object per entry made big folders cost milliseconds.
        return sorted(os.listdir(self.resolve(path)))  # noqa: PTH208

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S,
            limit: int = MAX_OUTPUT_BYTES) -> CommandResult:
        if self.root is not None:
            raise CommandsUnavailable(
                f"not running {' '.join(argv)!r}: scanning --root {self.root}, whose commands are not the live host's")
        return run_bounded(argv, timeout=timeout, limit=limit)


def run_bounded(argv: Sequence[str], timeout: float, limit: int) -> CommandResult:
    """Run argv (never through a shell) with a time limit and an output cap, in the C locale."""
    import subprocess  # only scans that run commands pay for this import
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin"), "LC_ALL": "C", "LANG": "C"}
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{argv[0]}: command not found") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise HostAccessError(f"{' '.join(argv)}: timed out after {timeout:g} s") from exc
    truncated = len(out) > limit
    return CommandResult(tuple(argv), proc.returncode, out[:limit], err[:limit], truncated)


def _resolve_in_root(root: Path, path: str) -> Path:
    """Resolve `path` as the host inside `root` would, never leaving `root`.

    An absolute symlink target is taken relative to the root (as a chroot would), and ".."
    stops at the root, so /etc/os-release -> ../usr/lib/os-release works and a hostile
    link to /etc/shadow or ../../.. of the live host cannot escape.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise HostAccessError(f"{path}: too many levels of symbolic links under {root}")
            target = str(candidate.readlink())
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


def command_fixture_name(argv: Sequence[str]) -> str:
    """File name of a recorded command's output: the argv with every non-alphanumeric as '_'."""
    return _NON_ALNUM.sub("_", " ".join(argv)) + ".txt"


_FIXTURE_OWN_FILES = frozenset({"commands", "expected.json", "SOURCE.md"})


class RecordedHost:
    """Captured files (at their real paths under `directory`) and command outputs.

    The fixture's own files (commands/, expected.json, SOURCE.md) are not host paths. Command
    output lives in `commands/<argv-with-non-alnum-as-_>.txt`; an optional sibling
    `.exit` file holds a non-zero exit code. A command with no recording was not available on the
    captured host and raises FileNotFoundError, as a missing binary would.
    """

    def __init__(self, directory: str | Path, live: bool = False) -> None:
        self.directory = Path(directory)
        self._files = LocalHost(str(self.directory))
        self._live = live

    @property
    def description(self) -> str:
        return f"recorded:{self.directory.name}"

    @property
    def is_live(self) -> bool:
        return self._live

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        if path.strip("/").split("/")[0] in _FIXTURE_OWN_FILES:
            raise FileNotFoundError(path)
        return self._files.read_bytes(path, limit)

    def read_text(self, path: str, limit: int = MAX_FILE_BYTES) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def realpath(self, path: str) -> str:
        return self._files.realpath(path)

    def exists(self, path: str) -> bool:
        return self._files.exists(path)

    def listdir(self, path: str) -> list[str]:
        return self._files.listdir(path)

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S,
            limit: int = MAX_OUTPUT_BYTES) -> CommandResult:
        recording = self.directory / "commands" / command_fixture_name(argv)
        if not recording.is_file():
            raise FileNotFoundError(f"{argv[0]}: command not found (no recording {recording.name})")
        out = recording.read_bytes()
        exit_file = recording.with_suffix(".exit")
        code = int(exit_file.read_text().strip()) if exit_file.is_file() else 0
        return CommandResult(tuple(argv), code, out[:limit], b"", len(out) > limit)
