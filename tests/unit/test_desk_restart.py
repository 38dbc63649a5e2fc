"""Restart safety and live configuration (issue 3): ``Restored`` rebuilds the waiting tickets
and agents' states from the store; ``ConfigChanged`` swaps the routing set-up in place.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.unit.desk_helpers import (
    agent,
    desk_config,
    make_desk,
    notes,
    offers,
    ready_agent,
    snapshot,
    tap,
    timers,
)
from videoassist.desk import (
    ActiveTicket,
    AgentSignedIn,
    AgentSignedOut,
    AgentState,
    CallbackJoinTimedOut,
    CallbackRequested,
    ConfigChanged,
    CustomerCancelled,
    CustomerGraceExpired,
    CustomerLeft,
    CustomerReturned,
    CustomerTapped,
    DeskConfig,
    DeskError,
    IllegalTransition,
    MaxWaitReached,
    OfferAccepted,
    QueueConfig,
    Restored,
    RestoredTicket,
    SaveAgentState,
    SaveTicket,
    SetTimer,
    TicketState,
    TopicRoute,
)
from videoassist.desk.events import Event

A = AgentState
T = TicketState


def restored(
    ticket_id: str,
    queued_at: float,
    *,
    queue_id: str = "general",
    priority: int = 0,
    callback: bool = False,
    device_id: str | None = None,
    line_since: float | None = None,
) -> RestoredTicket:
    return RestoredTicket(
        ticket_id,
        "",
        "",
        queue_id,
        priority,
        queued_at,
        callback,
        device_id=device_id,
        line_since=line_since,
    )


class TestRestored:
    def test_tickets_come_back_in_the_order_they_were_queued(self) -> None:
        desk = make_desk()
        effects = desk.handle(
            Restored((restored("t2", 20.0), restored("t1", 10.0), restored("t3", 30.0)), {}, 100.0)
        )
        assert desk.queue == ["t1", "t2", "t3"]
        assert [e.row.id for e in effects if isinstance(e, SaveTicket)] == ["t1", "t2", "t3"]
        assert desk.tickets["t1"].queued_at == 10.0

    def test_priorities_come_back_too(self) -> None:
        desk = make_desk()
        desk.handle(Restored((restored("t1", 10.0), restored("t2", 20.0, priority=3)), {}, 100.0))
        assert desk.queue == ["t2", "t1"]

    def test_waiting_customers_come_back_disconnected_with_a_grace_period(self) -> None:
        desk = make_desk()  # customer_grace: 60 s
        effects = desk.handle(Restored((restored("t1", 10.0),), {}, 100.0))
        assert timers(effects, CustomerGraceExpired) == [
            SetTimer("grace:t1", 160.0, CustomerGraceExpired("t1", 160.0))
        ]
        assert offers(ready_agent(desk, "a1", 101.0)) == [], "nobody to talk to yet"

    def test_a_customer_reconnecting_resumes_their_place(self) -> None:
        desk = make_desk()
        desk.handle(Restored((restored("t1", 10.0), restored("t2", 20.0)), {}, 100.0))
        tap(desk, "t3", 101.0)
        effects = desk.handle(CustomerReturned("t2", 102.0))
        assert [e.key for e in effects if not isinstance(e, SaveTicket)] == ["grace:t2"]
        assert offers(ready_agent(desk, "a1", 103.0)) == [("a1", "t2")], "ahead of t3"

    def test_a_customer_who_does_not_reconnect_in_time_is_abandoned(self) -> None:
        desk = make_desk()
        desk.handle(Restored((restored("t1", 10.0),), {}, 100.0))
        desk.handle(CustomerGraceExpired("t1", 160.0))
        assert desk.ticket_state("t1") is T.ABANDONED

    def test_callbacks_stay_offerable_without_a_connection(self) -> None:
        desk = make_desk()
        effects = desk.handle(Restored((restored("t1", 10.0, callback=True),), {}, 100.0))
        assert timers(effects, CustomerGraceExpired) == []
        assert offers(ready_agent(desk, "a1", 101.0)) == [("a1", "t1")]

    def test_accepting_a_restored_callback_gives_the_customer_time_to_join(self) -> None:
        desk = make_desk()  # callback_join_timeout: 120 s
        desk.handle(Restored((restored("t1", 10.0, callback=True),), {}, 100.0))
        ready_agent(desk, "a1", 101.0)
        effects = desk.handle(OfferAccepted("a1", "t1", 102.0))
        assert timers(effects, CallbackJoinTimedOut) == [
            SetTimer("join:s1", 222.0, CallbackJoinTimedOut("s1", 222.0))
        ]

    def test_a_ticket_of_a_queue_that_is_gone_comes_back_in_the_default_queue(self) -> None:
        desk = make_desk()
        desk.handle(Restored((restored("t1", 10.0, queue_id="closed-down"),), {}, 100.0))
        assert desk.tickets["t1"].queue_id == "general"

    def test_a_ticket_whose_topic_was_removed_comes_back_in_its_queue(self) -> None:
        """Topics are checked at the tap only; the customer waited in a queue, not a topic."""
        desk = make_desk(desk_config(QueueConfig("general"), QueueConfig("billing")))
        ticket = replace(restored("t1", 10.0, queue_id="billing"), topic="invoice")
        desk.handle(Restored((ticket,), {}, 100.0))
        assert (desk.tickets["t1"].topic, desk.tickets["t1"].queue_id) == ("invoice", "billing")
        assert desk.position("t1") == 1

    def test_a_restored_ticket_still_holds_its_device(self) -> None:
        desk = make_desk()
        desk.handle(Restored((restored("t1", 10.0, device_id="d1"),), {}, 100.0))
        before = snapshot(desk)
        with pytest.raises(ActiveTicket):
            tap(desk, "t2", 101.0, device_id="d1")
        assert snapshot(desk) == before
        desk.handle(CustomerCancelled("t1", 102.0))
        tap(desk, "t3", 103.0, device_id="d1")
        assert desk.queue == ["t3"], "a closed ticket frees its device"

    def test_the_wait_limit_counts_from_entering_the_queue_not_from_the_restart(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", max_wait=120.0)))
        effects = desk.handle(
            Restored(
                (
                    restored("t1", 10.0),  # due at 130
                    restored("t2", 20.0, line_since=50.0),  # transferred in at 50: due at 170
                    restored("t3", 1.0),  # due at 121, already past: due at once
                    restored("t4", 10.0, callback=True),  # callbacks have no wait limit
                ),
                {},
                125.0,
            )
        )
        assert timers(effects, MaxWaitReached) == [
            SetTimer("maxwait:t3", 125.0, MaxWaitReached("t3", "general", 125.0)),
            SetTimer("maxwait:t1", 130.0, MaxWaitReached("t1", "general", 130.0)),
            SetTimer("maxwait:t2", 170.0, MaxWaitReached("t2", "general", 170.0)),
        ]

    def test_a_ticket_moved_to_the_default_queue_waits_from_its_queued_time(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", max_wait=120.0)))
        effects = desk.handle(
            Restored((restored("t1", 10.0, queue_id="gone", line_since=90.0),), {}, 100.0)
        )
        assert timers(effects, MaxWaitReached) == [
            SetTimer("maxwait:t1", 130.0, MaxWaitReached("t1", "general", 130.0))
        ]

    def test_a_callback_suggested_while_away_is_suggested_again_on_return(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", max_wait=60.0)))
        desk.handle(Restored((restored("t1", 10.0),), {}, 100.0))
        desk.handle(MaxWaitReached("t1", "general", 100.0))  # nobody connected to hear it
        effects = desk.handle(CustomerReturned("t1", 101.0))
        assert [n.data for n in notes(effects, "callback_suggested", "t1")] == [{"waited": 91}]
        desk.handle(CustomerLeft("t1", 102.0))
        desk.handle(CallbackRequested("t1", 103.0))
        effects = desk.handle(CustomerReturned("t1", 104.0))
        assert notes(effects, "callback_suggested") == [], "they took it: no more suggestions"

    def test_an_agent_who_was_ready_resumes_ready_on_signing_in(self) -> None:
        desk = make_desk()
        desk.handle(Restored((), {"a1": "ready", "a2": "away"}, 100.0))
        effects = desk.handle(AgentSignedIn("a1", "A1", 101.0))
        assert desk.agent_state("a1") is A.READY
        assert SaveAgentState("a1", "ready", None, 101.0) in effects
        desk.handle(AgentSignedIn("a2", "A2", 102.0))
        assert desk.agent_state("a2") is A.AWAY

    def test_the_ready_state_is_resumed_once_not_on_every_sign_in(self) -> None:
        desk = make_desk()
        desk.handle(Restored((), {"a1": "ready"}, 100.0))
        desk.handle(AgentSignedIn("a1", "A1", 101.0))
        desk.handle(AgentSignedOut("a1", 102.0))
        desk.handle(AgentSignedIn("a1", "A1", 103.0))
        assert desk.agent_state("a1") is A.AWAY

    @pytest.mark.parametrize(
        "history",
        [
            [CustomerTapped("t9", 1.0)],
            [AgentSignedIn("a1", "A1", 1.0)],
            [CustomerTapped("t9", 1.0), CustomerCancelled("t9", 2.0)],
            [Restored((restored("t9", 0.5),), {}, 1.0)],
        ],
        ids=["a-customer-waiting", "an-agent-signed-in", "only-closed-tickets", "restored-once"],
    )
    def test_restoring_a_desk_that_already_ran_is_refused_and_changes_nothing(
        self, history: list[Event]
    ) -> None:
        desk = make_desk()
        for event in history:
            desk.handle(event)
        before = snapshot(desk)
        with pytest.raises(IllegalTransition):
            desk.handle(Restored((restored("t1", 10.0),), {}, 100.0))
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- configuration


def two_queues(**billing: Any) -> DeskConfig:
    return desk_config(
        QueueConfig("general"),
        QueueConfig("billing", **billing),
        topics=(TopicRoute("invoice", "billing"),),
        agents=(agent("a1", "general"),),
    )


class TestConfigChanged:
    def test_a_new_config_takes_effect_for_the_next_tap(self) -> None:
        desk = make_desk(two_queues())
        config = replace(desk.config, topics={"invoice": TopicRoute("invoice", "general")})
        desk.handle(ConfigChanged(config, 1.0))
        tap(desk, "t1", 2.0, topic="invoice")
        assert desk.tickets["t1"].queue_id == "general"

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            ({"default_queue": "nowhere"}, "default_queue"),
            ({"topics": {"x": TopicRoute("x", "nowhere")}}, "topics.x.queue_id"),
            ({"customer_grace": 60.0, "queues": {}}, "default_queue"),
        ],
        ids=["default-queue", "topic", "no-queues"],
    )
    def test_an_invalid_config_is_refused_naming_the_field_and_changes_nothing(
        self, change: dict[str, Any], where: str
    ) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0)
        before = snapshot(desk)
        with pytest.raises(DeskError) as info:
            desk.handle(ConfigChanged(replace(desk.config, **change), 2.0))
        assert info.value.status == 400
        assert where in info.value.message
        assert snapshot(desk) == before

    def test_a_queue_config_that_fails_validation_is_refused(self) -> None:
        desk = make_desk(two_queues())
        cycle = two_queues(overflow_to="general")
        cycle = replace(
            cycle,
            queues={**cycle.queues, "general": QueueConfig("general", overflow_to="billing")},
        )
        before = snapshot(desk)
        with pytest.raises(DeskError) as info:
            desk.handle(ConfigChanged(cycle, 2.0))
        assert "circle" in info.value.message
        assert snapshot(desk) == before

    def test_removing_a_queue_that_still_has_customers_is_refused(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0, topic="invoice")
        without_billing = desk_config(QueueConfig("general"))
        before = snapshot(desk)
        with pytest.raises(DeskError) as info:
            desk.handle(ConfigChanged(without_billing, 2.0))
        assert "billing" in info.value.message
        assert snapshot(desk) == before

    def test_removing_an_empty_queue_is_accepted(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0)
        desk.handle(ConfigChanged(desk_config(QueueConfig("general")), 2.0))
        assert set(desk.routing.pools) == {"general"}
        assert desk.queue == ["t1"]

    def test_an_agent_given_a_new_queue_is_offered_its_customers_at_once(self) -> None:
        desk = make_desk(two_queues())
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0, topic="invoice")
        assert "a1" not in desk.routing.pools["billing"]
        config = replace(desk.config, agents={"a1": agent("a1", "general", "billing")})
        assert offers(desk.handle(ConfigChanged(config, 3.0))) == [("a1", "t1")]

    def test_an_agent_below_a_new_skill_level_leaves_the_queues_pool(self) -> None:
        desk = make_desk(two_queues())
        ready_agent(desk, "a1", 1.0)
        config = replace(
            desk.config,
            queues={**desk.config.queues, "general": QueueConfig("general", skills={"tv": 2})},
            agents={"a1": agent("a1", "general", tv=1)},
        )
        desk.handle(ConfigChanged(config, 2.0))
        assert "a1" not in desk.routing.pools["general"]
        assert offers(tap(desk, "t1", 3.0)) == []

    def test_a_new_priority_aging_reorders_the_line(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "low", 0.0)
        tap(desk, "high", 150.0, priority=2)
        assert desk.queue == ["high", "low"]
        config = replace(
            desk.config,
            queues={**desk.config.queues, "general": QueueConfig("general", priority_aging=1.0)},
        )
        desk.handle(ConfigChanged(config, 200.0))
        assert desk.queue == ["low", "high"]
