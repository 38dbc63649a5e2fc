"""Shared by the annotation model and renderer tests: client shapes and stamped records."""

from __future__ import annotations

from typing import Any

from videoassist.annotations import parse_client, stamp


def shape(**fields: Any) -> dict[str, Any]:
    """A client rect, with ``fields`` replacing or adding keys."""
    base: dict[str, Any] = {"id": "a1", "kind": "rect", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}
    return {**base, **fields}


def made(data: dict[str, Any], created_at: float = 1.0, author: str = "agent-7") -> Any:
    """The server's record of a client shape (typed ``Any`` so tests can read any kind's fields)."""
    return stamp(parse_client(data), author=author, created_at=created_at)
