"""Real SNMP agents for tests and benchmarks: net-snmp snmpd and snmpsim, on 127.0.0.1.

Both run in the foreground as child processes and are stopped by the caller (context managers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .programs import program, venv_program

V3_USER = "estate-test"
V3_AUTH_KEY = "auth-key-for-tests"
V3_PRIV_KEY = "priv-key-for-tests"
COMMUNITY = "estate-test-community"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_agent(port: int, community: str, proc: subprocess.Popen[bytes], log: Path,
                    timeout_s: float = 60.0, host: str = "127.0.0.1") -> None:
    """Poll with snmpget until the agent answers sysObjectID (the machine is busy: be patient)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}: {log.read_text()[-2000:]}")
        done = subprocess.run([program("snmpget"), "-v2c", "-c", community, "-t", "1", "-r", "0", "-On",
                               f"udp:{host}:{port}", "1.3.6.1.2.1.1.2.0"], capture_output=True, text=True)
        if done.returncode == 0 and "1.3.6.1.2.1.1.2.0" in done.stdout:
            return
        time.sleep(0.3)
    raise RuntimeError(f"agent on {host}:{port} did not answer within {timeout_s:g} s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def snmpd(workdir: Path) -> Iterator[int]:
    """net-snmp snmpd with a v2c community and a v3 authPriv user (SHA-256 + AES); yields its port."""
    snmpd_path = program("snmpd")
    program("snmpget")  # the readiness probe: named now if missing, before the agent is started
    port = free_udp_port()
    conf = workdir / "snmpd.conf"
    conf.write_text(
        f"rocommunity {COMMUNITY} 127.0.0.1\n"
        f'createUser {V3_USER} SHA-256 "{V3_AUTH_KEY}" AES "{V3_PRIV_KEY}"\n'
        f"rouser {V3_USER} priv\n"
        "sysName estate-snmpd-test\nsysLocation test rack\nsysContact tests@example.invalid\n"
    )
    log = workdir / "snmpd.log"
    # -C: no system config; the persistent directory keeps engine boots away from /var/lib/snmp.
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(workdir / "persist")}
    with log.open("wb") as out:
        proc = subprocess.Popen([snmpd_path, "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{port}"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_agent(port, COMMUNITY, proc, log)
        yield port
    finally:
        _stop(proc)


@contextmanager
def snmpsim(data_dirs: Sequence[Path], workdir: Path, hosts: Sequence[str] = ("127.0.0.1",),
            probe_community: str = "") -> Iterator[int]:
    """snmpsim serving every .snmprec in data_dirs (community = file base name) on each host; yields the port."""
    program("snmpget")  # the readiness probe: named now if missing
    port = free_udp_port()
    log = workdir / "snmpsim.log"
    argv = [venv_program("snmpsim-command-responder"), f"--cache-dir={workdir / 'cache'}", "--log-level=error",
            "--logging-method=stderr"]
    argv += [f"--data-dir={d}" for d in data_dirs]
    argv += [f"--agent-udpv4-endpoint={h}:{port}" for h in hosts]
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        community = probe_community or next(iter(sorted(data_dirs[0].glob("*.snmprec")))).stem
        _wait_for_agent(port, community, proc, log, host=hosts[0])
        yield port
    finally:
        _stop(proc)
