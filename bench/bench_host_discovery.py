"""Issue 3: a full local scan side by side with FusionInventory and OCS Inventory agents, in one run.

Measures `estate-agent scan --output /dev/null`, `fusioninventory-agent --local=DIR` and
`ocsinventory-agent --local=DIR` interleaved (agent, fusion, ocs, agent, ...) so that the
machine's load falls on all three alike: median wall time, CPU (user+system) and peak RSS of
each process, and the ratios. Targets: >= 5x faster than fusioninventory-agent, >= 10x faster
than ocsinventory-agent, peak RSS under 45 MB.

The benchmark installs nothing. Without the peers it measures the agent alone and says how to
install them: apt-get -o DPkg::Lock::Timeout=600 install -y fusioninventory-agent ocsinventory-agent

The agent runs with Python's bytecode cache enabled (as an installed package has it), even where
the environment sets PYTHONDONTWRITEBYTECODE: compiling the sources on every run is a property of
this development shell, not of the agent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ProcessCost, measure

RUNS = 7
INSTALL = "apt-get -o DPkg::Lock::Timeout=600 install -y fusioninventory-agent ocsinventory-agent"


def _median(costs: list[ProcessCost]) -> ProcessCost:
    return ProcessCost(statistics.median(c.wall_s for c in costs), statistics.median(c.cpu_s for c in costs),
                       statistics.median(c.peak_rss_mb for c in costs))


def main() -> dict[str, float]:
    agent = shutil.which("estate-agent") or str(Path(sys.executable).parent / "estate-agent")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out_dir = Path(tempfile.mkdtemp(prefix="bench-host-discovery-"))
    commands: dict[str, list[str]] = {"estate-agent": [agent, "scan", "--output", "/dev/null"]}
    for peer in ("fusioninventory-agent", "ocsinventory-agent"):
        if shutil.which(peer):
            (out_dir / peer).mkdir()
            commands[peer] = [peer, f"--local={out_dir / peer}"]
        else:
            print(f"{peer} not installed: measuring without it (install with: {INSTALL})")
    try:
        for argv in commands.values():  # warm-up: page cache, and the agent's bytecode cache
            measure(argv, env)
        costs: dict[str, list[ProcessCost]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, argv in commands.items():
                costs[name].append(measure(argv, env))
        report = json.loads(subprocess.run([agent, "scan"], capture_output=True, text=True, env=env,
                                           check=True).stdout)
        counts = {"estate-agent": sum(1 for p in report.get("packages", []) if p["manager"] == "dpkg")}
        for peer in commands.keys() - {"estate-agent"}:
            newest = max((out_dir / peer).glob("*.ocs"), key=lambda p: p.stat().st_mtime)
            counts[peer] = len(re.findall(r"<SOFTWARES>", newest.read_text(errors="replace")))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    figures: dict[str, float] = {}
    medians = {name: _median(c) for name, c in costs.items()}
    for name, cost in medians.items():
        key = name.split("-")[0]
        figures.update({f"{key}_wall_s": round(cost.wall_s, 3), f"{key}_cpu_s": round(cost.cpu_s, 3),
                        f"{key}_peak_rss_mb": round(cost.peak_rss_mb, 1)})
        print(f"{name:24} {cost.wall_s:6.3f} s wall  {cost.cpu_s:6.3f} s CPU  {cost.peak_rss_mb:5.1f} MB peak RSS"
              f"  ({counts[name]} dpkg packages; median of {RUNS})")
    ours = medians["estate-agent"]
    for peer, target in (("fusioninventory-agent", 5), ("ocsinventory-agent", 10)):
        if peer in medians:
            ratio = medians[peer].wall_s / ours.wall_s
            figures[f"{peer.split('-')[0]}_ratio"] = round(ratio, 1)
            print(f"estate-agent is {ratio:.1f}x faster in wall time than {peer} (target {target}x: "
                  f"{'met' if ratio >= target else 'NOT met'})")
    print(f"estate-agent peak RSS {ours.peak_rss_mb:.1f} MB (target < 45 MB: "
          f"{'met' if ours.peak_rss_mb < 45 else 'NOT met'})")
    return figures


if __name__ == "__main__":
    main()
