"""Decoding SNMP values into bounded text, without pysnmp's prettyPrint.

prettyPrint renders an OCTET STRING holding a line break (IOS and AIX sysDescr) as `0x...` hex,
so strings are decoded from their raw bytes here: UTF-8 when valid, else Latin-1 (every byte maps
to a character, so nothing is lost and nothing raises). Wrapping double quotes that some agents
add are removed, NULs are dropped and line breaks normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Matches the collector's per-string bound (collector/validate.py MAX_STRING_CHARS).
MAX_TEXT_CHARS = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Text:
    """A decoded string and what had to be done to it."""

    value: str
    truncated: bool = False
    replaced_encoding: bool = False


def decode_bytes(raw: bytes, limit: int = MAX_TEXT_CHARS) -> Text:
    """Decode an OCTET STRING's bytes into bounded, printable text."""
    try:
        text = raw.decode("utf-8")
        latin = False
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        latin = True
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    truncated = len(text) > limit
    if truncated:
        text = text[:limit]
    return Text(text, truncated=truncated, replaced_encoding=latin)


def hex_id(raw: bytes) -> str:
    """Lower-case hex of an identifier such as snmpEngineID (no separators)."""
    return raw.hex()


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].strip()
