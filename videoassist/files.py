"""Where the server keeps its files: recordings, call stills and photos, tutorial renders. The
storage port (issue 15).

One node keeps them under ``DATA_DIR``; several nodes share one directory (an NFS or CephFS
mount, docs/operations.md), since a call restored on another node records on into the same
tree and any node serves any file. Every module asks this port for a folder by area and key and
never builds a path from ``DATA_DIR`` itself, so the layout has one owner and another store
(object storage, later) has one seam: what ``LocalFiles`` does is what it would do, with a
local working folder synced to the store.

Keys come from stored ids (call ids, a recording's folder, tutorial ids) and are checked, so no
key can name a path outside its area.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Protocol

Area = Literal["recordings", "calls", "tutorials"]
AREAS: tuple[Area, ...] = ("recordings", "calls", "tutorials")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class FileStore(Protocol):
    def area(self, area: Area) -> Path:
        """The folder every key of ``area`` is under (on this node)."""
        ...

    def folder(self, area: Area, key: str) -> Path:
        """The folder of one key (it may not exist yet); ValueError for a key that is not
        one."""
        ...


class LocalFiles:
    """The files in one directory tree: ``<root>/<area>/<key>/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def area(self, area: Area) -> Path:
        if area not in AREAS:
            raise ValueError(f"no file area {area!r}")
        return self.root / area

    def folder(self, area: Area, key: str) -> Path:
        if not KEY_PATTERN.match(key):
            raise ValueError(f"not a file key: {key!r}")
        return self.area(area) / key


def folder_name(call_id: str, part: int) -> str:
    """The key of a recording's folder in the ``recordings`` area: the call's id, and for the
    parts of a call recorded on after a restart ``<call_id>-<part>``."""
    return call_id if part <= 1 else f"{call_id}-{part}"


def folder_of(row: dict[str, Any]) -> str:
    """The key of a stored ``recordings`` row's folder."""
    return folder_name(row["call_id"], row.get("part") or 1)
