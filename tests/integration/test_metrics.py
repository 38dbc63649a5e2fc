"""Prometheus metrics on their own port: what the floor looks like, and what happened."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.calls import live_call, ready_agent
from tests.support.harness import Harness
from tests.support.harness import test_settings as settings_for
from tests.support.ports import free_port


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as r,
    ):
        assert r.status == 200
        text = await r.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_show_the_line_the_agents_and_the_calls(tmp_path: Path) -> None:
    port = free_port()
    harness = Harness(settings_for(tmp_path, metrics_port=port))
    await harness.start()
    try:
        await harness.customer((await harness.tap())["token"])  # a tap whose page connected
        await harness.service.settled()
        seen = await scrape(port)
        assert seen[("videoassist_queue_waiting", (("queue", "general"),))] == 1
        assert seen[("videoassist_live_calls", ())] == 0

        await ready_agent(harness)
        await harness.service.settled()
        seen = await scrape(port)
        assert seen[("videoassist_notifications_total", (("event", "offer"),))] >= 1
        assert seen[("videoassist_inbox_wait_seconds_count", ())] >= 2
        assert ("videoassist_agents", (("state", "offered"),)) in seen
    finally:
        await harness.stop()


async def test_a_live_call_counts_on_the_node_and_metrics_stay_off_the_public_port(
    tmp_path: Path,
) -> None:
    port = free_port()
    harness = Harness(settings_for(tmp_path, metrics_port=port))
    await harness.start()
    try:
        await live_call(harness)
        seen = await scrape(port)
        assert seen[("videoassist_live_calls", ())] == 1
        assert seen[("videoassist_agents", (("state", "busy"),))] == 1
        assert harness.http is not None
        async with harness.http.get("/metrics") as r:
            assert r.status == 404
    finally:
        await harness.stop()
