"""The routing configuration as stored (tables queues, topics, agent_profiles) <-> DeskConfig.

The admin API writes rows; after every change the whole configuration is rebuilt from the store
and handed to the desk in one ``ConfigChanged`` event, which the desk validates before use.
"""

from __future__ import annotations

from typing import Any

from videoassist.desk.config import (
    DEFAULT_QUEUE,
    AgentProfile,
    DeskConfig,
    OpenHours,
    QueueConfig,
    TopicRoute,
)

QUEUE_FIELDS = (
    "skills",
    "strategy",
    "service_level",
    "short_abandon",
    "abandons_count",
    "service_level_target",
    "wait_alert",
    "max_wait",
    "overflow_to",
    "max_length",
    "ring_timeout",
    "wrap_up_limit",
    "max_missed",
    "priority_aging",
    "recording",
)


def agent_id_of(user_id: int) -> str:
    return f"u{user_id}"


def queue_from_row(row: dict[str, Any], ring_timeout: float | None = None) -> QueueConfig:
    config = dict(row["config"] or {})
    values: dict[str, Any] = {k: config[k] for k in QUEUE_FIELDS if k in config}
    if ring_timeout is not None and "ring_timeout" not in config:
        values["ring_timeout"] = ring_timeout
    hours = config.get("hours") or {}
    values["hours"] = OpenHours(
        timezone=hours.get("timezone", "UTC"),
        windows=tuple(tuple(w) for w in hours.get("windows", ())),  # type: ignore[misc]
    )
    return QueueConfig(id=row["id"], name=row["name"], **values)


def config_from_records(
    data: dict[str, list[dict[str, Any]]], *, ring_timeout: float | None = None, **desk: Any
) -> DeskConfig:
    queues = {row["id"]: queue_from_row(row, ring_timeout) for row in data["queues"]}
    if not queues:
        queues = {DEFAULT_QUEUE: QueueConfig(DEFAULT_QUEUE, "General", **_ring(ring_timeout))}
    default = DEFAULT_QUEUE if DEFAULT_QUEUE in queues else next(iter(queues))
    topics = {
        row["topic"]: TopicRoute(row["topic"], row["queue_id"], int(row["priority"]))
        for row in data["topics"]
    }
    agents = {
        agent_id_of(row["user_id"]): AgentProfile(
            agent_id_of(row["user_id"]),
            skills={str(k): int(v) for k, v in (row["skills"] or {}).items()},
            queues=frozenset(row["queues"] or [default]),
        )
        for row in data["agent_profiles"]
    }
    return DeskConfig(queues=queues, topics=topics, agents=agents, default_queue=default, **desk)


def _ring(ring_timeout: float | None) -> dict[str, Any]:
    return {} if ring_timeout is None else {"ring_timeout": ring_timeout}
