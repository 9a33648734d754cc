"""Issue 5: wall time of `estate-agent snmp` sweeping a /24 where a handful of addresses answer.

snmpsim answers on 5 addresses of 127.77.0.0/24 (loopback: all of 127/8 is local on Linux); the other
249 have no listener. The kernel answers those with ICMP port-unreachable, which an unconnected UDP
socket (pysnmp's) never sees, so to the agent they are silent. The figure that matters: the silent
addresses cost about one timeout in total (they wait together), not one timeout each.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from common import measure

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.snmp_servers import snmpsim  # noqa: E402

NETWORK = "127.77.0.0/24"
ANSWERING = [f"127.77.0.{i}" for i in (10, 20, 30, 40, 50)]
COMMUNITY = "juniper-junos_srx100"
# (timeout s, retries, concurrency): the default concurrency, then one that forces four rounds.
RUNS = [(2.0, 0, 256), (1.0, 1, 256), (1.0, 0, 64)]


def main() -> dict[str, float]:
    agent = shutil.which("estate-agent") or str(Path(sys.executable).parent / "estate-agent")
    env = {**os.environ, "ESTATE_SNMP_COMMUNITY": COMMUNITY}
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, \
            snmpsim([REPO / "tests" / "fixtures" / "snmp"], Path(tmp), hosts=ANSWERING,
                    probe_community=COMMUNITY) as port:
        only = measure([agent, "snmp", *ANSWERING, "--port", str(port), "--timeout", "2", "--retries", "0",
                        "--output", "/dev/null", "--no-progress"], env=env)
        print(f"5 answering addresses alone: {only.wall_s:.2f} s wall, {only.cpu_s:.2f} s CPU, "
              f"{only.peak_rss_mb:.0f} MB peak RSS")
        figures["answering_only_s"] = round(only.wall_s, 2)
        for timeout, retries, concurrency in RUNS:
            argv = [agent, "snmp", NETWORK, "--port", str(port), "--timeout", str(timeout), "--retries",
                    str(retries), "--concurrency", str(concurrency), "--output", "/dev/null", "--no-progress"]
            cost = measure(argv, env=env, ok_codes=(0,))
            cycle = timeout * (retries + 1)
            rounds = -(-254 // concurrency)
            extra = cost.wall_s - only.wall_s
            print(f"/24 sweep (254 hosts, 5 answer), timeout {timeout:g} s, retries {retries}, concurrency "
                  f"{concurrency}: {cost.wall_s:.2f} s wall; the 249 silent ones added {extra:.2f} s = "
                  f"{extra / cycle:.2f} x the {cycle:g} s timeout cycle ({rounds} round(s) of waiting expected); "
                  f"{cost.cpu_s:.2f} s CPU, {cost.peak_rss_mb:.0f} MB peak RSS")
            figures[f"sweep_t{timeout:g}_r{retries}_c{concurrency}_s"] = round(cost.wall_s, 2)
    return figures


if __name__ == "__main__":
    main()
