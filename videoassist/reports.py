"""History reports: what the queues and agents did, interval by interval, from the records.

Pure functions over rows as the store returns them (dicts), so the same code serves the REST
API, the exports and the tests, which feed it a generated history with known answers. The
figures follow the wallboard's definitions (``desk/today.py``: ``Figures`` classifies each
answer and abandon and computes service level, ASA and AHT), applied per interval instead of
per business day:

* **offered**: customers who joined a queue (a tap whose page never connected, end reason
  ``not_joined``, is no customer), in the interval they tapped;
* **answered**, in the interval of their first answer; the wait is counted from the tap;
* **abandoned**: customers who cancelled or left before an answer, short abandons apart;
* **callbacks**: offered customers who asked to be called back;
* **transfers**: call legs an agent handed on;
* **AHT**: a call's talk time over all its legs plus the wrap-up after each;
* **repeat contacts**: offered customers who had already tapped in the previous 7 days, known by
  the customer reference their app signed or by their browser (device);
* **CSAT**: average score (1-5) and the share of answered customers who gave one;
* **recordings** started in the interval;
* **conversation** (recorded calls only, ``media/conversation.py``): the average over the
  interval's analysed recordings of the agent's share of the talking (%), the seconds both
  talked at once and the longest silence. A call's recording belongs to the agent who answered
  it (a warm transfer's second agent speaks in the same file).

A customer moved to another queue counts in the queue they ended in: the records keep the
ticket's last queue only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from videoassist.desk import estimate
from videoassist.desk.config import DeskConfig, QueueConfig
from videoassist.desk.today import Day, Figures

Interval = Literal["15min", "hour", "day"]
INTERVALS: dict[Interval, int] = {"15min": 900, "hour": 3600, "day": 86400}
REPEAT_WINDOW = 7 * 86400.0
MAX_RANGE_DAYS = 92  # one report covers at most a quarter: the API refuses longer ranges
STAFFED_STATES = frozenset({"ready", "offered", "busy", "wrap_up"})


@dataclass(slots=True)
class History:
    """Rows from the store: tickets from 7 days before the range (for repeat contacts) to its
    end, with their sessions, the range's recordings, CSAT answers and agent state changes."""

    tickets: Sequence[Mapping[str, Any]] = ()
    sessions: Sequence[Mapping[str, Any]] = ()
    recordings: Sequence[Mapping[str, Any]] = ()
    csat: Sequence[Mapping[str, Any]] = ()
    agent_events: Sequence[Mapping[str, Any]] = ()
    # Customers who left the line after opening a tutorial (tutorial_deflections).
    deflections: Sequence[Mapping[str, Any]] = ()


@dataclass(slots=True)
class Cell:
    """One interval of one queue or agent."""

    figures: Figures = field(default_factory=Figures)
    callbacks: int = 0
    transfers: int = 0
    repeats: int = 0
    csat_scores: list[int] = field(default_factory=list)
    recordings: int = 0
    self_served: int = 0
    talk_shares: list[float] = field(default_factory=list)  # the agent's, 0..1, per call
    overlaps: list[float] = field(default_factory=list)  # seconds, per call
    silences: list[float] = field(default_factory=list)  # longest, seconds, per call

    def converse(self, figures: Mapping[str, Any] | None) -> None:
        """Count a recorded call's conversation figures (if it was analysed)."""
        if not figures:
            return
        if figures.get("talk_ratio") is not None:
            self.talk_shares.append(float(figures["talk_ratio"]))
        self.overlaps.append(float(figures.get("overlap") or 0.0))
        self.silences.append(float(figures.get("longest_silence") or 0.0))

    def row(self, queue: QueueConfig | None) -> dict[str, Any]:
        f = self.figures
        level = f.service_level(queue) if queue is not None else None
        return {
            "offered": f.offered,
            "answered": f.answered,
            "abandoned": f.abandoned - f.short_abandoned,
            "short_abandoned": f.short_abandoned,
            "callbacks": self.callbacks,
            "transfers": self.transfers,
            "asa": _round(f.asa),
            "aht": _round(f.aht),
            "service_level": _round(level),
            "repeat_contacts": self.repeats,
            "csat_average": _round(
                sum(self.csat_scores) / len(self.csat_scores) if self.csat_scores else None, 2
            ),
            "csat_responses": len(self.csat_scores),
            "csat_rate": _round(100.0 * len(self.csat_scores) / f.answered if f.answered else None),
            "recordings": self.recordings,
            "self_served": self.self_served,
            "conversations": len(self.silences),
            "agent_talk_share": _round(_mean(self.talk_shares, 100.0)),
            "overlap_average": _round(_mean(self.overlaps)),
            "longest_silence_average": _round(_mean(self.silences)),
        }


def _mean(values: Sequence[float], scale: float = 1.0) -> float | None:
    return scale * sum(values) / len(values) if values else None


COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "callbacks",
    "transfers",
    "asa",
    "aht",
    "service_level",
    "repeat_contacts",
    "csat_average",
    "csat_responses",
    "csat_rate",
    "recordings",
    "self_served",
    "conversations",
    "agent_talk_share",
    "overlap_average",
    "longest_silence_average",
)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class Buckets:
    """Cuts time into the report's intervals, on the wall clock of the desk's time zone: hours
    and quarters start on the local hour, days at the business day's start (``Day``)."""

    def __init__(self, config: DeskConfig, interval: Interval) -> None:
        self.interval = interval
        self._zone = ZoneInfo(config.time_zone)
        self._day = Day(config)

    def start(self, at: float) -> float:
        if self.interval == "day":
            return self._day.start_of(self._day.date_of(at))
        local = dt.datetime.fromtimestamp(at, self._zone)
        step = INTERVALS[self.interval] // 60
        floored = local.replace(minute=local.minute - local.minute % step, second=0, microsecond=0)
        return floored.timestamp()

    def starts(self, start: float, end: float) -> list[float]:
        """Every interval from the one holding ``start`` to the one before ``end``."""
        out: list[float] = []
        at = self.start(start)
        while at < end:
            out.append(at)
            nxt = self.start(at + INTERVALS[self.interval] + 3600 * (self.interval == "day"))
            at = nxt if nxt > at else at + INTERVALS[self.interval]
        return out


def _first_sessions(sessions: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    first: dict[str, Mapping[str, Any]] = {}
    for s in sessions:
        seen = first.get(s["ticket_id"])
        if seen is None or s["answered_at"] < seen["answered_at"]:
            first[s["ticket_id"]] = s
    return first


def _handle(session: Mapping[str, Any]) -> float:
    """Talk time of one leg plus the wrap-up that followed it."""
    if session.get("ended_at") is None:
        return 0.0
    talk = max(0.0, session["ended_at"] - session["answered_at"])
    wrapped = session.get("wrapped_up_at")
    return talk + (max(0.0, wrapped - session["ended_at"]) if wrapped is not None else 0.0)


def _repeats(tickets: Sequence[Mapping[str, Any]]) -> set[str]:
    """Ids of the tickets whose customer (by reference or device) tapped in the 7 days before."""
    last_seen: dict[tuple[str, str], float] = {}
    out: set[str] = set()
    for t in sorted(tickets, key=lambda row: row["queued_at"]):
        keys = [("ref", t["customer_ref"])] if t.get("customer_ref") else []
        if t.get("device_id"):
            keys.append(("device", t["device_id"]))
        if any(t["queued_at"] - last_seen.get(k, -math.inf) <= REPEAT_WINDOW for k in keys):
            out.add(t["id"])
        for k in keys:
            last_seen[k] = t["queued_at"]
    return out


def _offered(ticket: Mapping[str, Any]) -> bool:
    return ticket.get("end_reason") != "not_joined"


def interval_report(
    history: History,
    config: DeskConfig,
    start: float,
    end: float,
    interval: Interval,
    by: Literal["queue", "agent"],
) -> list[dict[str, Any]]:
    """One row per interval and queue (or agent) with something to count, in time order."""
    buckets = Buckets(config, interval)
    cells: dict[tuple[float, str], Cell] = defaultdict(Cell)
    tickets = {t["id"]: t for t in history.tickets}
    first = _first_sessions(history.sessions)
    repeats = _repeats([t for t in history.tickets if _offered(t)])
    t: Mapping[str, Any] | None
    s: Mapping[str, Any] | None
    agent_of_call: dict[str, str] = {}
    for s in history.sessions:
        agent_of_call.setdefault(s["call_id"] or s["id"], s["agent_id"])
        agent_of_call.setdefault(s["id"], s["agent_id"])

    def within(at: float | None) -> bool:
        return at is not None and start <= at < end

    def queue(queue_id: str) -> QueueConfig:
        return config.queues.get(queue_id) or QueueConfig(id=queue_id)

    legs_of: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for leg in history.sessions:
        legs_of[leg["ticket_id"]].append(leg)
    if by == "queue":
        for t in history.tickets:
            if not within(t["queued_at"]) or not _offered(t):
                continue
            q = queue(t["queue_id"])
            cell = cells[(buckets.start(t["queued_at"]), q.id)]
            cell.figures.offered += 1
            cell.callbacks += bool(t.get("callback"))
            cell.repeats += t["id"] in repeats
            answer = first.get(t["id"])
            if answer is None and t["status"] in ("abandoned", "cancelled"):
                cell.figures.abandon((t["ended_at"] or t["queued_at"]) - t["queued_at"], q)
        for ticket_id, s in first.items():
            t = tickets.get(ticket_id)
            if t is None or not within(s["answered_at"]):
                continue
            q = queue(t["queue_id"])
            cell = cells[(buckets.start(s["answered_at"]), q.id)]
            cell.figures.answer(s["answered_at"] - t["queued_at"], q)
            legs = legs_of[ticket_id]
            if all(leg.get("ended_at") is not None for leg in legs):
                cell.figures.handled += 1
                cell.figures.handle_total += sum(_handle(leg) for leg in legs)
        for s in history.sessions:
            t = tickets.get(s["ticket_id"])
            if t is not None and s.get("end_reason") == "transferred" and within(s["ended_at"]):
                cells[(buckets.start(s["ended_at"]), t["queue_id"])].transfers += 1
    else:
        for s in history.sessions:
            t = tickets.get(s["ticket_id"])
            if t is None or not within(s["answered_at"]):
                continue
            q = queue(t["queue_id"])
            cell = cells[(buckets.start(s["answered_at"]), s["agent_id"])]
            # Each leg is an answer for the agent who took it; the wait is the customer's.
            cell.figures.answer(s["answered_at"] - t["queued_at"], q)
            if s.get("ended_at") is not None:
                cell.figures.handled += 1
                cell.figures.handle_total += _handle(s)
            cell.transfers += s.get("end_reason") == "transferred"

    # CSAT: the answer belongs to the call's last leg (the agent who finished it) and to the
    # interval of the customer's first answer, so the rate compares like with like.
    sessions_by_id = {leg["id"]: leg for leg in history.sessions}
    for answer in history.csat:
        t = tickets.get(answer["ticket_id"])
        s = sessions_by_id.get(answer["session_id"])
        f = first.get(answer["ticket_id"])
        if t is None or s is None or f is None:
            continue
        if by == "queue" and within(f["answered_at"]):
            cells[(buckets.start(f["answered_at"]), t["queue_id"])].csat_scores.append(
                answer["score"]
            )
        elif by == "agent" and within(s["answered_at"]):
            cells[(buckets.start(s["answered_at"]), s["agent_id"])].csat_scores.append(
                answer["score"]
            )
    for r in history.recordings:
        if not within(r["started_at"]):
            continue
        key = r["queue_id"] if by == "queue" else agent_of_call.get(r["call_id"])
        if key is not None:
            cell = cells[(buckets.start(r["started_at"]), key)]
            cell.recordings += 1
            cell.converse(r.get("conversation"))

    # Self-served: left the line after opening a tutorial for their topic (issue 12); counted
    # in the queue they left, when they left. An agent took no part in it.
    if by == "queue":
        for d in history.deflections:
            if within(d["at"]):
                cells[(buckets.start(d["at"]), d["queue_id"])].self_served += 1

    rows = []
    for (at, key), cell in sorted(cells.items()):
        rows.append(
            {
                "interval_start": _iso(at, config),
                "start": at,
                by: key,
                **cell.row(queue(key) if by == "queue" else None),
            }
        )
    return rows


def _iso(at: float, config: DeskConfig) -> str:
    return dt.datetime.fromtimestamp(at, ZoneInfo(config.time_zone)).isoformat(timespec="minutes")


SESSION_COLUMNS = (
    "session_id",
    "ticket_id",
    "queue",
    "topic",
    "agent",
    "tapped_at",
    "answered_at",
    "ended_at",
    "wait",
    "handle_time",
    "end_reason",
    "interruptions",
    "interrupted_seconds",
    "disposition",
    "csat_score",
    "csat_comment",
    "recording",
    "agent_talk_share",
    "overlap",
    "longest_silence",
)


def session_rows(
    history: History, config: DeskConfig, start: float, end: float, recording_link: str
) -> list[dict[str, Any]]:
    """One row per call leg answered in the range. ``recording_link`` is formatted with the
    session id (the API's listing of that session's recordings)."""
    tickets = {t["id"]: t for t in history.tickets}
    csat = {(c["ticket_id"], c["session_id"]): c for c in history.csat}
    recorded = {r["call_id"] for r in history.recordings}
    conversation = {
        r["call_id"]: r["conversation"] for r in history.recordings if r.get("conversation")
    }
    out = []
    for s in sorted(history.sessions, key=lambda row: row["answered_at"]):
        t = tickets.get(s["ticket_id"])
        if t is None or not start <= s["answered_at"] < end:
            continue
        answer = csat.get((t["id"], s["id"]))
        call = s["call_id"] or s["id"]
        out.append(
            {
                "session_id": s["id"],
                "ticket_id": t["id"],
                "queue": t["queue_id"],
                "topic": t["topic"],
                "agent": s["agent_id"],
                "tapped_at": _iso_seconds(t["queued_at"], config),
                "answered_at": _iso_seconds(s["answered_at"], config),
                "ended_at": _iso_seconds(s["ended_at"], config),
                "wait": round(s["answered_at"] - t["queued_at"], 1),
                "handle_time": round(_handle(s), 1) if s.get("ended_at") is not None else None,
                "end_reason": s.get("end_reason"),
                # A party's connection (or the server) dropped mid-call and the call waited.
                "interruptions": s.get("interruptions") or 0,
                "interrupted_seconds": round(s.get("interrupted_seconds") or 0.0, 1),
                "disposition": s.get("disposition"),
                "csat_score": answer["score"] if answer else None,
                "csat_comment": answer["comment"] if answer else None,
                "recording": recording_link.format(s["id"]) if call in recorded else None,
                **_conversation_columns(conversation.get(call)),
            }
        )
    return out


def _conversation_columns(figures: Mapping[str, Any] | None) -> dict[str, Any]:
    """A call's conversation figures for its session rows (empty without a recording)."""
    if not figures:
        return {"agent_talk_share": None, "overlap": None, "longest_silence": None}
    ratio = figures.get("talk_ratio")
    return {
        "agent_talk_share": round(100.0 * ratio, 1) if ratio is not None else None,
        "overlap": figures.get("overlap"),
        "longest_silence": figures.get("longest_silence"),
    }


def _iso_seconds(at: float | None, config: DeskConfig) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, ZoneInfo(config.time_zone)).isoformat(timespec="seconds")


# -- staffing ---------------------------------------------------------------------------------


# Erlang C is the desk's (desk/estimate.py), the same model the wait estimates use.
erlang_c = estimate.erlang_c


def erlang_service_level(agents: int, traffic: float, aht: float, threshold: float) -> float:
    """Share (0-1) of customers answered within ``threshold`` seconds (Erlang C)."""
    if traffic <= 0:
        return 1.0
    return estimate.erlang_c_service_level(agents, traffic, aht, threshold)


def agents_needed(
    arrivals: float, seconds: float, aht: float, threshold: float, target: float
) -> int:
    """The fewest agents answering ``target`` percent within ``threshold`` seconds, for
    ``arrivals`` customers in ``seconds`` with ``aht`` seconds of handling each."""
    if arrivals <= 0:
        return 0
    aht = max(aht, 1.0)  # a customer who arrives needs someone, however short the call
    traffic = arrivals * aht / seconds
    agents = max(1, math.floor(traffic) + 1)
    while erlang_service_level(agents, traffic, aht, threshold) * 100.0 < target:
        agents += 1
    return agents


def staffed(
    events: Sequence[Mapping[str, Any]], start: float, end: float, members: set[str] | None
) -> float:
    """Average number of agents signed in and working (not away) over [start, end), from their
    state changes; ``members`` limits it to a queue's agents (None: everyone)."""
    by_agent: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for e in events:
        if members is None or e["agent_id"] in members:
            by_agent[e["agent_id"]].append(e)
    total = 0.0
    for changes in by_agent.values():
        changes.sort(key=lambda e: e["at"])
        for i, e in enumerate(changes):
            if e["state"] not in STAFFED_STATES:
                continue
            until = changes[i + 1]["at"] if i + 1 < len(changes) else end
            total += max(0.0, min(until, end) - max(e["at"], start))
    return total / (end - start)


def staffing_report(
    history: History,
    config: DeskConfig,
    queue_id: str,
    start: float,
    end: float,
    interval: Interval,
    members: set[str] | None,
) -> list[dict[str, Any]]:
    """Per interval of one queue: arrivals, AHT, Erlang C agents needed for the queue's
    service-level target, and the agents actually staffed."""
    queue = config.queues.get(queue_id) or QueueConfig(id=queue_id)
    rows = {
        row["start"]: row
        for row in interval_report(history, config, start, end, interval, "queue")
        if row["queue"] == queue_id
    }
    buckets = Buckets(config, interval)
    out = []
    for at in buckets.starts(start, end):
        row = rows.get(at)
        until = min(end, buckets.start(at + INTERVALS[interval] + 3600 * (interval == "day")))
        if until <= at:
            until = at + INTERVALS[interval]
        arrivals = row["offered"] if row else 0
        aht = row["aht"] if row and row["aht"] is not None else None
        out.append(
            {
                "interval_start": _iso(at, config),
                "start": at,
                "queue": queue_id,
                "arrivals": arrivals,
                "aht": aht,
                "agents_needed": agents_needed(
                    arrivals,
                    until - at,
                    aht or 0.0,
                    queue.service_level,
                    queue.service_level_target,
                ),
                "agents_staffed": round(staffed(history.agent_events, at, until, members), 2),
            }
        )
    return out


# -- exports ----------------------------------------------------------------------------------


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else _cell(row.get(k)) for k in columns})
    return buffer.getvalue().encode("utf-8")


def to_xlsx(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str) -> bytes:
    from openpyxl import Workbook  # an export's dependency, not the server's start-up cost

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_cell(row.get(k)) for k in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    # A spreadsheet reads a leading = + - @ as a formula: text from customers (comments) is
    # written with a quote in front, as OWASP's CSV-injection advice has it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
