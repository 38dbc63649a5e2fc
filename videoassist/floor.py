"""The wallboard: the desk's floor picture, pushed to supervisors when it changes.

The desk draws the picture (``Desk.floor``: queues with today's figures, agents, live calls,
customers in line, alerts); this shell decides when supervisors see it. Every ``interval``
seconds (0.5 by default), while anyone watches, it draws the picture and pushes it if it
differs from the last one pushed. So a change reaches supervisors within one interval plus the
drawing, however many desk events made it: a burst of a thousand events is one push, not a
thousand (bench/wallboard.py measures both). The picture gives moments, not durations, so time
passing alone changes nothing but ``at``; an alert that time raises (a wait passing its
threshold) changes the picture, and is pushed like any other change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from videoassist.delivery import Delivery
from videoassist.desk import ServerEvent

logger = logging.getLogger(__name__)

PUSH_TIMEOUT = 5.0

Picture = dict[str, Any]


class Wallboard:
    def __init__(
        self,
        draw: Callable[[float], Picture],
        delivery: Delivery,
        clock: Callable[[], float],
        *,
        watching: Callable[[], bool],
        interval: float = 0.5,
    ) -> None:
        self._draw = draw
        self._delivery = delivery
        self._clock = clock
        self._watching = watching
        self.interval = interval
        self._last: Picture | None = None  # the last picture pushed, without its ``at``
        self._task: asyncio.Task[None] | None = None
        self.pushes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="Wallboard.ticker")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def picture(self) -> Picture:
        return self._draw(self._clock())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:
                logger.exception("Wallboard: a push failed")

    async def tick(self) -> bool:
        """Push the picture if it changed since the last push; True when it did."""
        if not self._watching():
            self._last = None  # whoever comes next asks for the picture with ``sync``
            return False
        picture = self.picture()
        unchanged = {key: value for key, value in picture.items() if key != "at"}
        if unchanged == self._last:
            return False
        self._last = unchanged
        async with asyncio.timeout(PUSH_TIMEOUT):
            await self._delivery.to_supervisors(ServerEvent.FLOOR, picture)
        self.pushes += 1
        return True
