"""Composition root: the one place that builds and wires everything.

Start-up (``cleanup_ctx``): records (migrated) → media hub → desk + service → socket.io
namespaces. Shutdown (``on_shutdown``) drains: the desk refuses new taps and hands live calls
over to the next process (with ``CALL_RESUME_WINDOW`` 0 it ends them politely instead), clients
are disconnected, then cleanup closes the service, the media hub (every peer connection,
finishing recordings) and the database, in that order. docs/closures.md has the full teardown
contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from aiohttp import web

from videoassist import turn
from videoassist.api_tokens import ApiTokens
from videoassist.auth import StaffAuth, StaffDevices, TicketTokens
from videoassist.call_content import CallContent
from videoassist.call_plane import CallPlane, LocalCallPlane
from videoassist.call_room import CallRooms, EventLog, PhotoLimits
from videoassist.client_address import TrustedProxies
from videoassist.customers import Customers
from videoassist.delivery import DeskNotifier, SocketDelivery
from videoassist.desk import Desk, ServerEvent
from videoassist.desk.config import DEFAULT_QUEUE, DeskConfig
from videoassist.desk.events import (
    ConfigChanged,
    DrainStarted,
    MediaFailed,
    MediaMoved,
    Restored,
    RestoredTicket,
)
from videoassist.embedding import Origins
from videoassist.errors import Refusal
from videoassist.files import LocalFiles
from videoassist.floor import Wallboard
from videoassist.gateway import (
    AgentNamespace,
    CustomerNamespace,
    SupervisorNamespace,
    create_socket_server,
)
from videoassist.http.admin import add_admin
from videoassist.http.agent_context import agent_context
from videoassist.http.api import routes
from videoassist.http.branding import branding_routes
from videoassist.http.calls import calls
from videoassist.http.customers import customer_routes
from videoassist.http.embed_origins import embed_origin_routes
from videoassist.http.guard import ConnectionGuard
from videoassist.http.guides import guides
from videoassist.http.integrations import integrations as integration_routes
from videoassist.http.keys import (
    API_TOKENS,
    CONNECTION_GUARD,
    CONTENT,
    CUSTOMERS,
    DELIVERY,
    EMBED_ORIGINS,
    HUB,
    KICK,
    LEADERSHIP,
    LOGIN_THROTTLE,
    METRICS,
    NAMESPACES,
    PHOTO_LIMIT,
    PLANE,
    PUBLIC_LIMIT,
    RECORDINGS,
    RECORDS,
    ROOMS,
    SERVICE,
    SETTINGS,
    SIO,
    STAFF,
    STAFF_DEVICES,
    TAP_LIMIT,
    TOKENS,
    TOPIC_LABELS,
    TRUSTED_PROXIES,
    TUTORIALS,
    WALLBOARD,
    WEBHOOKS,
)
from videoassist.http.middleware import (
    api_errors,
    same_origin_writes,
    security_headers,
    server_header,
)
from videoassist.http.pages import add_pages
from videoassist.http.recordings import recordings as recording_routes
from videoassist.http.reports import reports as report_routes
from videoassist.http.staff_admin import staff_admin
from videoassist.http.tokens import bearer_tokens, carries_token
from videoassist.http.tutorials import tutorials as tutorial_routes
from videoassist.integrations import IntegrationsPort
from videoassist.login_throttle import LoginThrottle
from videoassist.media.hub import MediaHub
from videoassist.media.network import PortRange, configure_gathering
from videoassist.metrics import Metrics, metrics_site
from videoassist.ratelimit import Limiter, LocalLimiter, RateLimiter
from videoassist.recording import Recordings
from videoassist.routing_config import config_from_records
from videoassist.sealing import Sealer, derive_key
from videoassist.service import RecordsPort, Service
from videoassist.settings import Settings
from videoassist.store.integrations import IntegrationRecords
from videoassist.store.records import WRITE_IDLE_LIMIT, Fenced, Records
from videoassist.store.tutorials import TutorialRecords, search_for
from videoassist.tutorials import Tutorials
from videoassist.webhooks import Policy as WebhookPolicy
from videoassist.webhooks import Webhooks

if TYPE_CHECKING:  # the `cluster` extra (redis) is loaded only with several nodes
    from videoassist.cluster.media_nodes import PlacedCalls

logger = logging.getLogger(__name__)

STARTER_TOPICS = (
    ("setup", "Setting up a device"),
    ("connectivity", "Wi-Fi or connection"),
    ("device", "A device problem"),
    ("billing", "Billing"),
    ("other", "Something else"),
)


def create_app(settings: Settings) -> web.Application:
    if settings.node_role == "media":
        return create_media_node(settings)
    trusted = TrustedProxies(settings.trusted_proxies)
    guard = _guard(settings, trusted)
    # ALLOWED_ORIGINS and the origins admins add: one live set for every check that uses it.
    origins = Origins(settings.allowed_origins)
    app = web.Application(
        client_max_size=settings.client_max_size,
        middlewares=[
            guard.middleware,
            security_headers(settings.frame_ancestors, hsts=settings.tls),
            bearer_tokens,
            same_origin_writes(origins, bearer=carries_token),
            api_errors,
        ],
    )
    app.on_response_prepare.append(server_header)
    app[SETTINGS] = settings
    app[EMBED_ORIGINS] = origins
    app[TRUSTED_PROXIES] = trusted
    app[CONNECTION_GUARD] = guard
    app[LOGIN_THROTTLE] = LoginThrottle(settings.login_policy())
    limiter = _limiters(app, settings)
    app[TAP_LIMIT] = limiter("taps", settings.taps_per_minute / 60, settings.taps_burst)
    app[PUBLIC_LIMIT] = limiter(
        "public_reads", settings.public_reads_per_minute / 60, settings.public_reads_burst
    )
    app[PHOTO_LIMIT] = limiter("photos", settings.photos_per_minute / 60, settings.photos_burst)
    sio = create_socket_server(
        allowed_origins=origins,
        max_message=settings.socket_max_message,
        client_manager=_socket_bus(app, settings),
    )
    sio.attach(app)
    app[SIO] = sio
    app.add_routes(routes)
    app.add_routes(calls)
    app.add_routes(recording_routes)
    app.add_routes(agent_context)
    app.add_routes(guides)
    app.add_routes(branding_routes)
    app.add_routes(embed_origin_routes)
    app.add_routes(customer_routes)
    app.add_routes(staff_admin)
    app.add_routes(report_routes)
    app.add_routes(tutorial_routes)
    app.add_routes(integration_routes)
    add_admin(app, partial(desk_config, settings=settings))
    add_pages(app, settings.web_dir, origins, test_pages=settings.test_pages)
    app[METRICS] = Metrics()
    if settings.leader_lease:  # with desk_replicas every node serves, one leads
        app.cleanup_ctx.append(_leadership_ctx)
        app.middlewares.insert(0, _leader_only)
    app.cleanup_ctx.append(_records_ctx)
    app.cleanup_ctx.append(_integrations_ctx)
    app.cleanup_ctx.append(_serving_ctx if settings.desk_replicas else _core_ctx)
    if settings.metrics_port:
        app.cleanup_ctx.append(
            metrics_site(app[METRICS], settings.metrics_host, settings.metrics_port)
        )
    app.on_shutdown.append(_drain)
    return app


# How long a node taking the lead waits for the fence row (PostgreSQL's lock_timeout): past the
# time PostgreSQL lets a fenced write sit idle, so a leader paused inside one has let go of it by
# then (its session ended) and the takeover goes on from the replica.
FENCE_WAIT = WRITE_IDLE_LIMIT + 1.0


def _guard(settings: Settings, trusted: TrustedProxies) -> ConnectionGuard:
    return ConnectionGuard(
        max_per_address=settings.max_connections_per_address,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        trusted=trusted,
    )


async def _leadership_ctx(app: web.Application) -> AsyncIterator[None]:
    """``LEADER_LEASE``: take part in the election before the records, the desk or the port;
    give the lease up when the node stops (cluster/leadership.py).

    A hot standby (without ``DESK_REPLICAS``) waits to lead before it goes on. With every node
    serving, a node that does not lead at once waits until a leader of its version has started
    (the lease holder's first snapshot of the desk is in Redis: the records are migrated), then
    serves as a follower and leads when it wins the lease later (``_serving_ctx``)."""
    from videoassist.cluster.leadership import Leadership, default_node_id

    settings = app[SETTINGS]
    leadership = Leadership(
        settings.redis_url, settings.node_id or default_node_id(), settings.leader_lease_ttl
    )
    try:
        if not settings.desk_replicas:
            await leadership.wait()
        elif not await leadership.campaign():
            await _leader_started(settings, leadership)
    except BaseException:
        await leadership.close()  # stopped while standing by
        raise
    if leadership.epoch is not None:
        logger.info("node %s leads (epoch %d): serving", leadership.node_id, leadership.epoch)
    else:
        logger.info("node %s follows: serving", leadership.node_id)
    app[LEADERSHIP] = leadership
    try:
        yield
    finally:
        await leadership.close()


async def _leader_started(settings: Settings, leadership: Any) -> None:
    """Until a leader of this version has stored its first snapshot, or this node leads."""
    from redis.asyncio import Redis

    from videoassist.cluster.journal import PURPOSE as JOURNAL_PURPOSE
    from videoassist.cluster.journal import leader_started

    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
    try:
        key = derive_key(_secret_key(settings), JOURNAL_PURPOSE)
        while leadership.epoch is None:
            if await leader_started(redis, key):
                break
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()


@web.middleware
async def _leader_only(request: web.Request, handler: Any) -> web.StreamResponse:
    leadership = request.app.get(LEADERSHIP)
    if leadership is not None:
        leadership.check()
    response: web.StreamResponse = await handler(request)
    return response


def _socket_bus(app: web.Application, settings: Settings) -> Any:
    """With ``REDIS_URL``: emits reach sockets on every node through Redis, watched
    (videoassist/cluster/socket_bus.py). Without: rooms live in this process."""
    if not settings.redis_url:
        return None
    from videoassist.cluster.socket_bus import WatchedRedisManager  # the `cluster` extra

    manager = WatchedRedisManager(settings.redis_url)

    async def close(_: web.Application) -> AsyncIterator[None]:
        yield
        await manager.close()

    app.cleanup_ctx.append(close)
    return manager


def _limiters(app: web.Application, settings: Settings) -> Callable[[str, float, float], Limiter]:
    """Limits on what anonymous clients can trigger: with ``REDIS_URL`` shared by every node
    (videoassist/cluster/ratelimit.py), else this process's own."""
    if not settings.redis_url:
        return lambda _name, rate, burst: LocalLimiter(rate, burst)
    from redis.asyncio import Redis  # the `cluster` extra

    from videoassist.cluster.ratelimit import SharedLimiter

    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)

    async def close(_: web.Application) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app.cleanup_ctx.append(close)
    return lambda name, rate, burst: SharedLimiter(redis, name, rate, burst)


def _secret_key(settings: Settings) -> str:
    """The configured key, or one kept in the data dir so tickets survive a restart."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


async def _records_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    records = Records.open(settings.db_url)
    leadership = app.get(LEADERSHIP)
    if leadership is None or leadership.epoch is not None:  # a follower: its leader migrated
        await records.migrate()
    app[RECORDS] = records
    app[EMBED_ORIGINS].replace(row["origin"] for row in await records.embed_origins())
    app[STAFF] = StaffAuth(records, ttl=settings.staff_session_ttl)
    app[TOKENS] = TicketTokens(_secret_key(settings), ttl=settings.ticket_ttl)
    app[STAFF_DEVICES] = StaffDevices(_secret_key(settings))
    await app[LOGIN_THROTTLE].attach(records)
    yield
    await records.close()


async def _integrations_ctx(app: web.Application) -> AsyncIterator[None]:
    """API tokens and webhooks. Closed after the core (cleanup runs in reverse): every event
    the service, the recorder and the library published is in the outbox before it stops."""
    settings = app[SETTINGS]
    store = IntegrationRecords(app[RECORDS].engine)
    app[API_TOKENS] = ApiTokens(store)
    webhooks = _webhooks(settings, store)
    await webhooks.start()
    app[WEBHOOKS] = webhooks
    yield
    await webhooks.close()


def _webhooks(settings: Settings, store: IntegrationRecords) -> Webhooks:
    """The outbox on the shared database and its delivery worker (every app node runs one; a
    row is claimed before it is sent, so no two nodes send it)."""
    return Webhooks(
        store,
        WebhookPolicy(
            timeout=settings.webhook_timeout,
            max_attempts=settings.webhook_max_attempts,
            backoff=settings.webhook_backoff,
            backoff_max=settings.webhook_backoff_max,
            concurrency=settings.webhook_concurrency,
            allow_private=settings.webhook_allow_private,
        ),
        Sealer(_secret_key(settings), "videoassist webhook secrets"),
    )


class CallParts(NamedTuple):
    hub: MediaHub
    files: LocalFiles
    content: CallContent
    rooms: CallRooms
    recordings: Recordings
    plane: LocalCallPlane


async def _call_parts(
    settings: Settings,
    records: Records,
    delivery: SocketDelivery,
    *,
    on_failure: Callable[[str, str], None],
    policy_of: Callable[[str], tuple[str, str]],
    settled: Callable[[], Awaitable[None]],
    integrations: IntegrationsPort,
    node: str = "",
) -> CallParts:
    """What carries live calls in this process, on every kind of node: the media hub, the
    calls' content and rooms, recording, and the call plane over them. ``node``: this node's
    id when calls are placed across nodes (a recording another live node writes is left to
    it at start-up)."""
    bounds = settings.media_ports()
    ports = configure_gathering(
        settings.media_addresses, PortRange(*bounds) if bounds is not None else None
    )
    hub = MediaHub(
        ice_servers=settings.ice_servers,
        connect_timeout=settings.media_connect_timeout,
        max_peer_connections=settings.max_peer_connections,
        on_failure=on_failure,
        turn_server=partial(turn.ice_server, settings) if settings.turn_urls else None,
        forwarding="transcode" if settings.media_forwarding == "transcode" else "encoded",
        media_ports=ports,
    )
    files = LocalFiles(settings.data_dir)  # the storage port (videoassist/files.py)
    content = CallContent(records, files, _secret_key(settings), settings.photo_max_bytes)
    rooms = CallRooms(
        delivery,
        hub,
        content,
        PhotoLimits(settings.photo_max_per_call, settings.photo_max_call_bytes),
    )
    rooms.subscribe(EventLog(records))
    recordings = Recordings(
        records,
        hub,
        delivery,
        rooms,
        files,
        _secret_key(settings),
        policy_of=policy_of,
        settled=settled,
        link_ttl=settings.recording_link_ttl,
        retention_days=settings.recording_retention_days,
        integrations=integrations,
    )
    await recordings.repair_unfinished(
        partial(_held_elsewhere, settings.redis_url, node) if node else None
    )
    rooms.subscribe(recordings)
    plane = LocalCallPlane(hub, rooms, recordings, delivery)
    return CallParts(hub, files, content, rooms, recordings, plane)


async def _core_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    records = app[RECORDS]
    service_box: list[Service] = []
    desk_box: list[Desk] = []

    def media_failed(session_id: str, detail: str) -> None:
        service = service_box[0]
        service.post(MediaFailed(session_id, service.now(), detail))

    def policy_of(ticket_id: str) -> tuple[str, str]:
        desk = desk_box[0]
        ticket = desk.tickets.get(ticket_id)
        queue = desk.config.queues.get(ticket.queue_id) if ticket is not None else None
        return (queue.id, queue.recording) if queue is not None else ("", "off")

    async def settled() -> None:
        await service_box[0].settled()

    delivery = SocketDelivery(app[SIO])
    parts = await _call_parts(
        settings,
        records,
        delivery,
        on_failure=media_failed,
        policy_of=policy_of,
        settled=settled,
        integrations=app[WEBHOOKS],
        node=_node_id(app) if settings.media_placement else "",
    )
    hub, files, _, rooms, recordings, local = parts
    cluster = contextlib.AsyncExitStack()
    plane: LocalCallPlane | PlacedCalls = local
    if settings.media_placement:  # each call's media on the media node with the most room
        plane = await cluster.enter_async_context(
            _placed_calls(
                app, parts, records, media_failed, policy_of, settled, service_box, delivery
            )
        )
    config, labels = await _routing_config(records, settings)
    desk = Desk(new_id=lambda: uuid.uuid4().hex, config=config)
    desk_box.append(desk)
    ice_servers_for = partial(turn.ice_servers, settings)
    metrics = app[METRICS]

    tutorials = _tutorials(app, records, delivery, files, plane, lambda: desk)
    leadership = app.get(LEADERSHIP)
    desk_records: RecordsPort = records
    if leadership is not None:
        from videoassist.cluster.leadership import FencedRecords

        desk_records = FencedRecords(records, lambda: leadership.epoch, leadership.lost)
    service = Service(
        desk,
        records=desk_records,
        notifier=metrics.counting(DeskNotifier(delivery, ice_servers_for)),
        media=plane,
        on_inbox_wait=metrics.inbox_wait.observe,
        integrations=app[WEBHOOKS],
        before_each=leadership.check if leadership is not None else None,
        call_quality=plane.quality_summary,
        on_ticket_saved=tutorials.ticket_saved,
    )
    metrics.watch(lambda: desk, hub)
    service_box.append(service)
    app[CUSTOMERS] = _customers(app, records, files, tutorials, lambda: desk)
    await app[CUSTOMERS].finish_erasures()
    service.start(announce_every=settings.announce_interval)
    # With placement, each restored call's room comes back on the node it is placed on.
    await _restore(service, records, rooms if plane is local else None)
    app[TOPIC_LABELS] = labels

    def floor(now: float) -> dict[str, Any]:
        """The desk's picture, with what the media side knows of each live call."""
        picture = desk.floor(now)
        for live in picture["calls"]:
            live.update(plane.status(live["call_id"]))
        return picture

    namespaces, supervisors = _gateway(app, service, plane, delivery, tutorials, floor)
    app[KICK] = cast(Callable[[str], Awaitable[None]], partial(_kick_here, namespaces))
    _publish(app, parts, service, plane, delivery, tutorials, namespaces)
    recordings.start_purging()
    wallboard = Wallboard(
        floor,
        delivery,
        service.now,
        watching=lambda: supervisors.watching,
        interval=settings.wallboard_interval,
    )
    wallboard.start()
    app[WALLBOARD] = wallboard
    yield
    await wallboard.close()
    await service.close()
    await cluster.aclose()
    await hub.close()
    await recordings.close()  # after the hub: every recorder has finished its files
    await tutorials.close()


async def _serving_ctx(app: web.Application) -> AsyncIterator[None]:
    """``DESK_REPLICAS``: this node serves sockets and pages whether it leads or not.

    Built on every node: the call parts and a media node (the leader places calls here too),
    the gateway and the pages over ``Serving``. A follower's ``Serving`` reads a replica of the
    leader's desk and asks the leader for changes and call verbs
    (videoassist/cluster/followers.py). When this node wins the lease (at once, or when the
    leader dies) it leads: with its replica's desk if that can go on from the last leader's last
    write (no page reconnects), else the desk restored from the records as after a restart (its
    own sockets, and every follower's, join again so that each page syncs with the new desk);
    journaled for the others, calls placed from here."""
    from redis.asyncio import Redis  # the `cluster` extra

    from videoassist.cluster.call_bus import PURPOSE as BUS_PURPOSE
    from videoassist.cluster.call_bus import CallBus
    from videoassist.cluster.followers import (
        DOOR_VERBS,
        SUBMIT_WITHIN,
        AbsentParties,
        FollowerService,
        LeaderDoor,
        LeaderPlane,
        Serving,
        ServingPlane,
    )
    from videoassist.cluster.journal import PURPOSE as JOURNAL_PURPOSE
    from videoassist.cluster.journal import Ids, JournalWriter, Replica, Takeover
    from videoassist.cluster.kicks import PURPOSE as KICKS_PURPOSE
    from videoassist.cluster.kicks import Kicks
    from videoassist.cluster.leadership import LEASE_NAME, FencedRecords, exit_deposed
    from videoassist.cluster.media_nodes import DESK, DeskLink, MediaNode, PlacedCalls
    from videoassist.cluster.placement import Placement
    from videoassist.cluster.presence import Presence

    settings = app[SETTINGS]
    records = app[RECORDS]
    leadership = app[LEADERSHIP]
    metrics = app[METRICS]
    node = leadership.node_id
    secret = _secret_key(settings)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    bus_key = derive_key(secret, BUS_PURPOSE)
    journal_key = derive_key(secret, JOURNAL_PURPOSE)
    largest = _largest_request(settings)
    bus = CallBus(redis, node, bus_key, max_message=largest)
    desk_bus = CallBus(redis, DESK, bus_key, max_message=largest)
    delivery = SocketDelivery(app[SIO])
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def join_again(epoch: int) -> None:
        """A new leader restored its desk from the records: every page here syncs with it
        (each reconnects, as after a failover; the desk is not told they left)."""
        logger.info("leader of epoch %d: this node's sockets join again", epoch)
        for namespace in app.get(NAMESPACES, ()):
            await namespace.disconnect_all(quietly=True)

    async def relabel() -> None:
        """An admin changed the topics on another node: this node's labels follow."""
        labels = app[TOPIC_LABELS]  # replaced in place, as the admin API does
        fresh = await _topic_labels(records)
        labels.clear()
        labels.update(fresh)

    replica = Replica(
        redis,
        journal_key,
        on_reset=lambda epoch: spawn(join_again(epoch), "join_again"),
        on_foreign=partial(exit_deposed, "a leader of another version leads: exiting"),
        on_applied=lambda event: (
            spawn(relabel(), "relabel") if isinstance(event, ConfigChanged) else None
        ),
    )
    follower = FollowerService(replica, bus, node)
    serving = Serving(follower, LeaderPlane(bus))
    plane = ServingPlane(serving)
    link = DeskLink(bus, node)  # a follower's media failures go to the leader
    policies: dict[str, tuple[str, str]] = {}  # calls placed here: their queue and recording

    def media_failed(call_id: str, detail: str) -> None:
        if serving.leading:
            serving.post(MediaFailed(call_id, serving.now(), detail))
        else:
            link.media_failed(call_id, detail)

    def policy_of(ticket_id: str) -> tuple[str, str]:
        if ticket_id in policies:
            return policies[ticket_id]
        try:
            desk = serving.desk
        except Refusal:
            return ("", "off")
        ticket = desk.tickets.get(ticket_id)
        queue = desk.config.queues.get(ticket.queue_id) if ticket is not None else None
        return (queue.id, queue.recording) if queue is not None else ("", "off")

    parts = await _call_parts(
        settings,
        records,
        delivery,
        on_failure=media_failed,
        policy_of=policy_of,
        settled=serving.settled,
        integrations=app[WEBHOOKS],
        node=node,
    )
    hub, files, _, rooms, recordings, local = parts
    placement = Placement(redis)
    this_node = MediaNode(
        local,
        placement,
        node,
        settings.media_capacity,
        live=lambda: len(hub.sessions),
        restore=partial(_restore_room, records, rooms),
        policies=policies,
    )
    await bus.start()
    bus.serve(this_node.handle)
    await this_node.start()
    tutorials = _tutorials(app, records, delivery, files, plane, lambda: serving.desk)
    app[CUSTOMERS] = _customers(app, records, files, tutorials, lambda: serving.desk)
    app[TOPIC_LABELS] = await _topic_labels(records)

    def floor(now: float) -> dict[str, Any]:
        picture = serving.desk.floor(now)
        for live in picture["calls"]:
            live.update(plane.status(live["call_id"]))
        return picture

    service_view = cast(Service, serving)
    namespaces, _ = _gateway(app, service_view, plane, delivery, tutorials, floor)
    presence = Presence(redis, node, settings.presence_ttl)  # one connection per party
    for namespace in namespaces:
        if isinstance(namespace, CustomerNamespace | AgentNamespace):
            namespace.presence = presence
    presence.start()
    kicks = Kicks(redis, node, derive_key(secret, KICKS_PURPOSE), partial(_kick_here, namespaces))
    kicks.start()
    app[KICK] = kicks.kick
    _publish(app, parts, service_view, plane, delivery, tutorials, namespaces)
    # The leader's pictures reach every node's supervisors (socket.io's Redis manager).
    wallboard = Wallboard(
        floor,
        delivery,
        serving.now,
        watching=lambda: serving.leading,
        interval=settings.wallboard_interval,
    )
    app[WALLBOARD] = wallboard
    led: list[tuple[Service, JournalWriter, PlacedCalls]] = []

    async def lead(epoch: int) -> None:
        """Take over: the desk this node's replica holds, if it has every entry after the
        last leader's last write (what it handled after, it carries out again); else the desk
        from the records. Journaled from its first snapshot on."""
        serving.hold()  # what this node's sockets ask now waits for the new leader's desk
        began = time.monotonic()
        caught_up = replica.desk is not None and await _caught_up(replica)
        await replica.close()
        await records.migrate()  # a newer version's first leader (at the newest: nothing)
        # The fence first: a deposed leader that wakes up writes nothing from now on. A
        # leader paused in the middle of a write holds the fence row until PostgreSQL ends
        # its idle transaction; one that holds it longer (busy, not paused) is not waited on:
        # the desk comes from the records.
        try:
            mark = await records.fence_and_mark(LEASE_NAME, epoch, lock_timeout=FENCE_WAIT)
        except Fenced:
            raise
        except Exception as exc:
            logger.warning("node %s: the fence is held (%s): the desk from the records", node, exc)
            mark = None
        continued = replica.take_over(mark) if caught_up else None
        if continued is not None:
            await take_over(epoch, continued, began)
            return
        if replica.desk is not None:
            logger.info("node %s: its replica cannot go on from %s: the records", node, mark)
        await join_again(epoch)
        config, labels = await _routing_config(records, settings)
        app[TOPIC_LABELS].update(labels)
        ids = Ids()
        desk = Desk(new_id=ids.draw, config=config)
        service, journal, placed = leader_parts(epoch, desk, ids)
        service.start(announce_every=settings.announce_interval)
        placed.start()
        await _restore(service, records, None)  # rooms come back where calls are placed
        await journal.start()  # its first snapshot: the restored desk (the replicas reset)
        serving.presence = presence
        serving.lead(service, placed)
        # A page that connected while the desk was restored read the old one: again.
        await join_again(epoch)
        await serve_followers(service, placed, unsure=True)
        logger.info(
            "node %s leads (epoch %d): desk restored, serving (%.2f s)",
            node,
            epoch,
            time.monotonic() - began,
        )

    async def take_over(epoch: int, took: Takeover, began: float) -> None:
        """Lead with the replica's desk: no page here or on the other nodes joins again."""
        desk = took.desk
        ids = Ids()
        desk.draw_ids_with(ids.draw)
        service, journal, placed = leader_parts(epoch, desk, ids)
        service.start(announce_every=settings.announce_interval)
        placed.start()
        calls = desk.live_media()
        placed.adopt(calls, fresh=took.fresh)  # before the effects that hand one over or end it
        service.carry_out_again(took.again, done=took.done, start=f"{epoch}:0")
        service.arm(desk.timers)
        # A follower whose request the dead leader decided but did not answer asks again: it
        # is answered as it was (from the records, such a request is refused for a while:
        # serve_followers).
        service.handled_origins(replica.origins)
        await journal.start(continues=replica.position)
        serving.presence = presence
        serving.lead(service, placed)
        await serve_followers(service, placed, unsure=False)
        logger.info(
            "node %s leads (epoch %d): desk went on from its replica (epoch %d entry %d), %d "
            "entries carried out again, %d timers armed, %d live calls kept or moved; serving "
            "(%.2f s)",
            node,
            epoch,
            *replica.position,
            len(took.again),
            len(desk.timers),
            len(calls),
            time.monotonic() - began,
        )

    def leader_parts(
        epoch: int, desk: Desk, ids: Ids
    ) -> tuple[Service, JournalWriter, PlacedCalls]:
        journal = JournalWriter(redis, journal_key, epoch, desk, ids)
        moves = _MediaMoves(lambda: serving, delivery)
        placed = PlacedCalls(
            local,
            bus,
            placement,
            node,
            policy_of=policy_of,
            settled=serving.settled,
            on_failure=media_failed,
            on_moved=moves.moved,
            before_each=leadership.check,
            restore=partial(_restore_room, records, rooms),
        )
        service = Service(
            desk,
            records=FencedRecords(records, lambda: leadership.epoch, leadership.lost),
            notifier=metrics.counting(DeskNotifier(delivery, partial(turn.ice_servers, settings))),
            media=placed,
            on_inbox_wait=metrics.inbox_wait.observe,
            integrations=app[WEBHOOKS],
            before_each=leadership.check,
            call_quality=placed.quality_summary,
            on_ticket_saved=tutorials.ticket_saved,
            journal=journal,
        )
        led.append((service, journal, placed))
        return service, journal, placed

    async def serve_followers(service: Service, placed: PlacedCalls, unsure: bool) -> None:
        """``unsure``: the desk came from the records (a request asked again that it does not
        know may have been decided by the last leader: refused while followers still ask)."""
        until = time.monotonic() + SUBMIT_WITHIN if unsure else 0.0
        door = LeaderDoor(service, placed, presence, unsure_until=until)
        from_media = partial(_from_media_nodes, placed, app[WEBHOOKS])

        async def desk_queue(verb: str, args: dict[str, Any]) -> Any:
            if verb not in DOOR_VERBS:
                return await from_media(verb, args)
            answer = await door.handle(verb, args)
            event = args.get("event")
            if isinstance(event, dict) and event.get("type") == "ConfigChanged":
                spawn(relabel(), "relabel")  # an admin on a follower: the labels follow here
            return answer

        desk_bus.serve(desk_queue)  # the followers' requests, to the restored desk
        # Parties of a node that died without telling anyone (its presence keys lapse).
        sweep = AbsentParties(
            serving, presence, every=settings.presence_ttl / 3, absent_for=settings.presence_ttl
        )
        spawn(sweep.run(after=settings.presence_ttl), "presence_sweep")
        await follower.close()
        await app[CUSTOMERS].finish_erasures()
        recordings.start_purging()

    async def lead_when_elected() -> None:
        epoch = await leadership.leading()
        try:
            await lead(epoch)
        except Exception:
            logger.exception("node %s could not take the lead: stepping down", node)
            leadership.lost()

    if leadership.epoch is not None:
        await lead(leadership.epoch)
    else:
        replica.start()
        # This node may win the lease before its replica is ready (the leader died, or one
        # of another version leads): then it leads rather than wait.
        leading = asyncio.ensure_future(lead_when_elected())
        tasks.add(leading)
        ready = asyncio.ensure_future(replica.ready())
        await asyncio.wait({leading, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if serving.leading:
            tasks.discard(leading)
        else:
            leading.add_done_callback(tasks.discard)
            logger.info("node %s follows the leader's desk (epoch %d)", node, replica.epoch)
    metrics.watch(lambda: serving.desk, hub)  # read at once: the desk is there now
    metrics.watch_leadership(lambda: serving.leading)
    wallboard.start()
    yield
    await wallboard.close()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await replica.close()
    await follower.close()
    await presence.stop()
    await kicks.close()
    left = await this_node.drain(0.0 if serving.leading else settings.media_drain_timeout)
    if left:
        logger.info("node %s: %d calls left to move", node, len(left))
    await desk_bus.close()  # no follower's request reaches a closing service
    for service, journal, placed in led:
        await service.close()
        await journal.close()
        await placed.close()
    await link.flush()
    await this_node.close()
    await bus.close()
    await hub.close()
    await recordings.close()  # after the hub: every recorder has finished its files
    await tutorials.close()
    await redis.aclose()


async def _topic_labels(records: Records) -> dict[str, str]:
    data = await records.load_config()
    return {row["topic"]: row["label"] for row in data["topics"]}


def _tutorials(
    app: web.Application,
    records: Records,
    delivery: SocketDelivery,
    files: LocalFiles,
    plane: CallPlane,
    desk: Callable[[], Desk],
) -> Tutorials:
    """The library and pushes; ``desk()`` is the desk now (a replica until this node leads)."""
    settings = app[SETTINGS]
    return Tutorials(
        records,
        TutorialRecords(records.engine),
        search_for(records.engine),
        delivery,
        files,
        _secret_key(settings),
        rooms=plane,
        agent_of=lambda call_id: _agent_of(desk(), call_id),
        session_of=lambda agent_id: desk().agent_session(agent_id),
        staff_link_ttl=settings.recording_link_ttl,
        customer_link_ttl=settings.tutorial_link_ttl,
        integrations=app[WEBHOOKS],
    )


def _customers(
    app: web.Application,
    records: Records,
    files: LocalFiles,
    tutorials: Tutorials,
    desk: Callable[[], Desk],
) -> Customers:
    settings = app[SETTINGS]
    return Customers(
        records,
        files,
        settings.data_dir,
        _secret_key(settings),
        open_ticket=lambda ticket_id: ticket_id in desk().tickets,
        drop_from_search=tutorials.search_port.drop,
    )


def _publish(
    app: web.Application,
    parts: CallParts,
    service: Service,
    plane: CallPlane,
    delivery: SocketDelivery,
    tutorials: Tutorials,
    namespaces: tuple[Any, ...],
) -> None:
    """What the HTTP layer reaches through the application."""
    app[NAMESPACES] = namespaces
    app[HUB] = parts.hub
    app[SERVICE] = service
    app[CONTENT] = parts.content
    app[ROOMS] = parts.rooms
    app[PLANE] = plane
    app[DELIVERY] = delivery
    app[RECORDINGS] = parts.recordings
    app[TUTORIALS] = tutorials


async def _kick_here(namespaces: tuple[Any, ...], staff_id: str) -> None:
    """Close a staff member's sockets on this node (console and wallboards)."""
    for namespace in namespaces:
        await namespace.kick(staff_id)


def _gateway(
    app: web.Application,
    service: Service,
    plane: CallPlane,
    delivery: SocketDelivery,
    tutorials: Tutorials,
    floor: Callable[[float], dict[str, Any]],
) -> tuple[tuple[Any, ...], SupervisorNamespace]:
    """The socket.io namespaces, registered: customers, agents, supervisors."""
    settings = app[SETTINGS]

    def per_connection() -> RateLimiter:
        return RateLimiter(
            rate=settings.socket_events_per_second, burst=settings.socket_events_burst
        )

    agents = AgentNamespace(
        service,
        plane,
        delivery,
        app[STAFF],
        per_connection(),
        tutorials,
        grace=settings.agent_grace,
    )
    supervisors = SupervisorNamespace(
        service,
        app[STAFF],
        per_connection(),
        lambda: floor(service.now()),
        lambda agent_id: app[KICK](agent_id),  # wherever their console is
        plane=plane,
        delivery=delivery,
    )
    namespaces = (
        CustomerNamespace(
            service,
            plane,
            delivery,
            app[TOKENS],
            per_connection(),
            partial(turn.ice_servers, settings),
            tutorials,
        ),
        agents,
        supervisors,
    )
    for namespace in namespaces:
        app[SIO].register_namespace(namespace)
    return namespaces, supervisors


async def _restore_room(records: Records, rooms: CallRooms, call_id: str) -> None:
    """A call opened again after a failover or a restart: its room as it was."""
    events = await records.call_events_of(call_id)
    if events:
        rooms.restore(call_id, events, await records.call_item_sizes(call_id))


@contextlib.asynccontextmanager
async def _placed_calls(
    app: web.Application,
    parts: CallParts,
    records: Records,
    media_failed: Callable[[str, str], None],
    policy_of: Callable[[str], tuple[str, str]],
    settled: Callable[[], Awaitable[None]],
    service_box: list[Service],
    delivery: SocketDelivery,
) -> AsyncIterator[PlacedCalls]:
    """``MEDIA_PLACEMENT``: this node holds the desk and places each call's media on the
    media node with the most room, itself included (videoassist/cluster/media_nodes.py). It
    serves the ``desk`` queue: what media nodes report (a failed call, webhooks to publish)."""
    from redis.asyncio import Redis  # the `cluster` extra

    from videoassist.cluster.call_bus import PURPOSE, CallBus
    from videoassist.cluster.media_nodes import DESK, MediaNode, PlacedCalls
    from videoassist.cluster.placement import Placement

    settings = app[SETTINGS]
    leadership = app.get(LEADERSHIP)
    node = _node_id(app)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    placement = Placement(redis)
    key = derive_key(_secret_key(settings), PURPOSE)  # every node signs with it
    largest = _largest_request(settings)
    bus = CallBus(redis, node, key, max_message=largest)
    desk_bus = CallBus(redis, DESK, key, max_message=largest)
    moves = _MediaMoves(lambda: service_box[0], delivery)
    placed = PlacedCalls(
        parts.plane,
        bus,
        placement,
        node,
        policy_of=policy_of,
        settled=settled,
        on_failure=media_failed,
        on_moved=moves.moved,
        before_each=leadership.check if leadership is not None else None,
        restore=partial(_restore_room, records, parts.rooms),
    )
    this_node = MediaNode(
        parts.plane,
        placement,
        node,
        settings.media_capacity,
        live=lambda: len(parts.hub.sessions),
    )
    await bus.start()
    await this_node.start()
    desk_bus.serve(partial(_from_media_nodes, placed, app[WEBHOOKS]))
    placed.start()
    logger.info("placing calls' media across media nodes (this node: %s)", node)
    try:
        yield placed
    finally:
        await this_node.drain()
        await placed.close()
        await this_node.close()
        await desk_bus.close()
        await bus.close()
        await redis.aclose()


class _MediaMoves:
    """A call's media moved to another node (``PlacedCalls`` ``on_moved``): the desk records
    the interruption and tells both parties; a supervisor watching the call is told here
    (their peer connection died with the node too)."""

    def __init__(self, service: Callable[[], Any], delivery: SocketDelivery) -> None:
        self._service = service
        self._delivery = delivery
        self._tasks: set[asyncio.Task[None]] = set()

    def moved(self, call_id: str, lost_at: float) -> None:
        service = self._service()
        service.post(MediaMoved(call_id, lost_at, service.now()))
        task = asyncio.create_task(self._tell_watchers(call_id), name=f"moved:{call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tell_watchers(self, call_id: str) -> None:
        session = self._service().desk.call_session(call_id)
        if session is not None:
            data = {"session_id": session.id}
            await self._delivery.to_watchers(call_id, ServerEvent.MEDIA_MOVED, data)


async def _from_media_nodes(
    placed: PlacedCalls, webhooks: IntegrationsPort, verb: str, args: dict[str, Any]
) -> None:
    """What media nodes tell the desk's node on its ``desk`` queue."""
    if verb == "media_failed":
        placed.failed_on(str(args["node"]), str(args["call_id"]), str(args.get("detail", "")))
    elif verb == "publish" and isinstance(args.get("data"), dict):
        # A media node of the previous version (a rolling upgrade); this version's write
        # their webhooks into the outbox themselves.
        webhooks.publish(str(args["event"]), args["data"])
    else:
        raise Refusal("unknown_verb", f"the desk has no verb {verb!r}")


def _node_id(app: web.Application) -> str:
    """This node's id: the lease's name for it, the setting, or host and pid."""
    from videoassist.cluster.leadership import default_node_id

    leadership = app.get(LEADERSHIP)
    if leadership is not None:
        return str(leadership.node_id)
    return app[SETTINGS].node_id or default_node_id()


async def _held_elsewhere(redis_url: str, node: str, call_ids: list[str]) -> set[str]:
    """Those of ``call_ids`` another live node carries (their recordings are being written);
    this node's own died with its process."""
    if not call_ids:
        return set()
    from redis.asyncio import Redis  # the `cluster` extra

    from videoassist.cluster.placement import Placement

    redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        placement = Placement(redis)
        live = {load.node for load in await placement.loads()} - {node}
        return {call_id for call_id in call_ids if await placement.where(call_id) in live}
    finally:
        await redis.aclose()


def _largest_request(settings: Settings) -> int:
    """A photo, base64-encoded, with room to spare: the call bus's size cap."""
    return max(8 * 2**20, settings.photo_max_bytes * 4 // 3 + 2**16)


def create_media_node(settings: Settings) -> web.Application:
    """``NODE_ROLE=media``: a node that carries calls' media for the desk's node and nothing
    else: no desk, no pages, no sockets of its own. It listens for health checks only; what it
    tells browsers reaches their sockets through Redis (docs/operations.md)."""
    guard = _guard(settings, TrustedProxies(settings.trusted_proxies))
    app = web.Application(middlewares=[guard.middleware])
    app[SETTINGS] = settings
    app[CONNECTION_GUARD] = guard

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "role": "media"})

    app.router.add_get("/healthz", healthz)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_media_node_ctx)
    if settings.metrics_port:
        app.cleanup_ctx.append(
            metrics_site(app[METRICS], settings.metrics_host, settings.metrics_port)
        )
    return app


async def _media_node_ctx(app: web.Application) -> AsyncIterator[None]:
    import socketio
    from redis.asyncio import Redis  # the `cluster` extra

    from videoassist.cluster.call_bus import PURPOSE, CallBus
    from videoassist.cluster.leadership import default_node_id
    from videoassist.cluster.media_nodes import DeskLink, MediaNode
    from videoassist.cluster.placement import Placement
    from videoassist.cluster.socket_bus import CHANNEL

    settings = app[SETTINGS]
    node = settings.node_id or default_node_id()
    records = Records.open(settings.db_url)  # the desk's node migrates it
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    key = derive_key(_secret_key(settings), PURPOSE)
    bus = CallBus(redis, node, key, max_message=_largest_request(settings))
    desk = DeskLink(bus, node)
    # What the recorder publishes (a recording finished) goes into the shared outbox from here:
    # written before this node stops, whether or not a desk's node answers meanwhile. The app
    # nodes' workers send it (a media node needs no WEBHOOK_* settings nor a way out).
    webhooks = _webhooks(settings, IntegrationRecords(records.engine))
    await webhooks.start(deliver=False)
    # Emits go to the browsers' sockets on whichever node holds them (the desk's node runs
    # the watched manager on the same channel); this node has no sockets of its own.
    emitter = socketio.AsyncRedisManager(
        settings.redis_url,
        channel=CHANNEL,
        write_only=True,
        redis_options={"socket_timeout": 5, "socket_connect_timeout": 5},  # never hang a call
    )
    delivery = SocketDelivery(emitter)
    policies: dict[str, tuple[str, str]] = {}

    async def settled() -> None:
        return None  # the desk's node opens a call here once the parties were told

    parts = await _call_parts(
        settings,
        records,
        delivery,
        on_failure=desk.media_failed,
        policy_of=lambda ticket_id: policies.get(ticket_id, ("", "off")),
        settled=settled,
        integrations=webhooks,
        node=node,
    )
    app[METRICS].watch_media(parts.hub)
    this_node = MediaNode(
        parts.plane,
        Placement(redis),
        node,
        settings.media_capacity,
        live=lambda: len(parts.hub.sessions),
        restore=partial(_restore_room, records, parts.rooms),
        policies=policies,
    )
    await bus.start()
    bus.serve(this_node.handle)
    await this_node.start()
    logger.info("media node %s: carrying up to %d calls", node, settings.media_capacity)
    yield
    # Stopped: no new calls; the live ones may finish; the desk moves those left (this node
    # leaves the placement on close).
    left = await this_node.drain(settings.media_drain_timeout)
    if left:
        logger.info("media node %s: %d calls left to move", node, len(left))
    await desk.flush()
    await bus.close()
    await this_node.close()
    await parts.hub.close()
    await parts.recordings.close()  # after the hub: every recorder has finished its files
    await webhooks.close()  # after the recorder: what it published is in the outbox
    await redis.aclose()
    await records.close()


def _agent_of(desk: Desk, call_id: str) -> str | None:
    """The current agent of a live call (after a warm transfer, the new one)."""
    session = desk.call_session(call_id)
    return session.agent_id if session is not None else None


async def _routing_config(
    records: Records, settings: Settings
) -> tuple[DeskConfig, dict[str, str]]:
    data = await records.load_config()
    if not data["queues"]:
        # First start: one queue and a few topics, so the help page works out of the box.
        await records.put_queue(DEFAULT_QUEUE, "General", {})
        for topic, label in STARTER_TOPICS:
            await records.put_topic(topic, label, DEFAULT_QUEUE, 0)
        data = await records.load_config()
    return desk_config(data, settings), {row["topic"]: row["label"] for row in data["topics"]}


def desk_config(data: dict[str, list[dict[str, Any]]], settings: Settings) -> DeskConfig:
    """Stored routing rows -> DeskConfig, with the server-wide defaults filled in; used at
    start-up and by the admin API after every change."""
    return config_from_records(
        data,
        ring_timeout=settings.ring_timeout,
        customer_grace=settings.customer_grace,
        call_resume_window=settings.call_resume_window,
        join_window=settings.join_window,
        max_joining=settings.max_joining,
        time_zone=settings.time_zone,
        day_starts_at=settings.day_starts_at,
    )


async def _caught_up(replica: Any) -> bool:
    """Whether the replica read the whole journal (a node about to lead); False if Redis did
    not answer."""
    try:
        return bool(await replica.caught_up())
    except Exception as exc:
        logger.warning("the journal could not be read to its end: %s", exc)
        return False


async def _restore(service: Service, records: Records, rooms: CallRooms | None) -> None:
    """After a restart: waiting customers and callbacks come back in their order, calls that
    were live wait ``CALL_RESUME_WINDOW`` for their parties to reconnect (new peer connections
    on this node; without a window they end as ``server_restart``), and agents who were Ready
    resume Ready on return. A restored call's room comes back from its event log."""
    now = service.now()
    calls = tuple(await records.live_calls()) if service.desk.config.call_resume_window > 0 else ()
    interrupted = await records.close_interrupted(now, keep=calls)
    rows = await records.open_tickets()
    states = await records.last_agent_states()
    if not rows and not states and not calls:
        return
    tickets = tuple(
        RestoredTicket(
            id=row["id"],
            topic=row["topic"],
            description=row["description"],
            queue_id=row["queue_id"],
            priority=row["priority"],
            queued_at=row["queued_at"],
            callback=bool(row["callback"]),
            customer_ref=row["customer_ref"],
            device_id=row["device_id"],
            line_since=row["line_since"],
            joined=row["status"] != "joining",
        )
        for row in rows
    )
    await service.submit(Restored(tickets, states, now, calls))
    for call in calls:  # their rooms as they were: chat, stills, photos and their marks
        if rooms is None:
            break
        rooms.restore(
            call.call_id,
            await records.call_events_of(call.call_id),
            await records.call_item_sizes(call.call_id),
        )
    logger.info(
        "restored %d waiting tickets, %d agent states, %d live calls awaiting their parties; "
        "%d calls ended by the restart",
        len(tickets),
        len(states),
        len(calls),
        interrupted,
    )


async def _drain(app: web.Application) -> None:
    service = app.get(SERVICE)
    leading = getattr(service, "leading", True)  # with every node serving: this node leads
    if service is None or (leading and service.desk.draining):
        return  # on_shutdown may run more than once (runner.shutdown, then cleanup)
    timeout = app[SETTINGS].drain_timeout
    if leading:
        logger.info("draining: refusing new taps, ending live sessions")
        try:
            async with asyncio.timeout(timeout):
                await service.submit(DrainStarted(service.now()))
        except Exception:
            logger.exception("drain did not finish cleanly")
    else:  # a follower: the desk goes on; its parties reconnect to another node
        logger.info("draining: this node's parties go to another node")
    try:
        async with asyncio.timeout(timeout):
            for namespace in app[NAMESPACES]:
                await namespace.disconnect_all()
            # A namespace's disconnect leaves the browser's Engine.IO connection (its
            # websocket) open, and so does Engine.IO's own: it sends a CLOSE packet, which
            # socket.io-client 4 does not answer, and its websocket handler then waits for
            # the client. The HTTP server waits on each such handler until Engine.IO gives
            # the page up (ping interval + timeout, 10 s) or its own shutdown timeout runs out
            # twice: stopping took 10 s more with pages open. python-engineio 4.15
            # (pinned): its websocket writer closes the websocket when it takes None off the
            # socket's queue.
            eio = app[SIO].eio
            for sid, socket in list(eio.sockets.items()):
                try:
                    await socket.close(wait=False)  # one stuck socket must not hold the rest
                except Exception:
                    logger.exception("Engine.IO socket %s did not close cleanly", sid)
                finally:
                    socket.queue.put_nowait(None)
                    eio.sockets.pop(sid, None)
            await app[SIO].shutdown()
    except Exception:
        logger.exception("socket.io shutdown did not finish cleanly")
