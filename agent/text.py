"""Making text that came from a host safe to print on a terminal; shared by the agent and the collector.

A host name, package name or sysDescr is chosen by whoever controls the host. Printed raw, an ESC
starts a terminal control sequence (retitle the window, move the cursor, hide the lines above),
a CR overwrites the start of a line and a bidi override makes text read differently from what is
stored. Every such character is shown as a visible escape instead (``\\x1b``, ``\\u202e``), so the
output says exactly what was received and cannot act on the terminal.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; Unicode bidi embeddings, overrides and isolates, the Arabic letter
# mark, line and paragraph separators, and the zero-width characters that hide text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_KEEP_NEWLINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, keep_newlines: bool = False) -> str:
    """`value` as text with every control, bidi or invisible character shown as a visible escape."""
    text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, text)
