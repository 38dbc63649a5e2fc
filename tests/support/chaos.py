"""Failover under load: two real nodes on the leader lease, customers and agents as socket.io
clients, and the leader killed or paused on a schedule. Used by the bounded CI test
(tests/integration/test_chaos.py) and the longer bench (bench/chaos.py).

The clients play browsers behind a load balancer: when their connection drops they reconnect to
whichever node serves (the one whose ``/readyz`` answers), with the same ticket or staff cookie.

After each fault, once every waiting customer is back, the agents step Away for a census: every
waiting customer's page is asked where it stands. The line must be exactly the customers still
waiting, at places 1..n in the order they tapped (nobody lost, nobody passed). At the end the
records must hold at most one session per ticket (no customer given to two agents).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from redis.asyncio import Redis

from tests.support.harness import connect_socket, wait_until
from tests.support.ports import free_port
from tests.support.process import ServerProcess, takeovers, took_lead
from videoassist.auth import hash_password
from videoassist.store.records import Records

WAITING = ("queued", "offered")


@dataclass
class ChaosReport:
    customers: int = 0
    served: int = 0
    waiting: int = 0
    interrupted: int = 0  # live when the node died: ended by the restart, as the docs say
    lost: list[str] = field(default_factory=list)  # tickets that ended without being served
    double: list[str] = field(default_factory=list)  # tickets with two sessions
    census_errors: list[str] = field(default_factory=list)
    censuses: int = 0
    census_rereads: int = 0  # censuses whose first reading was not 1..n (replicas behind)
    faults: list[str] = field(default_factory=list)
    failover: list[float] = field(default_factory=list)  # fault -> a node serving, seconds
    reattach: list[float] = field(default_factory=list)  # a customer's drop -> back in line
    served_after_fault: list[int] = field(default_factory=list)
    # (epoch, "restored" or "went on", seconds) of each time a node took the lead (replicas)
    takeovers: list[tuple[int, str, float]] = field(default_factory=list)


class Cluster:
    """Two nodes on the leader lease. ``replicas``: both serve (``DESK_REPLICAS``), and each
    page goes to either, as a load balancer would spread them."""

    def __init__(
        self,
        root: Path,
        database_url: str,
        redis_url: str,
        ttl: float,
        *,
        replicas: bool = False,
        seed: int = 1,
        **extra: str,
    ) -> None:
        if replicas:
            extra = {"desk_replicas": "true", "media_placement": "true", **extra}
        self.replicas = replicas
        self.redis_url = redis_url
        self._rng = random.Random(seed)
        settings = {
            "database_url": database_url,
            "redis_url": redis_url,
            "leader_lease": "true",
            "leader_lease_ttl": str(ttl),
            "secret_key": "chaos-" + "k" * 40,
            "taps_per_minute": "1000000",
            "taps_burst": "1000000",
            "max_connections_per_address": "0",
            "customer_grace": "120",
            **extra,
        }
        self.ttl = ttl
        self.nodes = [
            ServerProcess(root / f"node-{i}", free_port(), node_id=f"node-{i}", **settings)
            for i in range(2)
        ]

    async def start(self) -> None:
        await self.nodes[0].start()
        if self.replicas:
            await self.nodes[1].start()
        else:
            await self.nodes[1].launch()

    async def serving(self) -> ServerProcess | None:
        """A node that answers ``/readyz`` (with replicas, either, at random)."""
        nodes = list(self.nodes)
        if self.replicas:
            self._rng.shuffle(nodes)
        for node in nodes:
            if node.proc is None or node.proc.returncode is not None:
                continue
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"{node.url}/readyz", timeout=aiohttp.ClientTimeout(total=1)) as r,
                ):
                    if r.status == 200:
                        return node
            except (aiohttp.ClientError, TimeoutError):
                continue
        return None

    async def leader(self, timeout: float = 60.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = await self.serving()
            if node is not None:
                return node
            await asyncio.sleep(0.1)  # polling the load balancer's view, bounded by the deadline
        raise TimeoutError("no node serving")

    async def holder(self) -> ServerProcess:
        """The node that leads (the lease's holder): with replicas both serve."""
        if not self.replicas:
            return await self.leader()
        redis = Redis.from_url(self.redis_url)
        try:
            value = await redis.get("videoassist:desk:lease")
        finally:
            await redis.aclose()
        assert value is not None, "nobody holds the lease"
        name = value.decode().rsplit(":", 1)[0]
        return next(n for n in self.nodes if n.env.get("VIDEOASSIST_NODE_ID") == name)

    async def _led_by(self, node: ServerProcess, times: int) -> None:
        """With replicas: until ``node`` has taken the lead ``times`` times (its desk restored
        or gone on from its replica, and serving); without, until it serves."""

        async def leads() -> bool:
            if self.replicas:
                return took_lead(node.output) >= times
            return (await self.serving()) is node

        await wait_until(
            leads, 60, interval=0.1, what=f"{node.env.get('VIDEOASSIST_NODE_ID')} leading"
        )

    async def kill_leader(self) -> float:
        """SIGKILL the leading node and start it again (a standby, or a follower with
        replicas); seconds until the other leads."""
        node = await self.holder()
        other = next(n for n in self.nodes if n is not node)
        led = took_lead(other.output)
        started = time.monotonic()
        assert node.proc is not None
        node.proc.kill()
        await node.exited(30)
        if self.replicas:
            await self._led_by(other, led + 1)
            took = time.monotonic() - started
            await node.start()
            return took
        await node.launch()
        await self.leader()
        return time.monotonic() - started

    async def pause_leader(self) -> float:
        """SIGSTOP the leading node past its lease, then SIGCONT: it must exit by itself (it
        was deposed) and is started again; seconds until the other leads."""
        node = await self.holder()
        other = next(n for n in self.nodes if n is not node)
        led = took_lead(other.output)
        started = time.monotonic()
        node.pause()
        await self._led_by(other, led + 1)
        took = time.monotonic() - started
        node.resume()
        code = await node.exited(30)
        assert code == 75, f"a deposed leader exited {code}:\n{node.output[-3000:]}"
        if self.replicas:
            await node.start()
        else:
            await node.launch()
        return took

    async def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    node.resume()
                await node.stop(kill=True)


class Client:
    """A browser page that reconnects to the serving node whenever its connection drops."""

    namespace = ""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.sio: socketio.AsyncClient | None = None
        self.down = asyncio.Event()
        self.up = asyncio.Event()
        self.dropped_at: float | None = None

    def credentials(self) -> dict[str, str]:
        raise NotImplementedError

    async def attached(self) -> None:
        """Runs after each (re)connection."""

    def listen(self, sio: socketio.AsyncClient) -> None:
        """Registers the page's event handlers on a new connection."""

    async def keep_connected(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            node = await self.cluster.leader()
            sio = socketio.AsyncClient(reconnection=False)
            self.down = asyncio.Event()
            sio.on("disconnect", self.down.set, namespace=self.namespace)
            self.listen(sio)
            try:
                await self._session(sio, node, stop)
            finally:
                self.up.clear()
                self.sio = None
                if not stop.is_set():
                    self.dropped_at = time.monotonic()
                with contextlib.suppress(Exception):
                    await sio.disconnect()
                http = getattr(sio.eio, "http", None)  # a failed connect leaves it open
                if http is not None and not http.closed:
                    await http.close()

    async def _session(
        self, sio: socketio.AsyncClient, node: ServerProcess, stop: asyncio.Event
    ) -> None:
        try:
            await connect_socket(sio, node.url, self.namespace, **self.credentials())
        except (socketio.exceptions.ConnectionError, aiohttp.ClientError, OSError):
            await asyncio.sleep(0.2)  # the node went away between the check and the connect
            return
        self.sio = sio
        try:
            await self.attached()
            self.up.set()
            waiters = [asyncio.ensure_future(e.wait()) for e in (self.down, stop)]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            pass  # the node died while the page was syncing: reconnect

    async def call(self, event: str, data: dict[str, Any] | None = None) -> Any:
        assert self.sio is not None
        return await self.sio.call(event, data or {}, namespace=self.namespace, timeout=10)


class Customer(Client):
    namespace = "/customer"

    def __init__(self, cluster: Cluster, order: int, ticket: dict[str, Any], report: ChaosReport):
        super().__init__(cluster)
        self.order = order
        self.ticket_id: str = ticket["ticket_id"]
        self.token: str = ticket["token"]
        self.report = report
        self.state = "queued"
        self.position: int | None = None

    def credentials(self) -> dict[str, str]:
        return {"token": self.token}

    def listen(self, sio: socketio.AsyncClient) -> None:
        sio.on("matched", self._matched, namespace=self.namespace)

    async def _matched(self, data: Any) -> None:
        self.state = "served"

    async def attached(self) -> None:
        view = await self.call("sync")
        if view["state"] in WAITING:
            self.state = "queued"
            self.position = view.get("position")
            if self.dropped_at is not None:
                self.report.reattach.append(time.monotonic() - self.dropped_at)
                self.dropped_at = None
        elif view["state"] == "live":
            self.state = "served"
        else:
            self.state = view["state"]

    @property
    def done(self) -> bool:
        return self.state not in ("queued",)


class Agent(Client):
    namespace = "/agent"

    def __init__(self, cluster: Cluster, cookie: str, hold: float, served: list[str]) -> None:
        super().__init__(cluster)
        self.cookie = cookie
        self.hold = hold
        self.served = served
        self.working = asyncio.Event()
        self.working.set()
        self._offers: asyncio.Queue[str] = asyncio.Queue()

    def credentials(self) -> dict[str, str]:
        return {"cookie": self.cookie}

    def listen(self, sio: socketio.AsyncClient) -> None:
        sio.on("offer", self._offer, namespace=self.namespace)

    async def _offer(self, data: Any) -> None:
        self._offers.put_nowait(data["ticket_id"])

    async def attached(self) -> None:
        while not self._offers.empty():  # offers made by a node that is gone
            self._offers.get_nowait()
        view = await self.call("sync")
        if view.get("session_id") and view["state"] == "busy":
            # A call that was live when the node died is restored (CALL_RESUME_WINDOW) and waits
            # for its parties; this console cannot offer media again, so its agent ends it.
            await self.call("hangup", {"session_id": view["session_id"]})
            view = await self.call("sync")
        if view.get("session_id") and view["state"] == "wrap_up":
            await self.call(
                "wrap_up", {"session_id": view["session_id"], "disposition": "resolved"}
            )
        if self.working.is_set():
            await self.call("ready")
        else:
            await self.call("away", {"reason": "meeting"})
        if view.get("offer"):
            self._offers.put_nowait(view["offer"]["ticket_id"])

    async def work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            get = asyncio.ensure_future(self._offers.get())
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({get, halt}, return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            if not get.done():
                get.cancel()
                return
            ticket_id = get.result()
            if not self.working.is_set():
                continue  # stepping Away for a census: the offer is withdrawn by the Away
            with contextlib.suppress(Exception):  # a node dying mid-call is part of the test
                reply = await self.call("accept", {"ticket_id": ticket_id})
                session_id = reply["session_id"]
                self.served.append(ticket_id)
                await asyncio.sleep(self.hold)  # the call's length (simulation pacing)
                await self.call("hangup", {"session_id": session_id})
                await self.call("wrap_up", {"session_id": session_id, "disposition": "resolved"})
                # Wrap-up ends in Ready; during a census the agent steps Away again.
                await self.call("ready" if self.working.is_set() else "away", self._away_if_not())

    def _away_if_not(self) -> dict[str, str]:
        return {} if self.working.is_set() else {"reason": "meeting"}

    async def set_working(self, on: bool, deadline: float) -> bool:
        """Ready or Away, confirmed by the serving node (retried while the console is
        reconnecting); False if that did not happen by ``deadline``."""
        if on:
            self.working.set()
        else:
            self.working.clear()
        while time.monotonic() < deadline:
            if self.up.is_set():
                with contextlib.suppress(Exception):
                    await self.call("ready" if on else "away", self._away_if_not())
                    return True
            await asyncio.sleep(0.1)  # polling the console, bounded by the deadline
        return False


async def _add_agents(database_url: str, count: int) -> None:
    records = Records.open(database_url)
    try:
        for i in range(count):
            await records.add_user(
                f"agent{i}", f"Agent {i}", hash_password("password-1"), "agent", time.time()
            )
    finally:
        await records.close()


async def _login(cluster: Cluster, name: str) -> str:
    node = await cluster.leader()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{node.url}/api/login", json={"username": name, "password": "password-1"}) as r,
    ):
        assert r.status == 200, await r.text()
        return r.cookies["va_session"].value


async def _tap(cluster: Cluster) -> dict[str, Any]:
    """A tap sent again with its Idempotency-Key until it is answered, as the page does: a tap
    the node carried out but did not answer (killed meanwhile) is found, not made twice."""
    key = secrets.token_hex(16)
    while True:
        node = await cluster.leader()
        try:
            async with (
                aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
                http.post(
                    f"{node.url}/api/tickets",
                    json={"topic": "setup"},
                    headers={"Idempotency-Key": key},
                ) as r,
            ):
                if r.status == 201:
                    ticket: dict[str, Any] = await r.json()
                    return ticket
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)  # the node is failing over: try the next one


async def census(
    customers: Sequence[Customer], agents: Sequence[Agent], report: ChaosReport, timeout: float
) -> None:
    """Agents Away (each confirmed, so the line holds still); every waiting customer back;
    their places are 1..n in tap order."""
    deadline = time.monotonic() + timeout
    report.censuses += 1
    for agent in agents:
        if not await agent.set_working(False, deadline):
            report.census_errors.append(f"census {report.censuses}: an agent not Away")

    async def view_of(c: Customer) -> dict[str, Any] | None:
        """The page's view once it is back (a page may not have noticed its drop yet)."""
        while time.monotonic() < deadline:
            if c.up.is_set():
                with contextlib.suppress(Exception):
                    view: dict[str, Any] = await c.call("sync")
                    return view
            await asyncio.sleep(0.1)  # polling the page, bounded by the deadline
        return None

    odd: list[str] = []

    async def places_now() -> list[int | None] | None:
        places: list[tuple[int, int | None, str]] = []
        for c in [c for c in customers if not c.done]:
            view = await view_of(c)
            if view is None:
                report.census_errors.append(f"census {report.censuses}: {c.ticket_id} not back")
                return None
            if view["state"] not in WAITING:
                c.state = "served" if view["state"] == "live" else view["state"]
                if view.get("position") is not None:  # holds a place, but not waiting?
                    odd.append(f"{c.ticket_id}: {view['state']} at {view['position']}")
                continue
            places.append((c.order, view.get("position"), c.ticket_id))
        places.sort()
        return [p for _, p, _ in places]

    got = await places_now()
    if got is not None and got != list(range(1, len(got) + 1)):
        # With both nodes serving, pages read two replicas one after the other, each a few
        # milliseconds behind the leader: a call accepted just before the agents went Away
        # can show in one and not yet in the other. The line is still now: read it again.
        report.census_rereads += 1
        await asyncio.sleep(1.0)  # the replicas catch up (the agents are Away)
        got = await places_now()
        if got is not None and got != list(range(1, len(got) + 1)):
            report.census_errors.append(
                f"census {report.censuses}: places {got} in tap order; {', '.join(odd)}"
            )
    for agent in agents:
        await agent.set_working(True, time.monotonic() + timeout)


async def run_chaos(
    root: Path,
    database_url: str,
    redis_url: str,
    *,
    customers: int,
    agents: int,
    faults: int,
    fault_every: float,
    ttl: float = 2.0,
    hold: float = 2.0,
    seed: int = 1,
    replicas: bool = False,
) -> ChaosReport:
    """Taps spread over the first ``faults * fault_every / 2`` seconds; ``faults`` faults,
    ``fault_every`` seconds apart, kills and pauses in turn, each followed by a census; then
    ``fault_every`` seconds more."""
    duration = faults * fault_every
    rng = random.Random(seed)
    report = ChaosReport(customers=customers)
    cluster = Cluster(root, database_url, redis_url, ttl, replicas=replicas, seed=seed)
    await cluster.start()
    await _add_agents(database_url, agents)
    stop = asyncio.Event()
    served: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    people: list[Customer] = []
    staff: list[Agent] = []
    try:
        for i in range(agents):
            agent = Agent(cluster, await _login(cluster, f"agent{i}"), hold, served)
            staff.append(agent)
            tasks.append(asyncio.create_task(agent.keep_connected(stop)))
            tasks.append(asyncio.create_task(agent.work(stop)))

        async def arrivals() -> None:
            gap = duration / 2 / max(customers, 1)
            for order in range(customers):
                customer = Customer(cluster, order, await _tap(cluster), report)
                people.append(customer)
                tasks.append(asyncio.create_task(customer.keep_connected(stop)))
                await asyncio.sleep(rng.expovariate(1 / gap))  # arrivals: a Poisson process

        tasks.append(asyncio.create_task(arrivals()))
        kill = True
        for _ in range(faults):
            await asyncio.sleep(fault_every)  # the fault schedule
            before = len(served)
            took = await (cluster.kill_leader() if kill else cluster.pause_leader())
            report.faults.append("kill" if kill else "pause")
            report.failover.append(took)
            kill = not kill
            await census(people, staff, report, timeout=30)
            report.served_after_fault.append(before)
        await asyncio.sleep(fault_every)  # the line moves on after the last fault
        report.served_after_fault = [len(served) - before for before in report.served_after_fault]
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await cluster.stop()
        report.takeovers = sorted(t for node in cluster.nodes for t in takeovers(node.output))
    await _check_records(database_url, people, report)
    return report


async def _check_records(
    database_url: str, people: Sequence[Customer], report: ChaosReport
) -> None:
    records = Records.open(database_url)
    try:
        for customer in people:
            sessions = await records.sessions_of_ticket(customer.ticket_id)
            row = await records.ticket(customer.ticket_id)
            assert row is not None
            if len(sessions) > 1:
                report.double.append(customer.ticket_id)
            if sessions:
                if any(s["end_reason"] == "server_restart" for s in sessions):
                    report.interrupted += 1
                else:
                    report.served += 1
            elif row["status"] in WAITING or row["status"] == "joining":
                report.waiting += 1
            else:
                report.lost.append(f"{customer.ticket_id}: {row['status']} {row['end_reason']}")
    finally:
        await records.close()
