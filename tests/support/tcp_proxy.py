"""A TCP proxy on loopback that can make its connections go quiet without closing them.

``blackhole()`` stops forwarding on every connection open now, in both directions, while
leaving the sockets open: what a client sees when a NAT or load balancer forgets a connection
(a half-open TCP connection). New connections still pass, as they would through a fresh path.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.ports import free_port


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._links: list[tuple[asyncio.Event, list[asyncio.StreamWriter]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def blackhole(self) -> None:
        for quiet, _ in self._links:
            quiet.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        me = asyncio.current_task()
        if me is not None:  # stop() cancels a connection still being set up, too
            self._tasks.add(me)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except (OSError, asyncio.CancelledError):
            writer.close()
            return
        finally:
            if me is not None:
                self._tasks.discard(me)
        quiet = asyncio.Event()
        self._links.append((quiet, [writer, up_writer]))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst, quiet))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, quiet: asyncio.Event
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while not quiet.is_set():
                data = await src.read(65536)
                if not data or quiet.is_set():
                    break
                dst.write(data)
                await dst.drain()
            if not quiet.is_set():
                dst.close()
                return
            await asyncio.Event().wait()  # quiet: hold the connection open, forward nothing

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, writers in self._links:
            for w in writers:
                w.transport.abort()  # a reset: the client side sees its connection end at once
                w.close()
