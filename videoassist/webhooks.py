"""Outbound webhooks: events of the desk, the recorder and the tutorial library, delivered to
the operator's other systems (CRM, ticketing) without ever slowing the desk.

Theory of operation (docs/integrations.md has the receiver's side):

- The places where things happen hold an ``IntegrationsPort`` (videoassist/integrations.py)
  and call ``publish(event, data)``, which returns at once. ``NoIntegrations`` is the
  default; the composition root wires ``Webhooks``.
- ``publish`` hands the event to a task of its own, which reads the endpoints subscribed to it
  (from the database: an endpoint another node added a moment ago counts) and writes one outbox
  row per endpoint (``webhook_deliveries``, status ``pending``), then wakes the worker. The desk
  never waits for that write.
  On shutdown the writes still under way are awaited, so a restart loses none; a row still
  pending at start-up is sent then.
- One worker task sends what is due. Before sending a row it *claims* it: its next attempt is
  moved past the send's timeout, with a condition on the old value, so that two nodes sharing
  a database never both send a row, and a node that dies mid-send leaves a row that is sent
  again after the claim runs out. Each endpoint has at most ``concurrency`` sends in flight;
  a slow endpoint fills its own slots and nobody else's.
- A send is one POST with a timeout. A 2xx answer delivers the row; anything else (another
  status, a refused connection, no answer in time) counts an attempt and, below the limit,
  schedules the next after an exponential backoff with jitter; at the limit the row is
  ``failed``. An admin may redeliver any row: it goes back to ``pending`` under the same id.
- Requests are signed: ``Webhook-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." +
  body)>`` with ``Webhook-Timestamp`` (Unix seconds) and ``Webhook-Id`` (the delivery's id,
  the same on every retry and redelivery: the receiver's idempotency key).
- Each endpoint's secret is stored sealed under ``SECRET_KEY`` (videoassist/sealing.py), read
  back when the endpoints are loaded; a secret stored in clear by an older version is sealed at
  start-up. A secret that cannot be unsealed (``SECRET_KEY`` changed) signs nothing: its
  deliveries fail at once with that reason in the log, and the admin creates the endpoint again.
- Unless ``webhook_allow_private`` is set, URLs naming a loopback, private, link-local or
  otherwise non-public address are refused when configured, and the resolver refuses such
  addresses again when connecting (a name that resolves to one is not followed; no redirects
  are followed either).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from videoassist.sealing import Sealer, Unreadable, is_sealed
from videoassist.store.integrations import IntegrationRecords

logger = logging.getLogger(__name__)

SIGNATURE_VERSION = "v1"
MAX_ENDPOINTS = 20
MAX_URL = 2048
ERROR_CHARS = 500
REFRESH_EVERY = 5.0  # seconds between reloads of the endpoint list (other nodes' changes)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook endpoint, or None when it can."""
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "use an http:// or https:// URL"
    host = parts.hostname
    if not host:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not allowed; the signature authenticates us"
    if parts.fragment:
        return "a URL with a #fragment is not allowed"
    if port == 0:
        return "port 0 is not a port"
    if allow_private:
        return None
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "a loopback or private address (set WEBHOOK_ALLOW_PRIVATE to allow)"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked again when connecting
    if not _public(host):
        return "a loopback or private address (set WEBHOOK_ALLOW_PRIVATE to allow)"
    return None


class PublicResolver(AbstractResolver):
    """Resolves as aiohttp does, keeping only public addresses: a name that points inside the
    network (DNS rebinding included) cannot be reached, whatever it was when configured."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = [r for r in await self._inner.resolve(host, port, family) if _public(r["host"])]
        if not found:
            raise OSError(f"{host} resolves to no public address")
        return found

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Policy:
    timeout: float = 5.0
    max_attempts: int = 8
    backoff: float = 10.0  # the first retry's delay, doubling each time (before jitter)
    backoff_max: float = 3600.0
    concurrency: int = 4  # sends in flight per endpoint
    allow_private: bool = False

    def delay(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: exponential, capped, with jitter (half to
        all of it) so that endpoints coming back are not hit by every retry at once."""
        base: float = min(self.backoff_max, self.backoff * 2.0 ** max(0, attempts - 1))
        return base * (0.5 + random.random() / 2)


class Webhooks:
    def __init__(
        self,
        store: IntegrationRecords,
        policy: Policy,
        sealer: Sealer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.policy = policy
        self._sealer = sealer
        self._clock = clock
        self._endpoints: list[dict[str, Any]] = []
        self._loaded_at = 0.0
        self._busy: dict[str, int] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._sends: set[asyncio.Task[None]] = set()
        self._posts: set[asyncio.Future[tuple[int | None, str | None]]] = set()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self, deliver: bool = True) -> None:
        """``deliver``: run the worker that sends what is due. A node that only publishes (a
        media node) writes its rows into the outbox, and the app nodes' workers send them."""
        await self._seal_clear_secrets()
        await self.reload()
        if not deliver:
            return
        connector = aiohttp.TCPConnector(
            resolver=None if self.policy.allow_private else PublicResolver(),
            limit=0,  # per-endpoint concurrency is ours to bound, not a global pool's
            force_close=True,
        )
        self._http = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": "videoassist-webhooks"}
        )
        self._worker = asyncio.create_task(self._run(), name="Webhooks.worker")

    async def close(self) -> None:
        """Idempotent. Outbox writes finish (nothing published is lost). The worker stops at
        its next turn and the requests in flight are abandoned; their rows are released (due
        again at once) so that the next start sends them. Nothing that writes to the database
        is cancelled: an aiosqlite statement cut off mid-way can leave the file locked."""
        if self._closed:
            return
        self._closed = True
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        self._wake.set()
        for post in list(self._posts):
            post.cancel()
        tasks = [t for t in (self._worker, *self._sends) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def reload(self) -> None:
        self._endpoints = [self._unsealed(row) for row in await self.store.endpoints()]
        self._loaded_at = time.monotonic()

    def _unsealed(self, row: dict[str, Any]) -> dict[str, Any]:
        """The endpoint with its secret readable, or None for a secret sealed under another
        ``SECRET_KEY``."""
        try:
            return {**row, "secret": self._sealer.open(row["secret"])}
        except Unreadable:
            logger.error(
                "Webhooks(%s): the signing secret of %s cannot be read with this SECRET_KEY; "
                "its deliveries fail until an admin creates the endpoint again",
                row["id"],
                row["url"],
            )
            return {**row, "secret": None}

    async def _seal_clear_secrets(self) -> None:
        for row in await self.store.endpoints():
            if not is_sealed(row["secret"]):
                await self.store.set_endpoint_secret(row["id"], self._sealer.seal(row["secret"]))
                logger.info("Webhooks(%s): signing secret sealed", row["id"])

    async def settled(self) -> None:
        """Wait until every outbox write started so far is done (tests, admin views)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # ------------------------------------------------------------------ configuration

    async def add_endpoint(self, url: str, events: list[str], by: str) -> dict[str, Any]:
        secret = "whsec_" + secrets.token_urlsafe(32)
        row = {
            "id": uuid.uuid4().hex,
            "url": url,
            "secret": self._sealer.seal(secret),
            "events": events,
            "created_at": self._clock(),
            "created_by": by,
        }
        await self.store.add_endpoint(row)
        await self.reload()
        return {**row, "secret": secret}

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        deleted = await self.store.delete_endpoint(endpoint_id, self._clock())
        await self.reload()
        return deleted

    def endpoints(self) -> list[dict[str, Any]]:
        return list(self._endpoints)

    async def redeliver(self, delivery_id: str) -> bool:
        done = await self.store.redeliver(delivery_id, self._clock())
        self._wake.set()
        return done

    # ------------------------------------------------------------------ publishing

    def publish(self, event: str, data: Mapping[str, object]) -> None:
        if self._closed:
            return
        now = self._clock()
        envelope = {"id": uuid.uuid4().hex, "type": event, "created_at": now, "data": dict(data)}
        task = asyncio.ensure_future(self._write(event, envelope, now))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, event: str, envelope: dict[str, Any], now: float) -> None:
        """One outbox row per endpoint subscribed to ``event``, as the endpoints stand in the
        database now (an endpoint another node added a moment ago counts)."""
        try:
            # Which endpoints only: the worker unseals their secrets when it sends.
            targets = [e for e in await self.store.endpoints() if event in e["events"]]
            if not targets:
                return
            body = json.dumps(envelope, separators=(",", ":"), default=str)
            rows = [
                {
                    "id": uuid.uuid4().hex,
                    "endpoint_id": e["id"],
                    "event": event,
                    "body": body,
                    "created_at": now,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for e in targets
            ]
            await self.store.enqueue(rows)
        except Exception:
            logger.exception("Webhooks: could not write the outbox rows of %s", event)
            return
        self._wake.set()

    # ------------------------------------------------------------------ the worker

    async def _run(self) -> None:
        while not self._closed:
            self._wake.clear()
            try:
                await self._start_due()
                next_at = await self.store.next_due_at()
            except Exception:
                logger.exception("Webhooks: the outbox could not be read")
                next_at = None
            wait = REFRESH_EVERY
            if next_at is not None:
                wait = min(wait, max(0.0, next_at - self._clock()))
            if wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            else:
                # Due rows that no slot is free for: a send finishing wakes us.
                await asyncio.sleep(0)
                try:
                    async with asyncio.timeout(REFRESH_EVERY):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _start_due(self) -> None:
        if time.monotonic() - self._loaded_at > REFRESH_EVERY:
            await self.reload()
        now = self._clock()
        for endpoint in self._endpoints:
            free = self.policy.concurrency - self._busy.get(endpoint["id"], 0)
            if free <= 0:
                continue
            for row in await self.store.due(endpoint["id"], now, free):
                if self._closed:
                    return
                lease = now + self.policy.timeout + 30.0
                if not await self.store.claim(row["id"], row["next_attempt_at"], lease):
                    continue  # another node took it
                self._busy[endpoint["id"]] = self._busy.get(endpoint["id"], 0) + 1
                task = asyncio.create_task(self._send(endpoint, row), name="Webhooks.send")
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _send(self, endpoint: dict[str, Any], row: dict[str, Any]) -> None:
        try:
            await self._attempt(endpoint, row)
        except Exception:
            logger.exception("Webhooks(%s) delivery %s failed", endpoint["id"], row["id"])
        finally:
            self._busy[endpoint["id"]] -= 1
            self._wake.set()

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        """One request: (the receiver's status, or None; our error, or None). No database
        work here: close() may cancel it."""
        assert self._http is not None
        try:
            async with asyncio.timeout(self.policy.timeout):
                async with self._http.post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    await response.content.read(4096)  # drained a little, never kept
                    return response.status, None
        except TimeoutError:
            return None, f"no answer within {self.policy.timeout:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]

    async def _attempt(self, endpoint: dict[str, Any], row: dict[str, Any]) -> None:
        assert self._http is not None
        if endpoint["secret"] is None:
            await self.store.attempted(
                row["id"],
                status="failed",
                attempts=row["attempts"] + 1,
                last_attempt_at=self._clock(),
                last_error="the signing secret cannot be read with this SECRET_KEY: "
                "create the endpoint again",
            )
            return
        body = row["body"].encode()
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Webhook-Id": row["id"],
            "Webhook-Event": row["event"],
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign(endpoint["secret"], timestamp, body),
        }
        if self._closed:
            await self.store.attempted(row["id"], next_attempt_at=self._clock())
            return
        post = asyncio.ensure_future(self._post(endpoint["url"], body, headers))
        self._posts.add(post)
        post.add_done_callback(self._posts.discard)
        try:
            status, error = await post
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this send itself was cancelled, not only its request
            # Abandoned by close(): released, to be sent after the next start.
            await self.store.attempted(row["id"], next_attempt_at=self._clock())
            return
        now = self._clock()
        attempts = row["attempts"] + 1
        if status is not None and 200 <= status < 300:
            await self.store.attempted(
                row["id"],
                status="delivered",
                attempts=attempts,
                last_attempt_at=now,
                last_status=status,
                last_error=None,
                delivered_at=now,
            )
            logger.info(
                "Webhooks(%s) delivered %s %s (attempt %d)",
                endpoint["id"],
                row["event"],
                row["id"],
                attempts,
            )
            return
        error = error or f"HTTP {status}"
        final = attempts >= self.policy.max_attempts
        await self.store.attempted(
            row["id"],
            status="failed" if final else "pending",
            attempts=attempts,
            last_attempt_at=now,
            last_status=status,
            last_error=error,
            next_attempt_at=now if final else now + self.policy.delay(attempts),
        )
        logger.info(
            "Webhooks(%s) %s %s attempt %d: %s%s",
            endpoint["id"],
            row["event"],
            row["id"],
            attempts,
            error,
            "; giving up" if final else "",
        )
