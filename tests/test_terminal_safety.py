"""Whatever a host sends is printed with its control characters escaped: no terminal injection.

A host name carrying ESC (an OSC title sequence), CR, NUL and a right-to-left override goes through
the real collector commands (`ingest`, `assets`, `score`, `explain`) and the SSH sweep's result line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from estate.agent.ssh.cli import report_file_stem
from estate.agent.text import printable

from .test_stream_limits import small_report

HOSTILE = "evil\x1b]0;owned\x07\r\x00\u202etxt.exe\x9b2J"
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
COLLECTOR = [sys.executable, "-m", "estate.collector.cli"]


def test_printable_escapes_controls_and_bidi() -> None:
    assert printable(HOSTILE) == "evil\\x1b]0;owned\\x07\\x0d\\x00\\u202etxt.exe\\x9b2J"
    assert printable("line one\nline two\tx", keep_newlines=True) == "line one\nline two\\x09x"
    assert printable("café ünïcode ok") == "café ünïcode ok"


@pytest.mark.integration
def test_collector_commands_print_host_text_escaped(tmp_path: Path) -> None:
    db = tmp_path / "estate.duckdb"
    report = small_report()
    report.host.hostname = HOSTILE
    report.os.pretty_name = "Debian\x1b[2J GNU/Linux 12"
    report.labels["owner"] = "ops\x1b[31m"
    report_file = tmp_path / "hostile.pb"
    report_file.write_bytes(report.SerializeToString())
    ingest = subprocess.run([*COLLECTOR, "ingest", "--db", str(db), str(report_file)], capture_output=True,
                            text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    outputs = {}
    for argv in (["assets"], ["assets", "--format", "csv"], ["score"], ["explain", report.asset_id]):
        result = subprocess.run([*COLLECTOR, *argv, "--db", str(db)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        outputs[argv[0] + "/" + "-".join(argv[1:])] = result.stdout
    for name, text in outputs.items():
        assert not UNSAFE.search(text), (name, text)
        assert "evil\\x1b]0;owned\\x07\\x0d\\x00\\u202etxt.exe" in text, (name, text)


def test_ssh_result_line_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The sweep's printed line for a host whose os-release ID carries a terminal title sequence.

    The sweep itself is replaced by one that finishes a host with such a report at once (a real
    host would need its os-release rewritten); the printing path is the command's own.
    """
    from estate.agent import cli
    from estate.agent.ssh import sweep as sweep_mod
    from estate.agent.ssh.inventory import Target

    report = small_report()
    report.os.id = "linux\x1b]2;pwned\x07"

    def finished_sweep(targets: list[Target], options: object,
                       on_done: object) -> list[sweep_mod.HostResult]:
        result = sweep_mod.HostResult(targets[0], "ok", "", 1.0, report)  # what a real host would give
        on_done(result)  # type: ignore[operator]
        return [result]

    monkeypatch.setattr(sweep_mod, "sweep", finished_sweep)
    code = cli.main(["ssh", "host1.example", "--no-agent", "--no-progress", "--known-hosts",
                     str(tmp_path / "known_hosts"), "--output-dir", str(tmp_path / "out")])
    line = capsys.readouterr().out
    assert code == 0
    assert not UNSAFE.search(line) and "linux\\x1b]2;pwned\\x07" in line and line.startswith("host1.example ok")


def test_output_dir_names_that_sanitise_alike_do_not_collide() -> None:
    names = ["web/1", "web_1", "web:1", "web 1", "..", ".", "a" * 300]
    stems = [report_file_stem(name) for name in names]
    assert len(set(stems)) == len(names)
    assert stems[1] == "web_1"  # a name that is already safe keeps its plain file name
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]{1,120}", stem) and stem not in (".", "..") for stem in stems)
