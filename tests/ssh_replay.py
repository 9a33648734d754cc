"""Forced command for the test sshd: answer an agentless scan from a captured host fixture folder.

sshd runs this (authorized_keys `command="python ssh_replay.py FOLDER"`) for every command the
agent sends; the command itself arrives in SSH_ORIGINAL_COMMAND. Files are served from FOLDER at
their real paths, command output from FOLDER/commands/<argv-with-non-alnum-as-_>.txt with an
optional .exit code, exactly as RecordedHost reads them. Hostile behaviours for the tests: a
sibling `.hang` file makes the command hang, `.flood` makes it write without end, `.drop` kills
the SSH session (the connection drops). Standard library only: it starts once per command.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path


def _strip_prefix(words: list[str]) -> list[str]:
    # The agent sends: env LC_ALL=C LANG=C PATH=... [sudo -n] argv...
    if words[:1] == ["env"]:
        words = words[1:]
        while words and re.match(r"^[A-Z_]+=", words[0]):
            words = words[1:]
    if words[:2] == ["sudo", "-n"]:
        words = words[2:]
    return words


def _inside(folder: Path, path: str) -> Path:
    target = (folder / path.lstrip("/")).resolve()
    if folder.resolve() not in target.parents and target != folder.resolve():
        return folder / "nonexistent"
    return target


def _drop_session() -> None:
    """Kill the sshd session process above us (the shell may or may not sit in between)."""
    pid = os.getppid()
    for _ in range(3):
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        if comm.startswith("sshd"):
            os.kill(pid, signal.SIGKILL)
            return
        pid = int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])
    os.kill(os.getppid(), signal.SIGKILL)


def main(folder: Path) -> int:
    words = _strip_prefix(shlex.split(os.environ.get("SSH_ORIGINAL_COMMAND", "")))
    if not words:
        return 0
    out = sys.stdout.buffer
    if words[0] == "dd":
        args = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        path = _inside(folder, args.get("if", ""))
        if not path.is_file() or path.parts[len(folder.parts):len(folder.parts) + 1] == ("commands",):
            sys.stderr.write(f"dd: {args.get('if')}: No such file or directory\n")
            return 1
        out.write(path.read_bytes()[: int(args.get("bs", "512")) * int(args.get("count", "1"))])
        return 0
    if words[0] == "test":
        return 0 if _inside(folder, words[-1]).exists() else 1
    if words[0] == "ls":
        path = _inside(folder, words[-1])
        if not path.is_dir():
            sys.stderr.write(f"ls: {words[-1]}: No such file or directory\n")
            return 2
        out.write("".join(f"{n}\n" for n in sorted(os.listdir(path))).encode())
        return 0
    recording = folder / "commands" / (re.sub(r"[^A-Za-z0-9]", "_", " ".join(words)) + ".txt")
    if recording.with_suffix(".hang").exists():
        # Hang, but leave when the SSH session above us ends (we get re-parented), so that no test
        # leaves a process behind; never longer than a minute.
        parent, deadline = os.getppid(), time.monotonic() + 60
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(0.2)
        return 124
    if recording.with_suffix(".drop").exists():
        _drop_session()
    if recording.with_suffix(".flood").exists():
        block = b"flood:flood.fileset:1.0.0.0: : :C:F:endless output: : : : : : :0:0:/:\n" * 1024
        while True:
            out.write(block)
    if not recording.is_file():
        sys.stderr.write(f"sh: {words[0]}: not found\n")
        return 127
    out.write(recording.read_bytes())
    exit_file = recording.with_suffix(".exit")
    return int(exit_file.read_text().strip()) if exit_file.is_file() else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
