"""``ServerEvent`` and docs/protocol.md name the same server-to-client events."""

from __future__ import annotations

import re
from pathlib import Path

from videoassist.desk.wire import ServerEvent

PROTOCOL = Path(__file__).parents[2] / "docs" / "protocol.md"
SECTION = "## Server → client events"


def documented_server_events() -> set[str]:
    """Every event the protocol's server-to-client section describes: one ``####`` heading per
    event (``#### `offer` ``, ``#### agent `session_ended` ``; headings without a name in
    backticks group events, like "Customer in-call events"), and one row per event in the
    in-call table (``| <a id="..."></a>`chat` | ...``)."""
    text = PROTOCOL.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    names = set()
    for line in text[start : end if end != -1 else None].splitlines():
        heading = re.match(r"####\s[^`]*`([a-z_]+)`", line)
        row = re.match(r"\|\s*<a id=\"[^\"]*\"></a>`([a-z_]+)`\s*\|", line)
        found = heading or row
        if found:
            names.add(found.group(1))
    return names


def test_the_protocol_documents_every_event_the_server_sends() -> None:
    documented = documented_server_events()
    assert {e.value for e in ServerEvent} - documented == set()


def test_every_server_event_the_protocol_documents_has_a_name_in_the_code() -> None:
    documented = documented_server_events()
    assert documented - {e.value for e in ServerEvent} == set()


def test_the_protocol_section_is_found_and_parsed() -> None:
    """Guards the two tests above against a parser that finds nothing and so agrees."""
    assert {"queue", "offer", "session_ended", "chat", "annotation_lost"} <= (
        documented_server_events()
    )
