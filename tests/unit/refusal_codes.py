"""Shared by the tests that every refusal code a page can meet is worded in every language:
the codes the server's source can send, and the codes a table of texts words."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PATTERNS = (
    r'json_error\(\s*\d+,\s*"([a-z_]+)"',
    r'\bcode = "([a-z_]+)"',
    r'\b(?:\w*Error|Problem|Refusal)\(\s*(?:\d+,\s*)?"([a-z_]+)"',
    r'\berror\(\s*"([a-z_]+)"',
)


def codes_in(files: Iterable[str]) -> set[str]:
    """Every refusal code raised or answered in ``files`` (paths from the repository's root)."""
    found: set[str] = set()
    for name in files:
        path = ROOT / name
        if not path.exists():
            continue
        text = path.read_text()
        for pattern in PATTERNS:
            found |= set(re.findall(pattern, text))
    return found


def block(source: str, opening: str) -> str:
    """The object literal of ``source`` that starts at ``opening`` and ends at the first line
    that closes it (``};`` or ``});``)."""
    start = source.index(opening)
    ends = [i for i in (source.find("\n};", start), source.find("\n});", start)) if i != -1]
    return source[start : min(ends)]


def worded(texts: str, prefix: str) -> set[str]:
    """The codes ``texts`` has a ``<prefix>.<code>`` or ``<prefix>.<kind>.<code>`` text for."""
    return set(re.findall(rf'"{re.escape(prefix)}\.(?:[a-z]+\.)?([a-z_]+)"', texts))
