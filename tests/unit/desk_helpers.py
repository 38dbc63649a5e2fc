"""Shared by the desk's unit tests: building a desk, driving it, and reading its effects."""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime as dt
import enum
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from videoassist.desk import (
    AgentProfile,
    AgentReady,
    AgentSignedIn,
    CustomerReturned,
    CustomerTapped,
    Desk,
    DeskConfig,
    Notify,
    OfferAccepted,
    OfferTimedOut,
    QueueConfig,
    SetTimer,
    TopicRoute,
)
from videoassist.desk.events import Effect


def make_desk(config: DeskConfig | None = None, **kwargs: Any) -> Desk:
    """A desk whose sessions are numbered s1, s2, ... in the order they start."""
    session_ids = itertools.count(1)
    return Desk(new_id=lambda: f"s{next(session_ids)}", config=config, **kwargs)


def desk_config(
    *queues: QueueConfig,
    topics: tuple[TopicRoute, ...] = (),
    agents: tuple[AgentProfile, ...] = (),
    **kwargs: Any,
) -> DeskConfig:
    """A config from its parts; the first queue is the default one."""
    return DeskConfig(
        queues={q.id: q for q in queues},
        topics={t.topic: t for t in topics},
        agents={a.id: a for a in agents},
        default_queue=queues[0].id,
        **kwargs,
    )


def agent(agent_id: str, *queues: str, **skills: int) -> AgentProfile:
    return AgentProfile(agent_id, skills, frozenset(queues))


def ready_agent(desk: Desk, agent_id: str, at: float) -> list[Effect]:
    """Sign the agent in and say Ready; returns the effects of saying Ready."""
    desk.handle(AgentSignedIn(agent_id, agent_id.title(), at))
    return desk.handle(AgentReady(agent_id, at))


def tap(desk: Desk, ticket_id: str, at: float, **kwargs: Any) -> list[Effect]:
    """A customer taps and their page connects at the same moment (the join); the effects of
    both. Only a joined ticket is offered: ``ghost_tap`` is a tap whose page never connects."""
    return ghost_tap(desk, ticket_id, at, **kwargs) + desk.handle(CustomerReturned(ticket_id, at))


def ghost_tap(desk: Desk, ticket_id: str, at: float, **kwargs: Any) -> list[Effect]:
    return desk.handle(CustomerTapped(ticket_id, at, **kwargs))


def offers(effects: list[Effect]) -> list[tuple[str, object]]:
    """(agent, ticket) for every offer rung, in order."""
    return [
        (e.target_id, e.data["ticket_id"])
        for e in effects
        if isinstance(e, Notify) and e.event == "offer"
    ]


def notes(effects: list[Effect], event: str, target_id: str | None = None) -> list[Notify]:
    return [
        e
        for e in effects
        if isinstance(e, Notify)
        and e.event == event
        and (target_id is None or e.target_id == target_id)
    ]


def one(effects: list[Effect], kind: type[Any]) -> Any:
    found = [e for e in effects if isinstance(e, kind)]
    assert len(found) == 1, f"expected one {kind.__name__}, got {found}"
    return found[0]


def timers(effects: list[Effect], kind: type[Any]) -> list[SetTimer]:
    """The timers set for events of ``kind``."""
    return [e for e in effects if isinstance(e, SetTimer) and isinstance(e.event, kind)]


def ring_timer(effects: list[Effect]) -> SetTimer:
    (timer,) = timers(effects, OfferTimedOut)
    return timer


def session_of(desk: Desk, ticket_id: str) -> str:
    session_id = (desk.tickets.get(ticket_id) or desk.closed[ticket_id]).session_id
    assert session_id is not None
    return session_id


def start_session(desk: Desk, agent_id: str, ticket_id: str, at: float, **tap_args: Any) -> str:
    """Tap a customer and have the (only ready) agent accept a second later; the session id."""
    assert offers(tap(desk, ticket_id, at, **tap_args)) == [(agent_id, ticket_id)]
    desk.handle(OfferAccepted(agent_id, ticket_id, at + 1))
    return session_of(desk, ticket_id)


def local_time(zone: str, *when: int) -> float:
    """Seconds since the epoch of a wall-clock time in a named zone: (year, month, day, h, m)."""
    return dt.datetime(*when, tzinfo=ZoneInfo(zone)).timestamp()


def whole_state(desk: Desk) -> Any:
    """A desk's entire state, private fields included (the wait range each customer was told,
    the calibration behind it, what each console was last told...), as plain values that
    compare: sets sorted, objects as their type and fields. Where its ids come from is left
    out (``Desk.__getstate__``): a replica replays the leader's."""
    return _plain(desk.__getstate__(), frozenset())


def _plain(value: Any, seen: frozenset[int]) -> Any:
    if value is None or isinstance(value, bool | int | float | str | bytes | enum.Enum):
        return value
    if isinstance(value, dict):
        return {key: _plain(item, seen) for key, item in value.items()}
    if isinstance(value, list | tuple | collections.deque):
        return [_plain(item, seen) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item, seen) for item in value), key=repr)
    if id(value) in seen:
        return f"<again {type(value).__name__}>"
    seen = seen | {id(value)}
    fields: dict[str, Any] = dict(getattr(value, "__dict__", {}))
    for cls in type(value).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(value, slot):
                fields[slot] = getattr(value, slot)
    if not fields and callable(value):
        return "<function>"  # the desk's handler table: code, not state
    return (type(value).__name__, {k: _plain(v, seen) for k, v in sorted(fields.items())})


def snapshot(desk: Desk) -> tuple[Any, ...]:
    """Everything an event could change, copied so that later changes cannot leak into it."""
    return (
        desk.dump(),
        copy.deepcopy(desk.agents),
        copy.deepcopy(desk.tickets),
        copy.deepcopy(desk.closed),
        copy.deepcopy(desk.sessions),
        copy.deepcopy(desk.routing.waiting),
        {q: line.ordered() for q, line in desk.routing.lines.items()},
        {q: pool.ordered() for q, pool in desk.routing.pools.items()},
        {
            q: (s.offered, s.answered, s.answered_in_level, s.abandoned, s.average_handle)
            for q, s in desk.stats.items()
        },
        {q: dataclasses.astuple(f) for q, f in desk.today.items()},
        desk.draining,
        desk.config,
    )
