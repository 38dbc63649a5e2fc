"""Settings: the only module that reads the environment.

Every knob has an embedded default so ``videoassist serve`` runs with nothing configured.
Environment variables are named ``VIDEOASSIST_<FIELD>`` (upper case).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from videoassist.desk.config import parse_hhmm

if TYPE_CHECKING:
    from videoassist.login_throttle import LoginPolicy

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = ROOT / "var"
    database_url: str = ""  # default: sqlite file in data_dir
    # Redis for socket.io delivery across nodes (the `cluster` extra); empty: in-process.
    redis_url: str = ""
    # With redis_url: serve only while holding the leader lease; other nodes wait as hot
    # standbys (videoassist/cluster/leadership.py). The lease lapses this many seconds after
    # its holder stops renewing it; node_id names this node in it (default host-pid).
    leader_lease: bool = False
    leader_lease_ttl: float = 10.0
    node_id: str = ""
    # With leader_lease and media_placement: every node serves sockets and pages, not only the
    # leader; the others read a replica of the leader's desk and ask the leader for changes
    # (videoassist/cluster/followers.py). Each node carries calls' media too (media_capacity).
    desk_replicas: bool = False
    # With desk_replicas: a node's parties count as connected nowhere this long after it died
    # (videoassist/cluster/presence.py); the leader then tells the desk they left.
    presence_ttl: float = 15.0
    # Calls' media across nodes (videoassist/cluster/media_nodes.py), with redis_url:
    # node_role "media" runs a media node only (no desk, no pages: it carries the calls the
    # leader places on it); media_placement on the desk's node places each new call on the
    # media node with the most room, itself included; media_capacity: calls this node takes.
    node_role: str = "all"
    media_placement: bool = False
    media_capacity: int = 16
    # A media node told to stop (SIGTERM) takes no new calls and lets its live ones finish
    # this long; the desk's node then moves those still live to another node.
    media_drain_timeout: float = 120.0
    web_dir: Path = ROOT / "web"
    # Signing key for customer tickets; empty: one is generated once and kept in data_dir.
    secret_key: str = ""
    ring_timeout: float = 20.0  # default for queues that do not set their own
    customer_grace: float = 60.0
    call_resume_window: float = 30.0
    # An agent console that drops in wrap-up or Away keeps that state this long (a reload).
    agent_grace: float = 10.0
    join_window: float = 15.0  # a tap's page must connect within this, or the ticket is dropped
    max_joining: int = 30  # per queue: tickets whose page has not connected yet
    announce_interval: float = 1.0
    # The supervisors' wallboard: "today" starts at this local time ("HH:MM") in this IANA
    # time zone; the picture is looked at this often and pushed when it changed.
    day_starts_at: str = "00:00"
    time_zone: str = "UTC"
    wallboard_interval: float = 0.5
    ticket_ttl: float = 2 * 3600.0
    staff_session_ttl: float = 12 * 3600.0
    secure_cookies: bool = False  # set true behind a TLS-terminating proxy; on with tls_cert
    # Built-in TLS (docs/deploy.md): both files, PEM. Then HTTPS and WSS only, with HSTS.
    tls_cert: str = ""
    tls_key: str = ""
    redirect_port: int = 0  # with TLS: a plain-HTTP port that only redirects to HTTPS; 0 = none
    # ICE servers handed to browsers and used by the server's peer connections.
    # Never None: aiortc would fall back to a public STUN server.
    ice_servers: tuple[dict[str, Any], ...] = ()
    # Local addresses the media server gathers ICE candidates on; empty = every interface.
    media_addresses: tuple[str, ...] = ()
    media_connect_timeout: float = 15.0
    # UDP ports the media server's ICE candidates use, "FIRST-LAST" (a firewall opens just
    # these); empty: any free port.
    media_port_range: str = ""
    # "encoded": forward what each party sends as-is (decode only the customer's video, for
    # stills and sticky marks); "transcode": decode and re-encode every stream (the old path,
    # several times the CPU; kept as a baseline for bench/media_forwarding.py).
    media_forwarding: str = "encoded"
    # TURN (coturn with use-auth-secret, see turn/): empty = off. Every participant and every
    # server leg gets its own short-lived credentials (videoassist/turn.py).
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""  # coturn's static-auth-secret
    turn_ttl: float = 600.0  # lifetime of minted TURN credentials, seconds
    max_peer_connections: int = 200
    client_max_size: int = 64 * 1024
    socket_max_message: int = 64 * 1024
    allowed_origins: tuple[str, ...] = ()  # empty: same origin only
    # The address customers reach the server at ("https://help.example.com"), for links that
    # leave the browser (the QR codes printed on manuals); empty: the request's own.
    public_url: str = ""
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client for
    # per-address limits (videoassist/client_address.py); empty: trust none.
    trusted_proxies: tuple[str, ...] = ()
    # Serve web/testing/ (pages only the test suite opens) under /testing/. Never in production.
    test_pages: bool = False
    # Slow or hoarding clients (videoassist/http/guard.py): seconds a request's headers, and
    # then its body, may take to arrive; connections one address may hold (0: no cap).
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections_per_address: int = 100
    embed_secret: str = ""  # shared with the embedding app to sign customer identities (JWT)
    # Refuse a help request without a valid signed identity (an app whose users all sign in).
    identity_required: bool = False
    frame_ancestors: str = "'none'"  # CSP frame-ancestors: who may embed our pages
    # The login throttle (docs/configuration.md, videoassist/login_throttle.py): wrong
    # passwords allowed before waits begin, per name from one address, per address, and per name
    # from everywhere (devices that never logged in to that name only); then the first wait,
    # doubling with each failure up to the most; a key quiet this long is forgotten.
    login_max_failures: int = 5
    login_address_max_failures: int = 30
    login_account_max_failures: int = 100
    login_backoff: float = 1.0
    login_backoff_max: float = 900.0
    login_forget_after: float = 86_400.0
    taps_per_minute: float = 6.0
    taps_burst: int = 5
    socket_events_per_second: float = 20.0
    socket_events_burst: int = 60
    drain_timeout: float = 5.0
    photo_max_bytes: int = 8 * 1024 * 1024
    # Recordings (docs/media.md): deleted this many days after they end; 0 keeps them forever.
    recording_retention_days: float = 30.0
    # Lifetime of a signed link to a recording file (trainers, supervisors, admins), seconds.
    recording_link_ttl: float = 600.0
    # Lifetime of a tutorial video link handed to a customer (pushed or listed), seconds.
    tutorial_link_ttl: float = 7200.0
    # Public tutorial reads (no login) per address.
    public_reads_per_minute: float = 60.0
    public_reads_burst: int = 20
    # Prometheus /metrics on a listener of its own, never on the public port; 0 = off.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    photos_per_minute: float = 6.0  # per customer
    photos_burst: int = 5
    photo_max_per_call: int = 30
    photo_max_call_bytes: int = 64 * 1024 * 1024  # stored (re-encoded) bytes of one call's photos
    # Outbound webhooks (docs/integrations.md): endpoints on loopback or private addresses
    # are refused unless this is on (tests, or receivers inside the operator's network); each
    # send waits this long; a delivery is tried this many times, the first retry after
    # webhook_backoff seconds, doubling (with jitter) up to webhook_backoff_max; at most this
    # many sends in flight per endpoint.
    webhook_allow_private: bool = False
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 8
    webhook_backoff: float = 10.0
    webhook_backoff_max: float = 3600.0
    webhook_concurrency: int = 4

    def __post_init__(self) -> None:
        if self.turn_urls and not self.turn_secret:
            raise ValueError("turn_secret is required when turn_urls is set")
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"turn_urls: {url!r} is not a turn: or turns: URL")
        if self.media_forwarding not in ("encoded", "transcode"):
            raise ValueError("media_forwarding must be 'encoded' or 'transcode'")
        if self.join_window <= 0:
            raise ValueError("join_window must be positive")
        if self.max_joining < 1:
            raise ValueError("max_joining must be at least 1")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone: unknown time zone {self.time_zone!r}") from None
        if parse_hhmm(self.day_starts_at) is None:
            raise ValueError("day_starts_at must be a time of day as HH:MM, 00:00 to 23:59")
        if not 0 < self.wallboard_interval <= 1:
            raise ValueError("wallboard_interval must be above 0 and at most 1 second")
        if self.turn_ttl <= 0:
            raise ValueError("turn_ttl must be positive")
        if self.media_port_range:
            self.media_ports()  # refuses a malformed range at start
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if self.redirect_port and not self.tls_cert:
            raise ValueError("redirect_port needs TLS (tls_cert and tls_key)")
        if self.identity_required and not self.embed_secret:
            raise ValueError("identity_required needs embed_secret (to check identities with)")
        if self.embed_secret and len(self.embed_secret) < 32:
            raise ValueError("embed_secret must have at least 32 characters")
        self.login_policy()  # refuses nonsense at start
        from videoassist.client_address import TrustedProxies

        TrustedProxies(self.trusted_proxies)  # refuses what is not an address or CIDR
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise ValueError("header_timeout and body_timeout must be positive")
        if self.webhook_timeout <= 0 or self.webhook_backoff <= 0:
            raise ValueError("webhook_timeout and webhook_backoff must be positive")
        if self.webhook_max_attempts < 1 or self.webhook_concurrency < 1:
            raise ValueError("webhook_max_attempts and webhook_concurrency must be at least 1")
        if self.leader_lease and not self.redis_url:
            raise ValueError("leader_lease needs redis_url")
        if self.node_id and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", self.node_id):
            raise ValueError("node_id: letters, digits, '.', '_' and '-', 64 at most")
        if self.node_role not in ("all", "media"):
            raise ValueError("node_role must be all or media")
        if (self.node_role == "media" or self.media_placement) and not self.redis_url:
            raise ValueError("node_role media and media_placement need redis_url")
        if self.desk_replicas and not (self.leader_lease and self.media_placement):
            raise ValueError("desk_replicas needs leader_lease and media_placement")
        if not 1 <= self.presence_ttl <= 120:
            raise ValueError("presence_ttl must be from 1 to 120 seconds")
        if self.media_capacity < 0:
            raise ValueError("media_capacity must be 0 or more")
        if not 0.5 <= self.leader_lease_ttl <= 10:
            raise ValueError("leader_lease_ttl must be from 0.5 to 10 seconds")
        if self.public_url:
            parts = urlsplit(self.public_url)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or parts.username
            ):
                raise ValueError(
                    f"public_url {self.public_url!r}: want scheme://host[:port], no path"
                )
        if self.max_connections_per_address < 0:
            raise ValueError("max_connections_per_address must be 0 (no cap) or more")

    def login_policy(self) -> LoginPolicy:
        from videoassist.login_throttle import LoginPolicy

        return LoginPolicy(
            free_account_address=self.login_max_failures,
            free_address=self.login_address_max_failures,
            free_account=self.login_account_max_failures,
            backoff=self.login_backoff,
            backoff_max=self.login_backoff_max,
            forget_after=self.login_forget_after,
        )

    def media_ports(self) -> tuple[int, int] | None:
        """(first, last) of MEDIA_PORT_RANGE, or None for any port."""
        if not self.media_port_range:
            return None
        first, sep, last = self.media_port_range.partition("-")
        try:
            low, high = int(first), int(last)
        except ValueError:
            low = high = -1
        if not sep or not 1024 <= low <= high <= 65535:
            raise ValueError(
                f"media_port_range {self.media_port_range!r}: want FIRST-LAST with "
                "1024 <= FIRST <= LAST <= 65535"
            )
        return low, high

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    @property
    def cookies_secure(self) -> bool:
        return self.secure_cookies or self.tls

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'videoassist.db'}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def from_env(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"VIDEOASSIST_{f.name.upper()}")
        if raw is None:
            continue
        default = None if f.default is MISSING else f.default
        values[f.name] = _parse(f.name, raw, default)
    values.update(overrides)
    try:
        return Settings(**values)
    except ValueError as exc:
        raise SystemExit(f"settings: {exc}") from None


def _parse(name: str, raw: str, default: Any) -> Any:
    try:
        if name == "ice_servers":
            servers = json.loads(raw)
            if not isinstance(servers, list):
                raise ValueError("expected a JSON list")
            return tuple(servers)
        if name in ("media_addresses", "allowed_origins", "turn_urls"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if name in ("data_dir", "web_dir"):
            return Path(raw)
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return raw
    except ValueError as exc:
        raise SystemExit(f"VIDEOASSIST_{name.upper()}: {exc}") from None
