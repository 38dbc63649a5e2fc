"""Typed application keys: all state hangs off the Application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import socketio
from aiohttp import web

from videoassist.api_tokens import ApiTokens
from videoassist.auth import StaffAuth, StaffDevices, TicketTokens
from videoassist.call_content import CallContent
from videoassist.call_plane import CallPlane
from videoassist.call_room import CallRooms
from videoassist.client_address import TrustedProxies
from videoassist.customers import Customers
from videoassist.delivery import SocketDelivery
from videoassist.embedding import Origins
from videoassist.floor import Wallboard
from videoassist.gateway import AgentNamespace, CustomerNamespace, SupervisorNamespace
from videoassist.http.guard import ConnectionGuard
from videoassist.login_throttle import LoginThrottle
from videoassist.media.hub import MediaHub
from videoassist.metrics import Metrics
from videoassist.ratelimit import Limiter
from videoassist.recording import Recordings
from videoassist.service import Service
from videoassist.settings import Settings
from videoassist.store.records import Records
from videoassist.tutorials import Tutorials
from videoassist.webhooks import Webhooks

if TYPE_CHECKING:  # the `cluster` extra (redis) is not loaded unless LEADER_LEASE is on
    from videoassist.cluster.leadership import Leadership

SETTINGS = web.AppKey("settings", Settings)
EMBED_ORIGINS = web.AppKey("embed_origins", Origins)  # sites allowed to embed (embedding.py)
CUSTOMERS = web.AppKey("customers", Customers)  # lookup, export, erasure (customers.py)
RECORDS = web.AppKey("records", Records)
SERVICE = web.AppKey("service", Service)
HUB = web.AppKey("hub", MediaHub)
STAFF = web.AppKey("staff", StaffAuth)
TOKENS = web.AppKey("tokens", TicketTokens)
STAFF_DEVICES = web.AppKey("staff_devices", StaffDevices)
SIO = web.AppKey("sio", socketio.AsyncServer)
NAMESPACES = web.AppKey(
    "namespaces", tuple[CustomerNamespace | AgentNamespace | SupervisorNamespace, ...]
)
TOPIC_LABELS = web.AppKey("topic_labels", dict[str, str])
# Close a staff member's sockets wherever they are (a logout, a disabled account; with every
# node serving, on every node: videoassist/cluster/kicks.py).
KICK: web.AppKey[Callable[[str], Awaitable[None]]] = web.AppKey("kick")
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
TAP_LIMIT = web.AppKey("tap_limit", Limiter)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)
PHOTO_LIMIT = web.AppKey("photo_limit", Limiter)  # photos per customer (ticket)
CONTENT = web.AppKey("content", CallContent)
ROOMS = web.AppKey("rooms", CallRooms)
PLANE = web.AppKey("plane", CallPlane)  # the live calls (videoassist/call_plane.py)
METRICS = web.AppKey("metrics", Metrics)
DELIVERY = web.AppKey("delivery", SocketDelivery)
RECORDINGS = web.AppKey("recordings", Recordings)
WALLBOARD = web.AppKey("wallboard", Wallboard)
TUTORIALS = web.AppKey("tutorials", Tutorials)
PUBLIC_LIMIT = web.AppKey("public_limit", Limiter)  # public tutorial reads per address
# LEADER_LEASE: this node's hold on the leader lease (cluster/leadership.py)
LEADERSHIP: web.AppKey[Leadership] = web.AppKey("leadership")
API_TOKENS = web.AppKey("api_tokens", ApiTokens)
WEBHOOKS = web.AppKey("webhooks", Webhooks)
