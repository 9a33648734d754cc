"""Issue 13: discovery accuracy on the recorded-device suite, and the suite's sweep time.

Every recording in tests/fixtures/snmp (real device walks, each with the vendor, OS and version its
.json expects) is served by one snmpsim; `estate-agent snmp --inventory` reads them all in one sweep
(one inventory entry per recording: same address and port, one community each). A device is right
when vendor, OS and version all match; each is also counted on its own. The baseline, measured in
the same run on the same recordings, is the detection rules as they were before issue 13 (git
commit BASELINE_COMMIT, when the repository history is there): the gain is the ratio of the two.

The sweep time of the suite is compared with one device read alone and with the same suite read
one device at a time (--concurrency 1), all in this run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import measure

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.snmp_servers import snmpsim  # noqa: E402

RECORDINGS = REPO / "tests" / "fixtures" / "snmp"
BASELINE_COMMIT = "e50203a"  # main before issue 13
FIELDS = ("vendor", "os", "version")
RUNS = 3  # the machine is shared and noisy: each time is the median of RUNS sweeps


def expected_devices() -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.with_suffix(".json").read_text())["expected"]
            for p in sorted(RECORDINGS.glob("*.snmprec"))}


def write_inventory(path: Path, port: int, communities: list[str]) -> None:
    lines = ["defaults: {version: 2c, timeout: 10, retries: 1}", "targets:"]
    lines += [f"  - {{address: 127.0.0.1, port: {port}, community: {c}, labels: {{recording: {c}}}}}"
              for c in communities]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def sweep(agent: str, inventory: Path, output: Path, rules: Path | None = None, concurrency: int = 256,
          runs: int = 1) -> float:
    """Median wall time of `runs` sweeps (process start included); the last run's reports stay in `output`."""
    argv = [agent, "snmp", "--inventory", str(inventory), "--output", str(output), "--no-progress",
            "--concurrency", str(concurrency)]
    if rules is not None:
        argv += ["--rules", str(rules)]
    return statistics.median(measure(argv, ok_codes=(0, 4)).wall_s for _ in range(runs))


def score(output: Path, expected: dict[str, dict[str, str]]) -> tuple[dict[str, int], list[str]]:
    """Right counts per field and for whole devices, and a line per device that is wrong."""
    found = {}
    for line in output.read_text().splitlines():
        report = json.loads(line)
        found[report["labels"]["recording"]] = report.get("device", {})
    counts = dict.fromkeys((*FIELDS, "device", "version_known", "version_known_right"), 0)
    wrong = []
    for name, want in expected.items():
        got = found.get(name, {})
        right = {f: got.get(f, "") == want.get(f, "") for f in FIELDS}
        for field in FIELDS:
            counts[field] += right[field]
        counts["device"] += all(right.values())
        if want.get("version"):
            counts["version_known"] += 1
            counts["version_known_right"] += right["version"]
        if not all(right.values()):
            wrong.append(f"{name}: got {[got.get(f, '') for f in FIELDS]}, "
                         f"expected {[want.get(f, '') for f in FIELDS]}")
    return counts, wrong


def baseline_rules(directory: Path) -> Path | None:
    """The rules/snmp/*.yaml of BASELINE_COMMIT, or None without the git history."""
    git = shutil.which("git")
    if git is None:
        return None
    listing = subprocess.run([git, "-C", str(REPO), "ls-tree", "--name-only", f"{BASELINE_COMMIT}:rules/snmp"],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        return None
    directory.mkdir()
    for name in listing.stdout.split():
        if name.endswith(".yaml"):
            text = subprocess.run([git, "-C", str(REPO), "show", f"{BASELINE_COMMIT}:rules/snmp/{name}"],
                                  capture_output=True, text=True, check=True).stdout
            (directory / name).write_text(text)
    return directory


def main() -> dict[str, float]:
    agent = shutil.which("estate-agent") or str(Path(sys.executable).parent / "estate-agent")
    expected = expected_devices()
    total = len(expected)
    figures: dict[str, float] = {"devices": total}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "sim").mkdir()
        with snmpsim([RECORDINGS], tmp / "sim") as port:
            inventory = tmp / "all.yaml"
            write_inventory(inventory, port, list(expected))
            one = tmp / "one.yaml"
            write_inventory(one, port, [next(iter(expected))])
            sweep(agent, one, tmp / "warm.jsonl")  # warm the snmpsim index and the page cache
            alone = sweep(agent, one, tmp / "one.jsonl", runs=RUNS)
            wall = sweep(agent, inventory, tmp / "now.jsonl", runs=RUNS)
            serial = sweep(agent, inventory, tmp / "serial.jsonl", concurrency=1, runs=RUNS)
            counts, wrong = score(tmp / "now.jsonl", expected)
            old_rules = baseline_rules(tmp / "baseline-rules")
            old_counts = None
            if old_rules is not None:
                sweep(agent, inventory, tmp / "baseline.jsonl", rules=old_rules)
                old_counts, _ = score(tmp / "baseline.jsonl", expected)
    for label, got in (("now", counts), (f"rules of {BASELINE_COMMIT}", old_counts)):
        if got is None:
            print(f"{label}: no git history here, baseline not measured")
            continue
        print(f"{label}: devices right {got['device']}/{total} ({got['device'] / total:.0%}); vendor "
              f"{got['vendor']}/{total}, OS {got['os']}/{total}, version {got['version']}/{total} (of the "
              f"{got['version_known']} with a version in the recording: {got['version_known_right']})")
    for line in wrong:
        print(f"  wrong now: {line}")
    figures.update({f"right_{k}": float(v) for k, v in counts.items()})
    if old_counts is not None:
        figures.update({f"baseline_right_{k}": float(v) for k, v in old_counts.items()})
        print(f"devices right, now / baseline: {counts['device'] / max(1, old_counts['device']):.2f}x")
    print(f"sweep of the {total} recordings (median of {RUNS}): {wall:.2f} s wall at concurrency 256; "
          f"one device alone {alone:.2f} s "
          f"({wall / alone:.2f}x for {total}x the devices); one at a time {serial:.2f} s "
          f"({serial / wall:.2f}x the concurrent sweep); load {os.getloadavg()[0]:.1f}")
    figures.update({"sweep_s": round(wall, 2), "one_device_s": round(alone, 2), "serial_s": round(serial, 2)})
    return figures


if __name__ == "__main__":
    main()
