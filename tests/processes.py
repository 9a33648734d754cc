"""Child processes for tests: started in their own process group, waited for explicitly, killed whole.

A test that starts a program which itself starts others (a shell running `sleep`) must kill the
whole group, or the grandchildren outlive the test. A test that waits for a process to reach some
state must wait for exactly what its assertion needs, and fail saying what never happened rather
than carry on and fail somewhere less clear (or, worse, pass without checking).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = 30.0, interval_s: float = 0.02) -> T:
    """Poll `condition` until it returns something true and return that; fail the test naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not seen within {timeout_s:g} s")
        time.sleep(interval_s)


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL every process in the child's group (it leads one: start_new_session) and reap the child."""
    with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def group_alive(pgid: int) -> bool:
    """True while any process (other than a zombie) is left in the process group."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False


@contextmanager
def process_group(argv: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Run argv as the leader of a new process group; on exit the whole group is killed and checked gone."""
    proc: subprocess.Popen[bytes] = subprocess.Popen(list(argv), start_new_session=True, **popen)
    try:
        yield proc
    finally:
        kill_group(proc)
        wait_until(lambda: not group_alive(proc.pid), f"every process of group {proc.pid} gone", 10)
