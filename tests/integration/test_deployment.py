"""The deployment files: the compose file is valid and names real settings, the Dockerfile copies
what exists, and `make cluster`'s script (docker/local.sh) brings up PostgreSQL, Redis, coturn and
a node on loopback, serves a tap from PostgreSQL, and stops every process it started."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.support.harness import wait_until
from tests.support.ports import free_port
from videoassist.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SETTING_NAMES = {f"VIDEOASSIST_{f.name.upper()}" for f in dataclasses.fields(Settings)}


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    raise AssertionError("docker compose is not installed: `make system-deps` installs it")


def _compose_config(*extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"POSTGRES_PASSWORD", "SECRET_KEY"}}
    return subprocess.run(
        [*_compose_command(), "-f", str(DOCKER / "compose.yaml"), *extra, "config"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_the_compose_file_is_valid_and_names_only_real_settings() -> None:
    result = _compose_config("--env-file", str(DOCKER / "example.env"))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"app-a", "app-b", "media-m", "proxy", "postgres", "redis", "turn"}
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    ranges = []
    for name in ("app-a", "app-b", "media-m"):
        app = services[name]
        env = app["environment"]
        unknown = set(env) - SETTING_NAMES
        assert not unknown, f"{name}: not settings of the server: {unknown}"
        assert env["VIDEOASSIST_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["VIDEOASSIST_REDIS_URL"] and env["VIDEOASSIST_NODE_ID"] == name
        if name == "media-m":  # carries calls only: no lease, no desk, not behind Caddy
            assert env["VIDEOASSIST_NODE_ROLE"] == "media"
            assert "VIDEOASSIST_LEADER_LEASE" not in env
        else:
            assert env["VIDEOASSIST_LEADER_LEASE"] == "true"
            assert env["VIDEOASSIST_MEDIA_PLACEMENT"] == "true"
        # The media ports published are the ones the node's candidates use.
        first, last = map(int, env["VIDEOASSIST_MEDIA_PORT_RANGE"].split("-"))
        published = {
            int(p["published"]) for p in app["ports"] if p.get("protocol") == "udp"
        }  # docker-compose 1.x expands a range into one entry per port
        assert set(range(first, last + 1)) <= published, (name, sorted(published)[:5])
        ranges.append(set(range(first, last + 1)))
    assert not any(r & q for i, r in enumerate(ranges) for q in ranges[i + 1 :]), (
        "the nodes' media ports overlap"
    )
    # The nodes share their secrets and data; Caddy sends clients to both app nodes.
    a, b, m = (services[n]["environment"] for n in ("app-a", "app-b", "media-m"))
    assert a["VIDEOASSIST_SECRET_KEY"] == b["VIDEOASSIST_SECRET_KEY"] == m["VIDEOASSIST_SECRET_KEY"]
    assert a["VIDEOASSIST_DATABASE_URL"] == m["VIDEOASSIST_DATABASE_URL"]
    assert services["app-a"]["volumes"] == services["app-b"]["volumes"]
    assert services["app-a"]["volumes"] == services["media-m"]["volumes"]
    caddy = (DOCKER / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy\s+([^{]+)\{", caddy)
    assert upstreams is not None
    assert {u.split(":")[0] for u in upstreams.group(1).split()} == {"app-a", "app-b"}


def test_the_compose_file_refuses_to_start_without_its_secrets() -> None:
    result = _compose_config()
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "SECRET_KEY" in result.stderr


def test_the_dockerfile_copies_what_exists_and_sets_only_real_settings() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for line in text.splitlines():
        copy = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line)
        if copy:
            for source in copy.group(1).split():
                assert (ROOT / source).exists(), f"Dockerfile copies a missing {source}"
    names = set(re.findall(r"\b(VIDEOASSIST_[A-Z_]+)=", text))
    assert names and names <= SETTING_NAMES, names - SETTING_NAMES
    assert 'CMD ["python", "-m", "videoassist", "serve"]' in text


def _scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="videoassist-local-"))
    path.chmod(0o755)  # PostgreSQL runs as its own account when the tests run as root
    return path


def _pids(local_dir: Path) -> list[int]:
    return [int(p) for p in (local_dir / "pids").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is gone for our purpose.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def _running(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return found.stdout.split()


@pytest.mark.timeout(180)
async def test_make_cluster_brings_the_topology_up_on_loopback_and_stops_it_all() -> None:
    for tool in ("redis-server", "turnserver"):
        assert shutil.which(tool), f"{tool} missing: `make system-deps` installs it"
    local_dir = _scratch_dir()
    node_port = free_port()
    env = {
        **os.environ,
        "LOCAL_DIR": str(local_dir),
        "NODE_PORT": str(node_port),
        "PG_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
        "TURN_PORT": str(free_port()),
        "PYTHON": sys.executable,
    }
    proc = await asyncio.create_subprocess_exec(
        str(DOCKER / "local.sh"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    output = b""

    async def read_all() -> None:
        nonlocal output
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(4096):
            output += chunk

    reader = asyncio.create_task(read_all())
    url = f"http://127.0.0.1:{node_port}"
    try:
        async with aiohttp.ClientSession(url) as http:

            async def ready() -> bool:
                assert proc.returncode is None, output.decode(errors="replace")
                try:
                    async with http.get("/readyz") as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(ready, 90, interval=0.2)
            async with http.post("/api/tickets", json={"topic": "setup"}) as r:
                assert r.status == 201, await r.text()
            # The second node serves too, from a replica of the leader's desk: the ticket
            # tapped on the first is in its line.
            await wait_until(
                lambda: "local-b follows the leader's desk" in output.decode(errors="replace"),
                60,
                what="the second node following the leader",
            )
            # The media node registered and answers its health check.
            await wait_until(
                lambda: "media node local-m: carrying up to" in output.decode(errors="replace"),
                30,
                what="the media node carrying calls",
            )
            async with http.get(f"http://127.0.0.1:{node_port + 2}/healthz") as r:
                assert (await r.json())["role"] == "media"
            async with http.post(
                f"http://127.0.0.1:{node_port + 1}/api/tickets", json={"topic": "setup"}
            ) as r:
                assert r.status == 201, await r.text()
                assert (await r.json())["position"] == 2
        text = output.decode(errors="replace")
        assert "Running upgrade" in text  # the migrations ran on PostgreSQL
        started = _pids(local_dir)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        finally:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGKILL)
            await reader
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "did not finish cleanly" not in text, text
    # Nothing it started outlives it.
    assert all(not _alive(pid) for pid in started), "a node outlived the script"
    left = _running(str(local_dir)) + _running(f"--port {env['REDIS_PORT']}")
    left += _running(f"--listening-port={env['TURN_PORT']}")
    assert not left, f"processes left running: {left}"
    shutil.rmtree(local_dir, ignore_errors=True)
