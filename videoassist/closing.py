"""Closing once: the first ``close()`` does the work, later calls wait until it is done.

A second caller must not return while the first is still tearing down (a drain that awaits
``close()`` would go on with peer connections still open), nor start the teardown again. The
wait is shielded: a second caller that is cancelled does not cancel the first's close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class CloseOnce:
    def __init__(self) -> None:
        self._done: asyncio.Future[None] | None = None

    @property
    def started(self) -> bool:
        return self._done is not None

    async def run(self, close: Callable[[], Awaitable[None]]) -> None:
        if self._done is not None:
            await asyncio.shield(self._done)
            return
        self._done = asyncio.get_running_loop().create_future()
        try:
            await close()
        finally:
            self._done.set_result(None)
