"""The leadership gauge follows the node's role as it changes (every node serving)."""

from __future__ import annotations

from videoassist.metrics import Metrics


def _value(metrics: Metrics, name: str) -> str:
    lines = metrics.render().decode().splitlines()
    return next(line.split()[1] for line in lines if line.startswith(name + " "))


def test_the_leading_gauge_reads_the_role_at_each_scrape() -> None:
    metrics = Metrics()
    role = {"leading": False}
    metrics.watch_leadership(lambda: role["leading"])
    assert _value(metrics, "videoassist_leading") == "0.0"
    role["leading"] = True  # this node took the lead
    assert _value(metrics, "videoassist_leading") == "1.0"
