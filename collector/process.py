"""Run a collector as a child process and learn its port: used by the demo, the tests and bench/."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LISTENING = re.compile(r"listening on (\S+):(\d+) ")


@dataclass
class CollectorProcess:
    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout_s: float = 20.0) -> int:
        """Stop gracefully (SIGTERM: streams finish, the store is closed); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_collector(db: Path, log: Path, extra_args: Sequence[str] = (), listen: str = "127.0.0.1:0",
                    timeout_s: float = 30.0, pre_args: Sequence[str] = (), db_flag: bool = True) -> CollectorProcess:
    """Start `estate-collector serve` on a free loopback port; wait until it says where it listens.

    `pre_args` go before the command (`--config FILE`); without `db_flag` the database comes from
    the configuration.
    """
    handle = open(log, "w")  # noqa: SIM115  (the child keeps writing after we return)
    db_args = ["--db", str(db)] if db_flag else []
    process = subprocess.Popen(
        [sys.executable, "-m", "estate.collector.cli", *pre_args, "serve", *db_args, "--listen", listen,
         *extra_args], stdout=handle, stderr=subprocess.STDOUT, text=True)
    handle.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = _LISTENING.search(log.read_text())
        if match:
            return CollectorProcess(process, int(match.group(2)), log)
        if process.poll() is not None:
            raise RuntimeError(f"collector exited {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"collector did not start within {timeout_s:g} s: {log.read_text()[-2000:]}")
