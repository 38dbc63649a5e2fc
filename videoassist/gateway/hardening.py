"""Hardening of python-socketio and python-engineio against malformed input.

These classes hook private parts of the libraries; each names what it relies on. The versions
they were written and tested against are pinned in pyproject.toml: python-socketio 5.18 and
python-engineio 4.15. tests/integration/test_fuzz.py (raw frames, malformed
packets, reserved and unknown event names) fails if an upgrade changes what they hook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet

from videoassist.embedding import Origins
from videoassist.gateway.acks import error

logger = logging.getLogger(__name__)


class _StrictPacket(packet.Packet):
    """socket.io's packet, refusing at decoding what the JavaScript server's decoder refuses
    ("invalid payload"): an event whose payload is not a non-empty array, an ack whose payload
    is not an array. python-socketio would index into such a payload and fail with a logged
    traceback; a ValueError here makes GuardedServer close the connection instead. So does
    JSON nested deeper than the decoder can go (thousands of levels): ``json.loads`` raises
    RecursionError, which engine.io would log with a traceback per frame, leaving the
    connection open and the event unanswered."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
        except (TypeError, LookupError) as exc:  # e.g. a binary frame that is not an attachment
            raise ValueError(f"undecodable packet ({exc})") from None
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        data = self.data
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            valid = isinstance(data, list) and len(data) > 0
        elif self.packet_type in (packet.ACK, packet.BINARY_ACK):
            valid = isinstance(data, list)
        else:
            valid = True
        if not valid:
            raise ValueError("invalid payload")
        return attachments


class _CheckedWebSocket(eio_aiohttp.WebSocket):
    """engine.io decodes each websocket frame outside its own error handling: a frame that is
    not an engine.io packet (empty, no packet type, bad base64) fails the whole request with a
    traceback logged at ERROR and leaves that socket's writer task waiting until the ping
    timeout; an unknown packet type ("7") logs a traceback for every frame. Here such a frame
    ends the connection like a closed socket, which engine.io handles. (Installed by
    GuardedServer; python-engineio is pinned by python-socketio 5.18, and
    tests/integration/test_fuzz.py::TestRawFrames covers it.)"""

    async def wait(self) -> Any:
        data = await super().wait()
        try:
            kind = eio_packet.Packet(encoded_packet=data).packet_type
        except ValueError as exc:
            kind, problem = None, str(exc)
        else:
            problem = f"unknown packet type {kind}"
        if kind is None or not 0 <= kind < len(eio_packet.packet_names):
            logger.info("Gateway: closing a websocket that sent a malformed frame (%s)", problem)
            raise OSError("not an engine.io packet")
        return data


class GuardedServer(socketio.AsyncServer):
    """python-socketio would route a client-sent event named "connect" or "disconnect" to the
    connection handlers, pass extra arguments through, and ack unknown events with nothing.
    Here every event is one payload for a handler that exists, or an error ack. (This hooks a
    private method; python-socketio is pinned to 5.18 and tests/integration cover it.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eio._async = {**self.eio._async, "websocket": _CheckedWebSocket}
        # python-socketio 5.18 serves the root namespace "/" to anyone unless told which
        # namespaces exist (``namespaces or ['/']``: an empty list cannot be passed in). Only
        # namespaces with a registered handler are served; "/" has none, so it is refused with
        # CONNECT_ERROR, as unknown namespaces are.
        self.namespaces: list[str] = []
        # python-engineio 4.15 logs a refused origin at ERROR the first time
        # (``_log_error_once``, key "bad-origin"), then at INFO on a logger we keep at ERROR.
        # Marking it seen silences engine.io; same_origin logs one INFO line of its own.
        self.eio.log_message_keys.add("bad-origin")

    async def _handle_event_internal(
        self,
        server: socketio.AsyncServer,
        sid: str,
        eio_sid: str,
        data: list[Any],
        namespace: str,
        id: int | None,
    ) -> None:
        name = data[0] if data else None
        handlers = self.namespace_handlers.get(namespace)
        problem = None
        known = (
            isinstance(name, str)
            and name not in self.reserved_events
            and callable(getattr(handlers, f"on_{name}", None))
        )
        if not known:
            problem = error("unknown_event", f"no such event: {name!r}")
        elif len(data) > 2:
            problem = error("invalid", "send one payload object per event")
        if problem is None:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        elif id is not None:
            ack = self.packet_class(packet.ACK, namespace=namespace, id=id, data=[problem])
            await self._send_packet(eio_sid, ack)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A packet socket.io cannot accept (bad JSON, an integer of over 100 digits, an unknown
        packet type, a stray or mismatched binary attachment) closes that connection, as the
        JavaScript server does. python-socketio raises ValueError for these (and the binary
        reconstruction LookupError/TypeError); uncaught, engine.io logs a traceback at ERROR
        for every such packet and the event is never answered. (tests/integration/test_fuzz.py)"""
        if eio_sid not in self.environ:
            return  # a message still in flight from a connection that has been closed
        attachment = eio_sid in self._binary_packet
        if not data and not attachment:  # skips decoding: an "event" with no payload at all
            await self._refuse_packet(eio_sid, ValueError("empty packet"))
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:
            await self._refuse_packet(eio_sid, exc)
        except (LookupError, TypeError) as exc:
            if not attachment:
                raise
            await self._refuse_packet(eio_sid, exc)

    async def _refuse_packet(self, eio_sid: str, exc: Exception) -> None:
        logger.info("Gateway: closing connection %s: malformed packet (%s)", eio_sid, exc)
        self._binary_packet.pop(eio_sid, None)
        await self.eio.disconnect(eio_sid)


def same_origin(
    extra_origins: Origins | tuple[str, ...],
) -> Callable[[str | None, dict[str, Any]], bool]:
    """The socket.io handshake's origin check: this site, or an allowed embedding origin.

    engine.io's own same-origin check takes the page's scheme from X-Forwarded-Proto or else
    assumes http (python-engineio 4.15's aiohttp driver), so it refused every page served over
    the built-in TLS. This one asks aiohttp whether the connection itself is secure (the
    environ's "aiohttp.request", set by that driver), and honours a proxy's forwarded scheme and
    host as engine.io does."""
    allowed = extra_origins if isinstance(extra_origins, Origins) else Origins(extra_origins)

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return False
        if origin in allowed:
            return True
        request = environ.get("aiohttp.request")
        schemes = {"https" if request is not None and request.secure else "http"}
        hosts = {environ.get("HTTP_HOST")}
        if proto := environ.get("HTTP_X_FORWARDED_PROTO"):
            schemes.add(proto.split(",")[0].strip())
        if forwarded_host := environ.get("HTTP_X_FORWARDED_HOST"):
            hosts.add(forwarded_host.split(",")[0].strip())
        if origin in {f"{scheme}://{host}" for scheme in schemes for host in hosts if host}:
            return True
        # Anyone can send this: one quiet line, the origin cut short. engine.io asks twice per
        # refused request (the check, then the answer's CORS headers): the environ is the same.
        if not environ.get("videoassist.origin_refused"):
            environ["videoassist.origin_refused"] = True
            logger.info("Gateway: refused a socket.io handshake from origin %.100r", origin)
        return False

    return check


def create_socket_server(
    *,
    allowed_origins: Origins | tuple[str, ...],
    max_message: int,
    client_manager: socketio.AsyncManager | None = None,
) -> socketio.AsyncServer:
    """``client_manager``: None keeps rooms in this process; a Redis manager spreads emits
    over every node (videoassist/cluster/socket_bus.py)."""
    return GuardedServer(
        async_mode="aiohttp",
        client_manager=client_manager,
        transports=["websocket"],
        serializer=_StrictPacket,
        # This site, or an embedding site of the list.
        cors_allowed_origins=same_origin(allowed_origins),
        max_http_buffer_size=max_message,
        # Engine.IO's ping/pong is the consoles' heartbeat: a console that stops answering is
        # disconnected (and its agent signed out) within ping_interval + ping_timeout = 10 s.
        ping_interval=5,
        ping_timeout=5,
    )
