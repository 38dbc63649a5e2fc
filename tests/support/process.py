"""``videoassist serve`` as a real child process, for restart and signal tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import ssl
import sys
from pathlib import Path

import aiohttp

from tests.support.harness import wait_until

ROOT = Path(__file__).resolve().parents[2]


# What a node's log says each time it takes the lead with every node serving: its desk restored
# from the records, or gone on from its replica, and how long that took (videoassist/app.py,
# ``_serving_ctx``).
_TAKEOVER = re.compile(r"leads \(epoch (\d+)\): desk (restored|went on)[^\n]*?\((\d+\.\d+) s\)")


def takeovers(output: str) -> list[tuple[int, str, float]]:
    """(epoch, "restored" or "went on", seconds it took) of each time the node whose log is
    ``output`` took the lead (every node serving)."""
    return [(int(e), how, float(s)) for e, how, s in _TAKEOVER.findall(output)]


def took_lead(output: str) -> int:
    """How many times the node whose log is ``output`` took the lead (every node serving)."""
    return len(takeovers(output))


class ServerProcess:
    def __init__(
        self, data_dir: Path, port: int, *, trust: ssl.SSLContext | None = None, **env: str
    ) -> None:
        """``trust``: the server serves HTTPS (its certificate is in ``env``); the client
        context that trusts it."""
        self.data_dir = data_dir
        self.port = port
        self.trust = trust
        self.url = f"{'https' if trust else 'http'}://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "VIDEOASSIST_DATA_DIR": str(data_dir),
            "VIDEOASSIST_PORT": str(port),
            "VIDEOASSIST_MEDIA_ADDRESSES": "127.0.0.1",
            **{f"VIDEOASSIST_{k.upper()}": v for k, v in env.items()},
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.output = ""
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        """The output as it comes, so a chatty server never blocks on a full pipe."""
        assert self.proc is not None and self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(65536):
            self.output += chunk.decode(errors="replace")

    async def launch(self) -> None:
        """Start the process without waiting for it to answer (a standby does not)."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "videoassist",
            "serve",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def up(self, timeout: float = 30.0) -> bool:
        """Whether ``/healthz`` answers within ``timeout`` (False at once if the process ended)."""
        proc = self.proc
        assert proc is not None
        up = False
        connector = aiohttp.TCPConnector(ssl=self.trust) if self.trust else None
        async with aiohttp.ClientSession(self.url, connector=connector) as http:

            async def answering_or_exited() -> bool:
                nonlocal up
                if proc.returncode is not None:
                    return True  # no use waiting for a server that has gone
                try:
                    async with http.get("/healthz") as r:
                        up = r.status == 200
                except aiohttp.ClientConnectionError:
                    up = False
                return up

            # A timeout is reported below, with the server's output.
            with contextlib.suppress(AssertionError):
                await wait_until(answering_or_exited, timeout, interval=0.1)
        return up

    async def start(self, timeout: float = 30.0) -> None:
        await self.launch()
        if not await self.up(timeout):
            await self.stop(kill=True)
            raise AssertionError(f"server did not come up:\n{self.output}")

    async def exited(self, timeout: float) -> int:
        """Wait for the process to end by itself (no signal sent); its exit code."""
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            await self.proc.wait()
        if self._reader is not None:
            await self._reader
        assert self.proc.returncode is not None
        return self.proc.returncode

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    async def stop(self, *, kill: bool = False, timeout: float = 30.0) -> int:
        """SIGTERM (a drain) or SIGKILL (a crash); returns the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
        try:
            async with asyncio.timeout(timeout):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader
        assert self.proc.returncode is not None
        return self.proc.returncode
