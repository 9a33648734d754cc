"""A Windows host reached over WinRM (WS-Management, HTTPS), behind the same host-access seam.

The Windows discoverers read the registry with `reg query` (agent/discovery/windows.py); over
WinRM the very same commands run in a remote cmd shell, so a report made over WinRM holds the same
facts, parsed by the same code, as one made from `reg query` output anywhere else.

Only `reg query` is ever sent: every other command is refused here, before the network, as a
missing command (the discoverers then move on). Files are not read over WinRM. Every command is
bounded in output bytes and in time; the server's certificate is checked (against --ca or the
system's trust store) and plain HTTP is not offered.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

from estate.agent.hostaccess import (
    COMMAND_TIMEOUT_S,
    MAX_FILE_BYTES,
    MAX_OUTPUT_BYTES,
    CommandResult,
    HostAccessError,
)

DEFAULT_PORT = 5986
# Our names -> pywinrm's transports ("ssl" is HTTP Basic over HTTPS).
AUTH_METHODS: dict[str, Literal["ntlm", "kerberos", "credssp", "ssl"]] = {
    "ntlm": "ntlm", "kerberos": "kerberos", "credssp": "credssp", "basic": "ssl"}
UTF8_CODEPAGE = 65001  # reg prints program names in any script; the OEM code page would mangle them
MAX_ENVELOPE_BYTES = 512 * 1024


class WinRMError(HostAccessError):
    """The host could not be reached or refused us; `kind` is auth, tls, unreachable or error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def command_line(argv: Sequence[str]) -> str:
    """The arguments as one Windows command line (quoted as CommandLineToArgvW reads them back)."""
    return subprocess.list2cmdline(list(argv))


def allowed(argv: Sequence[str]) -> bool:
    """Only read-only registry queries: `reg query KEY [/v NAME | /s ...]`."""
    return len(argv) >= 3 and argv[0].lower() == "reg" and argv[1].lower() == "query"


class WinRMHost:
    """One Windows host over WinRM: `run` sends `reg query` through one remote shell, opened on first use."""

    def __init__(self, host: str, user: str, password: str, *, port: int = DEFAULT_PORT, auth: str = "ntlm",
                 ca_file: str | None = None, timeout_s: float = 60.0) -> None:
        from winrm.protocol import Protocol  # the [winrm] extra; imported only for WinRM scans

        if auth not in AUTH_METHODS:
            raise ValueError(f"unknown WinRM authentication {auth!r}: use {', '.join(AUTH_METHODS)}")
        self.host, self.port, self.auth = host, port, auth
        shown = f"[{host}]" if ":" in host else host
        self.endpoint = f"https://{shown}:{port}/wsman"
        operation = max(1, int(timeout_s))
        try:
            self._protocol = Protocol(
                endpoint=self.endpoint, transport=AUTH_METHODS[auth], username=user, password=password,
                # Without --ca: requests' own trust (REQUESTS_CA_BUNDLE, else its CA bundle); never unchecked.
                server_cert_validation="validate", ca_trust_path=ca_file or "legacy_requests",
                read_timeout_sec=operation + 10, operation_timeout_sec=operation, proxy=None)
        except Exception as exc:  # e.g. kerberos asked for without requests-kerberos installed
            raise WinRMError("error", f"{self.endpoint}: {auth} cannot be used here: {_first_line(exc)}") from exc
        self._protocol.max_env_sz = MAX_ENVELOPE_BYTES
        self._shell: str | None = None
        # The discoverers run in threads; one WinRM shell and HTTP session serve them one command at a time.
        self._lock = threading.Lock()
        self.commands_sent = 0

    @property
    def description(self) -> str:
        return f"winrm:{self.host}:{self.port}"

    @property
    def is_live(self) -> bool:
        return False

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        raise FileNotFoundError(f"{path}: files are not read over WinRM")

    def read_text(self, path: str, limit: int = MAX_FILE_BYTES) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def exists(self, path: str) -> bool:
        return False

    def listdir(self, path: str) -> list[str]:
        raise FileNotFoundError(f"{path}: directories are not listed over WinRM")

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S,
            limit: int = MAX_OUTPUT_BYTES) -> CommandResult:
        if not allowed(argv):
            # As a missing binary: uname, rpm and the rest do not exist on a Windows host.
            raise FileNotFoundError(f"{argv[0]}: not sent over WinRM (only `reg query` is)")
        with self._lock:
            return self._run_locked(argv, timeout, limit)

    def _run_locked(self, argv: Sequence[str], timeout: float, limit: int) -> CommandResult:
        shell = self._open()
        self.commands_sent += 1
        command_id = self._call(lambda: self._protocol.run_command(shell, "reg", [command_line(argv[1:])]))
        stdout, stderr, code, truncated = bytearray(), bytearray(), -1, False
        deadline = time.monotonic() + timeout
        from winrm.exceptions import WinRMOperationTimeoutError

        try:
            while True:
                try:
                    out, err, code, done = self._call(
                        lambda: self._protocol.get_command_output_raw(shell, command_id))
                except WinRMOperationTimeoutError:
                    out, err, done = b"", b"", False
                stdout += out
                stderr += err[:64 * 1024]
                if len(stdout) > limit:
                    del stdout[limit:]
                    truncated = True
                    break
                if done:
                    break
                if time.monotonic() > deadline:
                    raise WinRMError("error", f"{command_line(argv)}: no end within {timeout:g} s")
        finally:
            self._call(lambda: self._protocol.cleanup_command(shell, command_id), quiet=True)
        return CommandResult(tuple(argv), code, bytes(stdout), bytes(stderr), truncated)

    def close(self) -> None:
        if self._shell is not None:
            shell, self._shell = self._shell, None
            self._call(lambda: self._protocol.close_shell(shell), quiet=True)

    def __enter__(self) -> WinRMHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> str:
        if self._shell is None:
            self._shell = self._call(lambda: self._protocol.open_shell(codepage=UTF8_CODEPAGE))
        return self._shell

    def _call(self, action: Any, quiet: bool = False) -> Any:
        """Run one WS-Man exchange; transport and protocol failures become a WinRMError saying which."""
        import requests
        from winrm import exceptions

        try:
            return action()
        except (exceptions.WinRMOperationTimeoutError, WinRMError):
            raise
        except Exception as exc:  # requests, pywinrm and ssl each raise their own kinds
            if quiet:
                return None
            if isinstance(exc, exceptions.InvalidCredentialsError):
                raise WinRMError("auth", f"{self.endpoint}: credentials refused ({exc})") from exc
            if isinstance(exc, requests.exceptions.SSLError):
                raise WinRMError("tls", f"{self.endpoint}: certificate not trusted or TLS failed: "
                                 f"{_first_line(exc)}") from exc
            if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
                raise WinRMError("unreachable", f"{self.endpoint}: {_first_line(exc)}") from exc
            if isinstance(exc, exceptions.WinRMTransportError):
                raise WinRMError("error", f"{self.endpoint}: HTTP {exc.code}: {_first_line(exc)}") from exc
            raise WinRMError("error", f"{self.endpoint}: {type(exc).__name__}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
