"""Write the key reference of docs/configuration.md from the programs' own options (a test checks it is current)."""

from __future__ import annotations

import sys
from pathlib import Path

from estate.agent import config
from estate.agent.cli import build_parser as agent_parser
from estate.collector.cli import build_parser as collector_parser

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
MARKER = "<!-- generated below by deploy/gen_config_reference.py: do not edit by hand -->"


def render(current: str) -> str:
    head = current.split(MARKER)[0].rstrip() + "\n\n" + MARKER + "\n\n"
    return head + config.reference("agent", agent_parser()) + "\n" + config.reference("collector", collector_parser())


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
    sys.exit(0)
