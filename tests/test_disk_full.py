"""A full disk, for real: a small tmpfs mounted for the test and filled up (needs root, as CI has).

The collector's database fails; the collector must not stay up answering UNAVAILABLE for ever but
exit (code 74) for its supervisor to restart it, and once there is space again every report is
delivered and stored once. The agent's spool on a full disk fails cleanly, with no .tmp left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from estate.agent import transport
from estate.collector.process import start_collector

from .test_stream_limits import small_report

pytestmark = pytest.mark.integration


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path, leave_bytes: int) -> Path:
    """A file taking all but `leave_bytes` of the filesystem."""
    filler = mount / "filler"
    stat = os.statvfs(mount)
    size = stat.f_bavail * stat.f_frsize - leave_bytes
    with open(filler, "wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(b"\0" * (1 << 20))
        handle.write(b"\0" * (size % (1 << 20)))
    return filler


def stored_ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT report_id FROM reports").fetchall()]


def test_collector_exits_on_a_full_disk_and_loses_nothing_once_space_is_back(small_fs: Path,
                                                                              tmp_path: Path) -> None:
    db = small_fs / "estate.duckdb"
    proc = start_collector(db, tmp_path / "c1.log")
    filler = fill(small_fs, leave_bytes=6 << 20)
    spool = transport.Spool(tmp_path / "spool")
    acknowledged: set[str] = set()
    made: list[str] = []
    deadline = time.monotonic() + 120
    try:
        with transport.open_channel(proc.address, None) as channel:
            while proc.process.poll() is None and time.monotonic() < deadline:
                report = small_report(packages=2000, padding=1_500_000)
                made.append(report.report_id)
                spool.add(report.report_id, report.SerializeToString())
                try:
                    flushed = transport.flush_spool(channel, spool)
                except transport.TransportError:
                    time.sleep(0.5)
                    continue
                acknowledged |= {rid for rid, r in flushed.settled if r.status == r.ACCEPTED}
        code = proc.process.wait(60)
    finally:
        if proc.process.poll() is None:
            proc.process.kill()
    log = proc.log.read_text()
    assert code == 74, log[-3000:]
    assert "the database failed and must be reopened" in log
    assert acknowledged and spool.pending()  # some were stored, some wait in the spool

    filler.unlink()  # space is back: the supervisor's restart finds the database whole
    proc = start_collector(db, tmp_path / "c2.log")
    try:
        with transport.open_channel(proc.address, None) as channel:
            flushed = transport.flush_spool(channel, spool)
        assert not spool.pending() and not flushed.set_aside
    finally:
        assert proc.stop() == 0
    stored = stored_ids(db)
    assert len(stored) == len(set(stored))  # none twice
    assert set(stored) == set(made)  # every report made it, acknowledged ones included


def test_agent_spool_on_a_full_disk_fails_clearly_and_leaves_no_tmp(small_fs: Path) -> None:
    spool = small_fs / "spool"
    spool.mkdir()
    fill(small_fs, leave_bytes=8 << 10)
    result = subprocess.run([sys.executable, "-m", "estate.agent.cli", "scan", "--collector", "127.0.0.1:9",
                             "--collector-timeout", "2", "--spool", str(spool), "--output", "/dev/null"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 73, result.stderr
    assert f"cannot keep the report in the spool {spool}: No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [p.name for p in spool.iterdir() if p.name.endswith(".tmp") or p.suffix == ".report"]
