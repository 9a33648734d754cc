"""Hostile trees: binary garbage, huge (sparse) files, FIFOs and folders where files belong, in every
source at once. Each gives an error entry naming the file; the rest of the report still arrives,
within bounded time and memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .conftest import HOST_FIXTURES, REPO

GARBAGE = bytes(range(256)) * 64
HUGE = 2 * 1024 * 1024 * 1024  # a sparse 2 GB file: costs nothing on disk, must cost nothing in memory


def build_tree(root: Path) -> None:
    def put(path: str, data: bytes | None = None, huge: bool = False, fifo: bool = False, folder: bool = False) -> None:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if fifo:
            os.mkfifo(target)
        elif folder:
            target.mkdir()
        elif huge:
            with open(target, "wb") as handle:
                handle.truncate(HUGE)
        else:
            target.write_bytes(data or b"")

    put("/etc/os-release", fifo=True)
    put("/usr/lib/os-release", GARBAGE)
    put("/etc/redhat-release", (HOST_FIXTURES / "rhel6" / "etc" / "redhat-release").read_bytes())
    put("/etc/lsb-release", huge=True)
    put("/var/lib/dpkg/status", huge=True)
    put("/lib/apk/db/installed", GARBAGE)
    put("/var/lib/rpm/rpmdb.sqlite", GARBAGE)
    put("/var/lib/pacman/local/x-1-1/desc", fifo=True)
    put("/snap/core/current/meta/snap.yaml", huge=True)
    put("/usr/lib/python3/dist-packages/evil.egg-info/PKG-INFO", GARBAGE)
    put("/usr/lib/node_modules/evil/package.json", folder=True)
    put("/usr/lib/jvm/jdk/release", huge=True)
    put("/usr/lib/jvm/jdk/bin/java", b"")
    put("/etc/machine-id", GARBAGE)
    put("/usr/include/openssl/opensslv.h", fifo=True)
    put("/etc/oratab", GARBAGE)


def test_every_source_broken_at_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    build_tree(root)
    start = time.monotonic()
    # run() kills the scan if it hangs past the timeout; a bare Popen.communicate() would leave it running.
    proc = subprocess.run([sys.executable, "-m", "estate.agent.cli", "scan", "--root", str(root)],
                          capture_output=True, timeout=120)
    out = proc.stdout
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out)
    assert elapsed < 60
    assert (report["os"]["id"], report["os"]["version_id"]) == ("rhel", "6.5")  # the one good source decides
    messages = [e["message"] for e in report["errors"]]
    joined = "\n".join(messages)
    for fragment in ("/etc/os-release: not a regular file", "/usr/lib/os-release: contains NUL bytes",
                     "/etc/lsb-release: larger than", "/var/lib/dpkg/status: larger than",
                     "/lib/apk/db/installed: contains NUL bytes", "/var/lib/rpm/rpmdb.sqlite: not an rpm database",
                     "/var/lib/pacman/local/x-1-1/desc: not a regular file", "snap.yaml: larger than",
                     "evil/package.json", "/usr/lib/jvm/jdk/release: larger than",
                     "/usr/include/openssl/opensslv.h: not a regular file", "/etc/oratab: contains NUL bytes"):
        assert fragment in joined, fragment
    assert "/etc/machine-id: larger than the 4096-byte limit" in joined


def test_huge_files_cost_no_memory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    build_tree(root)
    argv = [sys.executable, "-m", "estate.agent.cli", "scan", "--root", str(root), "--output", "/dev/null"]
    # The benchmarks' measurement: the scan's own peak RSS, not that of this (large) pytest process.
    sys.path.insert(0, str(REPO / "bench"))
    from common import measure

    cost = measure(argv)
    assert cost.peak_rss_mb < 100  # 2 GB files were refused by size, never read
