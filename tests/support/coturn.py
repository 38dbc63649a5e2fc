"""A real coturn (Debian's ``turnserver``) on loopback, configured from turn/turnserver.conf.

The production file's policy lines (deny rules, quotas, hardening) are kept; only the lines that
depend on where coturn is deployed (ports, certificates, secret, realm, the media servers'
addresses) are swapped for loopback ones. So every test run also proves that coturn 4.6.1 accepts
the production file.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from aioice import stun

from tests.support.ports import free_port_range

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_CONF = ROOT / "turn" / "turnserver.conf"
# Options whose value depends on the deployment; everything else in the production file is policy.
DEPLOYMENT_OPTIONS = {
    "listening-port",
    "tls-listening-port",
    "cert",
    "pkey",
    "external-ip",
    "min-port",
    "max-port",
    "static-auth-secret",
    "realm",
    "allowed-peer-ip",
    "bps-capacity",
    "log-file",
}
RELAY_PORTS = 20
_PR_SET_PDEATHSIG = 1


def production_policy() -> list[str]:
    """The option lines of turn/turnserver.conf that are not deployment-specific."""
    lines = []
    for raw in PRODUCTION_CONF.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and line.split("=", 1)[0] not in DEPLOYMENT_OPTIONS:
            lines.append(line)
    return lines


def production_allowed_peers() -> list[str]:
    """The placeholder media server addresses of turn/turnserver.conf (documentation ranges)."""
    prefix = "allowed-peer-ip="
    return [
        line.strip().removeprefix(prefix)
        for line in PRODUCTION_CONF.read_text().splitlines()
        if line.strip().startswith(prefix)
    ]


def _die_with_parent() -> None:
    # The kernel sends SIGTERM to coturn if the test process dies without tearing down (a hard
    # timeout, a kill): no turnserver is ever left behind.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Coturn:
    """One turnserver process: ``start()`` waits until it answers STUN, ``stop()`` reaps it."""

    def __init__(
        self,
        workdir: Path,
        *,
        policy: Iterable[str] = (),
        allowed_peers: Iterable[str] = (),
        allow_loopback_peers: bool = False,
        secret: str = "test-turn-secret",
    ) -> None:
        self.workdir = workdir
        self.secret = secret
        # One range: the listening port, then the relay ports.
        self.port = free_port_range(1 + RELAY_PORTS)
        self.min_port = self.port + 1
        self.max_port = self.min_port + RELAY_PORTS - 1
        self.config = workdir / "turnserver.conf"
        self.log_path = workdir / "turnserver.log"
        lines = [
            *policy,
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"listening-port={self.port}",
            f"min-port={self.min_port}",
            f"max-port={self.max_port}",
            "realm=videoassist.test",
            "use-auth-secret",
            f"static-auth-secret={secret}",
            *(f"allowed-peer-ip={peer}" for peer in allowed_peers),
            *(["allow-loopback-peers"] if allow_loopback_peers else []),
            "no-tls",
            "no-dtls",
            "no-cli",
            f"pidfile={workdir / 'turnserver.pid'}",
            f"userdb={workdir / 'turndb'}",
            "log-file=stdout",
            "simple-log",
            # Per-request lines ("user <...>: incoming packet ALLOCATE processed, success").
            "verbose",
        ]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 10.0) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                # Line-buffered, so tests can read what coturn did while it runs.
                ["stdbuf", "-oL", "turnserver", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_until_answering(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_answering(self, timeout: float) -> None:
        """Poll with STUN Binding requests until coturn answers on its UDP port."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"turnserver exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"turnserver did not answer in {timeout}s:\n{self.log()}")
                request = stun.Message(
                    message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST
                )
                s.sendto(bytes(request), ("127.0.0.1", self.port))
                try:
                    data = s.recv(2048)
                except (TimeoutError, ConnectionRefusedError):
                    continue
                if stun.parse_message(data).transaction_id == request.transaction_id:
                    return

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
