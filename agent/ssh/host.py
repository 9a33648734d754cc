"""`SSHHost`: the host-access seam over an SSH connection (paramiko), for agentless scans.

Nothing is installed on the target and nothing on it is changed: files are read with a bounded `dd`,
directories listed with `ls`, and commands run only when their name is in `READ_ONLY_COMMANDS`
(with the sub-commands of multi-purpose tools restricted further). Every command runs through the
login shell as `env LC_ALL=C LANG=C PATH=... argv...`, each word quoted, so that the output is in
the C locale and no shell syntax from a caller can reach the target. `sudo -n` is prefixed only for
commands the inventory names.

Every operation is bounded: per-command time (never past the host's overall deadline), output bytes,
and the number of channels open at once on the connection (sshd's MaxSessions is 10 by default and
older daemons allow fewer).
"""

from __future__ import annotations

import contextlib
import posixpath
import select
import shlex
import threading
import time
from collections.abc import Iterator, Sequence

import paramiko

from estate.agent.hostaccess import (
    COMMAND_TIMEOUT_S,
    MAX_FILE_BYTES,
    MAX_OUTPUT_BYTES,
    CommandResult,
    FileTooLarge,
    HostAccessError,
)

# What an agentless scan may run. Each is read-only in every form we call it; tools that can also
# change the system are limited to their read-only sub-commands in READ_ONLY_SUBCOMMANDS.
READ_ONLY_COMMANDS = frozenset({
    "uname", "hostname", "cat", "head", "ls", "test", "dd", "id", "date", "uptime",
    "rpm", "dpkg-query", "apk", "pacman", "snap", "flatpak",
    "oslevel", "lslpp", "prtconf", "lsattr", "lscfg",
    "pkginfo", "pkg", "showrev", "isainfo", "prtdiag", "hostid", "zonename",
    "swlist", "machinfo", "model", "getconf",
    "ss", "netstat", "ps", "lsof", "sw_vers", "systemctl",
    "java", "python", "python2", "python3", "perl", "node", "php", "ruby",
    "reg",  # Windows registry reads (OpenSSH on Windows); on Unix it is simply not found
})
# Tools that also install or remove software: only these sub-commands (first argument) are allowed.
READ_ONLY_SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "pkg": ("list", "info", "contents", "publisher"),
    "rpm": ("-q",),  # any query form: -q, -qa, -qi, ...
    "systemctl": ("list-units", "list-unit-files", "status", "show", "is-active", "is-enabled"),
    "snap": ("list",),
    "flatpak": ("list",),
    "apk": ("info",),
    "pacman": ("-Q",),
    "reg": ("query",),
}
# Standard system directories on Linux, AIX, Solaris and HP-UX: a non-interactive SSH session often
# has a PATH without the sbin directories where lslpp, swlist and machinfo live.
REMOTE_PATH = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/contrib/bin:/usr/local/bin:/opt/freeware/bin"
# Commands whose output does not change during a scan and that several discoverers ask for.
CACHED_COMMANDS = frozenset({("uname", "-s"), ("uname", "-a"), ("uname", "-r"), ("uname", "-m"), ("uname", "-n")})
DD_BLOCK = 65536
MAX_STDERR_BYTES = 64 * 1024
COMMAND_NOT_FOUND = 127
DEFAULT_MAX_CHANNELS = 4
DEFAULT_COMMAND_CAP_S = 300.0


class CommandRefused(HostAccessError):
    """A command that an agentless scan does not run, because it is not known to be read-only."""


class ConnectionDropped(HostAccessError):
    """The SSH connection went away while a command was running."""


class HostDeadlineExceeded(HostAccessError):
    """The host's overall time budget is spent; no further commands are started."""


def check_read_only(argv: Sequence[str]) -> None:
    """Raise CommandRefused unless argv is a command (and sub-command) known to be read-only."""
    if not argv:
        raise CommandRefused("empty command")
    name = posixpath.basename(argv[0])
    if name not in READ_ONLY_COMMANDS:
        raise CommandRefused(f"not running {name!r} over SSH: it is not in the read-only command list")
    allowed = READ_ONLY_SUBCOMMANDS.get(name)
    if allowed is not None:
        first = argv[1] if len(argv) > 1 else ""
        if not any(first == a or (a.startswith("-") and first.startswith(a)) for a in allowed):
            raise CommandRefused(f"not running {' '.join(argv[:2])!r} over SSH: only {', '.join(allowed)} "
                                 f"of {name} are read-only")


def remote_command(argv: Sequence[str], sudo: bool = False) -> str:
    """The command line sent to the target: C locale, standard PATH, every word quoted."""
    words = ["env", "LC_ALL=C", "LANG=C", f"PATH={REMOTE_PATH}"]
    if sudo:
        words += ["sudo", "-n"]
    return " ".join(shlex.quote(w) for w in [*words, *argv])


class SSHHost:
    """A remote host reached over an authenticated paramiko transport.

    `command_timeout` is every command's time limit (in place of the discoverer's local one).
    `deadline` (time.monotonic) is the host's overall budget: each command's time is cut to what is
    left of it, so a host that hangs every command still finishes its scan on time. Commands named
    in `sudo_commands` run under `sudo -n` (never prompting: no password is ever typed).
    """

    def __init__(self, transport: paramiko.Transport, name: str, *, sudo_commands: frozenset[str] = frozenset(),
                 command_timeout: float = DEFAULT_COMMAND_CAP_S, max_output: int = MAX_OUTPUT_BYTES,
                 deadline: float | None = None, max_channels: int = DEFAULT_MAX_CHANNELS) -> None:
        self._transport = transport
        self.name = name
        self.sudo_commands = sudo_commands
        self.command_timeout = command_timeout
        self.max_output = max_output
        self.deadline = deadline
        self._channels = threading.BoundedSemaphore(max_channels)
        self._cache: dict[tuple[str, ...], CommandResult] = {}
        self._cache_lock = threading.Lock()
        self._key_locks: dict[tuple[str, ...], threading.Lock] = {}
        # Directory listings, fetched once each: they answer "does this path exist?" for every
        # path below, so the many well-known locations discoverers probe cost no round trip when an
        # ancestor directory is absent (most of them, on any one host).
        self._listings: dict[str, list[str] | OSError | HostAccessError] = {}
        self.dropped = False

    @property
    def description(self) -> str:
        return f"ssh:{self.name}"

    @property
    def is_live(self) -> bool:
        return False

    # -- files ---------------------------------------------------------------------------------

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        if self._known_absent(path):
            raise FileNotFoundError(f"{path}: No such file or directory")
        # dd reads at most `count` blocks whatever the file is (a FIFO or /dev/zero cannot flood us),
        # exists on every Unix, and takes the path as if=... so no path is ever parsed as an option.
        blocks = limit // DD_BLOCK + 1
        argv = ["dd", f"if={path}", f"bs={DD_BLOCK}", f"count={blocks}"]
        result = self._run(argv, blocks * DD_BLOCK, sudo=False)
        if result.exit_code != 0:
            raise _file_error(path, result.stderr)
        if len(result.stdout) > limit:
            raise FileTooLarge(f"{path}: larger than the {limit}-byte limit for this file")
        return result.stdout

    def read_text(self, path: str, limit: int = MAX_FILE_BYTES) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def exists(self, path: str) -> bool:
        known = self._listed(path)
        if known is not None:
            return known
        try:
            return self._run(["test", "-e", path], 1024, sudo=False).exit_code == 0
        except HostAccessError:
            return False

    def listdir(self, path: str) -> list[str]:
        if self._known_absent(path):
            raise FileNotFoundError(f"{path}: No such file or directory")
        listing = self._listing(posixpath.normpath(path) if path.startswith("/") else path)
        if not isinstance(listing, list):
            raise listing
        return list(listing)

    def _listing(self, directory: str) -> list[str] | OSError | HostAccessError:
        """`ls -a` of a directory, run once per directory (concurrent askers wait for the first)."""
        with self._cache_lock:
            key_lock = self._key_locks.setdefault(("ls", directory), threading.Lock())
        with key_lock:
            cached = self._listings.get(directory)
            if cached is not None:
                return cached
            try:
                result = self._run(["ls", "-a", directory], MAX_FILE_BYTES, sudo=False)
            except HostAccessError as exc:
                return exc  # a deadline or a dropped link: not a fact about the directory, not cached
            if result.exit_code == COMMAND_NOT_FOUND:  # no ls: says nothing about the directory
                return HostAccessError(f"ls: command not found on {self.name}")
            listing: list[str] | OSError | HostAccessError
            if result.exit_code != 0:
                listing = _file_error(directory, result.stderr)
            else:
                listing = sorted(n for n in result.text.splitlines() if n not in ("", ".", ".."))
            self._listings[directory] = listing
            return listing

    def _listed(self, path: str) -> bool | None:
        """Whether `path` exists, judged from its ancestors' listings; None when they cannot tell.

        Walks down from /: an ancestor missing from its parent's listing settles it. A directory
        that cannot be listed (permissions) leaves the answer to the real operation.
        """
        if not path.startswith("/"):
            return None
        parts = [p for p in posixpath.normpath(path).split("/") if p]
        directory = "/"
        for part in parts:
            listing = self._listing(directory)
            if isinstance(listing, FileNotFoundError):
                return False
            if not isinstance(listing, list):
                return None
            if part not in listing:
                return False
            directory = posixpath.join(directory, part)
        return True

    def _known_absent(self, path: str) -> bool:
        return self._listed(path) is False

    # -- commands ------------------------------------------------------------------------------

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S,
            limit: int = MAX_OUTPUT_BYTES) -> CommandResult:
        """Run a read-only command within --command-timeout (`timeout`, a local-run figure, is not used)."""
        check_read_only(argv)
        key = tuple(argv)
        if key not in CACHED_COMMANDS:
            return self._run_checked(argv, limit)
        with self._cache_lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        # Several discoverers ask `uname -s` at once: the first runs it, the others wait for its answer.
        with key_lock:
            cached = self._cache.get(key)
            if cached is None:
                cached = self._cache[key] = self._run_checked(argv, limit)
        return cached

    def _run_checked(self, argv: Sequence[str], limit: int) -> CommandResult:
        sudo = posixpath.basename(argv[0]) in self.sudo_commands
        result = self._run(argv, limit, sudo=sudo)
        if result.exit_code == COMMAND_NOT_FOUND:
            raise FileNotFoundError(f"{argv[0]}: command not found on {self.name}")
        return result

    def _run(self, argv: Sequence[str], limit: int, sudo: bool) -> CommandResult:
        shown = " ".join(argv)
        # Waiting for a free channel is bounded by the host's budget only: the command's own
        # timeout starts when it runs, so a busy host does not make quick commands time out.
        wait = self.deadline - time.monotonic() if self.deadline is not None else self.command_timeout
        if wait <= 0 or not self._channels.acquire(timeout=wait):
            raise HostDeadlineExceeded(f"{shown}: not run, the host's time budget is spent")
        try:
            # Discoverers' timeouts are tuned for local runs; over SSH the link and the remote load
            # dominate, so every command gets the sweep's own --command-timeout instead.
            budget = self.command_timeout
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise HostDeadlineExceeded(f"{shown}: not run, the host's time budget is spent")
                budget = min(budget, left)
            return self._exec(argv, remote_command(argv, sudo), budget, min(limit, self.max_output))
        finally:
            self._channels.release()

    def _exec(self, argv: Sequence[str], command: str, timeout: float, limit: int) -> CommandResult:
        shown = " ".join(argv)
        deadline = time.monotonic() + timeout
        try:
            channel = self._transport.open_session(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not self._transport.is_active():
                self.dropped = True
                raise ConnectionDropped(f"{shown}: the SSH connection was dropped") from exc
            raise HostAccessError(f"{shown}: could not open an SSH channel: {exc}") from exc
        try:
            return self._read(channel, argv, command, deadline, timeout, limit)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not self._transport.is_active():
                self.dropped = True
                raise ConnectionDropped(f"{shown}: the SSH connection was dropped while it ran") from exc
            raise HostAccessError(f"{shown}: {type(exc).__name__}: {exc}") from exc

    def _read(self, channel: paramiko.Channel, argv: Sequence[str], command: str, deadline: float, timeout: float,
              limit: int) -> CommandResult:
        shown = " ".join(argv)
        with channel, _wakeup_detached_on_exit(channel):
            channel.exec_command(command)
            out, err = bytearray(), bytearray()
            truncated = False
            wakeup = channel.fileno()  # signalled when data (stdout or stderr) or EOF arrives
            while True:
                if channel.recv_ready():
                    out += channel.recv(65536)
                    if len(out) > limit:
                        truncated = True  # stop reading: closing the channel stops the remote writer
                        break
                elif channel.recv_stderr_ready():
                    data = channel.recv_stderr(65536)
                    err += data[: max(0, MAX_STDERR_BYTES - len(err))]
                elif channel.eof_received or channel.closed:
                    # Not exit_status_ready(): sshd sends the exit status as soon as the process ends,
                    # possibly before the rest of its output, so only EOF means all output is here.
                    break
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise HostAccessError(f"{shown}: timed out after {timeout:g} s on {self.name}")
                    select.select([wakeup], [], [], min(left, 0.5))
            if truncated:
                return CommandResult(tuple(argv), 0, bytes(out[:limit]), bytes(err), True)
            channel.status_event.wait(max(0.0, deadline - time.monotonic()))
            code = channel.recv_exit_status() if channel.exit_status_ready() else -1
            if code == -1 and not self._transport.is_active():
                self.dropped = True
                raise ConnectionDropped(f"{shown}: the SSH connection was dropped while it ran")
            return CommandResult(tuple(argv), code, bytes(out), bytes(err), False)


@contextlib.contextmanager
def _wakeup_detached_on_exit(channel: paramiko.Channel) -> Iterator[None]:
    """On leaving, point the channel's buffers at plain events before Channel.close() closes its wake-up pipe.

    A command cut short (output over its limit) is still writing, and paramiko's transport thread
    feeds what arrives into the channel's buffers, which set the pipe (channel.fileno()). close()
    closes the pipe's descriptors before marking it closed, so a write landing in between fails with
    EBADF and kills the transport thread, and with it every later command on the connection (seen
    once in CI), or lands on a descriptor opened meanwhile. set_event() takes the same lock as feed().
    """
    try:
        yield
    finally:
        channel.in_buffer.set_event(threading.Event())
        channel.in_stderr_buffer.set_event(threading.Event())


_FILE_ERRORS: tuple[tuple[str, type[OSError]], ...] = (
    ("No such file", FileNotFoundError),
    ("not found", FileNotFoundError),
    ("does not exist", FileNotFoundError),
    ("Permission denied", PermissionError),
)


def _file_error(path: str, stderr: bytes) -> OSError | HostAccessError:
    """Map a remote dd/ls failure to the exception a local read would raise."""
    message = stderr.decode("utf-8", errors="replace").strip().splitlines()
    detail = message[0][:200] if message else "unreadable"
    for fragment, kind in _FILE_ERRORS:
        if fragment in detail:
            return kind(f"{path}: {detail}")
    return HostAccessError(f"{path}: {detail}")
