"""Serving over TLS: built in, with a redirecting plain-HTTP port, and the one-command LAN trial."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import sys
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.harness import Harness, connect_socket
from tests.support.harness import test_settings as settings_for
from tests.support.ports import free_port
from tests.support.process import ROOT, ServerProcess
from videoassist.tls import self_signed


def certificate(folder: Path) -> tuple[str, str, ssl.SSLContext]:
    cert, key = self_signed(folder, "127.0.0.1")
    return str(cert), str(key), ssl.create_default_context(cafile=cert)


class TestBuiltInTls:
    async def test_https_and_wss_with_a_verified_certificate_hsts_and_secure_cookies(
        self, tmp_path: Path
    ) -> None:
        cert, key, trust = certificate(tmp_path / "tls")
        harness = Harness(settings_for(tmp_path, tls_cert=cert, tls_key=key))
        await harness.start()
        try:
            assert harness.url.startswith("https://")
            assert harness.http is not None
            async with harness.http.get("/healthz") as r:
                assert r.status == 200
                assert r.headers["Strict-Transport-Security"].startswith("max-age=")
            await harness.records.add_user("alice", "Alice", "x", "agent", 0.0)
            cookie = await harness.add_staff("bob")
            async with harness.http.post(
                "/api/login", json={"username": "bob", "password": "password-1"}
            ) as r:
                assert "secure" in r.headers["Set-Cookie"].lower()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as session:
                client = socketio.AsyncClient(reconnection=False, http_session=session)
                await connect_socket(client, harness.url, "/agent", cookie=cookie)
                reply = await client.call("sync", {}, namespace="/agent", timeout=5)
                assert reply["state"] == "away"
                await client.disconnect()
        finally:
            await harness.stop()

    async def test_a_client_that_does_not_trust_the_certificate_is_not_served(
        self, tmp_path: Path
    ) -> None:
        cert, key, _ = certificate(tmp_path / "tls")
        harness = Harness(settings_for(tmp_path, tls_cert=cert, tls_key=key))
        await harness.start()
        try:
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await session.get(f"{harness.url}/healthz")
        finally:
            await harness.stop()

    async def test_the_plain_http_port_only_redirects_to_https(self, tmp_path: Path) -> None:
        cert, key, trust = certificate(tmp_path / "tls")
        plain = free_port()
        server = ServerProcess(
            tmp_path,
            free_port(),
            trust=trust,
            tls_cert=cert,
            tls_key=key,
            redirect_port=str(plain),
        )
        await server.start()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://127.0.0.1:{plain}/api/tickets?x=1", allow_redirects=False
                ) as r,
            ):
                assert r.status == 308
                assert r.headers["Location"] == f"{server.url}/api/tickets?x=1"
                assert "Set-Cookie" not in r.headers
        finally:
            assert await server.stop() == 0

    def test_settings_refuse_half_a_tls_configuration(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="go together"):
            settings_for(tmp_path, tls_cert="cert.pem")
        with pytest.raises(ValueError, match="needs TLS"):
            settings_for(tmp_path, redirect_port=8081)


# The LAN trial runs in a network namespace of its own, with an interface (an empty bridge) on
# a private address: the test reaches no address outside this machine's own sandbox.
NAMESPACE = shutil.which("unshare") and shutil.which("ip") and os.geteuid() == 0
needs_namespace = pytest.mark.skipif(not NAMESPACE, reason="needs root, unshare and ip")

LAN_TRIAL = """
set -e
ip link set lo up
{interface}
"$PYTHON" -m videoassist serve --lan --port "$PORT" > "$OUT" 2>&1 &
server=$!
"$PYTHON" - <<'PY'
import os, ssl, sys, time, urllib.request
out, port = os.environ["OUT"], os.environ["PORT"]
cafile = os.path.join(os.environ["VIDEOASSIST_DATA_DIR"], "tls", "10.77.0.9.crt")
deadline = time.monotonic() + 60
while True:
    try:
        context = ssl.create_default_context(cafile=cafile)
        with urllib.request.urlopen(f"https://10.77.0.9:{port}/healthz", context=context) as r:
            print("HEALTH", r.status, r.headers.get("Strict-Transport-Security"))
            break
    except Exception as exc:
        if time.monotonic() > deadline:
            print("NEVER UP", exc)
            break
        time.sleep(0.2)
PY
kill -TERM $server
wait $server || true
"""


async def run_in_namespace(script: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "unshare",
        "--net",
        "sh",
        "-c",
        script,
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(errors="replace")


@needs_namespace
class TestLanTrial:
    async def test_lan_mode_serves_https_on_the_lan_address_and_prints_where_to_go(
        self, tmp_path: Path
    ) -> None:
        interface = (
            "ip link add lan0 type bridge\nip addr add 10.77.0.9/24 dev lan0\nip link set lan0 up"
        )
        out = tmp_path / "server.out"
        code, said = await run_in_namespace(
            LAN_TRIAL.replace("{interface}", interface),
            {"OUT": str(out), "PORT": "18443", "VIDEOASSIST_DATA_DIR": str(tmp_path)},
        )
        printed = out.read_text()
        assert code == 0, said + printed
        assert "HEALTH 200 max-age=" in said, said + printed
        assert "Customer page: https://10.77.0.9:18443/" in printed
        assert "Agent console: https://10.77.0.9:18443/agent" in printed
        assert "self-signed" in printed
        assert "▄" in printed or "█" in printed  # the QR code
        assert (tmp_path / "tls" / "10.77.0.9.key").stat().st_mode & 0o077 == 0

    async def test_lan_mode_refuses_clearly_when_there_is_no_lan_address(
        self, tmp_path: Path
    ) -> None:
        code, said = await run_in_namespace(
            'ip link set lo up\nexec "$PYTHON" -m videoassist serve --lan',
            {"VIDEOASSIST_DATA_DIR": str(tmp_path)},
        )
        assert code == 2, said
        assert "no LAN address found" in said


async def test_plain_http_beyond_loopback_is_warned_about_at_start(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port(), host="0.0.0.0")
    await server.start()
    assert await server.stop() == 0
    assert "serving plain HTTP on 0.0.0.0" in server.output
    assert "docs/deploy.md" in server.output


async def test_plain_http_on_loopback_is_not_warned_about(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port())
    await server.start()
    assert await server.stop() == 0
    assert "serving plain HTTP" not in server.output
