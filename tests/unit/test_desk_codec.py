"""Desk events as data (videoassist/desk/codec.py): every event type survives JSON both ways,
and what is not an event of this version is refused, not half-read."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.desk_helpers import desk_config
from videoassist.desk import QueueConfig, events
from videoassist.desk.codec import decode, encode, event_types
from videoassist.desk.config import DeskConfig
from videoassist.desk.events import ConfigChanged, CustomerTapped, Restored

# Events drawn from their fields' types (a local resolver: registering strategies with
# Hypothesis would change every other test's draws): finite floats as the desk has them, short
# texts, a config as tests build them.
NAMESPACE = {**vars(events), "DeskConfig": DeskConfig}
CONFIGS = st.sampled_from(
    [DeskConfig(), desk_config(QueueConfig("general"), QueueConfig("billing", ring_timeout=30.0))]
)


def drawn(kind: Any) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if kind is str:
        return st.text(max_size=12)
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(-(2**31), 2**31)
    if kind is type(None):
        return st.none()
    if kind is DeskConfig:
        return CONFIGS
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*(drawn(a) for a in args))
    if origin is tuple:
        return st.lists(drawn(args[0]), max_size=3).map(tuple)
    if origin in (dict, Mapping, collections.abc.Mapping):
        return st.dictionaries(drawn(args[0]), drawn(args[1]), max_size=3)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind, NAMESPACE)
        return st.builds(
            kind, **{f.name: drawn(hints[f.name]) for f in dataclasses.fields(kind) if f.init}
        )
    raise AssertionError(f"no strategy for {kind!r}: add one")


@pytest.mark.parametrize("cls", event_types(), ids=lambda c: c.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_event_survives_json_both_ways(cls: type[Any], data: st.DataObject) -> None:
    event = data.draw(drawn(cls))
    wire = json.loads(json.dumps(encode(event)))
    assert wire["type"] == cls.__name__
    assert decode(wire) == event


def test_a_config_change_carries_the_whole_config() -> None:
    config = desk_config(QueueConfig("general"), QueueConfig("billing", ring_timeout=30.0))
    event = ConfigChanged(config, 12.5)
    assert decode(json.loads(json.dumps(encode(event)))) == event


@pytest.mark.parametrize(
    ("wire", "says"),
    [
        ({"type": "NoSuchEvent", "at": 1.0}, "not a desk event type"),
        ({"ticket_id": "t1", "at": 1.0}, "not a desk event type"),
        ({"type": "CustomerTapped", "at": 1.0}, "ticket_id"),
        ({"type": "CustomerTapped", "ticket_id": "t1", "at": "soon"}, "at"),
        ({"type": "Restored", "tickets": [{"id": "t1"}], "agent_states": {}, "at": 1.0}, "tickets"),
    ],
)
def test_what_is_not_an_event_is_refused(wire: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        decode(wire)


def test_only_events_are_encoded() -> None:
    with pytest.raises(TypeError):
        encode("CustomerTapped")  # type: ignore[arg-type]
    assert decode(encode(CustomerTapped("t1", 1.0))) == CustomerTapped("t1", 1.0)
    assert Restored in event_types()
