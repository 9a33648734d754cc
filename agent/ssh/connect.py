"""Opening an SSH connection to a target: strict host keys, credentials from files or the environment,
optional jump host (ProxyJump).

Host keys are checked against known_hosts. An unknown key fails the host (`UnknownHostKey`); a key
that differs from the recorded one fails it too (paramiko's BadHostKeyException) and is never
replaced. Only with `trust_on_first_use` is an unknown key accepted, and then it is appended to the
known_hosts file so that the next sweep checks it. Secrets (key passphrases and passwords) are read
from a file or an environment variable when connecting and are never stored on a Target, printed
or logged.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from estate.agent.ssh.inventory import Target, parse_address

MAX_SECRET_BYTES = 4096


class UnknownHostKey(paramiko.SSHException):
    """The server's host key is not in known_hosts and trust-on-first-use was not asked for."""

    def __init__(self, host: str, key: paramiko.PKey) -> None:
        super().__init__(f"{host}: host key {key.get_name()} {key.fingerprint} is not in known_hosts "
                         "(add it, or run once with --trust-on-first-use to record it)")
        self.key = key


class CredentialError(Exception):
    """A password file or variable that cannot be read; the message never contains the secret."""


@dataclass(frozen=True)
class ConnectOptions:
    known_hosts: Path
    trust_on_first_use: bool = False
    connect_timeout: float = 10.0
    allow_agent: bool = True


_known_hosts_lock = threading.Lock()


class _KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Reject unknown keys, or record them (trust on first use) in the known_hosts file."""

    def __init__(self, known_hosts: Path, trust_on_first_use: bool) -> None:
        self.known_hosts = known_hosts
        self.trust_on_first_use = trust_on_first_use

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if not self.trust_on_first_use:
            raise UnknownHostKey(hostname, key)
        # Many sweep threads may record keys at once: append under a lock, one line per key.
        with _known_hosts_lock:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with open(self.known_hosts, "a") as handle:
                handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
            client.get_host_keys().add(hostname, key.get_name(), key)


def read_password(target: Target) -> str | None:
    """The target's password from its password file or environment variable, if it names one."""
    if target.password_file:
        try:
            with open(target.password_file, "rb") as handle:
                data = handle.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise CredentialError(f"password file {target.password_file}: {exc.strerror or 'unreadable'}") from None
        if len(data) > MAX_SECRET_BYTES:
            raise CredentialError(f"password file {target.password_file}: larger than {MAX_SECRET_BYTES} bytes")
        try:
            return data.decode("utf-8", errors="strict").rstrip("\r\n")
        except UnicodeDecodeError:
            raise CredentialError(f"password file {target.password_file}: not UTF-8 text") from None
    if target.password_env:
        value = os.environ.get(target.password_env)
        if value is None:
            raise CredentialError(f"environment variable {target.password_env} (password) is not set")
        return value
    return None


def _client(options: ConnectOptions) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    if options.known_hosts.is_file():
        client.load_host_keys(str(options.known_hosts))
    client.set_missing_host_key_policy(_KnownHostsPolicy(options.known_hosts, options.trust_on_first_use))
    return client


def _connect_one(target: Target, host: str, port: int, user: str, options: ConnectOptions,
                 sock: paramiko.Channel | socket.socket | None = None) -> paramiko.SSHClient:
    password = read_password(target)
    if target.identity_file:
        # Otherwise paramiko's FileNotFoundError reads as "unreachable" on a host that is fine.
        try:
            with open(target.identity_file, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise CredentialError(f"identity file {target.identity_file}: {exc.strerror or 'unreadable'}") from None
    client = _client(options)
    timeout = options.connect_timeout
    try:
        if sock is None:
            tcp = socket.create_connection((host, port), timeout=timeout)
            # Each command is a few small packets each way: without TCP_NODELAY, Nagle's algorithm
            # and delayed ACKs add about 40 ms to every one of them.
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = tcp
        client.connect(
            host, port=port, username=user or None, password=password,
            key_filename=target.identity_file or None,
            allow_agent=options.allow_agent, look_for_keys=False, sock=sock,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, channel_timeout=timeout)
    except BaseException:
        client.close()
        if isinstance(sock, socket.socket):
            sock.close()
        raise
    return client


class Connection:
    """An open SSH connection to a target, through its jump host when it has one."""

    def __init__(self, client: paramiko.SSHClient, jump: paramiko.SSHClient | None) -> None:
        self.client = client
        self.jump = jump

    @property
    def transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        if transport is None:
            raise paramiko.SSHException("connection is closed")
        return transport

    def close(self) -> None:
        self.client.close()
        if self.jump is not None:
            self.jump.close()


def connect(target: Target, options: ConnectOptions) -> Connection:
    """Connect and authenticate, checking host keys; raises paramiko/socket errors as they come."""
    user = target.user or None
    if not target.jump:
        return Connection(_connect_one(target, target.host, target.port, user or "", options), None)
    jump_user, jump_host, jump_port = parse_address(target.jump, f"{target.name}: jump")
    jump = _connect_one(target, jump_host, jump_port or 22, jump_user or target.user, options)
    try:
        jump_transport = jump.get_transport()
        if jump_transport is None:
            raise paramiko.SSHException(f"jump host {target.jump}: connection closed")
        channel = jump_transport.open_channel("direct-tcpip", (target.host, target.port), ("127.0.0.1", 0),
                                              timeout=options.connect_timeout)
        client = _connect_one(target, target.host, target.port, user or "", options, sock=channel)
    except BaseException:
        jump.close()
        raise
    return Connection(client, jump)


# How a connection failure reads on the host's result line: exception type -> status. Order matters
# (subclasses first).
def classify(exc: BaseException) -> tuple[str, str]:
    """(status, detail) for a failed connection; detail never holds a secret."""
    if isinstance(exc, UnknownHostKey):
        return "unknown host key", str(exc)
    if isinstance(exc, paramiko.BadHostKeyException):
        return "host key mismatch", (f"host key changed: expected {exc.expected_key.get_name()} "
                                     f"{exc.expected_key.fingerprint}, got {exc.key.get_name()} "
                                     f"{exc.key.fingerprint}; not connecting (possible impersonation)")
    if isinstance(exc, paramiko.AuthenticationException):
        return "auth failed", f"authentication failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, CredentialError):
        return "auth failed", str(exc)
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return "unreachable", f"connection refused: {exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timeout", f"timed out connecting: {exc or 'no answer'}"
    if isinstance(exc, socket.gaierror):
        return "unreachable", f"name not resolved: {exc}"
    if isinstance(exc, ConnectionRefusedError | ConnectionResetError | OSError) and not isinstance(
            exc, paramiko.SSHException):
        return "unreachable", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, paramiko.ChannelException):
        return "unreachable", f"jump host could not reach the target: {exc}"
    if isinstance(exc, paramiko.SSHException) and (
            "No existing session" in str(exc)
            or ("banner" in str(exc) and isinstance(exc.__context__, socket.timeout | TimeoutError))):
        # What paramiko raises when the server accepted TCP but its banner or key exchange did not
        # arrive within the connect timeout: which of the two depends on which thread notices
        # first; a banner read that timed out carries the socket timeout as its context.
        return "timeout", "the server did not complete the SSH handshake within the connect timeout"
    if isinstance(exc, paramiko.SSHException | EOFError):
        text = str(exc)
        if "banner" in text or "EOF" in text or isinstance(exc, EOFError) or "closed" in text.lower():
            return "connection dropped", f"the server closed the connection: {text or type(exc).__name__}"
        return "ssh error", text
    return "error", f"{type(exc).__name__}: {exc}"
