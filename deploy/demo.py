"""The main job, end to end on this machine (what `make demo` runs).

Starts a collector on loopback with its DuckDB file in ./demo/, scans this host with the real
agent and sends the report over gRPC, stops the collector, then reads back from DuckDB what is
now known about this host, ending with its end-of-life findings and legacy risk (the collector
scored the report when it stored it, with the rules shipped in rules/), and writes the HTML estate
report of this host's estate to demo/report.html.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from estate.collector.process import start_collector

DEMO_DIR = Path("demo")


def run(*argv: str) -> None:
    print(f"$ {' '.join(argv)}", flush=True)
    subprocess.run(argv, check=True)


def main() -> int:
    DEMO_DIR.mkdir(exist_ok=True)
    db = DEMO_DIR / "estate.duckdb"
    collector = start_collector(db, DEMO_DIR / "collector.log")
    print(f"collector listening on {collector.address}, storing in {db}")
    try:
        bin_dir = Path(sys.executable).parent
        run(str(bin_dir / "estate-agent"), "scan", "--collector", collector.address,
            "--spool", str(DEMO_DIR / "spool"), "--label", "org=cabinet-office", "--label", "environment=development")
    finally:
        code = collector.stop()
        print(f"collector stopped (exit {code})")
    run(str(bin_dir / "estate-collector"), "assets", "--db", str(db))
    run(str(bin_dir / "estate-collector"), "score", "--db", str(db))
    report = DEMO_DIR / "report.html"
    run(str(bin_dir / "estate-collector"), "report", "--db", str(db), "--out", str(report),
        "--title", "Legacy technology estate: this host")
    print(f"\nThe estate report is in {report.resolve()} (open it in a browser; it needs no network)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
