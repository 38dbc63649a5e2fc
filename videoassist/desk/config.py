"""Routing configuration: queues, topics and agent profiles, as the admin sets them.

Plain frozen data. The desk receives a whole ``DeskConfig`` through the ``ConfigChanged`` event
and never reads anything else; validation happens here, so a bad config is refused before it
reaches the desk (``ConfigError`` names the field at fault).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Strategy = Literal["longest_idle", "least_occupied", "round_robin", "best_skill"]
# Recording of the queue's calls: never; only if the customer says yes; always (the customer is
# told). docs/admin.md.
RecordingPolicy = Literal["off", "ask", "always"]
RECORDING_POLICIES: tuple[RecordingPolicy, ...] = ("off", "ask", "always")
STRATEGIES: tuple[Strategy, ...] = ("longest_idle", "least_occupied", "round_robin", "best_skill")
AWAY_REASONS = ("away", "break", "lunch", "meeting", "training", "missed_offer", "signed_in")
DEFAULT_QUEUE = "general"
MAX_SKILL_LEVEL = 5


def parse_hhmm(text: str) -> tuple[int, int] | None:
    """(hour, minute) of "HH:MM", or None when it is not a time of day."""
    if len(text) != 5 or text[2] != ":" or not all(c in "0123456789" for c in text[:2] + text[3:]):
        return None
    h, m = int(text[:2]), int(text[3:])
    return (h, m) if h < 24 and m < 60 else None


class ConfigError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class OpenHours:
    """Weekly opening hours in one time zone: ``windows`` holds (weekday 0=Mon, start, end)
    in minutes after midnight local time; an empty tuple means always open."""

    timezone: str = "UTC"
    windows: tuple[tuple[int, int, int], ...] = ()

    def is_open(self, at: float) -> bool:
        if not self.windows:
            return True
        local = dt.datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        return any(d == day and start <= minute < end for d, start, end in self.windows)

    def validate(self, where: str) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.timezone", f"unknown time zone {self.timezone!r}") from None
        for day, start, end in self.windows:
            if not (0 <= day <= 6 and 0 <= start < end <= 24 * 60):
                raise ConfigError(
                    f"{where}.windows", "each window is (weekday 0-6, start, end) in minutes"
                )


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: str
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)  # required skill -> minimum level
    strategy: Strategy = "longest_idle"
    service_level: float = 15.0  # answered within this many seconds counts as "in service level"
    # Service level today (desk/today.py): customers who give up sooner than this are short
    # abandons, left out of the figure altogether (a misdial is not a customer we failed)...
    short_abandon: float = 5.0
    # ...and whether the other abandons count against it (in the denominator) or not at all.
    abandons_count: bool = True
    service_level_target: float = 80.0  # percent; below it the wallboard raises an alert
    wait_alert: float | None = 60.0  # seconds; the longest wait beyond it raises an alert
    max_wait: float | None = (
        None  # then overflow to ``overflow_to`` or, without one, offer a callback
    )
    overflow_to: str | None = None
    max_length: int | None = None  # waiting customers beyond this are told to leave a callback
    ring_timeout: float = 20.0
    wrap_up_limit: float = 120.0
    max_missed: int = 1  # consecutive unanswered offers before the agent is set Away (RONA)
    priority_aging: float = 0.0  # priority points gained per minute of waiting
    hours: OpenHours = field(default_factory=OpenHours)
    recording: RecordingPolicy = "off"

    def validate(self, queues: Mapping[str, QueueConfig]) -> None:
        where = f"queues.{self.id}"
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"{where}.strategy", f"must be one of {', '.join(STRATEGIES)}")
        if self.recording not in RECORDING_POLICIES:
            raise ConfigError(
                f"{where}.recording", f"must be one of {', '.join(RECORDING_POLICIES)}"
            )
        for skill, level in self.skills.items():
            if not 1 <= level <= MAX_SKILL_LEVEL:
                raise ConfigError(f"{where}.skills.{skill}", "levels go from 1 to 5")
        for name, value, low in (
            ("service_level", self.service_level, 1.0),
            ("ring_timeout", self.ring_timeout, 0.1),
            ("wrap_up_limit", self.wrap_up_limit, 0.0),
        ):
            if value < low:
                raise ConfigError(f"{where}.{name}", f"must be at least {low:g}")
        if self.short_abandon < 0:
            raise ConfigError(f"{where}.short_abandon", "cannot be negative")
        if not 0 < self.service_level_target <= 100:
            raise ConfigError(f"{where}.service_level_target", "is a percentage, above 0")
        if self.wait_alert is not None and self.wait_alert < 1:
            raise ConfigError(f"{where}.wait_alert", "must be at least 1 second")
        if self.max_wait is not None and self.max_wait < 1:
            raise ConfigError(f"{where}.max_wait", "must be at least 1 second")
        if self.max_length is not None and self.max_length < 1:
            raise ConfigError(f"{where}.max_length", "must be at least 1")
        if self.max_missed < 1:
            raise ConfigError(f"{where}.max_missed", "must be at least 1")
        if self.priority_aging < 0:
            raise ConfigError(f"{where}.priority_aging", "cannot be negative")
        if self.overflow_to is not None:
            if self.overflow_to not in queues:
                raise ConfigError(f"{where}.overflow_to", f"no queue {self.overflow_to!r}")
            if self.overflow_to == self.id:
                raise ConfigError(f"{where}.overflow_to", "a queue cannot overflow to itself")
        self.hours.validate(f"{where}.hours")


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """What a customer's topic (or device context) decides: the queue and a priority."""

    topic: str
    queue_id: str
    priority: int = 0


@dataclass(frozen=True, slots=True)
class AgentProfile:
    id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: frozenset[str] = frozenset({DEFAULT_QUEUE})


@dataclass(frozen=True, slots=True)
class DeskConfig:
    queues: Mapping[str, QueueConfig] = field(
        default_factory=lambda: {DEFAULT_QUEUE: QueueConfig(DEFAULT_QUEUE, "General")}
    )
    topics: Mapping[str, TopicRoute] = field(default_factory=dict)
    agents: Mapping[str, AgentProfile] = field(default_factory=dict)
    default_queue: str = DEFAULT_QUEUE
    customer_grace: float = 60.0  # a dropped waiting customer keeps their place this long
    call_resume_window: float = 0.0
    """A live call whose customer or agent drops (or whose server restarts) waits this long for
    them to come back before it ends; 0 (the default while this is new) ends it at once."""
    reoffer_after: float = 30.0  # a declined or missed ticket is not offered to that agent again
    callback_join_timeout: float = 120.0  # the customer has this long to join a callback
    # A tap's page must connect within this long, or the ticket is dropped (a ghost tap)...
    join_window: float = 15.0
    # ...and a queue holds at most this many tickets still joining: a tap beyond it pushes out
    # the one that has been joining longest. Taps spread over many addresses pass every
    # per-address limit; this keeps them from filling the line in front of real customers.
    max_joining: int = 30
    # "Today" on the wallboard starts at this local time ("HH:MM") in this time zone.
    time_zone: str = "UTC"
    day_starts_at: str = "00:00"

    def validate(self) -> DeskConfig:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("time_zone", f"unknown time zone {self.time_zone!r}") from None
        if parse_hhmm(self.day_starts_at) is None:
            raise ConfigError("day_starts_at", "must be a time of day as HH:MM, 00:00 to 23:59")
        if self.join_window <= 0:
            raise ConfigError("join_window", "must be positive")
        if self.max_joining < 1:
            raise ConfigError("max_joining", "must be at least 1")
        if self.default_queue not in self.queues:
            raise ConfigError("default_queue", f"no queue {self.default_queue!r}")
        for queue_id, queue in self.queues.items():
            if queue_id != queue.id:
                raise ConfigError(f"queues.{queue_id}", "the key and the queue id differ")
            queue.validate(self.queues)
        for topic, route in self.topics.items():
            if route.queue_id not in self.queues:
                raise ConfigError(f"topics.{topic}.queue_id", f"no queue {route.queue_id!r}")
            if not -100 <= route.priority <= 100:
                raise ConfigError(f"topics.{topic}.priority", "must be between -100 and 100")
        for agent_id, profile in self.agents.items():
            for skill, level in profile.skills.items():
                if not 1 <= level <= MAX_SKILL_LEVEL:
                    raise ConfigError(f"agents.{agent_id}.skills.{skill}", "levels go from 1 to 5")
            for queue_id in profile.queues:
                if queue_id not in self.queues:
                    raise ConfigError(f"agents.{agent_id}.queues", f"no queue {queue_id!r}")
        self._check_overflow_cycles()
        return self

    def _check_overflow_cycles(self) -> None:
        for start in self.queues:
            seen = {start}
            nxt = self.queues[start].overflow_to
            while nxt is not None:
                if nxt in seen:
                    raise ConfigError(
                        f"queues.{start}.overflow_to", "overflow goes round in a circle"
                    )
                seen.add(nxt)
                nxt = self.queues[nxt].overflow_to

    def profile(self, agent_id: str) -> AgentProfile:
        return self.agents.get(agent_id) or AgentProfile(
            agent_id, queues=frozenset({self.default_queue})
        )

    def eligible(self, profile: AgentProfile, queue_id: str) -> bool:
        """May this agent be offered customers of this queue: a member with every skill needed."""
        if queue_id not in profile.queues:
            return False
        needed = self.queues[queue_id].skills
        return all(profile.skills.get(skill, 0) >= level for skill, level in needed.items())

    def skill_score(self, profile: AgentProfile, queue_id: str) -> int:
        needed = self.queues[queue_id].skills
        return sum(profile.skills.get(skill, 0) for skill in needed)
