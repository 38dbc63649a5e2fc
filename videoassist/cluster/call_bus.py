"""Requests between nodes over Redis: ask a node to act on a call and get its answer.

The node that holds a browser's socket authorizes what the browser asks against the desk; the
call's media node does it (cluster/media_nodes.py). This module carries the request there and
the answer back, and nothing else: it knows no verbs.

* **Requests** to node N are pushed on the list ``videoassist:calls:<N>``; N pops them in one
  task. **Replies** go to one list per asking node, ``videoassist:replies:<node>``, read by one
  task that hands each to the request waiting for it by id. (A blocking pop per request would
  hold a pooled connection for every request in flight: a pen stroke is thirty a second.)
* **Order**: a node pushes its requests in the order it made them; requests naming the same
  ``call_id`` run one after another, in the order they arrived; requests for different calls
  run side by side, at most ``concurrency`` at once. A call's requests waiting their turn do
  not take those places (one call's burst does not hold up the others); past
  ``concurrency * ADMITTED_PER_SLOT`` taken off the list the node stops popping: the list is
  the queue.
* **Clocks**: deadlines are wall-clock times compared across nodes: keep the nodes' clocks
  in sync (NTP), well within the verbs' timeouts.
* **Deadlines**: every request carries its asker's deadline. One that has passed when its turn
  comes is dropped unanswered: its asker has given up, and an SDP offer carried out late would
  set up a peer connection nobody completes. A handler is never cancelled (it may be writing
  to the database); a request stuck behind one that overran is dropped at its own deadline.
* **Refusals** travel as data: a ``Problem`` raised by the handler comes back as the same class
  with its code, message and status; anything else is logged here with its traceback and the
  asker gets ``internal``, never the traceback. No answer in time is ``unavailable`` (503).
* **Signed**: every request and reply carries an HMAC-SHA256 of its body under a key derived
  from ``SECRET_KEY``; what fails the check is dropped (and counted), so reaching Redis is not
  enough to make a media node act (answer an offer, let a supervisor in). A request id is
  carried out once, by the node it was sent to: a replay within its deadline, or a copy pushed
  onto another node's list, is dropped too. Signing stops acts, not reads: whoever reaches
  Redis can read what passes (chat, photos, SDP); Redis needs ACLs and TLS or a private
  network.
* **Size**: a request or reply over ``max_message`` bytes of JSON is refused where it is made
  (``too_large``, 413). Values are JSON; bytes travel base64-encoded (call_plane.py).
* **Redis going away**: both loops log, back off (to 2 s at most) and go on; requests made
  meanwhile fail as ``unavailable``. Lists expire a minute after their last use, so a dead
  node's requests and replies do not pile up.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from videoassist.errors import ContentError, MediaError, Problem, Refusal, RoomError

logger = logging.getLogger(__name__)

PURPOSE = "videoassist call bus"  # the key's label (sealing.derive_key)
REQUESTS = "videoassist:calls:{node}"
REPLIES = "videoassist:replies:{node}"
KEY_TTL = 60  # seconds a list outlives its last push
POP_WAIT = 1  # seconds a blocking pop waits (under any socket timeout the client has)
MAX_BACKOFF = 2.0
FORGET_EVERY = 5.0  # seconds between letting go of request ids whose deadline passed
ADMITTED_PER_SLOT = 8  # requests taken off the list per handler allowed to run at once

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


def _problem(error: dict[str, Any]) -> Problem:
    """A refusal as it was raised on the other node."""
    code = str(error.get("code", "internal"))
    message = str(error.get("message", ""))
    status = int(error.get("status", 500))
    match error.get("kind"):
        case "Refusal":
            return Refusal(code, message, status)
        case "RoomError":
            return RoomError(code, message, status)
        case "MediaError":
            return MediaError(code, message, status)
        case "ContentError":
            return ContentError(status, code, message)
    return Problem(code, message, status)


def _error(exc: Problem) -> dict[str, Any]:
    return {
        "code": exc.code,
        "message": exc.message,
        "status": exc.status,
        "kind": type(exc).__name__,
    }


class CallBus:
    def __init__(
        self,
        redis: Redis,
        node: str,
        key: bytes,
        *,
        max_message: int = 8 * 1024 * 1024,
        concurrency: int = 64,
    ) -> None:
        """``key``: shared by every node (``sealing.derive_key(SECRET_KEY, PURPOSE)``)."""
        self.redis = redis
        self.node = node
        self._key = key
        self.max_message = max_message
        self.dropped = 0  # requests dropped: late, unreadable, badly signed or replayed
        self._carried: dict[str, float] = {}  # request id -> its deadline (replays)
        self._forgot_at = 0.0  # when ids past their deadline were last let go
        self._backoff: dict[str, float] = {}  # list -> the wait after its last failed pop
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # Requests are pushed one at a time, in the order they were made: two pooled
        # connections could land them the other way round (a pen stroke's points).
        self._sending = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._server: asyncio.Task[None] | None = None
        self._handler: Handler | None = None
        # Requests taken off the list and not finished (waiting their call's turn, or running),
        # and of those the ones running: a call's burst waits without holding up other calls.
        self._admitted = asyncio.Semaphore(concurrency * ADMITTED_PER_SLOT)
        self._slots = asyncio.Semaphore(concurrency)
        self._last_of_call: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False

    # ------------------------------------------------------------ asking

    async def start(self) -> None:
        """Start reading this node's replies (before the first ``request``)."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_replies(), name="CallBus.replies")

    @property
    def closed(self) -> bool:
        return self._closed

    async def request(
        self,
        node: str,
        verb: str,
        args: dict[str, Any],
        *,
        within: float = 5.0,
        expires: float | None = None,
    ) -> Any:
        """Ask ``node`` to run ``verb`` with ``args``; its answer, or its refusal raised here.
        ``within``: how long this waits for the answer; ``expires``: how long ``node`` may
        still carry the request out (``within`` unless longer: a request asked again, whose
        earlier copy may be the one carried out)."""
        if self._closed:
            raise Refusal("unavailable", "this node is stopping", 503)
        request_id = uuid.uuid4().hex
        body = self._sign(
            json.dumps(
                {
                    "id": request_id,
                    "verb": verb,
                    "args": args,
                    "reply_to": self.node,
                    "to": node,  # signed: a request copied onto another node's list is refused
                    "deadline": time.time() + max(within, expires or 0.0),
                },
                separators=(",", ":"),
            )
        )
        if len(body) > self.max_message:
            raise Problem("too_large", f"{verb}: the request is over {self.max_message} bytes", 413)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        key = REQUESTS.format(node=node)
        try:
            async with asyncio.timeout(within):
                async with self._sending:
                    await self._push(key, body)
                reply = await answer
        except TimeoutError:
            raise Refusal(
                "unavailable", f"{node} did not answer {verb} within {within:g} s", 503
            ) from None
        except (RedisError, OSError) as exc:
            raise Refusal("unavailable", f"{node} cannot be reached ({exc})", 503) from None
        finally:
            self._pending.pop(request_id, None)
        error = reply.get("error")
        if isinstance(error, dict):
            raise _problem(error)
        return reply.get("result")

    async def _push(self, key: str, body: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, body)
            pipe.expire(key, KEY_TTL)
            await pipe.execute()

    async def _pop(self, key: str) -> bytes | None:
        """One blocking pop from ``key``; Redis trouble is logged and waited out, backing off
        to ``MAX_BACKOFF`` while it lasts."""
        try:
            popped = await self.redis.blpop([key], timeout=POP_WAIT)
        except (RedisError, OSError) as exc:
            wait = self._backoff.get(key, 0.05) * 2
            self._backoff[key] = min(wait, MAX_BACKOFF)
            logger.warning("CallBus(%s): cannot read %s: %s", self.node, key, exc)
            await asyncio.sleep(self._backoff[key])
            return None
        self._backoff.pop(key, None)
        if popped is None:
            return None
        raw = popped[1]
        return raw if isinstance(raw, bytes) else str(raw).encode()

    async def _read_replies(self) -> None:
        key = REPLIES.format(node=self.node)
        while not self._closed:
            raw = await self._pop(key)
            if raw is None:
                continue
            try:
                reply = json.loads(self._verified(raw))
                answer = self._pending.get(reply["id"])
            except (ValueError, KeyError, TypeError):
                logger.warning("CallBus(%s): an unreadable or unsigned reply dropped", self.node)
                continue
            if answer is not None and not answer.done():
                answer.set_result(reply)  # else: its asker gave up already

    # ------------------------------------------------------------ answering

    def serve(self, handler: Handler) -> None:
        """Answer this node's requests with ``handler(verb, args)``."""
        if self._server is None:
            self._handler = handler
            self._server = asyncio.create_task(self._serve(), name="CallBus.serve")

    async def _serve(self) -> None:
        key = REQUESTS.format(node=self.node)
        while not self._closed:
            await self._admitted.acquire()
            try:
                raw = await self._pop(key)
            except BaseException:
                self._admitted.release()
                raise
            try:
                request = self._parse(raw) if raw is not None else None
            except Exception:  # whatever a message holds, the loop goes on
                logger.exception("CallBus(%s): a request could not be read", self.node)
                request = None
            if request is None:
                self._admitted.release()
                continue
            call_id = request["args"].get("call_id")
            before = self._last_of_call.get(call_id) if isinstance(call_id, str) else None
            task = asyncio.create_task(
                self._run(request, before), name=f"CallBus.{request['verb']}"
            )
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            if isinstance(call_id, str):
                self._last_of_call[call_id] = task
                task.add_done_callback(partial(self._forget, call_id))

    def _hand_back(self, request: dict[str, Any], before: asyncio.Task[None]) -> None:
        """A request dropped while the call's earlier one still runs: the next request of the
        call waits for that one, not for nothing."""
        call_id = request["args"].get("call_id")
        if not before.done() and self._last_of_call.get(call_id) is asyncio.current_task():
            self._last_of_call[call_id] = before

    def _forget(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self._last_of_call.get(call_id) is task:
            del self._last_of_call[call_id]

    def _parse(self, raw: bytes) -> dict[str, Any] | None:
        try:
            request = json.loads(self._verified(raw))
            valid = (
                isinstance(request, dict)
                and isinstance(request.get("id"), str)
                and isinstance(request.get("verb"), str)
                and isinstance(request.get("args"), dict)
                and isinstance(request.get("reply_to"), str)
                and request.get("to") == self.node
                and isinstance(request.get("deadline"), int | float)
            )
        except ValueError:
            valid = False
        if not valid:
            self.dropped += 1
            logger.warning(
                "CallBus(%s): an unreadable or badly signed request was dropped (is SECRET_KEY "
                "the same on every node?)",
                self.node,
            )
            return None
        now = time.time()
        if request["deadline"] < now or request["id"] in self._carried:
            self.dropped += 1
            logger.info("CallBus(%s): %s late or seen before, dropped", self.node, request["verb"])
            return None
        if now - self._forgot_at > FORGET_EVERY:  # a replay past its deadline is refused anyway
            self._carried = {k: d for k, d in self._carried.items() if d >= now}
            self._forgot_at = now
        self._carried[request["id"]] = request["deadline"]
        return dict(request)

    def _sign(self, payload: str) -> str:
        tag = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return f"{tag}.{payload}"

    def _verified(self, raw: bytes) -> str:
        """The payload of a signed message; ValueError if the tag does not match."""
        tag, _, payload = raw.partition(b".")
        expected = hmac.new(self._key, payload, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(tag, expected):  # bytes: any content compares safely
            raise ValueError("bad signature")
        return payload.decode()

    async def _run(self, request: dict[str, Any], before: asyncio.Task[None] | None) -> None:
        verb = request["verb"]
        try:
            if before is not None:  # the call's earlier requests first, up to our deadline
                left = request["deadline"] - time.time()
                if left <= 0:
                    self.dropped += 1
                    return
                await asyncio.wait({before}, timeout=left)
                if not before.done() or request["deadline"] < time.time():
                    self.dropped += 1
                    logger.info("CallBus(%s): %s waited too long, dropped", self.node, verb)
                    self._hand_back(request, before)
                    return
            async with self._slots:
                reply = await self._answer(request)
                await self._push(REPLIES.format(node=request["reply_to"]), reply)
        except (RedisError, OSError) as exc:
            logger.warning("CallBus(%s): the reply to %s was lost: %s", self.node, verb, exc)
        finally:
            self._admitted.release()

    async def _answer(self, request: dict[str, Any]) -> str:
        verb = request["verb"]
        assert self._handler is not None
        try:
            result = await self._handler(verb, request["args"])
            body = json.dumps({"id": request["id"], "result": result}, separators=(",", ":"))
        except Problem as exc:
            body = json.dumps({"id": request["id"], "error": _error(exc)})
        except Exception:
            logger.exception("CallBus(%s): %s failed", self.node, verb)
            failed = Refusal("internal", f"the node {self.node} failed to carry out {verb}", 500)
            body = json.dumps({"id": request["id"], "error": _error(failed)})
        if len(body) > self.max_message:
            too_large = Problem(
                "too_large", f"{verb}: the answer is over {self.max_message} bytes", 413
            )
            body = json.dumps({"id": request["id"], "error": _error(too_large)})
        return self._sign(body)

    # ------------------------------------------------------------ life

    async def close(self) -> None:
        """Stop serving and reading; requests still waiting fail as ``unavailable``. Handlers
        under way finish (a bounded wait), their answers sent."""
        self._closed = True
        loops = {task for task in (self._server, self._reader) if task is not None}
        for task in loops:
            task.cancel()
        if loops:
            # redis-py may finish a blocking pop it was cancelled in; the loops then see the
            # flag within POP_WAIT. A stop never hangs on Redis: past that they are left.
            await asyncio.wait(loops, timeout=POP_WAIT + 0.5)
        if self._running:
            await asyncio.wait(set(self._running), timeout=5)
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(Refusal("unavailable", "this node is stopping", 503))
