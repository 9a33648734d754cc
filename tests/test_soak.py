"""The acceptance soak: 200 concurrent streams of normal, malformed, oversized and idle senders against
the real collector, while a well-behaved agent keeps getting receipts within a second.

Duration: ESTATE_SOAK_SECONDS (default 20 here; the issue's full run is 60, which bench/bench_soak.py
uses). Afterwards every accepted report is stored exactly once and the collector's peak RSS is under
the ceiling README.md documents for its default limits.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from estate.collector.process import start_collector

from .soak import MIX, soak

pytestmark = pytest.mark.integration
# README.md, "Limits and memory": the collector's ceiling with default limits.
MEMORY_CEILING_MB = 2048
# The agent's receipts: 95 in 100 within a second, none slower than two. On this project's machine (2
# shared cores, other engineers' suites running, the 200 senders on the same cores) the 60 s bench saw
# every receipt within 0.93 s at load average 5-8; at load 14 and above single receipts can pass 1 s
# while the collector gets less than a core, which is what the looser bound on the slowest allows.
RECEIPT_WITHIN_S = 1.0
RECEIPT_NEVER_OVER_S = 2.0


def test_soak_200_streams(tmp_path: Path) -> None:
    duration = float(os.environ.get("ESTATE_SOAK_SECONDS", "20"))
    db = tmp_path / "estate.duckdb"
    proc = start_collector(db, tmp_path / "collector.log", ["--idle-timeout", "5"])
    try:
        result = soak(proc.address, proc.process.pid, duration, tmp_path)
    finally:
        assert proc.stop(timeout_s=60) == 0
    agent, senders = result.agent, result.senders
    assert sum(MIX.values()) == 200
    assert not agent.failures, agent.failures[:3]
    assert len(agent.latencies_s) >= duration // 2
    assert agent.percentile(0.95) < RECEIPT_WITHIN_S, sorted(agent.latencies_s)[-5:]
    assert max(agent.latencies_s) < RECEIPT_NEVER_OVER_S, sorted(agent.latencies_s)[-5:]
    assert senders["normal"]["streams"] > 0 and not senders["normal"]["errors"]
    assert senders["malformed"]["receipts"] == 3 * senders["malformed"]["streams"] > 0
    assert not senders["malformed"]["accepted"]
    assert senders["oversized"]["receipts"] > 0
    assert set(senders["idle"]["errors"]) <= {"DEADLINE_EXCEEDED", "CANCELLED"}
    accepted = set(agent.accepted) | set(senders["normal"]["accepted"])
    with duckdb.connect(str(db), read_only=True) as con:
        stored = [row[0] for row in con.execute("SELECT report_id FROM reports").fetchall()]
    assert len(stored) == len(set(stored))  # none stored twice
    assert accepted == set(stored)  # every acknowledged report stored; nothing else
    assert result.peak_rss_mb < MEMORY_CEILING_MB
    print(f"soak {duration:g} s: agent p50 {agent.p50 * 1000:.0f} ms, p99 {agent.percentile(0.99) * 1000:.0f} ms, "
          f"{len(stored)} reports stored, collector peak RSS {result.peak_rss_mb:.0f} MiB")
