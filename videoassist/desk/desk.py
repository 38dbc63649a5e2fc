"""The desk: who is waiting, who can answer, and what happens next.

Rules of this module (read these before changing it):

* Everything that decides a customer's or an agent's fate lives in the desk package. The shells
  (service, gateway, media, store, http) only turn the outside world into events, carry out
  effects and ask the read-only queries below; they never read the desk's dicts. This module is
  the state machine; ``routing.py`` decides who is offered to whom, and is told here whenever a
  ticket or an agent enters or leaves a line or a pool.
* ``Desk.handle(event)`` is the only way in. It validates everything an event needs *before*
  changing anything: an event that is not allowed raises a ``DeskError`` and leaves the desk as
  it was. Timers that lost a race (the thing they watched already happened) are not errors;
  they return no effects. Neither is a customer's connection dropping while the desk drains:
  that is the server going away, so ``CustomerLeft`` is ignored then.
* Agent and ticket lifecycles are data (``AGENT_TRANSITIONS``, ``TICKET_TRANSITIONS``); a move
  not in the table raises ``IllegalTransition`` naming the subject, the state and the trigger.
* No clock, no ids from nowhere: time comes in ``event.at``, session ids from the injected
  ``new_id`` callable. No I/O imports (a test enforces it). Event names on the wire come from
  ``wire.ServerEvent``.

Theory of operation. A tap names a topic; its route gives the queue (the default queue for no
topic) and a priority, and a topic with no route is refused (``UnknownTopic``). That is checked
at the tap only: a ticket restored after a restart comes back in the queue it waited in, even if
its topic has since been removed. Each ticket waits in one queue, ordered by a score
``priority + aging * minutes waited`` and, at equal score, by arrival: first come, first served
within a priority level. Each queue has a pool of the ready agents who may take it (members with
every required skill), ordered by the queue's strategy. After every event the desk matches: an
agent who just became ready takes the best ticket across their queues; a ticket that just became
offerable goes to the best agent of its queue (``routing.py`` has the details). A tap proves
nothing: anyone can send one without ever opening the page. So a tapped ticket is ``joining``
until its customer's page connects (``CustomerReturned``, the join): it holds its place in line
for ``join_window`` seconds and is never offered, then it is dropped (``not_joined``). A queue
holds at most ``max_joining`` joining tickets; a tap beyond that pushes out the one joining
longest, so taps spread over many addresses cannot fill the line, and a real customer, whose
page connects within a second or so, is not refused for them. A ticket that never joined
counts neither as an arrival nor as abandoned in the queue's figures. An offer rings
one agent at a time. No answer (RONA) or a decline puts the ticket back at its old place and keeps
that agent from being offered it again for ``reoffer_after`` seconds; ``max_missed`` unanswered
offers in a row set the agent Away (a decline is an answer and ends the run). Waiting customers
whose connection drops keep their place for a grace period; callbacks keep their place with no
connection at all. Positions and estimates are announced on ``AnnounceDue`` ticks, so a decision
never pays for telling ten thousand customers their place. Draining for a shutdown ends every
live call, refuses taps and accepts, and makes no offers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

from videoassist.desk.config import AWAY_REASONS, ConfigError, DeskConfig, QueueConfig
from videoassist.desk.errors import (
    ActiveTicket,
    DeskError,
    IllegalTransition,
    NotAllowed,
    QueueClosed,
    QueueFull,
    Refused,
    UnknownSubject,
)
from videoassist.desk.estimate import QueueStats, WaitRange
from videoassist.desk.events import (
    DISPOSITIONS,
    AgentAway,
    AgentDropped,
    AgentForcedOut,
    AgentReady,
    AgentReturned,
    AgentSentAway,
    AgentSignedIn,
    AgentSignedOut,
    AnnounceDue,
    AuditRow,
    CallbackJoinTimedOut,
    CallbackRequested,
    CallResumeExpired,
    CallSupervised,
    CancelTimer,
    ConfigChanged,
    CustomerCancelled,
    CustomerGraceExpired,
    CustomerLeft,
    CustomerReturned,
    CustomerTapped,
    DrainStarted,
    Effect,
    Event,
    HandOverMedia,
    HungUp,
    JoinWindowExpired,
    MaxWaitReached,
    MediaFailed,
    MediaMoved,
    Notify,
    OfferAccepted,
    OfferDeclined,
    OfferTimedOut,
    RematchDue,
    Restored,
    RestoredCall,
    RestoredTicket,
    SaveAgentState,
    SaveAudit,
    SaveSession,
    SaveTicket,
    SessionRow,
    SetTimer,
    StartMedia,
    StopMedia,
    TicketMoved,
    TicketReprioritized,
    TransferRequested,
    WrapUpDone,
    WrapUpTimedOut,
)

# The `X as X` imports are re-exports: shells imported these from here before model.py held them.
from videoassist.desk.model import TERMINAL_TICKET_STATES as TERMINAL_TICKET_STATES
from videoassist.desk.model import Agent as Agent
from videoassist.desk.model import AgentState as AgentState
from videoassist.desk.model import Ticket as Ticket
from videoassist.desk.model import TicketState as TicketState
from videoassist.desk.routing import Router, offer_info
from videoassist.desk.today import Day, Figures, formula
from videoassist.desk.wire import ServerEvent as E

A = AgentState
T = TicketState

# (state, trigger) -> next state. Anything absent is illegal.
AGENT_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (A.OFFLINE, "sign_in"): A.AWAY,
    (A.AWAY, "ready"): A.READY,
    (A.AWAY, "away"): A.AWAY,
    (A.AWAY, "sign_out"): A.OFFLINE,
    (A.READY, "ready"): A.READY,
    (A.READY, "away"): A.AWAY,
    (A.READY, "offer"): A.OFFERED,
    (A.READY, "sign_out"): A.OFFLINE,
    (A.OFFERED, "accept"): A.BUSY,
    (A.OFFERED, "decline"): A.READY,
    (A.OFFERED, "withdraw"): A.READY,
    (A.OFFERED, "miss"): A.READY,
    (A.OFFERED, "timeout"): A.AWAY,
    (A.OFFERED, "away"): A.AWAY,
    (A.OFFERED, "sign_out"): A.OFFLINE,
    (A.BUSY, "end"): A.WRAP_UP,
    (A.BUSY, "sign_out"): A.OFFLINE,
    (A.WRAP_UP, "wrap_up"): A.READY,
    (A.WRAP_UP, "sign_out"): A.OFFLINE,
    # A supervisor's hand: Away while not in a call, or signed out whatever they are doing.
    (A.AWAY, "sent_away"): A.AWAY,
    (A.READY, "sent_away"): A.AWAY,
    (A.OFFERED, "sent_away"): A.AWAY,
    (A.AWAY, "forced_out"): A.OFFLINE,
    (A.READY, "forced_out"): A.OFFLINE,
    (A.OFFERED, "forced_out"): A.OFFLINE,
    (A.BUSY, "forced_out"): A.OFFLINE,
    (A.WRAP_UP, "forced_out"): A.OFFLINE,
}
AGENT_TRIGGERS = frozenset(trigger for _, trigger in AGENT_TRANSITIONS)

TICKET_TRANSITIONS: dict[tuple[TicketState, str], TicketState] = {
    (T.JOINING, "join"): T.QUEUED,
    (T.JOINING, "cancel"): T.CANCELLED,
    (T.JOINING, "leave"): T.ABANDONED,  # the join window ran out, or newer taps pushed it out
    (T.QUEUED, "offer"): T.OFFERED,
    (T.QUEUED, "cancel"): T.CANCELLED,
    (T.QUEUED, "leave"): T.ABANDONED,
    (T.OFFERED, "accept"): T.LIVE,
    (T.OFFERED, "requeue"): T.QUEUED,
    (T.OFFERED, "cancel"): T.CANCELLED,
    (T.OFFERED, "leave"): T.ABANDONED,
    (T.LIVE, "end"): T.ENDED,
    (T.LIVE, "transfer"): T.QUEUED,
    # A supervisor moves a waiting customer or changes their priority. A ringing offer is
    # withdrawn by a move (the agent was picked for the old queue), kept by a new priority.
    (T.JOINING, "move"): T.JOINING,
    (T.QUEUED, "move"): T.QUEUED,
    (T.OFFERED, "move"): T.QUEUED,
    (T.JOINING, "reprioritize"): T.JOINING,
    (T.QUEUED, "reprioritize"): T.QUEUED,
    (T.OFFERED, "reprioritize"): T.OFFERED,
}
TICKET_TRIGGERS = frozenset(trigger for _, trigger in TICKET_TRANSITIONS)

# What a supervisor may do to a live call (CallSupervised); each is an audit row.
SUPERVISION_ACTIONS = frozenset({"monitor", "whisper", "barge", "leave"})


S = TypeVar("S", bound=StrEnum)


def _next(table: Mapping[tuple[S, str], S], subject: str, state: S, trigger: str) -> S:
    try:
        return table[(state, trigger)]
    except KeyError:
        raise IllegalTransition(subject, state.value, trigger) from None


class Desk:
    def __init__(
        self,
        *,
        new_id: Callable[[], str],
        config: DeskConfig | None = None,
        ring_timeout: float | None = None,
        closed_limit: int = 10_000,
    ) -> None:
        self._new_id = new_id
        config = (config or DeskConfig()).validate()
        if ring_timeout is not None:  # a shortcut for the one-queue default set-up
            config = replace(
                config,
                queues={q: replace(c, ring_timeout=ring_timeout) for q, c in config.queues.items()},
            )
        self.config = config
        self.tickets: dict[str, Ticket] = {}  # open tickets
        # Recently closed tickets, kept so late events get a precise answer; bounded so a
        # long-running desk does not grow without end (the store has them all).
        self.closed: OrderedDict[str, Ticket] = OrderedDict()
        self.closed_limit = closed_limit
        self.agents: dict[str, Agent] = {}
        self.sessions: dict[str, SessionRow] = {}  # live or wrapping-up sessions
        self.draining = False
        self.stats: dict[str, QueueStats] = {}
        self.day = Day(config)
        self.today: dict[str, Figures] = {}  # per queue, since the business day began
        self._wrapping: dict[str, str] = {}  # agent in wrap-up -> the queue of that call
        self.routing = Router(config, self.tickets, self.agents)
        self._resume: dict[str, str] = {}  # agent -> state to resume after a restart
        self._devices: dict[str, str] = {}  # device -> its open ticket
        self._joining: dict[str, None] = {}  # joining tickets, longest joining first
        self._seq = 0
        self._shown: dict[str, tuple[int, float | None, WaitRange]] = {}
        # The range each waiting customer was last told, and the staffing then: a range never
        # grows without a reason the customer can see (fewer agents).
        self._told: dict[str, tuple[float, float, int]] = {}
        # Per ticket told a range when it joined: (queue, agents to free up, rate, when), so
        # that its actual wait can calibrate the queue's ranges once it is answered.
        self._predicted: dict[str, tuple[str, int, float, float]] = {}
        self._staffed: dict[str, int] = {}  # per queue, kept as agents change state
        self._shown_agents: dict[str, int] = {}
        # Live calls waiting for a party (or both, after a restart) to come back.
        self._breaks: dict[str, _Break] = {}
        # The timers this desk has asked for and that have neither fired nor been cancelled,
        # by key: a node that takes over this desk (cluster/journal.py) arms them again.
        self.timers: dict[str, SetTimer] = {}
        # A pending timer's event -> the keys of the timers that will fire it, oldest first
        # (two rematch timers due at one instant fire equal events).
        self._timer_keys: dict[Event, list[str]] = {}
        self._reset_queues()

    # ------------------------------------------------------------------ copies

    def __getstate__(self) -> dict[str, Any]:
        """A desk's state without where its ids come from: a replica on another node
        (cluster/journal.py) copies the state and replays the ids the leader drew."""
        state = dict(self.__dict__)
        state["_new_id"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def draw_ids_with(self, new_id: Callable[[], str]) -> None:
        """Where this desk's ids come from from now on (a copy has none until told)."""
        self._new_id = new_id

    # ------------------------------------------------------------------ entry point

    def handle(self, event: Event) -> list[Effect]:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not a desk event: {event!r}")
        effects: list[Effect] = []
        self._timer_fired(event)
        self.routing.begin()
        if self.day.roll(event.at):
            self.today = {queue_id: Figures() for queue_id in self.config.queues}
        handler(self, event, effects)
        if not self.draining:  # a session started now would be cut off by the shutdown at once
            self.routing.match(
                event.at, lambda ticket, agent: self._offer(ticket, agent, event.at, effects)
            )
        self._book_timers(effects)
        return effects

    def _timer_fired(self, event: Event) -> None:
        """A pending timer's event is being handled (refused or not): it is no longer pending."""
        if not self._timer_keys:
            return
        try:
            keys = self._timer_keys.get(event)
        except TypeError:  # not hashable: not a timer's event
            return
        if keys:
            self.timers.pop(keys[0], None)
            self._unbook(event, keys[0])

    def _unbook(self, event: Event, key: str) -> None:
        keys = self._timer_keys.get(event)
        if keys is not None and key in keys:
            keys.remove(key)
            if not keys:
                del self._timer_keys[event]

    def _book_timers(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SetTimer):
                before = self.timers.pop(effect.key, None)
                if before is not None:  # set again: the earlier one will not fire
                    self._unbook(before.event, effect.key)
                self.timers[effect.key] = effect
                self._timer_keys.setdefault(effect.event, []).append(effect.key)
            elif isinstance(effect, CancelTimer):
                before = self.timers.pop(effect.key, None)
                if before is not None:
                    self._unbook(before.event, effect.key)

    # ------------------------------------------------------------------ queries (read-only)

    def agent_state(self, agent_id: str) -> AgentState:
        agent = self.agents.get(agent_id)
        return agent.state if agent else AgentState.OFFLINE

    def ticket_state(self, ticket_id: str) -> TicketState | None:
        ticket = self.tickets.get(ticket_id) or self.closed.get(ticket_id)
        return ticket.state if ticket else None

    def live_call(self, party: str, party_id: str) -> tuple[str, str] | None:
        """(session id, call id) of the live call a customer or agent is in, if any."""
        if party == "customer":
            ticket = self.tickets.get(party_id)
            if ticket is None or ticket.state is not T.LIVE:
                return None
            assert ticket.session_id is not None and ticket.call_id is not None
            return ticket.session_id, ticket.call_id
        agent = self.agents.get(party_id)
        if agent is None or agent.state is not A.BUSY or agent.session_id is None:
            return None
        return agent.session_id, self.sessions[agent.session_id].call_id

    def agent_dropped(self, agent_id: str) -> bool:
        """A busy agent whose call waits for their console to come back (``AgentDropped``, or
        restored after a restart). Their next connection is an ``AgentReturned``."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not A.BUSY or agent.session_id is None:
            return False
        pause = self._breaks.get(agent.session_id)
        return pause is not None and "agent" in pause.away

    def customer_away(self, ticket_id: str) -> bool:
        """An open ticket whose customer has no connection: tapped but not joined yet, dropped
        within the grace period, restored after a restart, or a callback not joined yet. Their
        next connection is a ``CustomerReturned``."""
        ticket = self.tickets.get(ticket_id)
        return ticket is not None and not ticket.connected

    def agent_session(self, agent_id: str) -> str | None:
        """The agent's live or wrapping-up session."""
        agent = self.agents.get(agent_id)
        return agent.session_id if agent is not None else None

    def live_media(self) -> list[StartMedia]:
        """Each live call's media as a node taking this desk over must have it open: the call,
        its ticket, its agent now, and whether the customer has yet to join."""
        calls: dict[str, StartMedia] = {}
        for row in self.sessions.values():
            ticket = self.tickets.get(row.ticket_id)
            if row.ended_at is None and ticket is not None:
                call_id = row.call_id or row.id
                calls[call_id] = StartMedia(call_id, ticket.id, row.agent_id, not ticket.connected)
        return list(calls.values())

    def call_session(self, call_id: str) -> SessionRow | None:
        """The live session of a media call (after a warm transfer, the new leg's)."""
        for session in self.sessions.values():
            if session.call_id == call_id and session.ended_at is None:
                return session
        return None

    def session_agent(self, session_id: str) -> str | None:
        """The agent of a live or wrapping-up session (after a warm transfer, each leg has its
        own session and agent)."""
        session = self.sessions.get(session_id)
        return session.agent_id if session is not None else None

    def customers_in(self, queue_id: str) -> int:
        """Open tickets in a queue, waiting or in a call: what keeps it from being removed."""
        return sum(1 for ticket in self.tickets.values() if ticket.queue_id == queue_id)

    def directory(self, agent_id: str) -> dict[str, Any]:
        """Where an agent can transfer to: every queue, and the other agents who are Ready."""
        return {
            "queues": [{"id": q.id, "name": q.name or q.id} for q in self.config.queues.values()],
            "agents": [
                {"id": a.id, "name": a.name}
                for a in self.agents.values()
                if a.state is A.READY and a.id != agent_id
            ],
        }

    def staffed(self, queue_id: str | None = None) -> int:
        """Agents signed in and not Away (for one queue: those who may take it; O(1))."""
        if queue_id is not None:
            return self._staffed.get(queue_id, 0)
        count = 0
        for agent in self.agents.values():
            if agent.state in (A.OFFLINE, A.AWAY):
                continue
            if queue_id is None or self.config.eligible(agent.profile, queue_id):
                count += 1
        return count

    def position(self, ticket_id: str) -> int | None:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.state not in (T.JOINING, T.QUEUED, T.OFFERED):
            return None
        return self.routing.position(ticket)

    def estimate(self, ticket_id: str) -> float | None:
        return self.standing(ticket_id)[1]

    def standing(self, ticket_id: str) -> tuple[int | None, float | None]:
        """(position, point estimate of the wait); O(log n) in the line's length."""
        ticket = self.tickets.get(ticket_id)
        position = self.position(ticket_id)
        if ticket is None or position is None:
            return position, None
        staffed = self.staffed(ticket.queue_id)
        return position, self.stats[ticket.queue_id].position_wait(position, staffed)

    def wait(self, ticket_id: str) -> tuple[int | None, WaitRange | None]:
        """(position, what the customer is told of their wait), None for a ticket not in
        line; O(log n) in the line's length. See ``estimate.py`` for the model."""
        ticket = self.tickets.get(ticket_id)
        position = self.position(ticket_id)
        if ticket is None or position is None:
            return position, None
        return position, self._wait_range(ticket, position)

    def _wait_range(
        self, ticket: Ticket, position: int, staffed: int | None = None, ready: int | None = None
    ) -> WaitRange:
        """``staffed`` and ``ready`` may be given by a caller that asks for a whole queue."""
        if ticket.offer is not None:
            return _RINGING
        if staffed is None:
            staffed = self.staffed(ticket.queue_id)
        if staffed <= 0:
            return _UNSTAFFED
        if ready is None:
            ready = self.routing.ready_for(ticket.queue_id)
        departures = position - ready
        if departures <= 0:
            return _FREE
        low, high = self.stats[ticket.queue_id].wait_range(departures, staffed)
        told = self._told.get(ticket.id)
        if told is not None and staffed >= told[2] and high > told[1]:
            # Nothing the customer can see got worse: what they were told still stands.
            high = told[1]
            low = min(low, high)
        return WaitRange("range", low, high)

    def _tell(self, ticket: Ticket, wait: WaitRange) -> None:
        """Remember the range a customer was told (an event's doing, never a query's)."""
        if wait.kind == "range":
            assert wait.low is not None and wait.high is not None
            self._told[ticket.id] = (wait.low, wait.high, self.staffed(ticket.queue_id))

    @property
    def queue(self) -> list[str]:
        """Every waiting ticket, best first within each queue, queues in configuration order."""
        return [t for q in self.config.queues for t in self.routing.ordered(q)]

    def queue_snapshot(self, at: float) -> list[dict[str, Any]]:
        out = []
        for queue_id, queue in self.config.queues.items():
            stats = self.stats[queue_id]
            staffed = self.staffed(queue_id)
            out.append(
                {
                    "id": queue_id,
                    "name": queue.name or queue_id,
                    "waiting": self.routing.in_line(queue_id),
                    "staffed": staffed,
                    "ready": self.routing.ready_for(queue_id),
                    "expected_wait": stats.expected_wait(staffed, at),
                    "handle_time": round(stats.handle_estimate, 1),
                    "history": stats.history,
                    "answered": stats.answered,
                    "answered_in_service_level": stats.answered_in_level,
                    "abandoned": stats.abandoned,
                    "open": queue.hours.is_open(at),
                }
            )
        return out

    def customer_view(self, ticket_id: str, at: float) -> dict[str, Any]:
        """What a customer's page needs to show after (re)connecting. Only ``state`` once the
        ticket has closed (``"closed"`` when this desk no longer knows it). ``at`` is taken like
        ``agent_view``'s so that both views read the desk as of the same moment."""
        state = self.ticket_state(ticket_id)
        if state is None or state in TERMINAL_TICKET_STATES:
            return {"state": state.value if state else "closed"}
        ticket = self.tickets[ticket_id]
        position, estimate = self.standing(ticket_id)
        _, wait = self.wait(ticket_id)
        return {
            "state": state.value,
            "session_id": ticket.call_id if state is T.LIVE else None,
            "position": position,
            "estimated_wait": estimate,
            "wait": wait.wire() if wait is not None else None,
            "agents_available": self.staffed(ticket.queue_id),
            "queue_id": ticket.queue_id,
            "callback": ticket.callback,
        }

    def agent_view(self, agent_id: str, at: float) -> dict[str, Any] | None:
        """What an agent's console needs to show after (re)connecting."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return None
        offer = session = None
        if agent.state is A.OFFERED and agent.ticket_id:
            offer = offer_info(self.tickets[agent.ticket_id], at)
        if agent.session_id is not None and agent.session_id in self.sessions:
            row = self.sessions[agent.session_id]
            ticket = self.tickets.get(row.ticket_id) or self.closed[row.ticket_id]
            session = self._session_info(row, ticket)
            if row.answered_at is not None:
                session["elapsed"] = round(max(0.0, at - row.answered_at), 1)
        return {
            "name": agent.name,
            "state": agent.state.value,
            "reason": agent.away_reason,
            "session_id": agent.session_id,
            "session": session,
            "offer": offer,
            "waiting": sum(self.routing.in_line(q) for q in agent.profile.queues),
        }

    def agents_by_state(self) -> dict[str, int]:
        """How many signed-in agents are in each state (offline agents are not counted)."""
        counts: dict[str, int] = {}
        for agent in self.agents.values():
            if agent.state is not AgentState.OFFLINE:
                counts[agent.state.value] = counts.get(agent.state.value, 0) + 1
        return counts

    def floor(self, at: float) -> dict[str, Any]:
        """The supervisors' wallboard as of ``at``: every queue with today's figures, every
        signed-in agent, every live call, every customer in line (tickets still joining only
        counted), and the alerts. Times are given as moments (``since``), not durations, so the
        picture changes only when the floor does; the page counts the seconds itself."""
        date = self.day.date_of(at)
        today: Mapping[str, Figures] = self.today
        if self.day.date is not None and date > self.day.date:
            today = {}  # a new day that no event has opened yet: nothing counted in it
        states = [A.READY, A.OFFERED, A.BUSY, A.WRAP_UP, A.AWAY]
        queues, alerts, waiting = [], [], []
        for queue_id, queue in self.config.queues.items():
            figures = today.get(queue_id) or Figures()
            agents = dict.fromkeys((s.value for s in states), 0)
            for agent in self.agents.values():
                if agent.state is not A.OFFLINE and self.config.eligible(agent.profile, queue_id):
                    agents[agent.state.value] += 1
            working = agents["busy"] + agents["wrap_up"]
            staffed = working + agents["ready"] + agents["offered"]
            line = [self.tickets[t] for t in self.routing.ordered(queue_id)]
            joined = [t for t in line if t.state is not T.JOINING]
            longest = min((t.line_since for t in joined), default=None)
            level = figures.service_level(queue)
            name = queue.name or queue_id
            queues.append(
                {
                    "id": queue_id,
                    "name": name,
                    "waiting": len(joined),
                    "joining": len(line) - len(joined),
                    "longest_since": longest,
                    "offered": figures.offered,
                    "answered": figures.answered,
                    "answered_in_level": figures.answered_in_level,
                    "abandoned": figures.abandoned,
                    "short_abandoned": figures.short_abandoned,
                    "service_level": None if level is None else round(level, 1),
                    "asa": _rounded(figures.asa),
                    "aht": _rounded(figures.aht),
                    "occupancy": round(100.0 * working / staffed, 1) if staffed else None,
                    "agents": agents,
                    "target": queue.service_level_target,
                    "threshold": queue.service_level,
                    "short_abandon": queue.short_abandon,
                    "abandons_count": queue.abandons_count,
                    "wait_alert": queue.wait_alert,
                    "formula": formula(queue),
                    # Erlang C on the same handle-time estimate the customers' ranges use, and
                    # what it stands on (too little history: the mean of recent waits instead).
                    "expected_wait": self.stats[queue_id].expected_wait(staffed, at),
                    "handle_time": round(self.stats[queue_id].handle_estimate, 1),
                    "history": self.stats[queue_id].history,
                }
            )
            if level is not None and level < queue.service_level_target:
                alerts.append(
                    {
                        "queue_id": queue_id,
                        "kind": "service_level",
                        "message": f"{name}: service level today is {level:.0f}%, "
                        f"below its {queue.service_level_target:g}% target",
                        # The figures, for a page that words the alert in its own language.
                        "level": round(level),
                        "target": queue.service_level_target,
                    }
                )
            wait_alert = queue.wait_alert
            if wait_alert is not None and longest is not None and at - longest > wait_alert:
                alerts.append(
                    {
                        "queue_id": queue_id,
                        "kind": "longest_wait",
                        "message": f"{name}: a customer has waited longer than {wait_alert:g} s",
                        "seconds": wait_alert,
                    }
                )
            for position, ticket in enumerate(line, start=1):
                if ticket.state is T.JOINING:
                    continue
                waiting.append(
                    {
                        "ticket_id": ticket.id,
                        "queue_id": queue_id,
                        "topic": ticket.topic,
                        "priority": ticket.priority,
                        "since": ticket.line_since,
                        "state": ticket.state.value,
                        "callback": ticket.callback,
                        "connected": ticket.connected,
                        "position": position,
                    }
                )
        return {
            "at": at,
            "day": {
                "date": date.isoformat(),
                "started_at": self.day.start_of(date),
                "time_zone": self.config.time_zone,
                "starts_at": self.config.day_starts_at,
            },
            "queues": queues,
            "agents": [
                self._floor_agent(agent)
                for agent in self.agents.values()
                if agent.state is not A.OFFLINE
            ],
            "calls": [
                self._floor_call(row) for row in self.sessions.values() if row.ended_at is None
            ],
            "waiting": waiting,
            "alerts": alerts,
        }

    def _floor_agent(self, agent: Agent) -> dict[str, Any]:
        call = None
        if agent.state is A.BUSY and agent.session_id in self.sessions:
            row = self.sessions[agent.session_id]
            ticket = self.tickets.get(row.ticket_id)
            call = {
                "session_id": row.id,
                "ticket_id": row.ticket_id,
                "queue_id": ticket.queue_id if ticket else None,
                "topic": ticket.topic if ticket else "",
                "since": row.answered_at,
            }
        return {
            "id": agent.id,
            "name": agent.name,
            "state": agent.state.value,
            "since": agent.state_since,
            "reason": agent.away_reason,
            "queues": [q for q in self.config.queues if q in agent.profile.queues],
            "call": call,
            "ringing": agent.ticket_id if agent.state is A.OFFERED else None,
        }

    def _floor_call(self, row: SessionRow) -> dict[str, Any]:
        ticket = self.tickets.get(row.ticket_id)
        agent = self.agents.get(row.agent_id)
        return {
            "session_id": row.id,
            "call_id": row.call_id,
            "ticket_id": row.ticket_id,
            "queue_id": ticket.queue_id if ticket else None,
            "topic": ticket.topic if ticket else "",
            "agent_id": row.agent_id,
            "agent_name": agent.name if agent else row.agent_id,
            "since": row.answered_at,
            # Filled by the media side when it reports them; the wallboard shows "—" until then.
            "recording": None,
            "quality": None,
        }

    def dump(self) -> dict[str, Any]:
        """A serializable picture of the desk, for debugging and tests."""
        return {
            "queue": self.queue,
            "draining": self.draining,
            "agents": {a.id: a.state.value for a in self.agents.values()},
            "tickets": {t.id: t.state.value for t in self.tickets.values()},
            "closed": len(self.closed),
            "sessions": sorted(self.sessions),
        }

    # ------------------------------------------------------------------ configuration

    def _on_config(self, ev: ConfigChanged, out: list[Effect]) -> None:
        try:
            config = ev.config.validate()
        except ConfigError as exc:
            raise DeskError(str(exc)) from None
        for ticket in self.tickets.values():
            if ticket.queue_id not in config.queues:
                raise DeskError(
                    f"queue {ticket.queue_id!r} still has customers; move them before removing it"
                )
        self.config = config
        self.day.reconfigure(config, ev.at)
        for agent in self.agents.values():
            agent.profile = config.profile(agent.id)
        self._reset_queues()
        for ticket in self.tickets.values():
            if ticket.state in (T.JOINING, T.QUEUED, T.OFFERED):
                self.routing.enter_line(ticket)
        for agent in self.agents.values():
            if agent.state is A.READY:
                self.routing.enter_pools(agent, ev.at)

    def _reset_queues(self) -> None:
        for queue_id in self.config.queues:
            self.stats.setdefault(queue_id, QueueStats())
            self.today.setdefault(queue_id, Figures())
        self.routing.reset(self.config)
        self._staffed = dict.fromkeys(self.config.queues, 0)
        for agent in self.agents.values():
            self._count_staffed(agent, 1)

    def _count_staffed(self, agent: Agent, delta: int) -> None:
        if agent.state in (A.OFFLINE, A.AWAY):
            return
        for queue_id in self.config.queues:
            if self.config.eligible(agent.profile, queue_id):
                self._staffed[queue_id] += delta

    def _queue(self, queue_id: str) -> QueueConfig:
        return self.config.queues[queue_id]

    # ------------------------------------------------------------------ customers

    def _on_tapped(self, ev: CustomerTapped, out: list[Effect]) -> None:
        # A tap that could never succeed (an unknown topic) is told so before being told to
        # come back later: trying again would not help it.
        queue_id, route_priority = self.routing.route(ev.topic)
        if self.draining:
            raise Refused("the service is restarting; please try again in a minute")
        known = self.tickets.get(ev.ticket_id) or self.closed.get(ev.ticket_id)
        if known is not None:
            raise IllegalTransition(f"ticket {ev.ticket_id}", known.state.value, "tap")
        if ev.device_id is not None and ev.device_id in self._devices:
            raise ActiveTicket("this device already has an open help request")
        queue = self._queue(queue_id)
        if not queue.hours.is_open(ev.at):
            raise QueueClosed("we are closed right now; please come back during opening hours")
        if not ev.callback and queue.max_length is not None:
            # Joining tickets do not count: ghost taps must not make the line look full.
            live = sum(
                1
                for t in self.routing.waiting[queue_id]
                if not self.tickets[t].callback and self.tickets[t].state is not T.JOINING
            )
            if live >= queue.max_length:
                raise QueueFull(
                    "all our agents are busy and the line is full; leave a callback request "
                    "and we will call you back"
                )
        priority = max(ev.priority, route_priority)
        joining = [t for t in self._joining if self.tickets[t].queue_id == queue_id]
        for pushed_out in joining[: max(0, len(joining) - self.config.max_joining + 1)]:
            self._close_waiting(pushed_out, "leave", "not_joined", ev.at, out)
        self._seq += 1
        ticket = Ticket(
            ev.ticket_id,
            ev.topic,
            ev.description,
            queued_at=ev.at,
            queue_id=queue_id,
            priority=priority,
            callback=ev.callback,
            seq=self._seq,
            state=T.JOINING,
            connected=False,
            customer_ref=ev.customer_ref,
            device_id=ev.device_id,
            line_since=ev.at,
        )
        self.tickets[ticket.id] = ticket
        if ev.device_id is not None:
            self._devices[ev.device_id] = ticket.id
        self._await_join(ticket, ev.at, out)
        out.append(SaveTicket(ticket.row()))

    def _await_join(self, ticket: Ticket, at: float, out: list[Effect]) -> None:
        """A ticket whose page has not connected: a place in line, no offers, a deadline."""
        self._joining[ticket.id] = None
        self.routing.enter_line(ticket)  # holds a place; the router offers only queued tickets
        due = at + self.config.join_window
        out.append(SetTimer(_joining_timer(ticket.id), due, JoinWindowExpired(ticket.id, due)))

    def _join(self, ticket: Ticket, at: float, out: list[Effect]) -> None:
        ticket.state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "join")
        ticket.connected = True
        del self._joining[ticket.id]
        out.append(CancelTimer(_joining_timer(ticket.id)))
        self.stats[ticket.queue_id].arrived(at)  # a ghost tap is no arrival: estimates ignore it
        self.today[ticket.queue_id].offered += 1
        self.routing.make_offerable(ticket)
        self._predict(ticket, at)
        self._arm_max_wait(ticket, at, out, since=ticket.line_since)
        out.append(SaveTicket(ticket.row()))

    def _predict(self, ticket: Ticket, at: float) -> None:
        """Note what a customer joining now is told, to learn from the wait that follows."""
        position = self.routing.position(ticket)
        assert position is not None
        wait = self._wait_range(ticket, position)
        self._tell(ticket, wait)
        if wait.kind == "range":
            staffed = self.staffed(ticket.queue_id)
            departures = position - self.routing.ready_for(ticket.queue_id)
            rate = self.stats[ticket.queue_id].service_rate(staffed)
            self._predicted[ticket.id] = (ticket.queue_id, departures, rate, at)

    def _on_join_window_expired(self, ev: JoinWindowExpired, out: list[Effect]) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None or ticket.state is not T.JOINING:
            return  # joined, cancelled or pushed out meanwhile
        self._close_waiting(ticket.id, "leave", "not_joined", ev.at, out)

    def _on_cancelled(self, ev: CustomerCancelled, out: list[Effect]) -> None:
        self._close_waiting(ev.ticket_id, "cancel", "cancelled", ev.at, out)

    def _on_left(self, ev: CustomerLeft, out: list[Effect]) -> None:
        if self.draining:
            # The server is going away, not the customer: their ticket stays as it is, for the
            # next process to restore (a live call too, unless the drain ended it).
            return
        ticket = self._ticket(ev.ticket_id)
        if ticket.state is T.LIVE:
            if ticket.connected:
                assert ticket.session_id is not None
                if self.config.call_resume_window > 0:
                    ticket.connected = False
                    if ticket.offer is not None:
                        # A warm transfer was ringing: nobody to hand over to a colleague.
                        self._withdraw_transfer(ticket, ev.at, out)
                        self._transfer_failed(ticket, ticket.session_id, "customer_left", out)
                    self._interrupt(ticket.session_id, "customer", ev.at, out)
                else:
                    self._end_session(ticket.session_id, "customer_disconnected", ev.at, out)
            return
        if ticket.state in TERMINAL_TICKET_STATES or not ticket.connected:
            return
        ticket.connected = False
        if ticket.callback:
            return  # a callback needs no open connection to keep its place
        if ticket.offer is not None:
            agent_id = ticket.offer.agent_id
            self._withdraw_offer(ticket, "withdraw", ev.at, out)
            self._requeue(ticket, out)
            out.append(Notify("agent", agent_id, E.OFFER_WITHDRAWN, {"ticket_id": ticket.id}))
        self.routing.set_aside(ticket)
        grace = self.config.customer_grace
        out.append(
            SetTimer(
                _grace_timer(ticket.id),
                ev.at + grace,
                CustomerGraceExpired(ticket.id, ev.at + grace),
            )
        )

    def _on_returned(self, ev: CustomerReturned, out: list[Effect]) -> None:
        ticket = self._ticket(ev.ticket_id)
        if ticket.state in TERMINAL_TICKET_STATES:
            raise IllegalTransition(f"ticket {ticket.id}", ticket.state.value, "join")
        if ticket.state is T.JOINING:
            self._join(ticket, ev.at, out)
            return
        if ticket.connected:
            return
        ticket.connected = True
        out.append(CancelTimer(_grace_timer(ticket.id)))
        if ticket.state is T.LIVE:
            assert ticket.session_id is not None
            out.append(CancelTimer(_join_timer(ticket.session_id)))
            self._resumed(ticket.session_id, "customer", ev.at, out)
        elif ticket.state is T.QUEUED:
            self.routing.make_offerable(ticket)
            queue = self._queue(ticket.queue_id)
            waited_too_long = queue.max_wait is not None and (
                ev.at >= ticket.line_since + queue.max_wait
            )
            if waited_too_long and queue.overflow_to is None and not ticket.callback:
                # A callback was suggested while they were away (or to a page that is gone).
                self._suggest_callback(ticket, ev.at, out)

    def _on_grace_expired(self, ev: CustomerGraceExpired, out: list[Effect]) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None or ticket.connected or ticket.callback or ticket.state is not T.QUEUED:
            return  # they came back, asked for a callback, or the ticket closed meanwhile
        self._close_waiting(ticket.id, "leave", "customer_left", ev.at, out)

    def _on_callback_requested(self, ev: CallbackRequested, out: list[Effect]) -> None:
        ticket = self._ticket(ev.ticket_id)
        if ticket.state not in (T.QUEUED, T.OFFERED):
            raise IllegalTransition(f"ticket {ticket.id}", ticket.state.value, "callback")
        if not ticket.callback:
            ticket.callback = True
            out.append(CancelTimer(_max_wait_timer(ticket.id)))
            if not ticket.connected:
                # A callback needs no connection: the grace period ends, the place is kept.
                out.append(CancelTimer(_grace_timer(ticket.id)))
                if ticket.state is T.QUEUED:
                    self.routing.make_offerable(ticket)
            out.append(SaveTicket(ticket.row()))
        out.append(Notify("customer", ticket.id, E.CALLBACK_CONFIRMED, {"ticket_id": ticket.id}))

    def _on_max_wait(self, ev: MaxWaitReached, out: list[Effect]) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is not None and ticket.state is T.OFFERED and ticket.queue_id == ev.queue_id:
            # Still ringing: look again when the ring ends, in case nobody answers.
            assert ticket.offer is not None
            due = ticket.offer.expires_at
            out.append(
                SetTimer(
                    _max_wait_timer(ticket.id), due, MaxWaitReached(ticket.id, ev.queue_id, due)
                )
            )
            return
        if ticket is None or ticket.state is not T.QUEUED or ticket.queue_id != ev.queue_id:
            return  # answered or moved meanwhile
        queue = self._queue(ticket.queue_id)
        if queue.overflow_to is not None and not ticket.callback:
            self._move(ticket, queue.overflow_to, ev.at)
            self._arm_max_wait(ticket, ev.at, out)
            out.append(SaveTicket(ticket.row()))
            out.append(
                Notify(
                    "customer",
                    ticket.id,
                    E.MOVED,
                    {"queue_id": queue.overflow_to, "reason": "overflow"},
                )
            )
        elif not ticket.callback:
            self._suggest_callback(ticket, ev.at, out)

    def _suggest_callback(self, ticket: Ticket, at: float, out: list[Effect]) -> None:
        out.append(
            Notify(
                "customer",
                ticket.id,
                E.CALLBACK_SUGGESTED,
                {"waited": round(at - ticket.queued_at)},
            )
        )

    def _close_waiting(
        self, ticket_id: str, trigger: str, reason: str, at: float, out: list[Effect]
    ) -> None:
        ticket = self._ticket(ticket_id)
        new_state = _next(TICKET_TRANSITIONS, f"ticket {ticket_id}", ticket.state, trigger)
        never_joined = ticket.state is T.JOINING
        if never_joined:
            out.append(CancelTimer(_joining_timer(ticket.id)))
        if ticket.offer is not None:
            agent_id = ticket.offer.agent_id
            self._withdraw_offer(ticket, "withdraw", at, out)
            out.append(CancelTimer(_offer_timer(ticket.id)))
            out.append(Notify("agent", agent_id, E.OFFER_WITHDRAWN, {"ticket_id": ticket.id}))
            ticket.offer = None
        ticket.state = new_state
        ticket.ended_at = at
        ticket.end_reason = reason
        if new_state is T.ABANDONED and not never_joined:
            self.stats[ticket.queue_id].abandoned += 1
        if not never_joined and new_state in (T.ABANDONED, T.CANCELLED):
            # Today's figures count a customer who cancels as one who gave up, as a supervisor
            # would: either way the queue did not answer them.
            self.today[ticket.queue_id].abandon(
                at - ticket.line_since, self._queue(ticket.queue_id)
            )
        self._leave_line(ticket)
        self._retire(ticket)
        out.append(CancelTimer(_grace_timer(ticket.id)))
        out.append(CancelTimer(_max_wait_timer(ticket.id)))
        out.append(SaveTicket(ticket.row()))
        out.append(Notify("customer", ticket_id, E.CLOSED, {"reason": reason}))

    # ------------------------------------------------------------------ agents

    def _on_signed_in(self, ev: AgentSignedIn, out: list[Effect]) -> None:
        agent = self.agents.get(ev.agent_id)
        if agent is None:
            agent = Agent(ev.agent_id, ev.name, self.config.profile(ev.agent_id))
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sign_in")
        agent.name = ev.name
        agent.signed_in_at = ev.at
        agent.busy_seconds = 0.0
        agent.missed = 0
        self.agents[agent.id] = agent
        self._set_agent(agent, state, ev.at, out, reason="signed_in")
        if self._resume.pop(agent.id, None) == A.READY.value:
            self._set_agent(agent, A.READY, ev.at, out)  # they were Ready before the restart

    def _on_signed_out(self, ev: AgentSignedOut, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sign_out")
        self._sign_out(agent, state, "agent_disconnected", ev.at, out)

    def _on_agent_dropped(self, ev: AgentDropped, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        if agent.state is A.BUSY and self.config.call_resume_window > 0:
            assert agent.session_id is not None
            if not self.draining:  # draining: the call goes to the next process, agent and all
                self._interrupt(agent.session_id, "agent", ev.at, out)
            return
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sign_out")
        self._sign_out(agent, state, "agent_disconnected", ev.at, out)

    def _on_agent_returned(self, ev: AgentReturned, out: list[Effect]) -> None:
        if not self.agent_dropped(ev.agent_id):
            return  # the call ended meanwhile, or the console never dropped
        agent = self._agent(ev.agent_id)
        assert agent.session_id is not None
        # The console learns its call from ``sync`` (``agent_view``) and offers media anew.
        self._resumed(agent.session_id, "agent", ev.at, out)

    def _interrupt(
        self,
        session_id: str,
        party: str,
        at: float,
        out: list[Effect],
        restart: bool = False,
        since: float | None = None,
    ) -> None:
        """``party``'s connection to live call ``session_id`` is gone: the call waits
        ``call_resume_window`` for it (the other party is told), then ends. ``since``: a wait
        that was under way when the process stopped goes on (one interruption, timed from its
        start)."""
        session = self._session(session_id)
        pause = self._breaks.get(session_id)
        window = self.config.call_resume_window
        if pause is None:
            pause = self._breaks[session_id] = _Break(at + window, set(), restart)
            session = replace(
                session,
                interruptions=session.interruptions + (since is None),
                away_since=at if since is None else since,
            )
            self.sessions[session_id] = session
            out.append(SaveSession(session))
            out.append(
                SetTimer(
                    _resume_timer(session_id),
                    pause.until,
                    CallResumeExpired(session_id, pause.until),
                )
            )
        pause.away.add(party)
        other = _OTHER[party]
        if other not in pause.away:
            left = round(max(0.0, pause.until - at), 1)
            self._tell_peer(session, other, E.PEER_DROPPED, {"party": party, "seconds": left}, out)

    def _resumed(self, session_id: str, party: str, at: float, out: list[Effect]) -> None:
        """``party`` is connected to interrupted call ``session_id`` again."""
        pause = self._breaks.get(session_id)
        if pause is None or party not in pause.away:
            return
        pause.away.discard(party)
        session = self._session(session_id)
        other = _OTHER[party]
        if other not in pause.away:
            self._tell_peer(session, other, E.PEER_RETURNED, {"party": party}, out)
        if not pause.away:
            out.append(SaveSession(self._end_break(session_id, at, out)))

    def _end_break(self, session_id: str, at: float, out: list[Effect]) -> SessionRow:
        """The wait for ``session_id``'s parties is over (they are back, or the call ends):
        the session, with the wait added to its interrupted time."""
        del self._breaks[session_id]
        out.append(CancelTimer(_resume_timer(session_id)))
        session = self._session(session_id)
        since = session.away_since if session.away_since is not None else at
        session = replace(
            session,
            interrupted_seconds=session.interrupted_seconds + (at - since),
            away_since=None,
        )
        self.sessions[session_id] = session
        return session

    def _tell_peer(
        self,
        session: SessionRow,
        to: str,
        event: E,
        data: dict[str, object],
        out: list[Effect],
    ) -> None:
        if to == "agent":
            out.append(Notify("agent", session.agent_id, event, {"session_id": session.id, **data}))
        else:
            call_id = session.call_id or session.id
            out.append(
                Notify("customer", session.ticket_id, event, {"session_id": call_id, **data})
            )

    def _on_resume_expired(self, ev: CallResumeExpired, out: list[Effect]) -> None:
        pause = self._breaks.get(ev.session_id)
        session = self.sessions.get(ev.session_id)
        if pause is None or session is None or session.ended_at is not None:
            return  # everyone came back, or the call ended meanwhile
        if pause.restart and pause.away == {"agent", "customer"}:
            reason = "server_restart"
        elif "customer" in pause.away:
            reason = "customer_disconnected"
        else:
            reason = "agent_disconnected"
        agent = self._agent(session.agent_id)
        if "agent" in pause.away:
            # Their console is gone: the call ends and they are signed out, as on a sign-out.
            state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sign_out")
            self._sign_out(agent, state, reason, ev.at, out)
        else:
            self._end_session(session.id, reason, ev.at, out)

    def _sign_out(
        self, agent: Agent, state: AgentState, end_reason: str, at: float, out: list[Effect]
    ) -> None:
        if agent.state is A.OFFERED:
            self._drop_offer(self._ticket(agent.ticket_id), out)  # type: ignore[arg-type]
        elif agent.state is A.BUSY:
            assert agent.session_id is not None
            self._end_session(agent.session_id, end_reason, at, out)
        if agent.session_id is not None:
            # The wrap-up is left without a disposition; the session row keeps its end.
            out.append(CancelTimer(_wrap_timer(agent.id)))
            session = self.sessions.pop(agent.session_id, None)
            if session is not None:
                self._wrapped(agent, session, at)
        agent.ticket_id = None
        agent.session_id = None
        self._set_agent(agent, state, at, out)

    def _on_ready(self, ev: AgentReady, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "ready")
        if agent.state is not A.READY:
            if agent.missed:
                self._forgive_misses(agent.id)
            agent.missed = 0
            self._set_agent(agent, state, ev.at, out)

    def _forgive_misses(self, agent_id: str) -> None:
        """An agent who let offers ring out says Ready again: they are there now, so what they
        missed may be offered to them at once (a decline still waits out its skip). Without
        this the only waiting customer sat unoffered for ``reoffer_after`` seconds while the
        console showed them waiting."""
        for ticket in self.tickets.values():
            if agent_id in ticket.missed_by:
                ticket.missed_by.discard(agent_id)
                ticket.skip.pop(agent_id, None)

    def _on_away(self, ev: AgentAway, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "away")
        if agent.state is A.OFFERED:
            self._drop_offer(self._ticket(agent.ticket_id), out)  # type: ignore[arg-type]
            agent.ticket_id = None
        self._set_agent(agent, state, ev.at, out, reason=ev.reason)

    # ------------------------------------------------------------------ supervisors

    def _on_sent_away(self, ev: AgentSentAway, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sent_away")
        if ev.reason not in AWAY_REASONS:
            raise DeskError(f"unknown away reason {ev.reason!r}")
        was = agent.state
        if agent.state is A.OFFERED:
            self._drop_offer(self._ticket(agent.ticket_id), out)  # type: ignore[arg-type]
            agent.ticket_id = None
        self._set_agent(agent, state, ev.at, out, reason=ev.reason, by=ev.by_name)
        detail = {"reason": ev.reason, "was": was.value}
        self._audit(ev, "set_away", "agent", agent.id, detail, out)

    def _on_forced_out(self, ev: AgentForcedOut, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "forced_out")
        was = agent.state
        self._sign_out(agent, state, "agent_signed_out", ev.at, out)
        out.append(Notify("agent", agent.id, E.SIGNED_OUT, {"by": ev.by_name}))
        self._audit(ev, "sign_out", "agent", agent.id, {"was": was.value}, out)

    def _on_ticket_moved(self, ev: TicketMoved, out: list[Effect]) -> None:
        ticket = self._ticket(ev.ticket_id)
        state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "move")
        if ev.queue_id not in self.config.queues:
            raise UnknownSubject(f"no queue {ev.queue_id!r}")
        if ev.queue_id == ticket.queue_id:
            raise DeskError(f"ticket {ticket.id} is already in queue {ev.queue_id!r}")
        was = ticket.queue_id
        if ticket.offer is not None:
            agent_id = ticket.offer.agent_id
            self._withdraw_offer(ticket, "withdraw", ev.at, out)
            self._requeue(ticket, out)
            out.append(Notify("agent", agent_id, E.OFFER_WITHDRAWN, {"ticket_id": ticket.id}))
        assert ticket.state is state
        # The new queue's clock starts now, like an overflow's: its wait limit and its service
        # level count from here (the audit row keeps who reset it).
        self._move(ticket, ev.queue_id, ev.at)
        out.append(CancelTimer(_max_wait_timer(ticket.id)))
        if ticket.state is not T.JOINING:  # a joining ticket's limit is armed when it joins
            self._arm_max_wait(ticket, ev.at, out)
        out.append(SaveTicket(ticket.row()))
        out.append(
            Notify(
                "customer", ticket.id, E.MOVED, {"queue_id": ev.queue_id, "reason": "supervisor"}
            )
        )
        self._audit(ev, "move", "ticket", ticket.id, {"from": was, "to": ev.queue_id}, out)

    def _on_reprioritized(self, ev: TicketReprioritized, out: list[Effect]) -> None:
        ticket = self._ticket(ev.ticket_id)
        _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "reprioritize")
        if not -100 <= ev.priority <= 100:
            raise DeskError("a priority goes from -100 to 100")
        was = ticket.priority
        ticket.priority = ev.priority
        # Out of the line and back with the new key; a ringing offer rings on.
        self._leave_line(ticket)
        self.routing.enter_line(ticket)
        out.append(SaveTicket(ticket.row()))
        self._audit(ev, "set_priority", "ticket", ticket.id, {"from": was, "to": ev.priority}, out)

    def _on_call_supervised(self, ev: CallSupervised, out: list[Effect]) -> None:
        if ev.action not in SUPERVISION_ACTIONS:
            raise DeskError(f"unknown supervision action {ev.action!r}")
        row = self.sessions.get(ev.session_id)
        # Joining needs a live call; leaving is written while the session is still known (a
        # call that ended while watched is left by its end, without a row).
        if row is None or (row.ended_at is not None and ev.action != "leave"):
            raise UnknownSubject(f"no live session {ev.session_id!r}")
        detail = {"call_id": row.call_id, "agent_id": row.agent_id, "ticket_id": row.ticket_id}
        self._audit(ev, ev.action, "session", row.id, detail, out)

    def _audit(
        self,
        ev: AgentSentAway | AgentForcedOut | TicketMoved | TicketReprioritized | CallSupervised,
        action: str,
        subject_kind: str,
        subject_id: str,
        detail: Mapping[str, object],
        out: list[Effect],
    ) -> None:
        row = AuditRow(ev.at, ev.by, ev.by_name, action, subject_kind, subject_id, detail)
        out.append(SaveAudit(row))

    # ------------------------------------------------------------------ offers

    def _on_accepted(self, ev: OfferAccepted, out: list[Effect]) -> None:
        if self.draining:
            raise Refused("the service is restarting; this call cannot start now")
        agent, ticket = self._offered_pair(ev.agent_id, ev.ticket_id)
        assert ticket.offer is not None
        if ticket.offer.transfer_from is not None:
            self._complete_transfer(agent, ticket, ev.at, out)
            return
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "accept")
        ticket_state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "accept")
        session_id = self._new_id()
        session = SessionRow(
            id=session_id,
            ticket_id=ticket.id,
            agent_id=agent.id,
            queued_at=ticket.queued_at,
            answered_at=ev.at,
            call_id=session_id,
        )
        out.append(CancelTimer(_offer_timer(ticket.id)))
        out.append(CancelTimer(_max_wait_timer(ticket.id)))
        queue = self._queue(ticket.queue_id)
        self.stats[ticket.queue_id].answered_after(ev.at - ticket.queued_at, queue.service_level)
        predicted = self._predicted.pop(ticket.id, None)
        if predicted is not None and predicted[0] == ticket.queue_id:
            _, departures, rate, since = predicted
            self.stats[ticket.queue_id].scored(departures, rate, ev.at - since)
        self.today[ticket.queue_id].answer(ev.at - ticket.line_since, queue)
        ticket.offer = None
        ticket.state = ticket_state
        ticket.session_id = session_id
        ticket.call_id = session_id
        self._leave_line(ticket)
        agent.session_id = session_id
        agent.missed = 0
        self.sessions[session_id] = session
        self._set_agent(agent, agent_state, ev.at, out)
        out.append(SaveTicket(ticket.row()))
        out.append(SaveSession(session))
        out.append(StartMedia(session_id, ticket.id, agent.id, not ticket.connected))
        if ticket.callback and not ticket.connected:
            join = self.config.callback_join_timeout
            out.append(
                SetTimer(
                    _join_timer(session_id),
                    ev.at + join,
                    CallbackJoinTimedOut(session_id, ev.at + join),
                )
            )
        out.append(
            Notify(
                "customer",
                ticket.id,
                E.MATCHED,
                {"session_id": session_id, "agent_name": agent.name, "callback": ticket.callback},
            )
        )
        out.append(
            Notify("agent", agent.id, E.SESSION_STARTED, self._session_info(session, ticket))
        )

    def _on_declined(self, ev: OfferDeclined, out: list[Effect]) -> None:
        agent, ticket = self._offered_pair(ev.agent_id, ev.ticket_id)
        assert ticket.offer is not None
        transfer = ticket.offer.transfer_from
        agent.missed = 0  # a decline is an answer: the agent is there, the run of misses ends
        self._withdraw_offer(ticket, "decline", ev.at, out)
        out.append(CancelTimer(_offer_timer(ticket.id)))
        if transfer is not None:
            ticket.offer = None
            self._transfer_failed(ticket, transfer, "declined", out)
            return
        self._skip(ticket, agent.id, ev.at, out)
        ticket.missed_by.discard(agent.id)  # a decline is a choice: it keeps its skip
        self._requeue(ticket, out)

    def _on_offer_timed_out(self, ev: OfferTimedOut, out: list[Effect]) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None or ticket.offer is None or ticket.offer.offer_id != ev.offer_id:
            return  # a timer that lost a race with accept/decline/cancel
        agent = self._agent(ticket.offer.agent_id)
        queue = self._queue(ticket.queue_id)
        trigger = "timeout" if agent.missed + 1 >= queue.max_missed else "miss"
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, trigger)
        transfer = ticket.offer.transfer_from
        agent.missed += 1
        agent.ticket_id = None
        if transfer is not None:
            ticket.offer = None
            self._transfer_failed(ticket, transfer, "no_answer", out)
        else:
            self._skip(ticket, agent.id, ev.at, out)
            ticket.missed_by.add(agent.id)
            self._requeue(ticket, out)
        reason = "missed_offer" if state is A.AWAY else None
        self._set_agent(agent, state, ev.at, out, reason=reason)
        out.append(
            Notify(
                "agent", agent.id, E.OFFER_MISSED, {"ticket_id": ticket.id, "missed": agent.missed}
            )
        )

    def _offered_pair(self, agent_id: str, ticket_id: str) -> tuple[Agent, Ticket]:
        agent = self._agent(agent_id)
        ticket = self._ticket(ticket_id)
        if ticket.offer is None or ticket.offer.agent_id != agent.id:
            raise NotAllowed(f"ticket {ticket_id} is not offered to agent {agent_id}")
        return agent, ticket

    def _withdraw_offer(self, ticket: Ticket, trigger: str, at: float, out: list[Effect]) -> None:
        """Return the offered agent to Ready (decline, or the customer went away)."""
        assert ticket.offer is not None
        agent = self._agent(ticket.offer.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, trigger)
        agent.ticket_id = None
        self._set_agent(agent, state, at, out)

    def _drop_offer(self, ticket: Ticket, out: list[Effect]) -> None:
        """The offered agent left (away or gone): the ticket goes back at once."""
        assert ticket.offer is not None
        out.append(CancelTimer(_offer_timer(ticket.id)))
        if ticket.offer.transfer_from is not None:
            transfer = ticket.offer.transfer_from
            ticket.offer = None
            self._transfer_failed(ticket, transfer, "unavailable", out)
        else:
            self._requeue(ticket, out)

    def _requeue(self, ticket: Ticket, out: list[Effect]) -> None:
        """An offer ended without an answer: the ticket waits again at its old place."""
        ticket.state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "requeue")
        ticket.offer = None
        out.append(CancelTimer(_offer_timer(ticket.id)))
        out.append(SaveTicket(ticket.row()))
        if ticket.connected or ticket.callback:
            self.routing.make_offerable(ticket)

    def _skip(self, ticket: Ticket, agent_id: str, at: float, out: list[Effect]) -> None:
        until = self.routing.skip(ticket, agent_id, at)
        out.append(SetTimer(f"rematch:{ticket.id}:{agent_id}", until, RematchDue(until)))

    def _on_rematch(self, ev: RematchDue, out: list[Effect]) -> None:
        self.routing.rematch_all()

    # ------------------------------------------------------------------ sessions

    def _on_hung_up(self, ev: HungUp, out: list[Effect]) -> None:
        session = self._session(ev.session_id)
        owner = session.ticket_id if ev.by == "customer" else session.agent_id
        if ev.by_id != owner:
            raise NotAllowed(f"{ev.by} {ev.by_id} is not in session {ev.session_id}")
        self._end_session(ev.session_id, f"{ev.by}_hung_up", ev.at, out)

    def _on_media_failed(self, ev: MediaFailed, out: list[Effect]) -> None:
        if self._handing_over():
            return
        for session in list(self.sessions.values()):
            if session.call_id == ev.session_id and session.ended_at is None:
                if session.id in self._breaks:
                    # A party whose connection dropped took its media with it; the call waits
                    # for them to come back (and offer media anew) or ends when the wait does.
                    continue
                self._end_session(session.id, "media_failed", ev.at, out)

    def _on_media_moved(self, ev: MediaMoved, out: list[Effect]) -> None:
        """The call goes on with new media: both parties offer it anew, and the record counts
        the gap (from the loss of the media node to the call opened again) as an
        interruption."""
        session = self.call_session(ev.session_id)
        if session is None:
            return
        session = replace(
            session,
            interruptions=session.interruptions + 1,
            interrupted_seconds=session.interrupted_seconds + max(0.0, ev.at - ev.lost_at),
        )
        self.sessions[session.id] = session
        out.append(SaveSession(session))
        for party in ("agent", "customer"):
            self._tell_peer(session, party, E.MEDIA_MOVED, {}, out)

    def _on_join_timed_out(self, ev: CallbackJoinTimedOut, out: list[Effect]) -> None:
        session = self.sessions.get(ev.session_id)
        if session is None or session.ended_at is not None:
            return
        ticket = self.tickets.get(session.ticket_id)
        if ticket is None or ticket.connected:
            return
        self._end_session(session.id, "callback_not_joined", ev.at, out)

    def _on_wrap_up(self, ev: WrapUpDone, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        session = self._session(ev.session_id)
        if session.agent_id != agent.id:
            raise NotAllowed(f"session {ev.session_id} is not agent {agent.id}'s")
        if ev.disposition not in DISPOSITIONS:
            raise DeskError(f"unknown disposition {ev.disposition!r}")
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "wrap_up")
        if agent.session_id != session.id:
            raise NotAllowed(f"agent {agent.id} is not wrapping up session {session.id}")
        self._finish_wrap_up(agent, session, state, ev.at, out, ev.disposition, ev.note)

    def _on_wrap_up_timed_out(self, ev: WrapUpTimedOut, out: list[Effect]) -> None:
        agent = self.agents.get(ev.agent_id)
        session = self.sessions.get(ev.session_id)
        if agent is None or session is None or agent.state is not A.WRAP_UP:
            return
        if agent.session_id != session.id:
            return
        self._finish_wrap_up(agent, session, A.READY, ev.at, out, None, None)
        out.append(Notify("agent", agent.id, E.WRAP_UP_EXPIRED, {"session_id": session.id}))

    def _finish_wrap_up(
        self,
        agent: Agent,
        session: SessionRow,
        state: AgentState,
        at: float,
        out: list[Effect],
        disposition: str | None,
        note: str | None,
    ) -> None:
        row = replace(session, disposition=disposition, note=note, wrapped_up_at=at)
        self._wrapped(agent, session, at)
        del self.sessions[session.id]
        agent.session_id = None
        out.append(CancelTimer(_wrap_timer(agent.id)))
        self._set_agent(agent, state, at, out)
        out.append(SaveSession(row))

    def _wrapped(self, agent: Agent, session: SessionRow, at: float) -> None:
        """The agent's wrap-up of ``session`` is over: its time adds to the call's handle time."""
        queue_id = self._wrapping.pop(agent.id, None)
        figures = self.today.get(queue_id) if queue_id is not None else None
        if figures is not None and session.ended_at is not None:
            figures.handle_total += max(0.0, at - session.ended_at)

    def _on_drain(self, ev: DrainStarted, out: list[Effect]) -> None:
        self.draining = True
        if self.config.call_resume_window > 0:
            # Live calls are handed over: they stay live in the records, the next process (a
            # restart, the standby) restores them and their parties reconnect to it.
            return
        for session_id, row in list(self.sessions.items()):
            if row.ended_at is None:
                self._end_session(session_id, "server_shutdown", ev.at, out)

    def _withdraw_transfer(self, ticket: Ticket, at: float, out: list[Effect]) -> None:
        """The warm transfer ringing for ``ticket``'s call stops ringing at its target."""
        assert ticket.offer is not None
        target = self._agent(ticket.offer.agent_id)
        self._withdraw_offer(ticket, "withdraw", at, out)
        out.append(CancelTimer(_offer_timer(ticket.id)))
        out.append(Notify("agent", target.id, E.OFFER_WITHDRAWN, {"ticket_id": ticket.id}))
        ticket.offer = None

    def _handing_over(self) -> bool:
        """Draining with live calls left for the next process: connections that drop now and
        media that fails are the server going away, not the parties."""
        return self.draining and self.config.call_resume_window > 0

    def _end_session(self, session_id: str, reason: str, at: float, out: list[Effect]) -> None:
        session = self._session(session_id)
        ticket = self._ticket(session.ticket_id)
        agent = self._agent(session.agent_id)
        ticket_state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "end")
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "end")
        if ticket.offer is not None:  # a warm transfer was ringing
            self._withdraw_transfer(ticket, at, out)
        if session_id in self._breaks:
            session = self._end_break(session_id, at, out)
        row = replace(session, ended_at=at, end_reason=reason)
        self.sessions[session_id] = row
        ticket.state = ticket_state
        ticket.ended_at = at
        ticket.end_reason = reason
        self._retire(ticket)
        agent.ticket_id = None
        agent.busy_seconds += at - session.answered_at
        self._handled(ticket, at - session.answered_at)
        self._set_agent(agent, agent_state, at, out)
        wrap_up = self._arm_wrap_up(agent, ticket.queue_id, session_id, at, out)
        call_id = ticket.call_id or session_id
        out.append(StopMedia(call_id))
        out.append(CancelTimer(_join_timer(session_id)))
        out.append(SaveTicket(ticket.row()))
        out.append(SaveSession(row))
        out.append(
            Notify(
                "customer", ticket.id, E.SESSION_ENDED, {"session_id": call_id, "reason": reason}
            )
        )
        out.append(
            Notify(
                "agent",
                agent.id,
                E.SESSION_ENDED,
                {"session_id": session_id, "reason": reason, "wrap_up_seconds": wrap_up},
            )
        )

    def _arm_wrap_up(
        self, agent: Agent, queue_id: str, session_id: str, at: float, out: list[Effect]
    ) -> float:
        """Start the agent's wrap-up clock; returns its limit, which the agent is told."""
        limit = self._queue(queue_id).wrap_up_limit
        self._wrapping[agent.id] = queue_id
        out.append(
            SetTimer(
                _wrap_timer(agent.id), at + limit, WrapUpTimedOut(agent.id, session_id, at + limit)
            )
        )
        return limit

    def _session_info(self, session: SessionRow, ticket: Ticket) -> dict[str, object]:
        return {
            "session_id": session.id,
            "call_id": session.call_id,
            "ticket_id": ticket.id,
            "topic": ticket.topic,
            "description": ticket.description,
            "queue_id": ticket.queue_id,
            "callback": ticket.callback,
        }

    # ------------------------------------------------------------------ transfers

    def _on_transfer(self, ev: TransferRequested, out: list[Effect]) -> None:
        session = self._session(ev.session_id)
        if session.agent_id != ev.agent_id:
            raise NotAllowed(f"session {ev.session_id} is not agent {ev.agent_id}'s")
        if session.ended_at is not None:
            raise IllegalTransition(f"session {session.id}", "ended", "transfer")
        ticket = self._ticket(session.ticket_id)
        if (ev.queue_id is None) == (ev.to_agent_id is None):
            raise DeskError("name either a queue or an agent to transfer to")
        if ticket.offer is not None:
            raise IllegalTransition(f"ticket {ticket.id}", "transferring", "transfer")
        if ev.queue_id is not None:
            self._blind_transfer(session, ticket, ev.queue_id, ev.at, out)
        else:
            assert ev.to_agent_id is not None
            self._warm_transfer(session, ticket, ev.to_agent_id, ev.at, out)

    def _blind_transfer(
        self, session: SessionRow, ticket: Ticket, queue_id: str, at: float, out: list[Effect]
    ) -> None:
        if queue_id not in self.config.queues:
            raise UnknownSubject(f"no queue {queue_id!r}")
        agent = self._agent(session.agent_id)
        ticket_state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "transfer")
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "end")
        row = replace(session, ended_at=at, end_reason="transferred")
        self.sessions[session.id] = row
        call_id = ticket.call_id or session.id
        agent.ticket_id = None
        agent.busy_seconds += at - session.answered_at
        self._handled(ticket, at - session.answered_at)
        self._set_agent(agent, agent_state, at, out)
        wrap_up = self._arm_wrap_up(agent, ticket.queue_id, session.id, at, out)
        ticket.state = ticket_state
        ticket.session_id = None
        ticket.call_id = None
        ticket.queue_id = queue_id  # keeps queued_at: not re-queued at the back
        ticket.line_since = at
        ticket.skip.clear()
        self.routing.enter_line(ticket)
        self._arm_max_wait(ticket, at, out)
        out.append(StopMedia(call_id))
        out.append(SaveSession(row))
        out.append(SaveTicket(ticket.row()))
        out.append(Notify("customer", ticket.id, E.TRANSFERRED, {"queue_id": queue_id}))
        out.append(
            Notify(
                "agent",
                agent.id,
                E.SESSION_ENDED,
                {"session_id": session.id, "reason": "transferred", "wrap_up_seconds": wrap_up},
            )
        )

    def _warm_transfer(
        self, session: SessionRow, ticket: Ticket, to_agent_id: str, at: float, out: list[Effect]
    ) -> None:
        target = self.agents.get(to_agent_id)
        if target is None or target.state is not A.READY:
            raise Refused(f"agent {to_agent_id} is not available")
        if target.id == session.agent_id:
            raise DeskError("you cannot transfer a session to yourself")
        self._offer(ticket, target, at, out, transfer_from=session.id)

    def _complete_transfer(
        self, agent: Agent, ticket: Ticket, at: float, out: list[Effect]
    ) -> None:
        assert ticket.offer is not None and ticket.offer.transfer_from is not None
        old_session = self._session(ticket.offer.transfer_from)
        old_agent = self._agent(old_session.agent_id)
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "accept")
        old_state = _next(AGENT_TRANSITIONS, f"agent {old_agent.id}", old_agent.state, "end")
        call_id = ticket.call_id or old_session.id
        new_session = SessionRow(
            id=self._new_id(),
            ticket_id=ticket.id,
            agent_id=agent.id,
            queued_at=ticket.queued_at,
            answered_at=at,
            call_id=call_id,
        )
        out.append(CancelTimer(_offer_timer(ticket.id)))
        ticket.offer = None
        ticket.session_id = new_session.id
        agent.ticket_id = ticket.id
        agent.session_id = new_session.id
        agent.missed = 0
        self.sessions[new_session.id] = new_session
        self._set_agent(agent, agent_state, at, out)
        ended = replace(old_session, ended_at=at, end_reason="transferred")
        self.sessions[old_session.id] = ended
        old_agent.ticket_id = None
        old_agent.busy_seconds += at - old_session.answered_at
        # One customer, one contact: the legs add up to its handle time when the last one ends.
        ticket.handled_before += at - old_session.answered_at
        self._set_agent(old_agent, old_state, at, out)
        wrap_up = self._arm_wrap_up(old_agent, ticket.queue_id, old_session.id, at, out)
        out.append(HandOverMedia(call_id, agent.id))
        out.append(SaveSession(ended))
        out.append(SaveSession(new_session))
        out.append(
            Notify("agent", agent.id, E.SESSION_STARTED, self._session_info(new_session, ticket))
        )
        out.append(
            Notify(
                "agent",
                old_agent.id,
                E.SESSION_ENDED,
                {"session_id": old_session.id, "reason": "transferred", "wrap_up_seconds": wrap_up},
            )
        )
        out.append(Notify("customer", ticket.id, E.AGENT_CHANGED, {"agent_name": agent.name}))

    def _transfer_failed(
        self, ticket: Ticket, session_id: str, reason: str, out: list[Effect]
    ) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            out.append(
                Notify(
                    "agent",
                    session.agent_id,
                    E.TRANSFER_FAILED,
                    {"ticket_id": ticket.id, "reason": reason},
                )
            )

    # ------------------------------------------------------------------ restart

    def _on_restored(self, ev: Restored, out: list[Effect]) -> None:
        if self.tickets or self.closed or self.agents:
            raise IllegalTransition("desk", "running", "restore")
        for restored in sorted(ev.tickets, key=lambda t: t.queued_at):
            ticket = self._reopen(restored.id, restored)
            if not restored.joined:
                # Its page never connected (callbacks too): a fresh join window, no more.
                ticket.state = T.JOINING
                self._await_join(ticket, ev.at, out)
                out.append(SaveTicket(ticket.row()))
                continue
            self.routing.enter_line(ticket)
            # The wait limit counts from when the ticket entered its queue, not from the restart.
            self._arm_max_wait(ticket, ev.at, out, since=ticket.line_since)
            if not ticket.callback:
                # Waiting customers lost their connection with the old process: grace to return.
                grace = ev.at + self.config.customer_grace
                self.routing.set_aside(ticket)
                ticket.connected = False
                out.append(
                    SetTimer(_grace_timer(ticket.id), grace, CustomerGraceExpired(ticket.id, grace))
                )
            out.append(SaveTicket(ticket.row()))
        for call in ev.calls:
            self._restore_call(call, ev.at, out)
        self._resume = dict(ev.agent_states)

    def _reopen(self, ticket_id: str, restored: RestoredTicket | RestoredCall) -> Ticket:
        """An open ticket from the records, back in the desk (queued unless the caller says
        otherwise): its queue if that still exists, else the default one."""
        queue_id = (
            restored.queue_id
            if restored.queue_id in self.config.queues
            else self.config.default_queue
        )
        self._seq += 1
        ticket = Ticket(
            ticket_id,
            restored.topic,
            restored.description,
            queued_at=restored.queued_at,
            queue_id=queue_id,
            priority=restored.priority,
            callback=restored.callback,
            seq=self._seq,
            connected=False,  # nobody is connected to a new process; callbacks need no one
            customer_ref=restored.customer_ref,
            device_id=restored.device_id,
            line_since=(
                restored.line_since
                if restored.line_since is not None and queue_id == restored.queue_id
                else restored.queued_at
            ),
        )
        self.tickets[ticket.id] = ticket
        if ticket.device_id is not None:
            self._devices[ticket.device_id] = ticket.id  # still one open ticket per device
        return ticket

    def _restore_call(self, call: RestoredCall, at: float, out: list[Effect]) -> None:
        """A call that was live when the process stopped: its ticket, leg and agent as they
        were, a new media session, and both parties awaited for ``call_resume_window``."""
        if call.agent_id in self.agents or call.ticket_id in self.tickets:
            return  # two live calls of one agent or ticket in the records: the first one stands
        ticket = self._reopen(call.ticket_id, call)
        ticket.state = T.LIVE
        ticket.session_id = call.session_id
        ticket.call_id = call.call_id
        agent = Agent(call.agent_id, call.agent_name, self.config.profile(call.agent_id))
        agent.signed_in_at = at
        agent.ticket_id = ticket.id
        agent.session_id = call.session_id
        self.agents[agent.id] = agent
        self._set_agent(agent, A.BUSY, at, out)
        self.sessions[call.session_id] = SessionRow(
            id=call.session_id,
            ticket_id=ticket.id,
            agent_id=agent.id,
            queued_at=call.queued_at,
            answered_at=call.answered_at,
            call_id=call.call_id,
            interruptions=call.interruptions,
            interrupted_seconds=call.interrupted_seconds,
        )
        since = call.away_since
        out.append(StartMedia(call.call_id, ticket.id, agent.id, True))
        self._interrupt(call.session_id, "customer", at, out, restart=True, since=since)
        self._interrupt(call.session_id, "agent", at, out, restart=True, since=since)

    # ------------------------------------------------------------------ announcements

    def _on_announce(self, ev: AnnounceDue, out: list[Effect]) -> None:
        """Tell each waiting customer their position and estimate when either changed."""
        for queue_id in self.config.queues:
            staffed = self.staffed(queue_id)
            ready = self.routing.ready_for(queue_id)
            stats = self.stats[queue_id]
            for index, ticket_id in enumerate(self.routing.ordered(queue_id)):
                position = index + 1
                ticket = self.tickets[ticket_id]
                # While an agent's console rings for them, the customer is being answered: an
                # estimate would be the wrong thing to read.
                ringing = ticket.offer is not None
                wait = self._wait_range(ticket, position, staffed, ready)
                shown = (position, stats.position_wait(position, staffed), wait)
                if self._shown.get(ticket_id) != shown:
                    self._shown[ticket_id] = shown
                    self._tell(ticket, wait)
                    out.append(
                        Notify(
                            "customer",
                            ticket_id,
                            E.QUEUE,
                            {
                                "position": position,
                                "estimated_wait": shown[1],
                                "agents_available": staffed,
                                "queue_id": queue_id,
                                "ringing": ringing,
                                "wait": wait.wire(),
                            },
                        )
                    )
        for agent in self.agents.values():
            if agent.state is A.OFFLINE:
                continue
            waiting = sum(self.routing.in_line(q) for q in agent.profile.queues)
            if self._shown_agents.get(agent.id) != waiting:
                self._shown_agents[agent.id] = waiting
                out.append(Notify("agent", agent.id, E.WAITING, {"waiting": waiting}))

    # ------------------------------------------------------------------ lines

    def _leave_line(self, ticket: Ticket) -> None:
        self.routing.leave_line(ticket)
        self._shown.pop(ticket.id, None)
        self._told.pop(ticket.id, None)

    def _move(self, ticket: Ticket, queue_id: str, at: float) -> None:
        self._leave_line(ticket)
        self._predicted.pop(ticket.id, None)  # told for another queue
        ticket.queue_id = queue_id
        ticket.line_since = at
        ticket.skip.clear()
        self.routing.enter_line(ticket)

    def _handled(self, ticket: Ticket, seconds: float) -> None:
        """A contact in the ticket's queue is done: its handle time feeds the wait estimates."""
        self.stats[ticket.queue_id].handled(ticket.handled_before + seconds)
        figures = self.today[ticket.queue_id]
        figures.handled += 1
        figures.handle_total += max(0.0, ticket.handled_before + seconds)
        ticket.handled_before = 0.0

    def _arm_max_wait(
        self, ticket: Ticket, at: float, out: list[Effect], *, since: float | None = None
    ) -> None:
        max_wait = self._queue(ticket.queue_id).max_wait
        if max_wait is not None and not ticket.callback:
            start = at if since is None else since
            due = max(at, start + max_wait)
            out.append(
                SetTimer(
                    _max_wait_timer(ticket.id), due, MaxWaitReached(ticket.id, ticket.queue_id, due)
                )
            )

    # ------------------------------------------------------------------ offers made

    def _offer(
        self,
        ticket: Ticket,
        agent: Agent,
        at: float,
        out: list[Effect],
        transfer_from: str | None = None,
    ) -> None:
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "offer")
        if transfer_from is None:
            ticket.state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "offer")
            self.routing.set_aside(ticket)
        offer = ticket.offer = self.routing.new_offer(ticket, agent, at, transfer_from)
        agent.ticket_id = ticket.id
        self._set_agent(agent, agent_state, at, out)
        out.append(SaveTicket(ticket.row()))
        out.append(
            SetTimer(
                _offer_timer(ticket.id),
                offer.expires_at,
                OfferTimedOut(agent.id, ticket.id, offer.offer_id, at=offer.expires_at),
            )
        )
        out.append(Notify("agent", agent.id, E.OFFER, offer_info(ticket, at)))

    # ------------------------------------------------------------------ helpers

    def _set_agent(
        self,
        agent: Agent,
        state: AgentState,
        at: float,
        out: list[Effect],
        reason: str | None = None,
        by: str | None = None,
    ) -> None:
        was = agent.state
        unstaffed = (A.OFFLINE, A.AWAY)
        counted = (was in unstaffed) != (state in unstaffed)
        if counted:
            self._count_staffed(agent, -1)
        agent.state = state
        if counted:
            self._count_staffed(agent, 1)
        agent.state_since = at
        agent.away_reason = reason if state is A.AWAY else None
        if was is A.READY and state is not A.READY:
            self.routing.leave_pools(agent)
        if state is A.READY and was is not A.READY:
            agent.idle_since = at
            self.routing.enter_pools(agent, at)
        if state is not was:
            # The console draws its queue panel afresh on a change of state (a call's context
            # is read when it starts): the next announcement tells the count again, even when
            # the count went back to what was last told meanwhile.
            self._shown_agents.pop(agent.id, None)
        data: dict[str, object] = {"state": state.value}
        if agent.away_reason:
            data["reason"] = agent.away_reason
        if by is not None:
            data["by"] = by  # a supervisor's doing: the console says who
        out.append(SaveAgentState(agent.id, state.value, agent.away_reason, at))
        if state is not A.OFFLINE:
            out.append(Notify("agent", agent.id, E.AGENT_STATE, data))

    def _ticket(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id) or self.closed.get(ticket_id)
        if ticket is None:
            raise UnknownSubject(f"no ticket {ticket_id}")
        return ticket

    def _retire(self, ticket: Ticket) -> None:
        """A ticket reached a terminal state: move it to the bounded closed list."""
        self._leave_line(ticket)
        if ticket.device_id is not None:
            self._devices.pop(ticket.device_id, None)
        self._joining.pop(ticket.id, None)
        self._predicted.pop(ticket.id, None)
        del self.tickets[ticket.id]
        self.closed[ticket.id] = ticket
        while len(self.closed) > self.closed_limit:
            self.closed.popitem(last=False)

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownSubject(f"agent {agent_id} is not signed in")
        return agent

    def _session(self, session_id: str) -> SessionRow:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise UnknownSubject(f"no live session {session_id}") from None

    _handlers: dict[type, Callable[[Desk, Any, list[Effect]], None]] = {
        CustomerTapped: _on_tapped,
        CustomerCancelled: _on_cancelled,
        CustomerLeft: _on_left,
        CustomerReturned: _on_returned,
        CustomerGraceExpired: _on_grace_expired,
        JoinWindowExpired: _on_join_window_expired,
        CallbackRequested: _on_callback_requested,
        MaxWaitReached: _on_max_wait,
        AgentSignedIn: _on_signed_in,
        AgentSignedOut: _on_signed_out,
        AgentReady: _on_ready,
        AgentAway: _on_away,
        OfferAccepted: _on_accepted,
        OfferDeclined: _on_declined,
        OfferTimedOut: _on_offer_timed_out,
        RematchDue: _on_rematch,
        HungUp: _on_hung_up,
        MediaFailed: _on_media_failed,
        MediaMoved: _on_media_moved,
        CallbackJoinTimedOut: _on_join_timed_out,
        WrapUpDone: _on_wrap_up,
        WrapUpTimedOut: _on_wrap_up_timed_out,
        TransferRequested: _on_transfer,
        DrainStarted: _on_drain,
        Restored: _on_restored,
        AgentDropped: _on_agent_dropped,
        AgentReturned: _on_agent_returned,
        CallResumeExpired: _on_resume_expired,
        AnnounceDue: _on_announce,
        ConfigChanged: _on_config,
        AgentSentAway: _on_sent_away,
        AgentForcedOut: _on_forced_out,
        TicketMoved: _on_ticket_moved,
        TicketReprioritized: _on_reprioritized,
        CallSupervised: _on_call_supervised,
    }


_RINGING, _FREE, _UNSTAFFED = WaitRange("ringing"), WaitRange("free"), WaitRange("unstaffed")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _offer_timer(ticket_id: str) -> str:
    return f"offer:{ticket_id}"


def _joining_timer(ticket_id: str) -> str:
    return f"joining:{ticket_id}"


def _grace_timer(ticket_id: str) -> str:
    return f"grace:{ticket_id}"


def _max_wait_timer(ticket_id: str) -> str:
    return f"maxwait:{ticket_id}"


def _join_timer(session_id: str) -> str:
    return f"join:{session_id}"


_OTHER = {"agent": "customer", "customer": "agent"}


def _resume_timer(session_id: str) -> str:
    return f"resume:{session_id}"


@dataclass(slots=True)
class _Break:
    """A live call waiting for parties to come back: until when, who is away, and whether a
    restart caused it (both away from the start). Since when is the session's ``away_since``."""

    until: float
    away: set[str]
    restart: bool = False


def _wrap_timer(agent_id: str) -> str:
    return f"wrap:{agent_id}"
