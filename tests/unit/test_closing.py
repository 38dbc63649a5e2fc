"""CloseOnce: one teardown, however many callers, and nobody returns before it is done."""

from __future__ import annotations

import asyncio

from videoassist.closing import CloseOnce


async def test_a_second_close_waits_for_the_first_and_does_not_run_it_again() -> None:
    once, runs, gate = CloseOnce(), [], asyncio.Event()

    async def close() -> None:
        runs.append("close")
        await gate.wait()

    first = asyncio.create_task(once.run(close))
    await asyncio.sleep(0)
    second = asyncio.create_task(once.run(close))
    await asyncio.sleep(0)
    assert once.started and not first.done() and not second.done()
    gate.set()
    await asyncio.gather(first, second)
    assert runs == ["close"]
    await once.run(close)  # after it is done, at once
    assert runs == ["close"]


async def test_a_cancelled_second_caller_does_not_cancel_the_close() -> None:
    once, gate, finished = CloseOnce(), asyncio.Event(), []

    async def close() -> None:
        await gate.wait()
        finished.append(True)

    first = asyncio.create_task(once.run(close))
    await asyncio.sleep(0)
    second = asyncio.create_task(once.run(close))
    await asyncio.sleep(0)
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    gate.set()
    await first
    assert finished == [True]
