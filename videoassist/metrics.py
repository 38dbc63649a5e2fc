"""Prometheus metrics, served on a port of their own (``METRICS_PORT``), never on the public one.

What is state is read from its owner when Prometheus scrapes (queue depth, agents by state,
live calls, peer connections), so nothing here can drift from the desk or the hub. What is a
count of happenings is counted as it happens, by wrapping the service's notify port (offers,
missed offers, calls started and ended by reason) and by the service's inbox hook (how long an
event waited for the one writer). A small task measures the event loop's lag.

Each application has its own registry: no module-level metric objects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as CounterMetric
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from videoassist.desk import Desk, ServerEvent
from videoassist.desk.events import Party
from videoassist.service import NotifierPort

logger = logging.getLogger(__name__)

LAG_EVERY = 0.5  # seconds between event-loop lag probes


class MediaStats(Protocol):
    peer_connections: int

    @property
    def sessions(self) -> Mapping[str, Any]: ...


class FloorCollector(Collector):
    """Read at scrape time from the desk."""

    def __init__(self, desk: Callable[[], Desk]) -> None:
        self._desk = desk  # the desk now (with several nodes serving, a replica until this leads)

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "videoassist_queue_waiting", "Customers waiting in the queue", labels=["queue"]
        )
        staffed = GaugeMetricFamily(
            "videoassist_queue_agents_staffed",
            "Agents who may take the queue and are not away",
            labels=["queue"],
        )
        expected = GaugeMetricFamily(
            "videoassist_queue_expected_wait_seconds",
            "Expected wait of a new arrival (absent when nobody is staffed)",
            labels=["queue"],
        )
        answered = GaugeMetricFamily(
            "videoassist_queue_answered", "Calls answered since start", labels=["queue"]
        )
        abandoned = GaugeMetricFamily(
            "videoassist_queue_abandoned", "Customers who left before an answer", labels=["queue"]
        )
        for row in self._desk().queue_snapshot(time.time()):
            waiting.add_metric([row["id"]], row["waiting"])
            staffed.add_metric([row["id"]], row["staffed"])
            if row["expected_wait"] is not None:
                expected.add_metric([row["id"]], row["expected_wait"])
            answered.add_metric([row["id"]], row["answered"])
            abandoned.add_metric([row["id"]], row["abandoned"])
        yield from (waiting, staffed, expected, answered, abandoned)
        agents = GaugeMetricFamily(
            "videoassist_agents", "Signed-in agents by state", labels=["state"]
        )
        for state, count in sorted(self._desk().agents_by_state().items()):
            agents.add_metric([state], count)
        yield agents


class MediaCollector(Collector):
    """Read at scrape time from the media hub (every node that carries calls)."""

    def __init__(self, media: MediaStats) -> None:
        self._media = media

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "videoassist_live_calls",
            "Calls with media on this node",
            value=len(self._media.sessions),
        )
        yield GaugeMetricFamily(
            "videoassist_peer_connections",
            "WebRTC peer connections on this node",
            value=self._media.peer_connections,
        )


class Metrics:
    """The application's registry and the instruments the shells feed."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.notified = CounterMetric(
            "videoassist_notifications",
            "Desk notifications sent, by event (offer, offer_missed, matched, ...)",
            ["event"],
            registry=self.registry,
        )
        self.inbox_wait = Histogram(
            "videoassist_inbox_wait_seconds",
            "How long an event waited in the service inbox before the desk took it",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "videoassist_event_loop_lag_seconds",
            "How late the event loop woke a task that asked to sleep",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )

    def watch(self, desk: Callable[[], Desk], media: MediaStats) -> None:
        self.registry.register(FloorCollector(desk))
        self.watch_media(media)

    def watch_media(self, media: MediaStats) -> None:
        """A media node (``NODE_ROLE=media``) has no desk: its calls and peer connections."""
        self.registry.register(MediaCollector(media))

    def watch_leadership(self, leading: Callable[[], bool]) -> None:
        """With every node serving (``DESK_REPLICAS``): which node holds the desk now."""
        gauge = Gauge(
            "videoassist_leading",
            "1 on the node that leads (holds the desk), 0 on a node that follows its replica",
            registry=self.registry,
        )
        gauge.set_function(lambda: 1.0 if leading() else 0.0)

    def counting(self, notifier: NotifierPort) -> NotifierPort:
        return CountingNotifier(notifier, self)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(LAG_EVERY)
            self.loop_lag.observe(max(0.0, loop.time() - asked - LAG_EVERY))


class CountingNotifier:
    def __init__(self, inner: NotifierPort, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def notify(
        self, to: Party, target_id: str, event: ServerEvent, data: Mapping[str, object]
    ) -> None:
        self._metrics.notified.labels(event=str(event)).inc()
        await self._inner.notify(to, target_id, event, data)


def metrics_site(metrics: Metrics, host: str, port: int) -> Any:
    """A cleanup context that serves ``/metrics`` on (host, port) and measures loop lag."""

    async def serve(_: web.Application) -> AsyncIterator[None]:
        async def scrape(request: web.Request) -> web.Response:
            return web.Response(
                body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        lag = asyncio.create_task(metrics.measure_lag(), name="Metrics.loop_lag")
        logger.info("metrics on http://%s:%d/metrics", host, port)
        try:
            yield
        finally:
            lag.cancel()
            await asyncio.gather(lag, return_exceptions=True)
            await runner.cleanup()

    return serve
