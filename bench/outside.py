"""A videoassist server in a process of its own, driven like ``tests.support.harness.Harness``.

A benchmark whose clients do real media work (aiortc encoders and decoders) should not run them
on the server's event loop: in production the server has its process, and the customers' and
agents' browsers have theirs. ``OutsideServer`` starts ``python -m videoassist serve`` on
loopback with the settings given, creates staff accounts with the ``videoassist user add``
command, and answers the few questions a bench asks of the server (live peer connections and
media sessions) from its Prometheus listener. It offers the parts of ``Harness`` the benches
use: ``tap``, ``customer``, ``agent``, ``add_staff``, ``url``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, cast

import aiohttp

from tests.support.harness import Clients, Party, wait_until
from tests.support.process import ROOT, ServerProcess

PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OutsideServer(Clients):
    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.data_dir = data_dir
        self.metrics_port = free_port()
        env = {
            "secret_key": "bench-secret-key",
            "test_pages": "1",
            "max_connections_per_address": "0",
            "metrics_port": str(self.metrics_port),
            "metrics_host": "127.0.0.1",
            **{k: str(v) for k, v in settings.items()},
        }
        self.process = ServerProcess(data_dir, free_port(), **cast(dict[str, Any], env))
        self.url = self.process.url
        self.http: aiohttp.ClientSession | None = None
        self._parties: list[Party] = []
        self._cpu0: float | None = None

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    async def start(self) -> None:
        await self.process.start(timeout=60)
        self.http = aiohttp.ClientSession(self.url)

    async def stop(self) -> None:
        for party in self._parties:
            if party.client.connected:
                await party.client.disconnect()
        if self.http is not None:
            await self.http.close()
        await self.process.stop()

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    async def add_staff(self, username: str, role: str = "agent") -> str:
        """Create a staff account with the command-line tool and log it in (session cookie)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "videoassist",
            "user",
            "add",
            username,
            "--role",
            role,
            "--password-stdin",
            cwd=ROOT,
            env=self.process.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate(PASSWORD.encode() + b"\n")
        if proc.returncode != 0:
            raise RuntimeError(f"user add {username}: {out.decode(errors='replace')}")
        return await self.login(username, PASSWORD)

    async def gauges(self) -> dict[str, float]:
        """The server's unlabelled Prometheus gauges, by name."""
        out: dict[str, float] = {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as r,
        ):
            for line in (await r.text()).splitlines():
                if line.startswith("#") or "{" in line or " " not in line:
                    continue
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    async def wait_idle(self, timeout: float = 20.0) -> None:
        """Until the server has no peer connection and no live call left."""
        seen: dict[str, float] = {}

        async def idle() -> bool:
            seen.update(await self.gauges())
            return (
                seen.get("videoassist_peer_connections", 1) == 0
                and seen.get("videoassist_live_calls", 1) == 0
            )

        await wait_until(idle, timeout, lambda: f"server not idle: {seen}", interval=0.05)


def elapsed_since(t0: float) -> float:
    return time.perf_counter() - t0
