"""A bounded soak of the real collector: many hostile and normal streams, and one well-behaved agent.

Used by tests/test_soak.py (short) and bench/bench_soak.py (the figure). The hostile mix runs in a
separate process (`python -m tests.soak senders ...`), so the well-behaved agent measured here does
not share an interpreter lock with 200 sender threads:

- normal senders keep a stream open and send a small valid report on it every one to three seconds;
- malformed senders send garbage bytes, a report whose id is not a UUID and one with an over-long string;
- oversized senders send a 50 MB message (over the 48 MiB report limit, under gRPC's 64 MiB);
- idle senders open a stream and send nothing, opening a new one whenever the collector ends theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from estate.agent import transport
from estate.v1 import ingest_pb2 as ingest_pb
from estate.v1 import inventory_pb2 as pb

ACCEPTED = ingest_pb.Receipt.ACCEPTED
# The mix of the 200 hostile-and-normal streams.
MIX = {"normal": 110, "malformed": 40, "oversized": 10, "idle": 40}
OVERSIZED_BYTES = 50 * 1024 * 1024
CHANNELS = 8


def report(packages: int = 20) -> pb.Inventory:
    """A valid report of a made-up Debian host with `packages` packages."""
    message = pb.Inventory(report_id=str(uuid.uuid4()), asset_id=f"soak-{uuid.uuid4()}", method=pb.METHOD_LOCAL,
                           agent_version="soak")
    message.collected_at.GetCurrentTime()
    message.host.hostname = "soak-" + message.asset_id[-8:]
    message.os.id, message.os.version_id = "debian", "12"
    for index in range(packages):
        message.packages.add(name=f"package-{index}", version=f"1.{index}-1", architecture="amd64", manager="dpkg",
                             found_by="dpkg", evidence="/var/lib/dpkg/status")
    return message


def _call(channel: grpc.Channel) -> grpc.StreamStreamMultiCallable:
    return channel.stream_stream(transport.STREAM_METHOD, request_serializer=None,
                                 response_deserializer=ingest_pb.Receipt.FromString)


@dataclass
class Tally:
    """What the senders of one kind saw."""

    streams: int = 0
    receipts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, code: str) -> None:
        with self.lock:
            self.errors[code] = self.errors.get(code, 0) + 1


def _normal(channel: grpc.Channel, stop: threading.Event, tally: Tally) -> None:
    """One long-lived stream (reopened if it ends): a small report every one to three seconds."""
    while not stop.is_set():
        def reports() -> Iterator[bytes]:
            while not stop.is_set():
                yield report().SerializeToString()
                stop.wait(random.uniform(1.0, 3.0))

        with tally.lock:
            tally.streams += 1
        try:
            for receipt in _call(channel)(reports(), timeout=600):
                with tally.lock:
                    tally.receipts += 1
                    if receipt.status == ACCEPTED:
                        tally.accepted.append(receipt.report_id)
        except grpc.RpcError as exc:
            tally.error(exc.code().name)


def _malformed(channel: grpc.Channel, stop: threading.Event, tally: Tally) -> None:
    while not stop.is_set():
        bad_id, long_string = report(), report()
        bad_id.report_id = "not-a-uuid"
        long_string.packages[0].name = "x" * 100_000
        messages = [os.urandom(random.randint(1024, 65536)), bad_id.SerializeToString(),
                    long_string.SerializeToString()]
        try:
            receipts = list(_call(channel)(iter(messages), timeout=60))
        except grpc.RpcError as exc:
            tally.error(exc.code().name)
        else:
            with tally.lock:
                tally.streams += 1
                tally.receipts += len(receipts)
                tally.accepted += [r.report_id for r in receipts if r.status == ACCEPTED]  # must stay empty
        stop.wait(random.uniform(0.2, 1.0))


def _oversized(channel: grpc.Channel, stop: threading.Event, tally: Tally, blob: bytes) -> None:
    while not stop.is_set():
        try:
            receipts = list(_call(channel)(iter([blob]), timeout=120))
        except grpc.RpcError as exc:
            tally.error(exc.code().name)
        else:
            with tally.lock:
                tally.streams += 1
                tally.receipts += len(receipts)
        stop.wait(random.uniform(0.5, 1.5))


def _idle(channel: grpc.Channel, stop: threading.Event, tally: Tally) -> None:
    while not stop.is_set():
        def nothing() -> Iterator[bytes]:
            stop.wait()
            return
            yield b""

        try:
            list(_call(channel)(nothing(), timeout=600))
        except grpc.RpcError as exc:
            tally.error(exc.code().name)
        with tally.lock:
            tally.streams += 1


def run_senders(address: str, duration_s: float, out: Path) -> None:
    """Run the 200-stream mix for `duration_s`; write each kind's tally to `out` as JSON."""
    options = [("grpc.max_send_message_length", transport.MAX_MESSAGE_BYTES)]
    channels = [grpc.insecure_channel(address, options=[*options, ("grpc.channel_id", i)]) for i in range(CHANNELS)]
    stop = threading.Event()
    tallies = {kind: Tally() for kind in MIX}
    blob = bytes(OVERSIZED_BYTES)
    workers = {"normal": _normal, "malformed": _malformed, "idle": _idle}
    threads = []
    index = 0
    for kind, count in MIX.items():
        for _ in range(count):
            channel = channels[index % CHANNELS]
            index += 1
            args: tuple[object, ...] = (channel, stop, tallies[kind])
            target = _oversized if kind == "oversized" else workers[kind]
            if kind == "oversized":
                args += (blob,)
            threads.append(threading.Thread(target=target, args=args, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(duration_s)
    stop.set()
    for thread in threads:
        thread.join(180)
    out.write_text(json.dumps({kind: {"streams": t.streams, "receipts": t.receipts, "errors": t.errors,
                                      "accepted": t.accepted} for kind, t in tallies.items()}))
    for channel in channels:
        channel.close()


@dataclass
class AgentRun:
    """The well-behaved agent's receipts: latency of each, and the reports accepted."""

    latencies_s: list[float]
    accepted: list[str]
    failures: list[str]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_s)


def well_behaved_agent(address: str, duration_s: float, packages: int = 800, interval_s: float = 0.5) -> AgentRun:
    """Send one report per stream every `interval_s`, as the agent does; time each receipt."""
    run = AgentRun([], [], [])
    deadline = time.monotonic() + duration_s
    with transport.open_channel(address, None) as channel:
        transport.wait_for_channel(channel, 30)
        while time.monotonic() < deadline:
            data = report(packages).SerializeToString()
            started = time.monotonic()
            try:
                receipts = transport.stream_reports(channel, [data], timeout_s=60)
            except transport.TransportError as exc:
                run.failures.append(str(exc))
            else:
                run.latencies_s.append(time.monotonic() - started)
                run.accepted += [r.report_id for r in receipts if r.status == ACCEPTED]
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    return run


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@dataclass
class SoakResult:
    agent: AgentRun
    senders: dict[str, dict[str, Any]]
    peak_rss_mb: float


def soak(address: str, pid: int, duration_s: float, workdir: Path) -> SoakResult:
    """The hostile mix in a child process and the well-behaved agent here, for `duration_s`."""
    out = workdir / "senders.json"
    repo = Path(__file__).resolve().parent.parent
    senders = subprocess.Popen([sys.executable, "-m", "tests.soak", "senders", "--address", address,
                                "--duration", str(duration_s), "--out", str(out)], cwd=repo)
    try:
        time.sleep(min(5.0, duration_s / 4))  # let every sender open its stream first
        agent = well_behaved_agent(address, duration_s - min(5.0, duration_s / 4))
        senders.wait(300)
    finally:
        if senders.poll() is None:
            senders.kill()
    return SoakResult(agent, json.loads(out.read_text()), peak_rss_mb(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    senders = sub.add_parser("senders")
    senders.add_argument("--address", required=True)
    senders.add_argument("--duration", type=float, required=True)
    senders.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    run_senders(args.address, args.duration, args.out)


if __name__ == "__main__":
    main()
