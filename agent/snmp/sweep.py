"""Querying many targets at once with a bound on concurrency, one result per target.

Every target gets a result whatever happens to it (answered, silent, credentials refused, broken
values, an exception in our own code), and one target's failure never stops the sweep.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from estate.agent.snmp import client, detect
from estate.agent.snmp.client import SnmpFailure, Target
from estate.agent.snmp.rules import OsRule
from estate.v1 import inventory_pb2 as pb

DEFAULT_CONCURRENCY = 256
DEFAULT_DEADLINE_S = 300.0


@dataclass
class Result:
    """What happened to one target: status ok, partial (a report with what it answered before it
    stopped), no-response, auth or error."""

    target: Target
    status: str
    message: str = ""
    report: pb.Inventory | None = None
    seconds: float = 0.0


async def query_one(engine: SnmpEngine, target: Target, rules: Sequence[OsRule],
                    deadline_s: float = DEFAULT_DEADLINE_S) -> Result:
    """Read one target into a report, or a result saying clearly why not."""
    started = time.monotonic()
    facts = detect.Facts(address=target.address, port=target.port)
    try:
        try:
            await asyncio.wait_for(client.read_device(engine, target, rules, facts), deadline_s)
        except asyncio.TimeoutError:
            if not (facts.sys_descr or facts.sys_object_id):
                raise
            # It answered the system group: a big device that outlasts the deadline still gets a report.
            facts.interrupted = f"gave up after {deadline_s:g} s (device too slow or too large)"
        report = detect.build_report(facts, rules, dict(target.labels))
        device = report.device
        summary = " ".join(x for x in (device.vendor, device.os, device.version, device.model) if x) or "unknown device"
        if facts.interrupted:
            return Result(target, "partial", f"{summary}; {facts.interrupted}", report, time.monotonic() - started)
        return Result(target, "ok", summary, report, time.monotonic() - started)
    except SnmpFailure as exc:
        return Result(target, exc.kind, str(exc), None, time.monotonic() - started)
    except asyncio.TimeoutError:
        return Result(target, "error", f"gave up after {deadline_s:g} s (device too slow or too large)",
                      None, time.monotonic() - started)
    except Exception as exc:  # one broken device must not stop a sweep; the result says what broke
        return Result(target, "error", f"{type(exc).__name__}: {exc}"[:500], None, time.monotonic() - started)


async def sweep(targets: Sequence[Target], rules: Sequence[OsRule], concurrency: int = DEFAULT_CONCURRENCY,
                on_result: Callable[[Result], None] | None = None,
                deadline_s: float = DEFAULT_DEADLINE_S) -> list[Result]:
    """Query every target, at most `concurrency` at a time, over one shared SNMP engine."""
    engine = SnmpEngine()
    limit = asyncio.Semaphore(max(1, concurrency))

    async def bounded(target: Target) -> Result:
        async with limit:
            result = await query_one(engine, target, rules, deadline_s)
        if on_result is not None:
            on_result(result)
        return result

    try:
        return list(await asyncio.gather(*(bounded(t) for t in targets)))
    finally:
        engine.close_dispatcher()


def run_sweep(targets: Sequence[Target], rules: Sequence[OsRule], concurrency: int = DEFAULT_CONCURRENCY,
              progress: bool | None = None, deadline_s: float = DEFAULT_DEADLINE_S) -> list[Result]:
    """Synchronous entry point; shows a progress bar when stderr is a terminal (or when asked)."""
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return asyncio.run(sweep(targets, rules, concurrency, deadline_s=deadline_s))
    from tqdm import tqdm

    with tqdm(total=len(targets), unit="host", file=sys.stderr, desc="snmp") as bar:
        def advance(result: Result) -> None:
            bar.update(1)
            if result.status == "ok":
                bar.set_postfix_str(f"{result.target.address} {result.message}"[:60])

        return asyncio.run(sweep(targets, rules, concurrency, on_result=advance, deadline_s=deadline_s))
