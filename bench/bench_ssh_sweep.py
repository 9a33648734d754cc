"""Agentless sweep throughput: hosts per second against a real local sshd, by concurrency, vs one at a time.

Starts OpenSSH sshd on 127.0.0.1 with one forced-command account that replays the real AIX 7.2
fixture (tests/fixtures/hosts/aix7.2), so every target is a full scan: key exchange, public-key
authentication, every discoverer's commands (about a dozen channels), parsing, report built. The
same N targets (distinct names, one sshd) are swept at each concurrency level; concurrency 1 is the
sequential baseline. "agent CPU ms/host" is the scanning process's own CPU time per host: with the
targets on other machines, cores / that figure bounds what one agent box can sweep. Run:
`python bench/run.py ssh_sweep` (BENCH_SSH_TARGETS=N, BENCH_SSH_LEVELS=1,4,16 to change them).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from estate.agent.ssh.connect import ConnectOptions  # noqa: E402
from estate.agent.ssh.inventory import Target  # noqa: E402
from estate.agent.ssh.sweep import HostResult, SweepOptions, sweep  # noqa: E402
from tests.sshd import start_sshd  # noqa: E402

TARGETS = int(os.environ.get("BENCH_SSH_TARGETS", "200"))
LEVELS = tuple(int(x) for x in os.environ.get("BENCH_SSH_LEVELS", "1,4,8,16,32").split(","))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _others(done: list[HostResult]) -> str:
    counts: dict[str, int] = {}
    for result in done:
        if result.status != "ok":
            key = f"{result.status} ({result.detail[:60]})"
            counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "-"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        server = start_sshd(directory / "sshd", legacy={"aix": REPO / "tests" / "fixtures" / "hosts" / "aix7.2"})
        try:
            known_hosts = server.write_known_hosts(directory / "known_hosts")
            targets = [Target(name=f"aix-{i:04d}", host="127.0.0.1", port=server.port, user=server.user,
                              identity_file=str(server.legacy_keys["aix"])) for i in range(TARGETS)]
            print(f"{TARGETS} targets, each a full scan of the replayed AIX 7.2 host (32 filesets)")
            print(f"{'concurrency':>11} {'wall s':>8} {'hosts/s':>8} {'speed-up':>8} {'ok':>5} "
                  f"{'agent CPU ms/host':>18}  other results")
            baseline = 0.0
            for level in LEVELS:
                options = SweepOptions(connect=ConnectOptions(known_hosts, allow_agent=False, connect_timeout=60),
                                       concurrency=level, host_timeout=300)
                done: list[HostResult] = []
                start, cpu = time.perf_counter(), _cpu_s()
                sweep(targets, options, done.append)
                wall, cpu = time.perf_counter() - start, _cpu_s() - cpu
                rate = len(done) / wall
                baseline = baseline or rate
                ok = sum(r.status == "ok" for r in done)
                print(f"{level:>11} {wall:>8.1f} {rate:>8.1f} {rate / baseline:>7.1f}x {ok:>5} "
                      f"{1000 * cpu / len(done):>18.0f}  {_others(done)}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
