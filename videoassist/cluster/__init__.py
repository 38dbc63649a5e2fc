"""Coordination between nodes over Redis (leadership lease with fencing, ...)."""

import asyncio


def stopping() -> bool:
    """Whether the running task has been asked to stop (``cancel()``).

    redis-py can swallow a cancellation that lands in the middle of a command, and
    ``asyncio.timeout`` turns one that lands as it expires into a TimeoutError: a loop that
    catches those and carries on would then run for ever, and whoever awaits it after
    ``cancel()`` would wait for ever. Every loop here checks this before each round."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
