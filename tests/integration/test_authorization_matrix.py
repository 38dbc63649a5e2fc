"""Who may call what: every REST endpoint and socket.io event x every kind of caller.

``MATRIX`` below is the table. Its rows are every (method, path) the application routes (HEAD
and the file trees left out, as in test_openapi.py) and every ``on_<event>`` handler of every
socket.io namespace the running server registers; its columns are the callers. A test checks
that the rows are exactly what the application serves, so a new endpoint or event without a row
fails here. Then every cell is exercised against the real application: real logins, real
tickets, and two live calls (customer 1 with agent A, customer 2 with agent B), so that
"someone else's session" is a caller in a call of their own naming the other call.

Callers (columns):

    anon      no cookie, no ticket token
    c.own     a customer acting on their own ticket: for signaling and hang-up, customer 1
              naming their own call; for cancel and callback, a customer still waiting
    c.other   customer 2, in a live call of their own, naming customer 1's call
    a.own     agent A naming their own session, or the ticket offered to them
    a.other   agent B, in a live call of their own, naming A's session or A's offered ticket
    sup       a supervisor (the agent console is theirs too), in no call, naming A's
    trainer   staff with role trainer
    admin     staff with role admin

Over HTTP customers present their ticket token as a bearer token and as the session cookie;
only the photo upload takes it. Stills and photos are fetched with a signed link, which is the
credential: each caller presents the link they would hold (the one the call handed them, their
own call's link re-pointed at the other call's item, or none).

Cells:

    allow     the caller gets past every authorization check. The request may still fail for
              a reason that is not about who is asking (``illegal_transition``, ``bad_offer``,
              404/409/422), but never with a denial.
    deny      refused for who the caller is: HTTP 401 or 403; on socket.io a refused connection
              or a ``forbidden`` ack. A denied request changes nothing (desk, media, routing).
    ...*      own/other does not apply to this cell: the request names no session or ticket (it
              acts on the caller's own ticket or agent, or on nothing), or the caller cannot
              open the namespace at all. The cell is exercised all the same; where a client
              could try to name someone else anyway (an extra field), that is refused too.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
import socketio
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection

from tests.support.calls import offer_without_candidates
from tests.support.harness import Harness, Party, connect_socket, wait_until
from tests.support.peers import ClientPeer
from tests.support.recordings import finished_recording
from videoassist.api_tokens import SCOPES
from videoassist.auth import hash_password
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.http.keys import API_TOKENS, RECORDINGS, SIO, TUTORIALS, WEBHOOKS
from videoassist.http.keys import STAFF as STAFF_AUTH
from videoassist.http.tokens import SCOPE_OF
from videoassist.routing_config import agent_id_of

CALLERS = ("anon", "c.own", "c.other", "a.own", "a.other", "sup", "trainer", "admin")
SESSION_SCOPED = frozenset({"c.own", "c.other", "a.own", "a.other"})

MATRIX_TABLE = """
row                               anon    c.own   c.other a.own   a.other sup     trainer admin
POST /api/tickets                 allow   allow*  allow*  allow*  allow*  allow   allow   allow
POST /api/login                   allow   allow*  allow*  allow*  allow*  allow   allow   allow
POST /api/logout                  allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /api/me                       deny    deny*   deny*   allow*  allow*  allow   allow   allow
GET /api/topics                   allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /api/branding                 allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /api/branding/logo            allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /healthz                      allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /readyz                       allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /                             allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /agent                        allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /supervisor                   allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /trainer                      allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /tutorials/{tutorial_id}      allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /p/{token}                    allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /admin                        allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /embed                        allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /reports                      allow   allow*  allow*  allow*  allow*  allow   allow   allow
POST /api/csat                    deny    allow*  allow*  deny*   deny*   deny    deny    deny
GET /api/reports/intervals        deny    deny*   deny*   deny*   deny*   allow   deny    allow
GET /api/reports/sessions         deny    deny*   deny*   deny*   deny*   allow   deny    allow
GET /api/reports/staffing         deny    deny*   deny*   deny*   deny*   allow   deny    allow
POST /api/calls/{call_id}/photos  deny    allow   deny    deny*   deny*   deny    deny    deny
GET /api/calls/{call_id}/items/{item_id}
                                  deny    allow   deny    allow   deny    deny    deny    deny
GET /api/sessions/{session_id}/recordings
                                  deny    deny*   deny*   deny*   deny*   allow   allow   allow
GET /api/recordings               deny    deny*   deny*   deny*   deny*   allow   allow   allow
GET /api/recordings/{recording_id}/files/{name}
                                  deny    deny*   deny*   deny*   deny*   allow   allow   allow
GET /api/agent/sessions/{session_id}/context
                                  deny    deny*   deny*   allow   deny    deny    deny    deny
PUT /api/agent/sessions/{session_id}/note
                                  deny    deny*   deny*   allow   deny    deny    deny    deny
PUT /api/agent/sessions/{session_id}/ticks
                                  deny    deny*   deny*   allow   deny    deny    deny    deny
GET /api/agent/queues             deny    deny*   deny*   allow*  allow*  allow   allow   allow
GET /api/tutorials                deny    deny*   deny*   allow*  allow*  allow   allow   allow
POST /api/tutorials               deny    deny*   deny*   deny*   deny*   deny    allow   allow
GET /api/tutorials/{tutorial_id}  deny    deny*   deny*   allow*  allow*  allow   allow   allow
PUT /api/tutorials/{tutorial_id}/draft
                                  deny    deny*   deny*   deny*   deny*   deny    allow   allow
DELETE /api/tutorials/{tutorial_id}/draft
                                  deny    deny*   deny*   deny*   deny*   deny    allow   allow
POST /api/tutorials/{tutorial_id}/publish
                                  deny    deny*   deny*   deny*   deny*   deny    allow   allow
GET /api/tutorials/{tutorial_id}/versions
                                  deny    deny*   deny*   deny*   deny*   allow   allow   allow
POST /api/tutorials/{tutorial_id}/renders
                                  deny    deny*   deny*   deny*   deny*   deny    allow   allow
GET /api/renders/{job_id}         deny    deny*   deny*   deny*   deny*   deny    allow   allow
DELETE /api/renders/{job_id}      deny    deny*   deny*   deny*   deny*   deny    allow   allow
PUT /api/tutorials/{tutorial_id}/public
                                  deny    deny*   deny*   deny*   deny*   deny    allow   allow
DELETE /api/tutorials/{tutorial_id}/public
                                  deny    deny*   deny*   deny*   deny*   deny    allow   allow
GET /api/tutorials/{tutorial_id}/qr.svg
                                  deny    deny*   deny*   deny*   deny*   allow   allow   allow
GET /api/tutorials/{tutorial_id}/media/{name}
                                  deny    allow   deny    allow*  allow*  allow   allow   allow
GET /api/public/tutorials/{token} allow   allow*  allow*  allow*  allow*  allow   allow   allow
GET /api/admin/config             deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/queues/{queue_id}  deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/queues/{queue_id}
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/topics/{topic}     deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/topic-order        deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/branding           deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/branding/logo      deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/branding/logo   deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/embed-origins      deny    deny*   deny*   deny*   deny*   deny    deny    allow
POST /api/admin/embed-origins     deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/embed-origins   deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/customers          deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/customers/{ref}    deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/customers/{ref}/export
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/customers/{ref} deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/topics/{topic}  deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/topics/{topic}/guide
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/topics/{topic}/guide
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/staff              deny    deny*   deny*   deny*   deny*   deny    deny    allow
POST /api/admin/staff             deny    deny*   deny*   deny*   deny*   deny    deny    allow
PATCH /api/admin/staff/{user_id}  deny    deny*   deny*   deny*   deny*   deny    deny    allow
PUT /api/admin/agents/{user_id}   deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/login-throttles/{username}
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/tokens             deny    deny*   deny*   deny*   deny*   deny    deny    allow
POST /api/admin/tokens            deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/tokens/{token_id}
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/webhooks           deny    deny*   deny*   deny*   deny*   deny    deny    allow
POST /api/admin/webhooks          deny    deny*   deny*   deny*   deny*   deny    deny    allow
DELETE /api/admin/webhooks/{endpoint_id}
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
GET /api/admin/webhooks/{endpoint_id}/deliveries
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
POST /api/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver
                                  deny    deny*   deny*   deny*   deny*   deny    deny    allow
/customer sync                    deny    allow*  allow*  deny*   deny*   deny    deny    deny
/customer callback                deny    allow*  allow*  deny*   deny*   deny    deny    deny
/customer cancel                  deny    allow*  allow*  deny*   deny*   deny    deny    deny
/customer hangup                  deny    allow   deny    deny*   deny*   deny    deny    deny
/customer rtc_offer               deny    allow   deny    deny*   deny*   deny    deny    deny
/customer rtc_candidate           deny    allow   deny    deny*   deny*   deny    deny    deny
/customer chat                    deny    allow   deny    deny*   deny*   deny    deny    deny
/customer typing                  deny    allow   deny    deny*   deny*   deny    deny    deny
/customer source_changed          deny    allow   deny    deny*   deny*   deny    deny    deny
/customer source_declined         deny    allow   deny    deny*   deny*   deny    deny    deny
/customer media_state             deny    allow   deny    deny*   deny*   deny    deny    deny
/customer room                    deny    allow   deny    deny*   deny*   deny    deny    deny
/customer recording_consent       deny    allow   deny    deny*   deny*   deny    deny    deny
/customer tutorials               deny    allow*  allow*  deny*   deny*   deny    deny    deny
/customer tutorial_progress       deny    allow   deny    deny*   deny*   deny    deny    deny
/agent sync                       deny    deny*   deny*   allow*  allow*  allow   deny    deny
/agent directory                  deny    deny*   deny*   allow*  allow*  allow   deny    deny
/agent away                       deny    deny*   deny*   allow*  allow*  allow   deny    deny
/agent ready                      deny    deny*   deny*   allow*  allow*  allow   deny    deny
/agent accept                     deny    deny*   deny*   allow   deny    deny    deny    deny
/agent decline                    deny    deny*   deny*   allow   deny    deny    deny    deny
/agent hangup                     deny    deny*   deny*   allow   deny    deny    deny    deny
/agent transfer                   deny    deny*   deny*   allow   deny    deny    deny    deny
/agent wrap_up                    deny    deny*   deny*   allow   deny    deny    deny    deny
/agent rtc_offer                  deny    deny*   deny*   allow   deny    deny    deny    deny
/agent rtc_candidate              deny    deny*   deny*   allow   deny    deny    deny    deny
/agent chat                       deny    deny*   deny*   allow   deny    deny    deny    deny
/agent typing                     deny    deny*   deny*   allow   deny    deny    deny    deny
/agent room                       deny    deny*   deny*   allow   deny    deny    deny    deny
/agent freeze                     deny    deny*   deny*   allow   deny    deny    deny    deny
/agent unfreeze                   deny    deny*   deny*   allow   deny    deny    deny    deny
/agent request_source             deny    deny*   deny*   allow   deny    deny    deny    deny
/agent annotate                   deny    deny*   deny*   allow   deny    deny    deny    deny
/agent annotate_points            deny    deny*   deny*   allow   deny    deny    deny    deny
/agent annotation_remove          deny    deny*   deny*   allow   deny    deny    deny    deny
/agent annotations_clear          deny    deny*   deny*   allow   deny    deny    deny    deny
/agent recording_pause            deny    deny*   deny*   allow   deny    deny    deny    deny
/agent recording_resume           deny    deny*   deny*   allow   deny    deny    deny    deny
/agent tutorial_push              deny    deny*   deny*   allow   deny    deny    deny    deny
/supervisor sync                  deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor set_away              deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor sign_out              deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor move                  deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor set_priority          deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor supervise             deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor supervise_candidate   deny    deny*   deny*   deny*   deny*   allow   deny    allow
/supervisor leave                 deny    deny*   deny*   deny*   deny*   allow   deny    allow
"""


@dataclass(frozen=True, slots=True)
class Expect:
    verdict: str  # "allow" or "deny"
    scoped: bool  # False where own/other does not apply (the "*" cells)


Cell = tuple[str, str]  # (row, caller)


def _parse(table: str) -> dict[Cell, Expect]:
    """The grid above as {(row, caller): Expect}. A row too long for one line continues on the
    next, which then holds only the cells."""
    lines = [line for line in table.strip().splitlines() if line.strip()]
    header = lines[0].split()
    if header[1:] != list(CALLERS):
        raise ValueError(f"the table's columns must be {CALLERS}, not {header[1:]}")
    matrix: dict[Cell, Expect] = {}
    pending: list[str] = []
    for line in lines[1:]:
        words = pending + line.split()
        if len(words) <= len(CALLERS):
            pending = words
            continue
        pending = []
        row = " ".join(words[: -len(CALLERS)])
        for caller, cell in zip(CALLERS, words[-len(CALLERS) :], strict=True):
            verdict = cell.removesuffix("*")
            if verdict not in ("allow", "deny"):
                raise ValueError(f"{row} x {caller}: {cell!r} is not allow, deny, allow* or deny*")
            if cell.endswith("*") and caller not in SESSION_SCOPED:
                raise ValueError(f"{row} x {caller}: '*' only marks own/other columns")
            if (row, caller) in matrix:
                raise ValueError(f"{row} has two rows")
            matrix[(row, caller)] = Expect(verdict, caller in SESSION_SCOPED and cell == verdict)
    if pending:
        raise ValueError(f"unfinished row: {' '.join(pending)}")
    return matrix


MATRIX = _parse(MATRIX_TABLE)
ROWS = tuple(dict.fromkeys(row for row, _ in MATRIX))

# --------------------------------------------------------------------------- enumeration

NOT_ENDPOINTS = ("/socket.io/", "/static/", "/vendor/", "/testing")
CONNECTION_HANDLERS = frozenset({"on_connect", "on_disconnect"})


def rest_rows(app: web.Application) -> set[str]:
    """Every (method, path) the app routes, as "METHOD /path", without HEAD and file trees."""
    rows = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "HEAD" and not path.startswith(NOT_ENDPOINTS):
            rows.add(f"{route.method} {path}")
    return rows


def socket_rows(sio: socketio.AsyncServer) -> set[str]:
    """Every event handler of every namespace the server registered, as "/namespace event"."""
    return {
        f"{namespace} {name.removeprefix('on_')}"
        for namespace, handler in sio.namespace_handlers.items()
        for name in dir(handler)
        if name.startswith("on_")
        and name not in CONNECTION_HANDLERS
        and callable(getattr(handler, name))
    }


class TestTheTableCoversEverything:
    async def test_every_endpoint_and_event_has_a_row_and_every_row_exists(
        self, harness: Harness
    ) -> None:
        served = rest_rows(harness.app) | socket_rows(harness.app[SIO])
        expected = {(row, caller) for row in served for caller in CALLERS}
        missing = sorted({row for row, _ in expected - MATRIX.keys()})
        stale = sorted({row for row, _ in MATRIX.keys() - expected})
        assert not missing, f"served without a row in MATRIX_TABLE: {missing}"
        assert not stale, f"rows in MATRIX_TABLE for things no longer served: {stale}"
        assert set(MATRIX) == expected

    async def test_the_enumeration_sees_the_known_endpoints_and_events(
        self, harness: Harness
    ) -> None:
        """Guards the enumeration: if it found nothing, the test above would compare nothing."""
        assert {"POST /api/tickets", "PUT /api/admin/queues/{queue_id}", "GET /"} <= rest_rows(
            harness.app
        )
        events = socket_rows(harness.app[SIO])
        assert {"/customer rtc_offer", "/agent accept", "/agent wrap_up"} <= events
        assert not any(" connect" in e or " disconnect" in e for e in events)

    def test_the_table_has_one_cell_per_row_and_caller(self) -> None:
        assert len(MATRIX) == len(ROWS) * len(CALLERS)
        assert all(e.scoped is False for (_, c), e in MATRIX.items() if c not in SESSION_SCOPED)


# --------------------------------------------------------------------------- exercising


@dataclass(frozen=True, slots=True)
class Seen:
    verdict: str  # "allow", "deny", or "broken" (neither: the exercise itself went wrong)
    detail: str  # the ack code or HTTP status
    changed: bool = False  # whether the desk, the media or the routing changed meanwhile


DENY_CODES = frozenset({"forbidden", "unauthenticated"})
# Refusals that come after authorization: the state of the desk, the media or the call's
# room, not who is asking.
LATER_CODES = frozenset(
    {
        "illegal_transition",
        "not_found",
        "bad_request",
        "unavailable",
        "bad_offer",
        "bad_candidate",
        "no_session",
        "media_busy",
        "no_video",
        "not_frozen",
        "conflict",  # recording: nothing to answer, pause or resume (the queue records not)
    }
)


def judge_ack(reply: Any) -> Seen:
    if isinstance(reply, dict) and reply.get("ok") is True:
        return Seen("allow", "ok")
    code = reply.get("error", {}).get("code") if isinstance(reply, dict) else None
    if code in DENY_CODES:
        return Seen("deny", code)
    if code in LATER_CODES:
        return Seen("allow", code)
    return Seen("broken", repr(reply))


def judge_status(status: int, body: Any) -> Seen:
    if status in (401, 403):
        return Seen("deny", str(status))
    if status < 400 or status in (404, 409, 422):
        return Seen("allow", str(status))
    return Seen("broken", f"{status} {body!r}")


PASSWORD = "matrix-password-1"
EMBEDDER = "https://shop.example"  # the one site allowed to embed the help page here
CANDIDATE = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
PEN = {"kind": "pen", "id": "p1", "points": [[0.1, 0.1], [0.2, 0.15]]}


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


@functools.cache
def _png() -> bytes:
    ok, data = cv2.imencode(".png", np.full((16, 16, 3), 200, dtype=np.uint8))
    assert ok
    return bytes(data)


@dataclass(frozen=True, slots=True)
class Raw:
    """A request body that is not JSON."""

    data: bytes
    content_type: str


class Lab:
    """One running server, the clients the script opens, and the cells it has seen."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.parties: list[Party] = []
        self.peers: list[ClientPeer] = []
        self.seen: dict[Cell, Seen] = {}
        self.http = aiohttp.ClientSession(harness.url, cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()
        for party in self.parties:
            if party.client.connected:
                await party.client.disconnect()
        await self.http.close()

    def record(self, row: str, caller: str, seen: Seen) -> None:
        assert (row, caller) in MATRIX, f"no cell {row} x {caller}"
        assert (row, caller) not in self.seen, f"{row} x {caller} exercised twice"
        self.seen[(row, caller)] = seen

    def _live_state(self) -> tuple[Any, ...]:
        """What a denied request must leave as it was."""
        rooms = {
            call_id: (
                len(room.chat),
                room.frozen,
                sorted(room.items),
                {target: list(marks.items()) for target, marks in room.annotations.items()},
            )
            for call_id in self.h.hub.sessions
            for room in [self.h.rooms.room(call_id)]
        }
        return (self.h.service.desk.dump(), self.h.hub.peer_connections, rooms)

    # socket.io

    async def connect(
        self, namespace: str, *, cookie: str | None = None, token: str | None = None
    ) -> Party | None:
        party = Party(socketio.AsyncClient(reconnection=False), namespace)
        try:
            await connect_socket(party.client, self.h.url, namespace, cookie=cookie, token=token)
        except socketio.exceptions.ConnectionError:
            return None
        self.parties.append(party)
        return party

    async def must_connect(self, namespace: str, **credentials: str) -> Party:
        party = await self.connect(namespace, **credentials)
        assert party is not None, f"{namespace} refused {credentials}"
        return party

    async def locked_out(self, namespace: str, caller: str, **credentials: str) -> None:
        """A caller the namespace should refuse: every event of it gets that caller's cell."""
        before = self._live_state()
        party = await self.connect(namespace, **credentials)
        seen = Seen("deny", "refused") if party is None else Seen("allow", "connected")
        seen = replace(seen, changed=self._live_state() != before)
        for row in _rows(namespace) + _rows(namespace, tutorials=True):
            self.record(row, caller, seen)

    async def emit(self, row: str, caller: str, party: Party, data: dict[str, Any]) -> Any:
        namespace, event = row.split(" ", 1)
        assert party.namespace == namespace
        before = self._live_state()
        reply = await party.call(event, data)
        seen = judge_ack(reply)
        self.record(row, caller, replace(seen, changed=self._live_state() != before))
        return reply

    async def smuggle(self, party: Party, event: str, data: dict[str, Any]) -> None:
        """Naming someone else in an event that takes no id is refused and changes nothing."""
        before = self._live_state()
        reply = await party.call(event, data)
        assert reply["error"]["code"] == "invalid", (event, data, reply)
        assert self._live_state() == before

    # HTTP

    async def _stored_state(self) -> tuple[Any, ...]:
        tutorials = await self.h.app[TUTORIALS].store.listing(published_only=False, topic=None)
        return (await self.h.records.load_config(), tutorials, self._live_state())

    async def request(
        self, row: str, caller: str, path: str, body: Any, headers: Mapping[str, str]
    ) -> tuple[aiohttp.ClientResponse, Any]:
        method = row.split(" ", 1)[0]
        before = await self._stored_state()
        options: dict[str, Any] = {"headers": dict(headers)}
        if isinstance(body, Raw):
            options["data"] = body.data
            options["headers"]["Content-Type"] = body.content_type
        elif body is not None:
            options["json"] = body
        async with self.http.request(method, path, **options) as r:
            if r.content_type == "application/json":
                data = await r.json()
            else:
                data = await r.read()
        seen = judge_status(r.status, data)
        changed = await self._stored_state() != before
        self.record(row, caller, replace(seen, changed=changed))
        return r, data

    def check(self, rows: list[str]) -> None:
        """Every cell of ``rows`` was seen, and as the table says."""
        assert rows
        wanted = {(row, c) for row in rows for c in CALLERS}
        unseen = sorted(wanted - self.seen.keys())
        assert not unseen, f"cells the script did not exercise: {unseen}"
        problems = []
        for cell in sorted(wanted):
            seen, expect = self.seen[cell], MATRIX[cell]
            if seen.verdict != expect.verdict:
                problems.append(f"{cell[0]} x {cell[1]}: expected {expect.verdict}, got {seen}")
            elif seen.verdict == "deny" and seen.changed:
                problems.append(f"{cell[0]} x {cell[1]}: denied, but something changed")
        assert not problems, "\n".join(problems)


@pytest.fixture
async def lab(harness: Harness) -> AsyncIterator[Lab]:
    lab = Lab(harness)
    yield lab
    await lab.close()


def _is_tutorial(row: str) -> bool:
    """The tutorial API and events (TestTutorials); the pages of a tutorial's links
    (``/tutorials/{id}``, ``/p/{token}``) are pages like any other (TestHttp)."""
    target = row.split(" ", 1)[1]
    if row.startswith("/"):  # a socket.io event
        return "tutorial" in target
    return target.startswith(("/api/tutorials", "/api/renders", "/api/public/tutorials"))


def _rows(namespace: str | None, *, tutorials: bool = False) -> list[str]:
    """The socket.io rows of ``namespace``, or (None) the HTTP rows; those of tutorials are
    exercised apart (``TestTutorials``), so only with ``tutorials``."""
    if namespace is None:
        rows = [row for row in ROWS if not row.startswith("/")]
    else:
        rows = [row for row in ROWS if row.startswith(f"{namespace} ")]
    return [row for row in rows if _is_tutorial(row) == tutorials]


STAFF = {"a.own": "alice", "a.other": "bob", "sup": "sue", "trainer": "tina", "admin": "ada"}
ROLES = {"a.own": "agent", "a.other": "agent", "sup": "supervisor", "trainer": "trainer"}


async def _add_staff(harness: Harness) -> None:
    for caller, username in STAFF.items():
        role = ROLES.get(caller, caller)
        await harness.records.add_user(
            username, username.title(), _password_hash(), role, time.time()
        )


async def _staff(lab: Lab) -> dict[str, str]:
    """Every staff caller, logged in over HTTP: caller -> session cookie."""
    await _add_staff(lab.h)
    return {caller: await lab.h.login(username, PASSWORD) for caller, username in STAFF.items()}


async def _offered(agent: Party, ticket_id: str) -> None:
    await wait_until(
        lambda: ("offer", ticket_id) in ((e, d.get("ticket_id")) for e, d in agent.inbox.events),
        what=f"an offer of {ticket_id}",
    )


async def _answer(agent: Party, customer: Party, ticket_id: str) -> tuple[str, str]:
    """``agent`` takes the waiting ``ticket_id``: (the agent's session id, the customer's call
    id)."""
    assert (await agent.call("ready")) == {"ok": True}
    await _offered(agent, ticket_id)
    accepted = await agent.call("accept", {"ticket_id": ticket_id})
    assert "session_id" in accepted, accepted
    matched = await customer.inbox.next("matched")
    return accepted["session_id"], matched["session_id"]


async def _call(lab: Lab, agent: Party) -> tuple[Party, str, str]:
    """A new customer in a live call with ``agent``: (customer, ticket id, their call id)."""
    ticket = await lab.h.tap()
    customer = await lab.must_connect("/customer", token=ticket["token"])
    _, call_id = await _answer(agent, customer, ticket["ticket_id"])
    return customer, ticket["ticket_id"], call_id


def _ticket_of(h: Harness, call_id: str) -> str:
    return next(t.id for t in h.service.desk.tickets.values() if t.call_id == call_id)


class TestHttp:
    @pytest.mark.settings(taps_burst=50, allowed_origins=(EMBEDDER,))
    async def test_every_endpoint_allows_and_denies_as_the_table_says(self, lab: Lab) -> None:
        h = lab.h
        await _add_staff(h)
        t1, t2 = await h.tap(), await h.tap()
        tokens = {"c.own": t1["token"], "c.other": t2["token"]}
        cookies: dict[str, str] = {}

        def credentials(caller: str) -> dict[str, str]:
            if caller in tokens:
                token = tokens[caller]
                return {"Authorization": f"Bearer {token}", "Cookie": f"va_session={token}"}
            if caller in cookies:
                return {"Cookie": f"va_session={cookies[caller]}"}
            return {}

        # Logging in is open to anyone with a password; the staff callers keep the session they
        # get here. (Eight logins: within the ten a minute one address may try.)
        for caller in CALLERS:
            creds = {"username": STAFF.get(caller, "alice"), "password": PASSWORD}
            r, _ = await lab.request(
                "POST /api/login", caller, "/api/login", creds, credentials(caller)
            )
            if caller in STAFF:
                cookies[caller] = r.cookies["va_session"].value

        # Two live calls: customer 1 with A, customer 2 with B. Customer 2 shares a photo, so
        # that they and B hold a valid link of their own.
        alice = await lab.must_connect("/agent", cookie=cookies["a.own"])
        bob = await lab.must_connect("/agent", cookie=cookies["a.other"])
        c1 = await lab.must_connect("/customer", token=t1["token"])
        c2 = await lab.must_connect("/customer", token=t2["token"])
        _, k1 = await _answer(alice, c1, t1["ticket_id"])
        _, k2 = await _answer(bob, c2, t2["ticket_id"])
        async with lab.http.post(
            f"/api/calls/{k2}/photos",
            data=_png(),
            headers={"Authorization": f"Bearer {t2['token']}", "Content-Type": "image/png"},
        ) as r:
            assert r.status == 201, await r.text()
            their_sig = (await r.json())["url"].partition("?sig=")[2]
        photos: dict[str, str] = {}  # c.own's upload: its path, and the link A receives

        def item(caller: str) -> tuple[str, None]:
            path = photos["path"]
            if caller == "c.own":
                return photos["url"], None
            if caller == "a.own":
                return photos["agent_url"], None
            if caller in ("c.other", "a.other"):
                return f"{path}?sig={their_sig}", None
            return path, None

        alice_row = await h.records.user_by_name("alice")
        assert alice_row is not None
        a_session = h.service.desk.agent_session(agent_id_of(alice_row["id"]))
        assert a_session is not None
        # A recording of call 1 on disk; each reviewer holds a link signed for them, the
        # others present the supervisor's.
        await h.records.add_recording(
            {
                "id": "r1",
                "call_id": k1,
                "ticket_id": t1["ticket_id"],
                "queue_id": DEFAULT_QUEUE,
                "policy": "always",
                "consent": "not_asked",
                "participants": [],
                "files": [{"party": "customer", "name": "customer.webm", "size": 4}],
                "started_at": time.time(),
                "ended_at": time.time(),
            }
        )
        folder = h.app[RECORDINGS].root / k1
        folder.mkdir(parents=True)
        (folder / "customer.webm").write_bytes(b"webm")
        reviewers = {}
        for caller in ("sup", "trainer", "admin"):
            row = await h.records.user_by_name(STAFF[caller])
            assert row is not None
            reviewers[caller] = h.app[RECORDINGS].url("r1", "customer.webm", row["id"])

        def recording_file(caller: str) -> tuple[str, None]:
            return reviewers.get(caller, reviewers["sup"]), None

        token_row, _ = await h.app[API_TOKENS].create("made", ["sessions:read"], None, "ada")
        hooks = h.app[WEBHOOKS]
        hook = await hooks.add_endpoint("https://hooks.example/made", ["tutorial.published"], "ada")
        hooks.publish("tutorial.published", {"tutorial_id": "matrix"})
        await hooks.settled()
        delivery_id = (await hooks.store.deliveries(hook["id"]))[0]["id"]

        requests: dict[str, Any] = {
            "GET /api/sessions/{session_id}/recordings": (f"/api/sessions/{k1}/recordings", None),
            "GET /api/recordings/{recording_id}/files/{name}": recording_file,
            "GET /api/recordings": ("/api/recordings?topic=setup", None),
            "GET /api/me": ("/api/me", None),
            "GET /api/agent/sessions/{session_id}/context": (
                f"/api/agent/sessions/{a_session}/context",
                None,
            ),
            "PUT /api/agent/sessions/{session_id}/note": (
                f"/api/agent/sessions/{a_session}/note",
                {"note": "matrix"},
            ),
            "GET /api/agent/queues": ("/api/agent/queues", None),
            "PUT /api/agent/sessions/{session_id}/ticks": (
                f"/api/agent/sessions/{a_session}/ticks",
                {"step_id": "nope", "done": False},
            ),
            "POST /api/tickets": ("/api/tickets", {"topic": "setup"}),
            "GET /api/topics": ("/api/topics", None),
            "GET /healthz": ("/healthz", None),
            "GET /readyz": ("/readyz", None),
            "GET /": ("/", None),
            "GET /agent": ("/agent", None),
            "GET /supervisor": ("/supervisor", None),
            "GET /trainer": ("/trainer", None),
            "GET /tutorials/{tutorial_id}": ("/tutorials/anything", None),
            "GET /p/{token}": ("/p/anything", None),
            "GET /admin": ("/admin", None),
            "GET /embed": (f"/embed?host={EMBEDDER}", None),
            "GET /reports": ("/reports", None),
            # About the caller's own ticket, still open: 409 (rated once the call has ended).
            "POST /api/csat": ("/api/csat", {"score": 5}),
            "GET /api/reports/intervals": (
                "/api/reports/intervals?from=2026-01-01&to=2026-01-01",
                None,
            ),
            "GET /api/reports/sessions": (
                "/api/reports/sessions?from=2026-01-01&to=2026-01-01",
                None,
            ),
            "GET /api/reports/staffing": (
                "/api/reports/staffing?from=2026-01-01&to=2026-01-01",
                None,
            ),
            "POST /api/calls/{call_id}/photos": (
                f"/api/calls/{k1}/photos",
                Raw(_png(), "image/png"),
            ),
            "GET /api/calls/{call_id}/items/{item_id}": item,
            "GET /api/admin/config": ("/api/admin/config", None),
            # Before the matrix topic comes and goes: every topic there is, in a new order.
            "PUT /api/admin/topic-order": (
                "/api/admin/topic-order",
                {"topics": list(h.service.desk.config.topics)[::-1]},
            ),
            "PUT /api/admin/branding": ("/api/admin/branding", {"name": "Matrix"}),
            "PUT /api/admin/branding/logo": ("/api/admin/branding/logo", Raw(_png(), "image/png")),
            "GET /api/branding": ("/api/branding", None),
            "GET /api/branding/logo": ("/api/branding/logo", None),
            "DELETE /api/admin/branding/logo": ("/api/admin/branding/logo", None),
            "GET /api/admin/customers": ("/api/admin/customers?q=matrix", None),
            "GET /api/admin/customers/{ref}": ("/api/admin/customers/matrix-ref", None),
            "GET /api/admin/customers/{ref}/export": (
                "/api/admin/customers/matrix-ref/export",
                None,
            ),
            "DELETE /api/admin/customers/{ref}": (
                "/api/admin/customers/matrix-ref",
                {"confirm": "matrix-ref"},
            ),
            "GET /api/admin/embed-origins": ("/api/admin/embed-origins", None),
            "POST /api/admin/embed-origins": (
                "/api/admin/embed-origins",
                {"origin": "https://matrix.example"},
            ),
            "DELETE /api/admin/embed-origins": (
                "/api/admin/embed-origins?origin=https://matrix.example",
                None,
            ),
            "PUT /api/admin/queues/{queue_id}": ("/api/admin/queues/matrix", {"name": "M"}),
            "PUT /api/admin/topics/{topic}": (
                "/api/admin/topics/matrix",
                {"label": "Matrix", "queue_id": "matrix"},
            ),
            "PUT /api/admin/agents/{user_id}": (
                f"/api/admin/agents/{alice_row['id']}",
                {"queues": [DEFAULT_QUEUE]},
            ),
            "GET /api/admin/topics/{topic}/guide": ("/api/admin/topics/matrix/guide", None),
            "PUT /api/admin/topics/{topic}/guide": (
                "/api/admin/topics/matrix/guide",
                {"steps": ["Ask for the model"]},
            ),
            "DELETE /api/admin/topics/{topic}": ("/api/admin/topics/matrix", None),
            "GET /api/admin/staff": ("/api/admin/staff", None),
            "POST /api/admin/staff": (
                "/api/admin/staff",
                {"username": "matrix", "display_name": "M", "role": "trainer", "password": "x" * 8},
            ),
            "PATCH /api/admin/staff/{user_id}": (
                f"/api/admin/staff/{alice_row['id']}",
                {"display_name": "Alice"},
            ),
            "DELETE /api/admin/queues/{queue_id}": ("/api/admin/queues/matrix", None),
            "DELETE /api/admin/login-throttles/{username}": (
                "/api/admin/login-throttles/alice",
                None,
            ),
            # Integrations: a token and an endpoint (with one delivery) made beforehand, for
            # the rows that name one; the admin's own creations are left in place.
            "GET /api/admin/tokens": ("/api/admin/tokens", None),
            "POST /api/admin/tokens": (
                "/api/admin/tokens",
                {"name": "matrix", "scopes": ["reports:read"]},
            ),
            "DELETE /api/admin/tokens/{token_id}": (f"/api/admin/tokens/{token_row['id']}", None),
            "GET /api/admin/webhooks": ("/api/admin/webhooks", None),
            "POST /api/admin/webhooks": (
                "/api/admin/webhooks",
                {"url": "https://hooks.example/matrix", "events": ["tutorial.published"]},
            ),
            "GET /api/admin/webhooks/{endpoint_id}/deliveries": (
                f"/api/admin/webhooks/{hook['id']}/deliveries",
                None,
            ),
            "POST /api/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver": (
                f"/api/admin/webhooks/{hook['id']}/deliveries/{delivery_id}/redeliver",
                None,
            ),
            "DELETE /api/admin/webhooks/{endpoint_id}": (f"/api/admin/webhooks/{hook['id']}", None),
            "POST /api/logout": ("/api/logout", None),  # last: it ends the caller's session
        }
        for row, spec in requests.items():
            for caller in CALLERS:
                path, body = spec(caller) if callable(spec) else spec
                _, data = await lab.request(row, caller, path, body, credentials(caller))
                if row.startswith("POST /api/calls/") and caller == "c.own":
                    photos["url"] = data["url"]
                    photos["path"] = data["url"].partition("?")[0]
                    photos["agent_url"] = (await alice.inbox.next("photo"))["url"]
            if row.startswith("POST /api/calls/"):
                assert len(h.rooms.room(k1).items) == 1  # customer 1's photo only
        lab.check(_rows(None))
        # The admin created and removed what it asked for; nobody else changed anything.
        config = await h.records.load_config()
        assert [q["id"] for q in config["queues"]] == [DEFAULT_QUEUE]
        assert "matrix" not in {t["topic"] for t in config["topics"]}
        assert (await h.records.branding())["name"] == "Matrix"  # the admin's, nobody else's
        assert await h.app[STAFF_AUTH].staff_for(cookies["a.own"]) is None  # logged out
        assert await h.records.session_note(a_session) == "matrix"  # written by A alone


class TestCustomerNamespace:
    @pytest.mark.settings(media_connect_timeout=120.0)
    async def test_every_customer_event_allows_and_denies_as_the_table_says(self, lab: Lab) -> None:
        h = lab.h
        cookies = await _staff(lab)
        alice = await lab.must_connect("/agent", cookie=cookies["a.own"])
        bob = await lab.must_connect("/agent", cookie=cookies["a.other"])
        c1, t1, k1 = await _call(lab, alice)
        c2, _, k2 = await _call(lab, bob)
        waiting = await h.tap()  # customer 3, in the queue: cancel and callback need one
        c3 = await lab.must_connect("/customer", token=waiting["token"])
        assert (await c3.call("sync"))["state"] == "queued"

        await lab.locked_out("/customer", "anon")
        for caller in ("a.own", "a.other", "sup", "trainer", "admin"):
            cookie = cookies[caller]  # offered as the cookie and as a ticket token
            await lab.locked_out("/customer", caller, cookie=cookie, token=cookie)

        pairs = (("c.other", c2), ("c.own", c1))  # the intruder first, then the owner
        for caller, party in pairs:
            reply = await lab.emit("/customer sync", caller, party, {})
            assert reply["session_id"] == (k1 if party is c1 else k2)  # only ever their own
        await lab.smuggle(c2, "sync", {"ticket_id": t1})

        offer = await offer_without_candidates()
        for row, data in (
            ("/customer rtc_candidate", {"candidate": CANDIDATE, "sdpMid": "0"}),
            ("/customer rtc_offer", {"type": "offer", "sdp": offer}),
            ("/customer chat", {"text": "hello"}),
            ("/customer typing", {"text": "hel"}),
            ("/customer source_changed", {"source": "screen"}),
            ("/customer source_declined", {"source": "camera_back"}),
            ("/customer media_state", {"audio": False, "video": True}),
            ("/customer room", {}),
        ):
            for caller, party in pairs:
                reply = await lab.emit(row, caller, party, {"session_id": k1, **data})
            assert reply.get("ok") is True, (row, reply)
        # The default queue records nothing: the owner gets past authorization, to "conflict".
        for caller, party in pairs:
            reply = await lab.emit(
                "/customer recording_consent", caller, party, {"session_id": k1, "accept": True}
            )
        assert reply["error"]["code"] == "conflict", reply
        assert h.hub.peer_connections == 1
        assert [line.text for line in h.rooms.room(k1).chat] == ["hello"]
        for caller, party in pairs:
            await lab.emit("/customer hangup", caller, party, {"session_id": k1})
        assert h.service.desk.live_call("customer", t1) is None
        await wait_until(lambda: h.hub.peer_connections == 0, what="the call's media closed")
        assert h.service.desk.live_call("customer", _ticket_of(h, k2)) is not None

        # Cancel and callback act on the caller's own ticket, whatever they send.
        for event in ("callback", "cancel"):
            await lab.emit(f"/customer {event}", "c.other", c2, {})
            await lab.smuggle(c2, event, {"ticket_id": waiting["ticket_id"]})
            await lab.emit(f"/customer {event}", "c.own", c3, {})
        assert h.service.desk.ticket_state(waiting["ticket_id"]) == "cancelled"
        lab.check(_rows("/customer"))


class TestAgentNamespace:
    @pytest.mark.settings(media_connect_timeout=120.0)
    async def test_every_agent_event_allows_and_denies_as_the_table_says(self, lab: Lab) -> None:
        h = lab.h
        cookies = await _staff(lab)
        a = await lab.must_connect("/agent", cookie=cookies["a.own"])
        b = await lab.must_connect("/agent", cookie=cookies["a.other"])
        s = await lab.must_connect("/agent", cookie=cookies["sup"])
        agents = {"a.other": b, "sup": s, "a.own": a}  # intruders first, then the owner
        intruders = ("a.other", "sup")
        alice_row = await h.records.user_by_name("alice")
        sue_row = await h.records.user_by_name("sue")
        assert alice_row is not None and sue_row is not None
        alice_id, sue_id = agent_id_of(alice_row["id"]), agent_id_of(sue_row["id"])

        # Events that name nothing act on the caller's own agent.
        for row, data in (
            ("/agent sync", {}),
            ("/agent directory", {}),
            ("/agent away", {"reason": "break"}),
        ):
            for caller, party in agents.items():
                await lab.emit(row, caller, party, data)
            await lab.smuggle(b, row.split()[1], {**data, "agent_id": alice_id})
        for caller in intruders:  # each goes Away again, so that offers go to A
            await lab.emit("/agent ready", caller, agents[caller], {})
            assert (await agents[caller].call("away")) == {"ok": True}
        await lab.emit("/agent ready", "a.own", a, {})
        await lab.smuggle(b, "ready", {"agent_id": alice_id})

        # A ticket rings at A: nobody else may answer it.
        t0 = await h.tap()
        c0 = await lab.must_connect("/customer", token=t0["token"])
        await _offered(a, t0["ticket_id"])
        for row in ("/agent accept", "/agent decline"):
            for caller in intruders:
                await lab.emit(row, caller, agents[caller], {"ticket_id": t0["ticket_id"]})
        await lab.emit("/agent decline", "a.own", a, {"ticket_id": t0["ticket_id"]})
        t1 = await h.tap()
        c1 = await lab.must_connect("/customer", token=t1["token"])
        await _offered(a, t1["ticket_id"])
        reply = await lab.emit("/agent accept", "a.own", a, {"ticket_id": t1["ticket_id"]})
        s1 = reply["session_id"]
        # B takes customer 0 (A declined them): each agent is now in a call of their own.
        await _answer(b, c0, t0["ticket_id"])

        await lab.locked_out("/agent", "anon")
        for caller, token in (("c.own", t1["token"]), ("c.other", t0["token"])):
            await lab.locked_out("/agent", caller, cookie=token, token=token)
        for caller in ("trainer", "admin"):
            await lab.locked_out("/agent", caller, cookie=cookies[caller])

        # Customer 1 sends real video, so that A has something to freeze.
        camera = ClientPeer("red")
        lab.peers.append(camera)
        await camera.connect(c1.client, "/customer", s1)
        customer_side = h.hub.sessions[s1].participants["customer"]
        await wait_until(
            lambda: "video" in customer_side.fanouts and customer_side.fanouts["video"].latest,
            what="customer video at the server",
        )

        offer = await offer_without_candidates()
        for row, data in (
            ("/agent rtc_candidate", {"candidate": CANDIDATE, "sdpMid": "0"}),
            ("/agent rtc_offer", {"type": "offer", "sdp": offer}),
            ("/agent chat", {"text": "hello"}),
            ("/agent typing", {"text": "hel"}),
            ("/agent room", {}),
            ("/agent request_source", {"source": "camera_back"}),
            ("/agent freeze", {}),
            ("/agent unfreeze", {}),
            ("/agent annotate", {"annotation": PEN}),
            ("/agent annotate_points", {"id": "p1", "points": [[0.3, 0.2], [0.4, 0.3]]}),
            ("/agent annotation_remove", {"id": "p1"}),
            ("/agent annotations_clear", {}),
        ):
            for caller, party in agents.items():
                reply = await lab.emit(row, caller, party, {"session_id": s1, **data})
            assert reply.get("ok") is True, (row, reply)
        for row in ("/agent recording_pause", "/agent recording_resume"):
            for caller, party in agents.items():
                reply = await lab.emit(row, caller, party, {"session_id": s1})
            assert reply["error"]["code"] == "conflict", (row, reply)
        assert h.hub.peer_connections == 2

        # A warm transfer to the supervisor, who declines it: A keeps the call.
        assert (await s.call("ready")) == {"ok": True}
        for caller in intruders:
            data = {"session_id": s1, "queue_id": DEFAULT_QUEUE}
            await lab.emit("/agent transfer", caller, agents[caller], data)
        await lab.emit("/agent transfer", "a.own", a, {"session_id": s1, "agent_id": sue_id})
        await _offered(s, t1["ticket_id"])
        assert (await s.call("decline", {"ticket_id": t1["ticket_id"]})) == {"ok": True}
        assert h.service.desk.live_call("agent", alice_id) is not None

        for caller, party in agents.items():
            await lab.emit("/agent hangup", caller, party, {"session_id": s1})
        await wait_until(lambda: h.hub.peer_connections == 0, what="the call's media closed")
        for caller, party in agents.items():
            data = {"session_id": s1, "disposition": "resolved"}
            await lab.emit("/agent wrap_up", caller, party, data)
        assert (await a.call("sync"))["state"] == "ready"
        lab.check(_rows("/agent"))


class TestSupervisorNamespace:
    async def test_every_supervisor_event_allows_and_denies_as_the_table_says(
        self, lab: Lab
    ) -> None:
        h = lab.h
        cookies = await _staff(lab)
        alice = await lab.must_connect("/agent", cookie=cookies["a.own"])
        await lab.must_connect("/agent", cookie=cookies["a.other"])
        assert (await alice.call("ready")) == {"ok": True}
        async with lab.http.put(
            "/api/admin/queues/billing",
            json={"name": "Billing"},
            headers={"Cookie": f"va_session={cookies['admin']}"},
        ) as r:
            assert r.status == 201, await r.text()
        waiting = await h.tap()
        ticket_id = waiting["ticket_id"]
        await lab.must_connect("/customer", token=waiting["token"])
        await _offered(alice, ticket_id)
        alice_row = await h.records.user_by_name("alice")
        bob_row = await h.records.user_by_name("bob")
        assert alice_row is not None and bob_row is not None
        alice_id, bob_id = agent_id_of(alice_row["id"]), agent_id_of(bob_row["id"])

        # Nobody but supervisors and admins gets in: not customers with their ticket token,
        # not agents or trainers with their staff cookie.
        await lab.locked_out("/supervisor", "anon")
        for caller, token in (("c.own", waiting["token"]), ("c.other", waiting["token"])):
            await lab.locked_out("/supervisor", caller, cookie=token, token=token)
        for caller in ("a.own", "a.other", "trainer"):
            await lab.locked_out("/supervisor", caller, cookie=cookies[caller])

        sue = await lab.must_connect("/supervisor", cookie=cookies["sup"])
        ada = await lab.must_connect("/supervisor", cookie=cookies["admin"])
        desk = h.service.desk
        reply = await lab.emit("/supervisor sync", "sup", sue, {})
        assert [w["ticket_id"] for w in reply["waiting"]] == [ticket_id]
        await lab.emit("/supervisor sync", "admin", ada, {})
        # Alice's phone rings with the customer: the supervisor sets her away, the admin
        # moves the customer and back, each changes their priority, then each signs one out.
        await lab.emit("/supervisor set_away", "sup", sue, {"agent_id": alice_id})
        assert desk.agent_state(alice_id) == "away"
        await lab.emit("/supervisor set_away", "admin", ada, {"agent_id": alice_id})
        await lab.emit(
            "/supervisor move", "sup", sue, {"ticket_id": ticket_id, "queue_id": "billing"}
        )
        assert desk.tickets[ticket_id].queue_id == "billing"
        await lab.emit(
            "/supervisor move", "admin", ada, {"ticket_id": ticket_id, "queue_id": "general"}
        )
        for caller, party, priority in (("sup", sue, 5), ("admin", ada, 9)):
            data = {"ticket_id": ticket_id, "priority": priority}
            await lab.emit("/supervisor set_priority", caller, party, data)
        assert desk.tickets[ticket_id].priority == 9
        await lab.emit("/supervisor sign_out", "sup", sue, {"agent_id": bob_id})
        await lab.emit("/supervisor sign_out", "admin", ada, {"agent_id": alice_id})
        assert desk.agent_state(alice_id) == desk.agent_state(bob_id) == "offline"
        await h.service.settled()
        actions = [(r["actor_name"], r["action"]) for r in await h.records.audit_rows()]
        assert actions == [
            ("sue", "set_away"),
            ("ada", "set_away"),
            ("sue", "move"),
            ("ada", "move"),
            ("sue", "set_priority"),
            ("ada", "set_priority"),
            ("sue", "sign_out"),
            ("ada", "sign_out"),
        ]
        lab.check([row for row in _rows("/supervisor") if row not in LIVE_CALL_ROWS])

    async def test_every_event_on_a_live_call_allows_and_denies_as_the_table_says(
        self, lab: Lab
    ) -> None:
        h = lab.h
        cookies = await _staff(lab)
        alice = await lab.must_connect("/agent", cookie=cookies["a.own"])
        ticket = await h.tap()
        customer = await lab.must_connect("/customer", token=ticket["token"])
        session_id, call_id = await _answer(alice, customer, ticket["ticket_id"])

        await lab.locked_out("/supervisor", "anon")
        for caller in ("c.own", "c.other"):
            await lab.locked_out(
                "/supervisor", caller, cookie=ticket["token"], token=ticket["token"]
            )
        for caller in ("a.own", "a.other", "trainer"):
            await lab.locked_out("/supervisor", caller, cookie=cookies[caller])
        sue = await lab.must_connect("/supervisor", cookie=cookies["sup"])
        ada = await lab.must_connect("/supervisor", cookie=cookies["admin"])
        for caller, name, party, mode in (
            ("sup", "sue", sue, "monitor"),
            ("admin", "ada", ada, "whisper"),
        ):
            offer = await supervisor_offer_without_candidates()
            data = {"session_id": session_id, "mode": mode, "type": "offer", "sdp": offer}
            reply = await lab.emit("/supervisor supervise", caller, party, data)
            assert reply["mode"] == mode, reply
            # Checked at once: a leg whose offer has no candidates fails its ICE checks after a
            # while and leaves, which on a loaded machine can come before the next one joins.
            assert await _staff_id(h, name) in h.hub.session(call_id).supervisors
            data = {"session_id": session_id, "candidate": ""}
            await lab.emit("/supervisor supervise_candidate", caller, party, data)
        for caller, party in (("sup", sue), ("admin", ada)):
            await lab.emit("/supervisor leave", caller, party, {"session_id": session_id})
        assert h.hub.session(call_id).supervisors == {}
        await h.service.settled()
        actions = [(r["actor_name"], r["action"]) for r in await h.records.audit_rows()]
        assert actions == [
            ("sue", "monitor"),
            ("ada", "whisper"),
            ("sue", "leave"),
            ("ada", "leave"),
        ]
        lab.check(LIVE_CALL_ROWS)


LIVE_CALL_ROWS = [
    "/supervisor supervise",
    "/supervisor supervise_candidate",
    "/supervisor leave",
]


async def supervisor_offer_without_candidates() -> str:
    """A supervisor page's offer (customer audio + video, agent audio + video, all received),
    without candidates: nothing answers them, so the server's ICE waits while the test runs."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for kind in ("audio", "video", "audio", "video"):
        pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )


async def _staff_id(h: Harness, username: str) -> str:
    row = await h.records.user_by_name(username)
    assert row is not None
    return agent_id_of(row["id"])


class TestTutorials:
    """The tutorial rows: a published tutorial T (rendered), a draft D, two live calls."""

    @pytest.mark.settings(taps_burst=50)
    async def test_every_tutorial_endpoint_allows_and_denies_as_the_table_says(
        self, lab: Lab
    ) -> None:
        h = lab.h
        cookies = await _staff(lab)
        lib = h.app[TUTORIALS]
        await finished_recording(h.records, h.app[RECORDINGS].root)
        t_id = (await lib.create("r1", "Reset the router", None, "ada"))["id"]
        await lib.publish(t_id, "ada")
        await lib.settled()
        d_id = (await lib.create("r1", "A draft", None, "ada"))["id"]
        token = (await lib.make_public(t_id))["token"]
        job = await lib.start_render(t_id, "published", "webm")
        t1, t2 = await h.tap(), await h.tap()
        tokens = {"c.own": t1["token"], "c.other": t2["token"]}
        c1 = await lab.must_connect("/customer", token=t1["token"])
        listed = await c1.call("tutorials")
        own_link = listed["tutorials"][0]["media"]["mp4"]  # signed for customer 1's ticket
        staff_link = (await lib.view(t_id, staff="x", drafts=False))["published"]["media"]["mp4"]

        def credentials(caller: str) -> dict[str, str]:
            if caller in tokens:
                value = tokens[caller]
                return {"Authorization": f"Bearer {value}", "Cookie": f"va_session={value}"}
            if caller in cookies:
                return {"Cookie": f"va_session={cookies[caller]}"}
            return {}

        def media(caller: str) -> tuple[str, None]:
            if caller == "c.own":
                return own_link, None
            if caller == "c.other":  # customer 1's link, re-pointed at another tutorial
                return own_link.replace(t_id, d_id), None
            if caller == "anon":
                return f"/api/tutorials/{t_id}/media/video.mp4", None
            return staff_link, None

        edit = {"title": "Reset the router, again", "keep_annotations": "all"}
        requests: dict[str, Any] = {
            "GET /api/tutorials": ("/api/tutorials?q=reset", None),
            "POST /api/tutorials": ("/api/tutorials", {"recording_id": "r1", "title": "M"}),
            "GET /api/tutorials/{tutorial_id}": (f"/api/tutorials/{t_id}", None),
            "PUT /api/tutorials/{tutorial_id}/draft": (f"/api/tutorials/{t_id}/draft", edit),
            "POST /api/tutorials/{tutorial_id}/publish": (f"/api/tutorials/{t_id}/publish", None),
            "DELETE /api/tutorials/{tutorial_id}/draft": (f"/api/tutorials/{t_id}/draft", None),
            "GET /api/tutorials/{tutorial_id}/versions": (f"/api/tutorials/{t_id}/versions", None),
            "POST /api/tutorials/{tutorial_id}/renders": (
                f"/api/tutorials/{t_id}/renders",
                {"format": "webm"},
            ),
            "GET /api/renders/{job_id}": (f"/api/renders/{job['id']}", None),
            "DELETE /api/renders/{job_id}": (f"/api/renders/{job['id']}", None),
            "GET /api/tutorials/{tutorial_id}/qr.svg": (f"/api/tutorials/{t_id}/qr.svg", None),
            "GET /api/tutorials/{tutorial_id}/media/{name}": media,
            "PUT /api/tutorials/{tutorial_id}/public": (f"/api/tutorials/{t_id}/public", None),
            "GET /api/public/tutorials/{token}": (f"/api/public/tutorials/{token}", None),
            "DELETE /api/tutorials/{tutorial_id}/public": (f"/api/tutorials/{t_id}/public", None),
        }
        assert set(requests) == set(_rows(None, tutorials=True))
        for row, spec in requests.items():
            for caller in CALLERS:
                path, body = spec(caller) if callable(spec) else spec
                await lab.request(row, caller, path, body, credentials(caller))
        await lib.settled()
        lab.check(_rows(None, tutorials=True))
        assert (await h.app[TUTORIALS].store.get(t_id))["public_token"] is None

    async def test_every_tutorial_event_allows_and_denies_as_the_table_says(self, lab: Lab) -> None:
        h = lab.h
        cookies = await _staff(lab)
        lib = h.app[TUTORIALS]
        await finished_recording(h.records, h.app[RECORDINGS].root)
        t_id = (await lib.create("r1", "Reset the router", None, "ada"))["id"]
        await lib.publish(t_id, "ada")
        await lib.settled()
        alice = await lab.must_connect("/agent", cookie=cookies["a.own"])
        bob = await lab.must_connect("/agent", cookie=cookies["a.other"])
        sue = await lab.must_connect("/agent", cookie=cookies["sup"])
        c1, t1, _ = await _call(lab, alice)
        c2, t2, _ = await _call(lab, bob)
        alice_row = await h.records.user_by_name("alice")
        assert alice_row is not None
        s1 = h.service.desk.agent_session(agent_id_of(alice_row["id"]))

        push = {"session_id": s1, "tutorial_id": t_id}
        for caller, party in (("a.other", bob), ("sup", sue), ("a.own", alice)):
            reply = await lab.emit("/agent tutorial_push", caller, party, push)
        push_id = reply["push_id"]
        await c1.inbox.next("tutorial_pushed")
        await lab.locked_out("/agent", "anon")
        for caller, value in (("c.own", t1), ("c.other", t2)):
            await lab.locked_out("/agent", caller, cookie=value, token=value)
        for caller in ("trainer", "admin"):
            await lab.locked_out("/agent", caller, cookie=cookies[caller])

        for caller, party in (("c.other", c2), ("c.own", c1)):
            reply = await lab.emit("/customer tutorials", caller, party, {})
            assert [t["id"] for t in reply["tutorials"]] == [t_id]
        progress = {"tutorial_id": t_id, "push_id": push_id, "state": "opened", "position": 0}
        for caller, party in (("c.other", c2), ("c.own", c1)):
            await lab.emit("/customer tutorial_progress", caller, party, progress)
        await alice.inbox.next("tutorial_progress")
        assert "tutorial_progress" not in bob.inbox.names()
        await lab.locked_out("/customer", "anon")
        for caller in ("a.own", "a.other", "sup", "trainer", "admin"):
            cookie = cookies[caller]
            await lab.locked_out("/customer", caller, cookie=cookie, token=cookie)
        lab.check(_rows("/customer", tutorials=True) + _rows("/agent", tutorials=True))


# --------------------------------------------------------------------------- API tokens

# A value for each path parameter: real where the endpoint needs one to answer, else a name
# that routes (the answer may be 404; what counts is that it is not a refusal).
PATH_VALUES = {
    "queue_id": "tokenq",
    "topic": "tokent",
    "name": "customer.webm",
    "token": "x",
}
HEX = "0123456789abcdef0123456789abcdef"
TOKEN_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/admin/queues/{queue_id}"): {"name": "Token queue"},
    ("PUT", "/api/admin/topics/{topic}"): {"label": "Token topic", "queue_id": DEFAULT_QUEUE},
    ("PUT", "/api/admin/topics/{topic}/guide"): {"steps": ["Ask for the model"]},
    ("PUT", "/api/admin/agents/{user_id}"): {"queues": [DEFAULT_QUEUE]},
    ("POST", "/api/admin/embed-origins"): {"origin": "https://token.example"},
}
REPORT_QUERY = "?from=2026-01-01&to=2026-01-01"


def _fill(path: str, user_id: int) -> str:
    for name, value in {**PATH_VALUES, "user_id": str(user_id)}.items():
        path = path.replace(f"{{{name}}}", value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + HEX + path[end + 1 :]
    return path


class TestApiTokens:
    """Token scopes: for every REST endpoint, a token without the endpoint's scope is refused
    (403) and one with it gets past authorization; endpoints outside the scope table refuse
    every token (403); a revoked or expired token is a 401 everywhere."""

    async def test_every_endpoint_takes_a_token_only_with_its_scope(self, lab: Lab) -> None:
        h = lab.h
        await _add_staff(h)
        tokens = h.app[API_TOKENS]
        alice = await h.records.user_by_name("alice")
        assert alice is not None
        await h.records.add_recording(
            {
                "id": "r1",
                "call_id": "k1",
                "ticket_id": "t1",
                "queue_id": DEFAULT_QUEUE,
                "policy": "always",
                "consent": "not_asked",
                "participants": [],
                "files": [{"party": "customer", "name": "customer.webm", "size": 4}],
                "started_at": time.time(),
                "ended_at": time.time(),
            }
        )
        folder = h.app[RECORDINGS].root / "k1"
        folder.mkdir(parents=True)
        (folder / "customer.webm").write_bytes(b"webm")

        async def call(method: str, path: str, secret: str, body: Any = None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {secret}", "Origin": "https://elsewhere.example"}
            async with lab.http.request(method, path, headers=headers, json=body) as r:
                data = await r.json() if r.content_type == "application/json" else None
                return r.status, data

        routed = {tuple(row.split(" ", 1)) for row in rest_rows(h.app)}
        assert set(SCOPE_OF) <= routed
        for method, template in sorted(SCOPE_OF, key=lambda k: (k[0] == "DELETE", k)):
            scope = SCOPE_OF[(method, template)]
            _, with_it = await tokens.create(f"with {scope}", [scope], None, "ada")
            others = [s for s in SCOPES if s != scope]
            _, without = await tokens.create(f"without {scope}", others, None, "ada")
            path = _fill(template, alice["id"])
            if template.startswith("/api/reports/"):
                path += REPORT_QUERY
            if template == "/api/recordings/{recording_id}/files/{name}":
                caller = (await tokens.check(with_it, "test")) or pytest.fail("no caller")
                path = h.app[RECORDINGS].url("r1", "customer.webm", caller.staff.id)
            body = TOKEN_BODIES.get((method, template))
            status, data = await call(method, path, without, body)
            assert (status, data["error"]["code"]) == (403, "insufficient_scope"), (template, data)
            status, data = await call(method, path, with_it, body)
            # Past authorization, even from another site's page (no Origin check for tokens).
            assert status in (200, 201, 204, 404, 409, 422), (method, template, status, data)

        _, everything = await tokens.create("everything", list(SCOPES), None, "ada")
        outside = sorted(routed - set(SCOPE_OF))
        assert ("POST", "/api/admin/tokens") in outside and ("GET", "/") in outside
        for method, template in outside:
            status, data = await call(method, _fill(template, alice["id"]), everything)
            assert status == 403, (method, template, status)
            assert data["error"]["code"] == "token_not_allowed"
        status, data = await call("GET", "/socket.io/?EIO=4&transport=polling", everything)
        assert (status, data["error"]["code"]) == (403, "token_not_allowed")
        # Nothing was created by a token: no token, no webhook.
        assert len(await tokens.listing()) == 2 * len(SCOPE_OF) + 1
        assert h.app[WEBHOOKS].endpoints() == []

    async def test_revoked_expired_and_unknown_tokens_are_401_and_use_is_recorded(
        self, lab: Lab
    ) -> None:
        h = lab.h
        cookies = await _staff(lab)
        admin = {"Cookie": f"va_session={cookies['admin']}"}
        async with lab.http.post(
            "/api/admin/tokens",
            json={"name": "crm", "scopes": ["reports:read"], "expires_in": 3600},
            headers=admin,
        ) as r:
            assert r.status == 201
            made = await r.json()
        secret, path = made["token"], "/api/reports/intervals" + REPORT_QUERY
        assert secret.startswith("va_") and made["prefix"] == secret[:9]
        bearer = {"Authorization": f"Bearer {secret}"}
        async with lab.http.get(path, headers=bearer) as r:
            assert r.status == 200
        async with lab.http.get("/api/admin/tokens", headers=admin) as r:
            [listed] = (await r.json())["tokens"]
        assert listed["last_used_from"] == "127.0.0.1" and listed["last_used_at"] is not None
        assert "token" not in listed and "token_hash" not in listed  # shown once only
        async with lab.http.delete(f"/api/admin/tokens/{made['id']}", headers=admin) as r:
            assert r.status == 200 and (await r.json())["revoked_at"] is not None
        async with lab.http.get(path, headers=bearer) as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_token"
        _, expired = await h.app[API_TOKENS].create("old", ["reports:read"], time.time() - 1, "x")
        for value in (expired, "va_" + "x" * 43):
            async with lab.http.get(path, headers={"Authorization": f"Bearer {value}"}) as r:
                assert r.status == 401
        # A token's secret is not stored: only its SHA-256.
        stored = await h.app[API_TOKENS].store.tokens()
        assert all(secret not in str(row) for row in stored)
        actions = [(r["action"], r["actor_name"]) for r in await h.records.audit_rows()]
        assert actions == [("token_create", "ada"), ("token_revoke", "ada")]
