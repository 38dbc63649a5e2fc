"""Requests between nodes on a real redis-server (cluster/call_bus.py): answers and refusals
come back as they were given, a call's requests keep their order, late ones are never carried
out, and the bus outlives Redis going away."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.harness import wait_until
from tests.support.redis import RedisServer
from videoassist.cluster.call_bus import PURPOSE, REQUESTS, CallBus
from videoassist.errors import ContentError, MediaError, Problem, Refusal, RoomError
from videoassist.sealing import derive_key

pytestmark = pytest.mark.timeout(60)

KEY = derive_key("the-secret-key-every-node-shares-" + "x" * 16, PURPOSE)


def signed(bus: CallBus, request_id: str, verb: str, args: dict[str, Any], to: str) -> str:
    """A request as ``bus`` would sign it, pushed by hand (replays, copies)."""
    body = {
        "id": request_id,
        "verb": verb,
        "args": args,
        "reply_to": "desk",
        "to": to,
        "deadline": time.time() + 30,
    }
    return bus._sign(json.dumps(body))


@pytest.fixture
async def buses(redis: Redis) -> AsyncIterator[tuple[CallBus, CallBus]]:
    """(the asking node, the answering node), each with its own bus on one Redis."""
    asker, answerer = CallBus(redis, "desk", KEY), CallBus(redis, "media-1", KEY)
    await asker.start()
    await answerer.start()
    try:
        yield asker, answerer
    finally:
        await asker.close()
        await answerer.close()


async def test_an_answer_comes_back_to_the_asker(buses: tuple[CallBus, CallBus]) -> None:
    asker, answerer = buses
    seen: list[tuple[str, dict[str, Any]]] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        seen.append((verb, args))
        return {"sdp": "v=0", "n": [1, 2.5, None, True]}

    answerer.serve(handler)
    reply = await asker.request("media-1", "answer", {"call_id": "c1", "sdp": "offer"})
    assert reply == {"sdp": "v=0", "n": [1, 2.5, None, True]}
    assert seen == [("answer", {"call_id": "c1", "sdp": "offer"})]


@pytest.mark.parametrize(
    "raised",
    [
        Refusal("forbidden", "you are not in that call"),
        RoomError("duplicate", "an annotation with this id exists"),
        RoomError("too_large", "photos are limited", 413),
        MediaError("bad_offer", "the offer is too large"),
        ContentError(415, "not_an_image", "the file is not an image we can read"),
        Problem("odd", "a plain problem", 422),
    ],
    ids=lambda e: type(e).__name__ + ":" + e.code,
)
async def test_a_refusal_comes_back_as_the_same_kind_code_message_and_status(
    buses: tuple[CallBus, CallBus], raised: Problem
) -> None:
    asker, answerer = buses

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        raise raised

    answerer.serve(handler)
    with pytest.raises(Problem) as caught:
        await asker.request("media-1", "annotate", {"call_id": "c1"})
    got = caught.value
    assert type(got) is type(raised)
    assert (got.code, got.message, got.status) == (raised.code, raised.message, raised.status)


async def test_a_crash_is_internal_and_its_traceback_stays_on_the_node(
    buses: tuple[CallBus, CallBus], caplog: pytest.LogCaptureFixture
) -> None:
    asker, answerer = buses

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        raise KeyError("secret-internal-detail")

    answerer.serve(handler)
    with pytest.raises(Refusal) as caught:
        await asker.request("media-1", "freeze", {"call_id": "c1"})
    assert (caught.value.code, caught.value.status) == ("internal", 500)
    assert "secret-internal-detail" not in caught.value.message
    assert "secret-internal-detail" in caplog.text  # logged where it happened


async def test_an_answer_that_is_not_json_is_internal(buses: tuple[CallBus, CallBus]) -> None:
    asker, answerer = buses

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        return {b"bytes", 1}  # a set: not JSON

    answerer.serve(handler)
    with pytest.raises(Refusal) as caught:
        await asker.request("media-1", "room", {"call_id": "c1"})
    assert caught.value.code == "internal"


async def test_nobody_answering_is_unavailable_and_the_late_request_is_never_carried_out(
    buses: tuple[CallBus, CallBus], redis: Redis
) -> None:
    asker, answerer = buses
    with pytest.raises(Refusal) as caught:
        await asker.request("media-1", "answer", {"call_id": "c1"}, within=0.3)
    assert (caught.value.code, caught.value.status) == ("unavailable", 503)
    assert "within 0.3 s" in caught.value.message
    assert await redis.llen(REQUESTS.format(node="media-1")) == 1  # still queued, expired
    seen: list[str] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        seen.append(verb)
        return "ok"

    answerer.serve(handler)  # the node comes up late: the stale offer is dropped unanswered
    assert await asker.request("media-1", "room", {"call_id": "c1"}) == "ok"
    assert seen == ["room"] and answerer.dropped == 1


async def test_a_calls_requests_keep_their_order_and_calls_run_side_by_side(
    buses: tuple[CallBus, CallBus],
) -> None:
    asker, answerer = buses
    done: dict[str, list[int]] = {}
    running = 0
    most = 0
    rng = random.Random(7)

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(rng.uniform(0, 0.02))
        done.setdefault(args["call_id"], []).append(args["n"])
        running -= 1
        return args["n"]

    answerer.serve(handler)
    sent = [(f"c{n % 5}", n) for n in range(50)]
    replies = await asyncio.gather(
        *(asker.request("media-1", "extend_pen", {"call_id": c, "n": n}) for c, n in sent)
    )
    assert replies == [n for _, n in sent]
    for call_id, order in done.items():
        assert order == sorted(order), (call_id, order)  # each call's own order
    assert sorted(done) == [f"c{i}" for i in range(5)]
    assert most > 1  # different calls overlapped


async def test_no_more_than_the_limit_run_at_once(redis: Redis) -> None:
    asker, answerer = CallBus(redis, "desk", KEY), CallBus(redis, "media-1", KEY, concurrency=3)
    await asker.start()
    running = 0
    most = 0

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1
        return None

    answerer.serve(handler)
    try:
        await asyncio.gather(
            *(asker.request("media-1", "typing", {"call_id": f"c{n}"}) for n in range(20))
        )
    finally:
        await asker.close()
        await answerer.close()
    assert most == 3


async def test_one_calls_burst_does_not_hold_up_another_call(redis: Redis) -> None:
    """A slow request (a still being encoded) with many of its call's requests queued behind
    it: another call's request still runs at once."""
    asker, answerer = CallBus(redis, "desk", KEY), CallBus(redis, "media-1", KEY, concurrency=2)
    await asker.start()
    release = asyncio.Event()

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        if verb == "freeze":
            await release.wait()
        return verb

    answerer.serve(handler)
    try:
        burst = [asyncio.create_task(asker.request("media-1", "freeze", {"call_id": "c1"}))]
        burst += [
            asyncio.create_task(asker.request("media-1", "extend_pen", {"call_id": "c1"}))
            for _ in range(10)
        ]
        await wait_until(lambda: len(answerer._last_of_call) == 1 and answerer._running, 5)
        # Held up behind c1, this would wait for the release below, which comes after it.
        assert await asker.request("media-1", "room", {"call_id": "c2"}, within=10) == "room"
        release.set()
        assert (await asyncio.gather(*burst))[1:] == ["extend_pen"] * 10
    finally:
        release.set()
        await asker.close()
        await answerer.close()


async def test_a_request_too_large_is_refused_before_it_is_sent(redis: Redis) -> None:
    asker = CallBus(redis, "desk", KEY, max_message=1000)
    await asker.start()
    try:
        with pytest.raises(Problem) as caught:
            await asker.request("media-1", "add_photo", {"call_id": "c1", "data": "x" * 2000})
    finally:
        await asker.close()
    assert (caught.value.code, caught.value.status) == ("too_large", 413)
    assert await redis.llen(REQUESTS.format(node="media-1")) == 0


async def test_garbage_on_the_queue_is_dropped_and_serving_goes_on(
    buses: tuple[CallBus, CallBus], redis: Redis
) -> None:
    asker, answerer = buses
    queue = REQUESTS.format(node="media-1")
    junks = (b"not json", b"[]", json.dumps({"id": 5}).encode(), b"\xff\xfe", "\u00e9.{}")
    for junk in junks:  # the last: a non-ASCII "signature"
        await redis.rpush(queue, junk)

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        return verb

    answerer.serve(handler)
    assert await asker.request("media-1", "room", {"call_id": "c1"}) == "room"
    assert answerer.dropped == 5


async def test_the_bus_outlives_a_redis_restart(
    buses: tuple[CallBus, CallBus], redis_server: RedisServer
) -> None:
    asker, answerer = buses

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        return args["n"]

    answerer.serve(handler)
    assert await asker.request("media-1", "room", {"call_id": "c1", "n": 1}) == 1
    redis_server.stop()
    with pytest.raises(Refusal) as caught:
        await asker.request("media-1", "room", {"call_id": "c1", "n": 2}, within=0.5)
    assert caught.value.code == "unavailable"
    redis_server.dir.mkdir(parents=True, exist_ok=True)  # stop() took its directory away
    redis_server.start()

    async def answers() -> bool:
        try:
            return bool(await asker.request("media-1", "room", {"call_id": "c1", "n": 3}) == 3)
        except Refusal:
            return False

    await wait_until(answers, 20, "the bus answering again after Redis came back", interval=0.2)


async def test_closing_fails_what_still_waits(redis: Redis) -> None:
    asker = CallBus(redis, "desk", KEY)
    await asker.start()
    waiting = asyncio.create_task(asker.request("media-1", "answer", {"call_id": "c1"}))
    await wait_until(lambda: bool(asker._pending), what="the request sent")
    await asker.close()
    with pytest.raises(Refusal) as caught:
        await waiting
    assert caught.value.code == "unavailable"
    with pytest.raises(Refusal):
        await asker.request("media-1", "answer", {"call_id": "c1"})


async def test_a_request_signed_with_another_key_is_never_carried_out(
    buses: tuple[CallBus, CallBus], redis: Redis
) -> None:
    """Reaching Redis is not enough to make a media node act: a node with another
    SECRET_KEY (or anyone else) is not answered."""
    asker, answerer = buses
    seen: list[str] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        seen.append(verb)
        return verb

    answerer.serve(handler)
    stranger = CallBus(redis, "stranger", derive_key("another-key-" + "y" * 32, PURPOSE))
    await stranger.start()
    try:
        with pytest.raises(Refusal) as caught:
            await stranger.request("media-1", "supervise", {"call_id": "c1"}, within=0.5)
    finally:
        await stranger.close()
    assert caught.value.code == "unavailable" and seen == []
    assert await asker.request("media-1", "room", {"call_id": "c1"}) == "room"
    assert seen == ["room"] and answerer.dropped == 1


async def test_a_replayed_request_is_carried_out_once(
    buses: tuple[CallBus, CallBus], redis: Redis
) -> None:
    asker, answerer = buses
    queue = REQUESTS.format(node="media-1")
    seen: list[str] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        seen.append(args["text"])
        return len(seen)

    answerer.serve(handler)
    body = signed(asker, "r1", "say", {"call_id": "c1", "text": "pay 10"}, to="media-1")
    await redis.rpush(queue, body)
    await redis.rpush(queue, body)  # the same signed request again
    assert await asker.request("media-1", "say", {"call_id": "c1", "text": "after"}) == 2
    assert seen == ["pay 10", "after"] and answerer.dropped == 1


async def test_a_request_copied_onto_another_nodes_list_is_not_carried_out(
    buses: tuple[CallBus, CallBus], redis: Redis
) -> None:
    asker, answerer = buses
    seen: list[str] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        seen.append(verb)
        return verb

    answerer.serve(handler)
    meant_for_another = signed(asker, "r9", "open_call", {"call_id": "c1"}, to="media-2")
    await redis.rpush(REQUESTS.format(node="media-1"), meant_for_another)
    assert await asker.request("media-1", "room", {"call_id": "c1"}) == "room"
    assert seen == ["room"] and answerer.dropped == 1


async def test_a_request_dropped_behind_its_calls_earlier_one_leaves_the_order_whole(
    redis: Redis,
) -> None:
    """A call's request that gave up waiting behind a slow earlier one is dropped; the call's
    next request still waits for the slow one, not only for the dropped one."""
    asker, answerer = CallBus(redis, "desk", KEY), CallBus(redis, "media-1", KEY)
    await asker.start()
    release = asyncio.Event()
    ran: list[str] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        if verb == "slow":
            await release.wait()
        ran.append(verb)
        return verb

    answerer.serve(handler)
    try:
        slow = asyncio.create_task(asker.request("media-1", "slow", {"call_id": "c1"}, within=10))
        await wait_until(lambda: len(answerer._running) == 1, what="the slow request running")
        with pytest.raises(Refusal):  # its deadline passes while it waits its turn
            await asker.request("media-1", "dropped", {"call_id": "c1"}, within=0.3)
        await wait_until(lambda: answerer.dropped == 1, what="the late request dropped")
        after = asyncio.create_task(asker.request("media-1", "after", {"call_id": "c1"}))
        # Out of order it would be answered in milliseconds; in order it waits for the slow.
        await asyncio.wait({after}, timeout=1.0)
        assert not after.done() and ran == []
        release.set()
        assert await slow == "slow" and await after == "after"
        assert ran == ["slow", "after"]
    finally:
        await asker.close()
        await answerer.close()


async def test_a_request_may_be_carried_out_after_its_asker_stopped_waiting(
    redis: Redis,
) -> None:
    """``expires`` past ``within``: the asker gives up waiting (and may ask again), the node
    still carries the request out when it reaches it."""
    asker, answerer = CallBus(redis, "desk", KEY), CallBus(redis, "media-1", KEY)
    await asker.start()
    ran: list[str] = []

    async def handler(verb: str, args: dict[str, Any]) -> Any:
        ran.append(verb)
        return verb

    try:
        with pytest.raises(Refusal):  # nobody serves the list yet
            await asker.request("media-1", "kept", {"call_id": "c1"}, within=0.2, expires=30)
        with pytest.raises(Refusal):
            await asker.request("media-1", "late", {"call_id": "c2"}, within=0.2)
        await asyncio.sleep(0.3)  # the second's deadline passes before anyone serves the list
        answerer.serve(handler)
        await wait_until(lambda: ran == ["kept"] and answerer.dropped == 1, what="served")
    finally:
        await asker.close()
        await answerer.close()
