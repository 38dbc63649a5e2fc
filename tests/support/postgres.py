"""A throwaway PostgreSQL from Debian's packages, on loopback, as its own user.

The cluster lives in a temporary directory: ``initdb`` with trust authentication for
127.0.0.1 only, one TCP port picked free, its Unix socket inside the directory (so it never
meets a system cluster). PostgreSQL refuses to run as root; when the tests run as root the
server runs as the ``postgres`` system account the package creates (``runuser``), otherwise as
the current user. It dies with the test process (``PR_SET_PDEATHSIG``) and is stopped with a
fast shutdown at the end of the session.

Each test gets a database of its own (``fresh_database``), created from ``template0`` and
dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from tests.support.ports import free_port

_PR_SET_PDEATHSIG = 1
SERVICE_ACCOUNT = "postgres"


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class PostgresServer:
    def __init__(self) -> None:
        binaries = bin_dir()
        if binaries is None:
            raise RuntimeError(
                "PostgreSQL is not installed: `make system-deps` installs Debian's postgresql"
            )
        self.bin = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="videoassist-pg-"))
        self.data = self.root / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None
        self.as_root = os.geteuid() == 0

    @property
    def user(self) -> str:
        return SERVICE_ACCOUNT if self.as_root else os.environ.get("USER", "postgres")

    def _as_server_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", SERVICE_ACCOUNT, "--", *argv] if self.as_root else argv

    def _signal(self, signum: int) -> None:
        """Signal the postmaster itself: ``runuser`` (as root) does not pass signals on, and
        signalling it alone left the server running with its directory deleted."""
        assert self.proc is not None
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            self.proc.send_signal(signum)  # not started far enough to have written it
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> None:
        if self.as_root:
            shutil.chown(self.root, SERVICE_ACCOUNT, SERVICE_ACCOUNT)
        subprocess.run(
            self._as_server_user(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self._log = (self.root / "server.log").open("wb")
        self.proc = subprocess.Popen(
            self._as_server_user(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "max_connections=200",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            preexec_fn=_die_with_parent,
        )
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log()[-2000:]}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)  # polling a condition (pg_isready), bounded by the deadline
        raise TimeoutError(f"postgres not ready after {timeout}s: {self.log()[-2000:]}")

    def psql(self, sql: str) -> None:
        subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
        )

    def fresh_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)
