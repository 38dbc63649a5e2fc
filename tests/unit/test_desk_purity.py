"""The desk is sans-IO and pure: importing it must not pull in an event loop, a network or a
database, and the same events must give the same effects in every process."""

from __future__ import annotations

import json

from tests.support.probe import run_python

IO_MODULES = ("asyncio", "aiohttp", "socketio", "engineio", "redis", "sqlalchemy", "aiortc", "av")

PROBE = f"""
import json, sys
import videoassist.desk
roots = {{name.partition(".")[0] for name in sys.modules}}
print(json.dumps(sorted(roots & set({list(IO_MODULES)!r}))))
"""


def test_importing_the_desk_loads_no_io_library() -> None:
    # A fresh interpreter: this one already has pytest's (and its plugins') imports loaded.
    offenders = json.loads(run_python(PROBE))
    assert offenders == [], (
        f"importing videoassist.desk loaded {', '.join(offenders)}; the desk must stay sans-IO "
        "(move the import into a shell: service, gateway, media or store)"
    )


# Two queues whose customers both cool down at once: which one the agent in both queues gets
# must not depend on how this process happens to hash strings.
SCENARIO = """
from tests.unit.desk_helpers import agent, desk_config, make_desk, offers, ready_agent, tap
from videoassist.desk import OfferDeclined, QueueConfig, RematchDue, TopicRoute

config = desk_config(
    QueueConfig("general"),
    QueueConfig("billing"),
    QueueConfig("tv"),
    topics=(TopicRoute("invoice", "billing"), TopicRoute("remote", "tv")),
    agents=(agent("a1", "general", "billing", "tv"),),
)
desk = make_desk(config)
ready_agent(desk, "a1", 0.0)
for n, topic in enumerate(["invoice", "remote", ""]):
    tap(desk, f"t{n}", 1.0 + n, topic=topic)
    desk.handle(OfferDeclined("a1", f"t{n}", 1.5 + n))
print(offers(desk.handle(RematchDue(60.0))))
"""


def test_the_same_events_give_the_same_effects_whatever_the_hash_seed() -> None:
    outputs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        outputs.add(run_python(SCENARIO, PYTHONHASHSEED=seed))
    assert len(outputs) == 1, f"the effects depend on the hash seed: {sorted(outputs)}"
