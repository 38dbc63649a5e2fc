"""An agent console in its own process, so a test can freeze it (SIGSTOP) like a hung tab.

Usage: python -m tests.support.agent_process URL COOKIE — connects, goes Ready, prints "ready".
"""

from __future__ import annotations

import asyncio
import sys

import socketio


async def main(url: str, cookie: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        url,
        namespaces=["/agent"],
        transports=["websocket"],
        headers={"Cookie": f"va_session={cookie}"},
        wait_timeout=5,
    )
    reply = await client.call("ready", {}, namespace="/agent", timeout=5)
    print("ready" if reply == {"ok": True} else f"error {reply}", flush=True)
    await client.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
