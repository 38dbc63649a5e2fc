"""Waiting customers one node holds: memory and CPU per connected customer page.

Each simulated customer does what the page does: ``POST /api/tickets`` (a new browser each
time: no cookie jar), then opens the ``/customer`` socket.io namespace over websocket with its
ticket token, and stays connected, answering Engine.IO pings, as the line moves.

Two servers are measured in turn, each as a child process of its own (so the clients' memory
is never counted), on loopback:

* ``bare socket.io`` (the baseline): a python-socketio ``AsyncServer`` on aiohttp with the same
  transport and ping settings as ours, whose connect handler only puts the socket in a room;
* ``videoassist``: ``videoassist serve`` on embedded defaults (SQLite), with the tap limits and
  the joining cap raised for the bench (one address makes every tap).

For each: resident memory (VmRSS) before and after the N clients are connected, so per
connection = ΔRSS / N; then CPU time of the server process over a steady window of
``--window`` seconds while the line moves: every second the customer at the head leaves
(``cancel``), so every other customer's position changes and is announced to them (the
baseline emits the same number of position messages to its room). CPU is shown as a share
of one core.

Run: ``.venv/bin/python -m bench.connections`` from the repository root (``--help``).
Goal (issue 15): at least 2 000 waiting customers at 40 kB or less each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.ports import free_port  # noqa: E402

# The baseline server: bare python-socketio with our transport and ping settings. Every
# second, if told to (a "move" message from the bench), it sends a position to each socket.
BARE_SERVER = """
import asyncio, sys
import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", transports=["websocket"],
                           ping_interval=5, ping_timeout=5)
sids = []

@sio.on("connect", namespace="/customer")
async def connect(sid, environ, auth=None):
    sids.append(sid)
    await sio.enter_room(sid, "line", namespace="/customer")

@sio.on("disconnect", namespace="/customer")
async def disconnect(sid, reason=None):
    if sid in sids:
        sids.remove(sid)

async def leave(sid):
    await sio.disconnect(sid, namespace="/customer")
    for n, other in enumerate(list(sids)):
        await sio.emit("queue", {"state": "queued", "position": n + 1}, to=other,
                       namespace="/customer")

tasks = set()

@sio.on("cancel", namespace="/customer")
async def cancel(sid, data=None):
    task = asyncio.create_task(leave(sid))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return {"ok": True}

app = web.Application()
sio.attach(app)
async def healthz(_):
    return web.Response(text="ok")
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


@dataclass
class Figures:
    name: str
    connected: int
    rss_before_kb: int
    rss_after_kb: int
    cpu_share: float  # of one core, over the window
    moves: int
    messages: int  # position updates received by the clients over the window

    @property
    def per_connection_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / max(1, self.connected)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def wait_healthy(url: str, proc: asyncio.subprocess.Process, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)  # polling the health check, bounded by the deadline
    raise TimeoutError("server not healthy")


class Customer:
    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.updates = 0

        @self.client.on("queue", namespace="/customer")
        async def on_queue(_: object) -> None:
            self.updates += 1


async def connect_all(url: str, n: int, tap: bool, batch: int) -> list[Customer]:
    customers: list[Customer] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def one(i: int) -> Customer:
            token = None
            if tap:
                async with http.post(f"{url}/api/tickets", json={}) as r:
                    body = await r.json()
                    if r.status != 201:
                        raise RuntimeError(f"tap {i}: {r.status} {body}")
                    token = body["token"]
            c = Customer()
            await c.client.connect(
                url,
                namespaces=["/customer"],
                transports=["websocket"],
                auth={"token": token} if token else None,
                wait_timeout=30,
            )
            return c

        for start in range(0, n, batch):
            chunk = range(start, min(n, start + batch))
            customers += await asyncio.gather(*(one(i) for i in chunk))
    return customers


async def measure(
    name: str, argv: list[str], env: dict[str, str], url: str, n: int, window: float, tap: bool
) -> Figures:
    with tempfile.TemporaryFile(prefix="bench-connections-") as log:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return await _measure(name, proc, url, n, window, tap)


async def _measure(
    name: str, proc: asyncio.subprocess.Process, url: str, n: int, window: float, tap: bool
) -> Figures:
    customers: list[Customer] = []
    try:
        await wait_healthy(url, proc)
        await asyncio.sleep(1.0)  # let start-up allocations settle before the first reading
        before = rss_kb(proc.pid)
        customers = await connect_all(url, n, tap, batch=100)
        await asyncio.sleep(2.0)  # first announcements out, then read memory
        after = rss_kb(proc.pid)
        received0 = sum(c.updates for c in customers)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        moves = 0
        while time.monotonic() - t0 < window:
            head = customers.pop(0)
            with contextlib.suppress(Exception):
                await head.client.call("cancel", {}, namespace="/customer", timeout=10)
            await head.client.disconnect()
            moves += 1
            await asyncio.sleep(max(0.0, t0 + moves - time.monotonic()))
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        received = sum(c.updates for c in customers) - received0
        return Figures(name, n, before, after, (cpu1 - cpu0) / (t1 - t0), moves, received)
    finally:
        await asyncio.gather(*(c.client.disconnect() for c in customers), return_exceptions=True)
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--window", type=float, default=20.0, help="steady window, seconds")
    args = parser.parse_args()

    port = free_port()
    bare = await measure(
        "bare socket.io",
        [sys.executable, "-c", BARE_SERVER, str(port)],
        dict(os.environ),
        f"http://127.0.0.1:{port}",
        args.customers,
        args.window,
        tap=False,
    )
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-connections-") as data:
        env = {
            **os.environ,
            "VIDEOASSIST_DATA_DIR": data,
            "VIDEOASSIST_PORT": str(port),
            "VIDEOASSIST_TAPS_PER_MINUTE": "1000000",
            "VIDEOASSIST_TAPS_BURST": "1000000",
            "VIDEOASSIST_MAX_JOINING": "1000000",
            "VIDEOASSIST_JOIN_WINDOW": "120",
            "VIDEOASSIST_MEDIA_ADDRESSES": "127.0.0.1",
        }
        ours = await measure(
            "videoassist",
            [sys.executable, "-m", "videoassist", "serve"],
            env,
            f"http://127.0.0.1:{port}",
            args.customers,
            args.window,
            tap=True,
        )

    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"# {args.customers} waiting, {args.window:.0f} s window, the head leaves every 1 s")
    print("server          | kB/conn | RSS before → after (MB) | CPU (one core) | moves | updates")
    for f in (bare, ours):
        print(
            f"{f.name:15} | {f.per_connection_kb:7.1f} | "
            f"{f.rss_before_kb / 1024:6.1f} → {f.rss_after_kb / 1024:6.1f}          | "
            f"{f.cpu_share * 100:13.1f}% | {f.moves:5} | {f.messages}"
        )
    print(
        f"ratio videoassist / bare socket.io: memory per connection "
        f"{ours.per_connection_kb / max(0.1, bare.per_connection_kb):.2f}x, "
        f"CPU {ours.cpu_share / max(1e-6, bare.cpu_share):.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
