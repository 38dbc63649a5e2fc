"""Desk events as data: JSON-ready dicts and back, for what crosses a process (the inbox that
every node appends to, the journal a replica desk follows; docs/architecture.md, "Several
nodes").

An encoded event is ``{"type": <class name>, ...its fields}``; nested values (a ``DeskConfig``,
restored tickets) are plain JSON. Decoding validates every field, so an entry from another
version or a damaged one is refused (``ValueError``) rather than fed to the desk half-read.
The desk itself never imports this module (it stays free of pydantic and of any wire).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from videoassist.desk import events
from videoassist.desk.config import DeskConfig
from videoassist.desk.events import Event

_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Event)}
_NAMESPACE = {**vars(events), "DeskConfig": DeskConfig}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(cls)
    adapter.rebuild(force=True, _types_namespace=_NAMESPACE)  # DeskConfig: a TYPE_CHECKING import
    return adapter


_ADAPTERS = {name: _adapter(cls) for name, cls in _TYPES.items()}


def encode(event: Event) -> dict[str, Any]:
    name = type(event).__name__
    if name not in _ADAPTERS:
        raise TypeError(f"not a desk event: {event!r}")
    data: dict[str, Any] = _ADAPTERS[name].dump_python(event, mode="json")
    return {"type": name, **data}


def decode(data: Mapping[str, Any]) -> Event:
    fields = dict(data)
    name = fields.pop("type", None)
    adapter = _ADAPTERS.get(name) if isinstance(name, str) else None
    if adapter is None:
        raise ValueError(f"not a desk event type: {name!r}")
    try:
        event: Event = adapter.validate_python(fields, strict=False)
    except ValidationError as exc:
        raise ValueError(f"{name}: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None
    return event


def event_types() -> tuple[type[Any], ...]:
    return tuple(_TYPES.values())
