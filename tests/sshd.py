"""A real OpenSSH sshd on 127.0.0.1 for tests and benchmarks: temporary host key, keys, authorized_keys.

Started as the current user with its own config (UsePAM no, PidFile and AuthorizedKeysFile in a
temporary directory), so it touches nothing of the machine's own SSH setup except the
privilege-separation directory /run/sshd that sshd requires. Legacy hosts are simulated with one key
per captured fixture folder whose authorized_keys entry forces `ssh_replay.py FOLDER`.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .programs import program

REPLAY = Path(__file__).resolve().parent / "ssh_replay.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def public_key(private: Path) -> Path:
    """The .pub file next to a private key (key names may contain dots: id_aix7.2)."""
    return private.with_name(private.name + ".pub")


def keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run([program("ssh-keygen"), "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return path


@dataclass
class Sshd:
    """A running sshd; `key` is authorized for a normal login, `legacy_keys[name]` replay fixtures."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    host_key: Path
    key: Path
    user: str
    legacy_keys: dict[str, Path] = field(default_factory=dict)

    @property
    def known_hosts_line(self) -> str:
        public = public_key(self.host_key).read_text().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"

    def write_known_hosts(self, path: Path) -> Path:
        path.write_text(self.known_hosts_line)
        return path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sshd(directory: Path, legacy: dict[str, Path] | None = None, max_sessions: int = 64,
               timeout_s: float = 20.0) -> Sshd:
    """Start sshd on a free 127.0.0.1 port; `legacy` maps a key name to the fixture folder it replays."""
    sshd = program("sshd")  # before anything else: a missing sshd is named, not a FileNotFoundError
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory sshd requires
    host_key = keygen(directory / "ssh_host_ed25519_key")
    key = keygen(directory / "id_ed25519")
    lines = [public_key(key).read_text()]
    legacy_keys: dict[str, Path] = {}
    for name, folder in (legacy or {}).items():
        legacy_key = keygen(directory / f"id_{name}")
        legacy_keys[name] = legacy_key
        command = f"/bin/sh {REPLAY} {folder.resolve()}"
        lines.append(f'command="{command}",no-port-forwarding,no-pty {public_key(legacy_key).read_text()}')
    authorized = directory / "authorized_keys"
    authorized.write_text("".join(lines))
    authorized.chmod(0o600)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(f"""\
ListenAddress 127.0.0.1:{port}
ListenAddress 127.0.0.2:{port}
HostKey {host_key}
PidFile {directory / 'sshd.pid'}
AuthorizedKeysFile {authorized}
UsePAM no
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AllowTcpForwarding yes
MaxStartups 500:30:1000
MaxSessions {max_sessions}
MaxAuthTries 10
LoginGraceTime 30
LogLevel ERROR
SetEnv HOME={directory}
""")
    log = open(directory / "sshd.log", "wb")  # noqa: SIM115  (sshd keeps writing to it)
    process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = Sshd(directory, port, process, host_key, key, getpass.getuser(), legacy_keys)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}: {(directory / 'sshd.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"sshd did not start within {timeout_s:g} s")
