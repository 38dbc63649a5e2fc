"""Recording through a real MediaHub with real aiortc peers on loopback.

Each party sends a flash/beep clip (tests.support.flashbeep) it encodes itself; the recording
is decoded with PyAV here and the flashes are matched with the beeps: the A/V offset of the
file. Onsets are found with thresholds relative to each file's own levels and paired by
correlating the two trains of onsets, so a loaded machine (a dimmer flash, a late start) does not
decide the outcome; what is checked is not loosened: every flash has its beep, each within 40 ms.
Nothing is committed: the clip is made at run time.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
import socketio

from tests.support.calls import live_call
from tests.support.encoded import EncodedPeer
from tests.support.flashbeep import beeps, flash_beep_peer, flashes, pair_up
from tests.support.harness import Harness, Party, connect_socket, wait_until
from tests.support.peers import ClientPeer
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from videoassist.auth import hash_password
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.files import LocalFiles
from videoassist.http.keys import RECORDINGS
from videoassist.media.forwarding import EncodedFrame
from videoassist.media.hub import MediaHub, MediaSession
from videoassist.media.network import restrict_host_addresses
from videoassist.media.recorder import Recorder, probe_duration
from videoassist.recording import Recordings
from videoassist.store.records import Records

# Measures media against the clock: runs alone, after the parallel part of `make test`.
pytestmark = pytest.mark.solo


@pytest.fixture
async def hub() -> AsyncIterator[MediaHub]:
    restrict_host_addresses(("127.0.0.1",))
    hub = MediaHub(ice_servers=(), connect_timeout=15.0, max_peer_connections=20, on_failure=print)
    try:
        yield hub
    finally:
        await hub.close()
        restrict_host_addresses(())


async def flash_beep_call(
    hub: MediaHub, peers: list[EncodedPeer], seconds: float | None = None
) -> MediaSession:
    session = hub.open("s1", "t1", "alice")
    customer = flash_beep_peer("customer", seed=1, seconds=seconds)
    agent = flash_beep_peer("agent", seed=2, seconds=seconds)
    peers += [customer, agent]
    await customer.connect(hub, "s1", "customer")
    await agent.connect(hub, "s1", "agent")
    return session


def offsets(path: Path) -> tuple[list[float], float, float]:
    """(beep - flash for every flash after the first second, video duration, audio duration).

    Every flash after the first second must have its beep, and every beep in that span its
    flash: a lost pairing is a failure, not a skipped sample."""
    flash_times, v_first, v_end = flashes(str(path))
    beep_times, a_first, a_end = beeps(str(path))
    late = [f for f in flash_times if f > v_first + 1.0]
    lag, pairs = pair_up(late, beep_times)
    assert len(pairs) == len(late), f"flashes without a beep: {late} / {beep_times} (lag {lag})"
    matched = {b for _, b in pairs}
    span = (min(late) - 0.5, max(late) + 0.5) if late else (0.0, 0.0)
    lonely = [b for b in beep_times if span[0] < b < span[1] and b not in matched]
    assert lonely == [], f"beeps without a flash: {lonely} (flashes {late})"
    return [b - f for f, b in pairs], v_end - v_first, a_end - a_first


async def all_arrived(session: MediaSession, peers: list[EncodedPeer]) -> None:
    """Every frame the stopped peers sent has been assembled by the server's taps (so handed to
    the recorder), or nothing more arrived for a second (a packet lost for good)."""
    parties = dict(zip(("customer", "agent"), peers, strict=True))
    seen: dict[str, tuple[int, float]] = {}

    def done() -> bool:
        now = time.monotonic()
        complete = True
        for party, peer in parties.items():
            for kind, source in (("video", peer.video), ("audio", peer.audio)):
                tap = session.participants[party].fanouts[kind]
                key = f"{party}/{kind}"
                if seen.get(key, (-1, now))[0] != tap.frames:
                    seen[key] = (tap.frames, now)
                settled = now - seen[key][1] >= 1.0
                complete = complete and (tap.frames >= len(source.sent) or settled)
        return complete

    await wait_until(done, 15.0, what=lambda: f"in-flight media: {seen}")


class TestRecording:
    async def test_a_ten_second_call_is_recorded_in_sync_without_reencoding(
        self, hub: MediaHub, peers: list[EncodedPeer], tmp_path: Path
    ) -> None:
        session = await flash_beep_call(hub, peers, seconds=10.5)
        recorder = session.record(tmp_path)
        # The peers' clips end after 10.5 s of media, both kinds at the same instant however late
        # a loaded machine sends them; what is in flight then reaches the recorder before it
        # closes, so the streams of a file end together unless the recorder lost some.
        await wait_until(
            lambda: all(t.readyState == "ended" for p in peers for t in (p.video, p.audio)),
            40.0,
            what=lambda: f"the clips sent: {[(p.video._index, p.audio._index) for p in peers]}",
        )
        await all_arrived(session, peers)
        files = {f.party: f for f in await recorder.close()}
        assert set(files) == {"customer", "agent"}
        for party in ("customer", "agent"):
            path = tmp_path / f"{party}.webm"
            pairs, video, audio = offsets(path)
            assert len(pairs) >= 8, f"{party}: {len(pairs)} flashes"
            assert max(abs(p) for p in pairs) <= 0.040, f"{party} A/V offsets {pairs}"
            assert abs(video - audio) <= 0.100, f"{party}: video {video:.3f}s, audio {audio:.3f}s"
            assert video >= 9.5
            # pts are on the call's media clock: a player's duration runs from 0 to the end.
            assert abs(probe_duration(path) - (files[party].end or 0)) <= 0.1
        # The files are written from the packets as they came: no decoder ran on the server
        # besides the customer's pixel decoder, and nothing was dropped.
        dump = session.recorder.dump() if session.recorder else {}
        assert dump["dropped"] == 0
        assert session.dump()["receiver_decodes"] == 0

    async def test_pause_leaves_a_gap_and_video_resumes_on_a_keyframe(
        self, hub: MediaHub, peers: list[EncodedPeer], tmp_path: Path
    ) -> None:
        session = await flash_beep_call(hub, peers)
        recorder = session.record(tmp_path)
        writer = recorder.writers["customer"]
        await wait_until(lambda: writer.stats["video"].packets >= 60, 15.0, what="2 s recorded")
        recorder.pause()
        paused_at = session.clock.now()
        await wait_until(lambda: session.clock.now() - paused_at >= 2.0, 5.0, what="2 s paused")
        recorder.resume()
        resumed_at = session.clock.now()
        await wait_until(
            lambda: (writer.stats["video"].last or 0) > resumed_at + 1.0, 10.0, what="1 s more"
        )
        await recorder.close()
        times = []
        with av.open(str(tmp_path / "customer.webm")) as container:
            for packet in container.demux(video=0):
                if packet.pts is not None:
                    times.append((float(packet.pts * packet.time_base), packet.is_keyframe))
        gaps = [(a, b) for (a, _), (b, key) in itertools.pairwise(times) if b - a > 1.5]
        assert len(gaps) == 1, gaps
        before, after = gaps[0]
        assert before <= paused_at + 0.1 and after >= resumed_at - 0.05
        assert next(key for t, key in times if t == after), "video resumes on a keyframe"


# --------------------------------------------------------------------------- through the server


async def recording_policy(harness: Harness, policy: str) -> None:
    """The default queue's recording policy, set as an admin does it."""
    cookie = await harness.add_staff("ada", "admin")
    assert harness.http is not None
    async with harness.http.put(
        f"/api/admin/queues/{DEFAULT_QUEUE}",
        json={"name": "General", "recording": policy},
        headers={"Cookie": f"va_session={cookie}"},
    ) as r:
        assert r.status in (200, 201), await r.text()


async def media_call(harness: Harness, peers: list[ClientPeer]) -> tuple[Party, Party, str]:
    customer, agent, session_id, _ = await live_call(harness)
    camera, console = ClientPeer("red"), ClientPeer("blue")
    peers += [camera, console]
    await camera.connect(customer.client, "/customer", session_id)
    await console.connect(agent.client, "/agent", session_id)
    await console.wait_for_video(5)
    return customer, agent, session_id


@pytest.fixture
async def client_peers() -> AsyncIterator[list[ClientPeer]]:
    made: list[ClientPeer] = []
    yield made
    for peer in made:
        await peer.close()


async def hang_up(harness: Harness, agent: Party, session_id: str) -> None:
    assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
    await wait_until(lambda: not harness.hub.sessions, what="media closed")
    await harness.app[RECORDINGS].close()  # every finalize done (it is idempotent)


class TestConsent:
    async def test_a_refusal_is_stored_and_not_one_byte_is_written(
        self, harness: Harness, client_peers: list[ClientPeer]
    ) -> None:
        await recording_policy(harness, "ask")
        customer, agent, session_id = await media_call(harness, client_peers)
        asked = await customer.inbox.next("recording_consent_requested")
        assert asked == {"session_id": session_id}
        pending = await agent.inbox.next("recording_state")
        assert (pending["state"], pending["consent"]) == ("off", "pending")
        # Media flows for a while before the answer: none of it may reach a file.
        session = harness.hub.sessions[session_id]
        await wait_until(
            lambda: session.dump()["participants"]["customer"]["receiving"].get("video", 0) >= 30,
            what="media",
        )
        assert session.recorder is None
        reply = await customer.call(
            "recording_consent", {"session_id": session_id, "accept": False}
        )
        assert (reply["state"], reply["consent"]) == ("off", "refused"), reply
        told = await customer.inbox.next("recording_state")
        assert told["consent"] == "refused"
        again = await customer.call("recording_consent", {"session_id": session_id, "accept": True})
        assert again["error"]["code"] == "conflict"
        await hang_up(harness, agent, session_id)

        folder = harness.app[RECORDINGS].root / session_id
        assert not folder.exists(), list(folder.iterdir())
        (row,) = await harness.records.recordings_of(session_id)
        assert (row["consent"], row["files"], row["size"]) == ("refused", [], 0)

    async def test_a_yes_records_the_call_with_its_sidecar_pauses_and_annotations(
        self, harness: Harness, client_peers: list[ClientPeer]
    ) -> None:
        await recording_policy(harness, "ask")
        customer, agent, session_id = await media_call(harness, client_peers)
        await customer.inbox.next("recording_consent_requested")
        reply = await customer.call("recording_consent", {"session_id": session_id, "accept": True})
        assert reply["state"] == "recording", reply
        for party in (customer, agent):
            seen = [d for e, d in party.inbox.events if e == "recording_state"]
            await wait_until(
                lambda party=party: any(
                    d["state"] == "recording"
                    for e, d in party.inbox.events
                    if e == "recording_state"
                ),
                what="recording indicator",
            )
            del seen
        session = harness.hub.sessions[session_id]
        assert session.recorder is not None
        writer = session.recorder.writers["customer"]
        await wait_until(lambda: writer.stats["video"].packets >= 30, what="1 s recorded")
        room = harness.rooms.room(session_id)
        drawn_at = room.clock()
        mark = {"kind": "arrow", "id": "a1", "from": [0.1, 0.1], "to": [0.5, 0.5]}
        assert (await agent.call("annotate", {"session_id": session_id, "annotation": mark}))["ok"]
        assert (await agent.call("recording_pause", {"session_id": session_id}))["state"] == (
            "paused"
        )
        assert (await customer.call("chat", {"session_id": session_id, "text": "pin 1234"}))["ok"]
        assert (await agent.call("recording_resume", {"session_id": session_id}))["state"] == (
            "recording"
        )
        await wait_until(
            lambda: (
                (writer.stats["video"].last or 0) > room.clock() - 0.2
                and writer.stats["video"].packets >= 60
            ),
            what="recording again",
        )
        await hang_up(harness, agent, session_id)

        (row,) = await harness.records.recordings_of(session_id)
        assert row["consent"] == "accepted" and row["ended_at"] is not None
        names = {f["name"] for f in row["files"]}
        assert names == {"customer.webm", "agent.webm", "events.jsonl"}
        folder = harness.app[RECORDINGS].root / session_id
        lines = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
        kinds = [line["kind"] for line in lines]
        assert kinds[0] == "recording_started" and kinds[-1] == "recording_ended"
        assert (
            kinds.index("recording_paused") < kinds.index("chat") < kinds.index("recording_resumed")
        )
        chat = next(line for line in lines if line["kind"] == "chat")
        assert chat["data"] == {"redacted": True}, "what is said while paused is not kept"
        annotation = next(line for line in lines if line["kind"] == "annotate")
        # The annotation is on the video's time line: at its media time there is a frame of the
        # customer's video within one frame interval (30 fps).
        assert abs(annotation["at"] - drawn_at) <= 1 / 30
        with av.open(str(folder / "customer.webm")) as container:
            times = [
                float(p.pts * p.time_base) for p in container.demux(video=0) if p.pts is not None
            ]
        nearest = min(times, key=lambda t: abs(t - annotation["at"]))
        assert abs(nearest - annotation["at"]) <= 1 / 30 + 0.005, (nearest, annotation["at"])
        assert probe_duration(folder / "customer.webm") > 1.5

        # Conversation analytics run after the files are closed, off the loop.
        async def analysed() -> bool:
            (again,) = await harness.records.recordings_of(session_id)
            row.update(again)
            return again["conversation"] is not None

        await wait_until(analysed, 20, what="conversation analytics stored")
        figures = row["conversation"]
        assert figures["method"] == "energy-vad-1" and figures["analysed"] >= 1.5
        assert set(figures) >= {"agent_talk", "customer_talk", "overlap", "longest_silence"}
        assert figures["talk_ratio"] is None or 0.0 <= figures["talk_ratio"] <= 1.0


class TestServing:
    @pytest.mark.settings(recording_link_ttl=1.0)
    async def test_reviewers_fetch_with_ranges_and_links_expire_others_are_refused(
        self, harness: Harness, client_peers: list[ClientPeer]
    ) -> None:
        await recording_policy(harness, "always")
        customer, agent, session_id = await media_call(harness, client_peers)
        await customer.inbox.next("recording_state")
        session = harness.hub.sessions[session_id]
        assert session.recorder is not None
        writer = session.recorder.writers["customer"]
        await wait_until(lambda: writer.stats["video"].packets >= 30, what="1 s recorded")
        await hang_up(harness, agent, session_id)
        http = harness.http
        assert http is not None
        trainer = await harness.add_staff("tina", "trainer")
        agent_cookie = await harness.add_staff("arnold", "agent")
        async with http.get(
            f"/api/sessions/{session_id}/recordings", headers={"Cookie": f"va_session={trainer}"}
        ) as r:
            assert r.status == 200
            (listed,) = (await r.json())["recordings"]
        signed_at = time.time()
        assert listed["consent"] == "not_asked" and listed["duration"] > 0.5
        url = next(f["url"] for f in listed["files"] if f["name"] == "customer.webm")
        async with http.get(
            url, headers={"Cookie": f"va_session={trainer}", "Range": "bytes=0-99"}
        ) as r:
            assert r.status == 206 and len(await r.read()) == 100
            assert r.headers["Content-Type"] == "video/webm"
        for cookie, status in ((agent_cookie, 403), (None, 401)):
            headers = {"Cookie": f"va_session={cookie}"} if cookie else {}
            async with http.get(url, headers=headers) as r:
                assert r.status == status
            async with http.get(f"/api/sessions/{session_id}/recordings", headers=headers) as r:
                assert r.status == status
        # A customer's ticket token is no staff session either.
        async with http.get(url, headers={"Cookie": f"va_session={customer.client.sid}"}) as r:
            assert r.status == 401
        # Another reviewer cannot use the trainer's link.
        sup = await harness.add_staff("sue", "supervisor")
        async with http.get(url, headers={"Cookie": f"va_session={sup}"}) as r:
            assert r.status == 403
        await wait_until(lambda: time.time() > signed_at + 2.2, 5.0, what="the link's age")
        async with http.get(url, headers={"Cookie": f"va_session={trainer}"}) as r:
            assert r.status == 403, "an expired link"


def decode_to_end(path: Path) -> float:
    """Decode every frame of every stream (raises on a corrupt file); the last frame's time."""
    last = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if frame.time is not None:
                last = max(last, float(frame.time))
    return last


class TestCrash:
    async def test_a_killed_server_leaves_playable_files_repaired_at_the_next_start(
        self, tmp_path: Path
    ) -> None:
        records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
        try:
            await records.migrate()
            await records.put_queue(DEFAULT_QUEUE, "General", {"recording": "always"})
            await records.add_user("alice", "Alice", hash_password("password-1"), "agent", 0.0)
        finally:
            await records.close()
        server = ServerProcess(tmp_path, free_port())
        await server.start()
        peers: list[ClientPeer] = []
        clients: list[socketio.AsyncClient] = []
        try:
            async with aiohttp.ClientSession(server.url) as http:
                async with http.post(
                    "/api/login", json={"username": "alice", "password": "password-1"}
                ) as r:
                    cookie = r.cookies["va_session"].value
                agent = Party(socketio.AsyncClient(reconnection=False), "/agent")
                clients.append(agent.client)
                await connect_socket(agent.client, server.url, "/agent", cookie=cookie)
                assert (await agent.call("ready")) == {"ok": True}
                async with http.post("/api/tickets", json={}) as r:
                    ticket = await r.json()
            customer = Party(socketio.AsyncClient(reconnection=False), "/customer")
            clients.append(customer.client)
            await connect_socket(customer.client, server.url, "/customer", token=ticket["token"])
            await agent.inbox.next("offer")
            accepted = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
            session_id = accepted["session_id"]
            camera, console = ClientPeer("red"), ClientPeer("blue")
            peers += [camera, console]
            await camera.connect(customer.client, "/customer", session_id)
            await console.connect(agent.client, "/agent", session_id)
            await customer.inbox.next("recording_state")
            await console.wait_for_video(5)
            started = time.monotonic()
            path = tmp_path / "recordings" / session_id / "customer.webm"
            await wait_until(
                lambda: time.monotonic() - started >= 4.0 and path.exists(), 10.0, what="4 s"
            )
            recorded = time.monotonic() - started
            assert await server.stop(kill=True) == -9
        finally:
            for peer in peers:
                await peer.close()
            for client in clients:
                await client.disconnect()
        # Killed: the file has no duration, but plays to within a second of the kill.
        with av.open(str(path)) as container:
            assert not container.duration
        assert decode_to_end(path) >= recorded - 1.0

        restarted = ServerProcess(tmp_path, free_port())
        await restarted.start()
        assert await restarted.stop() == 0, restarted.output
        assert "repaired" in restarted.output
        repaired = probe_duration(path)
        assert repaired >= recorded - 1.0
        assert abs(decode_to_end(path) - repaired) <= 0.2
        records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
        try:
            # The restarted server restored the call (CALL_RESUME_WINDOW), but no one came back
            # before it stopped: its part 2 had no media and is not kept.
            (row,) = await records.recordings_of(session_id)
        finally:
            await records.close()
        assert row["part"] == 1
        assert row["repaired"] and row["ended_at"] is not None
        files = {f["name"]: f for f in row["files"]}
        assert abs(files["customer.webm"]["duration"] - repaired) < 0.01
        assert "events.jsonl" in files


class TestRetention:
    @pytest.mark.settings(recording_retention_days=30.0)
    async def test_recordings_older_than_the_retention_are_deleted_and_logged(
        self, harness: Harness, caplog: pytest.LogCaptureFixture
    ) -> None:
        recordings = harness.app[RECORDINGS]
        now = time.time()
        for rec_id, ended in (("old", now - 31 * 86400), ("new", now - 29 * 86400)):
            folder = recordings.root / f"call-{rec_id}"
            folder.mkdir(parents=True)
            (folder / "customer.webm").write_bytes(b"x" * 10)
            await harness.records.add_recording(
                {
                    "id": rec_id,
                    "call_id": f"call-{rec_id}",
                    "ticket_id": "t",
                    "queue_id": DEFAULT_QUEUE,
                    "policy": "always",
                    "consent": "not_asked",
                    "participants": [],
                    "files": [{"party": "customer", "name": "customer.webm", "size": 10}],
                    "started_at": ended - 60,
                    "ended_at": ended,
                    "size": 10,
                }
            )
        with caplog.at_level("INFO", logger="videoassist.recording"):
            assert await recordings.purge(now) == 1
        assert not (recordings.root / "call-old").exists()
        assert (recordings.root / "call-new" / "customer.webm").exists()
        assert await harness.records.recording("old") is None
        assert await harness.records.recording("new") is not None
        assert any("deleted old (call call-old" in r.getMessage() for r in caplog.records)


async def test_an_h264_partys_video_is_recorded_re_encoded_to_vp8(tmp_path: Path) -> None:
    """WebM takes VP8 only: a party sending H.264 (no browser must, RFC 7742, but an endpoint
    may) still has its picture in the file, re-encoded by the writer thread, at its size, in
    its colour and with its timing; a codec nobody can decode is left out, as before."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = 320, 240
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency"}
    red = np.zeros((240, 320, 3), dtype=np.uint8)
    red[:, :, 0] = 220
    frames: list[EncodedFrame] = []
    for n in range(45):
        picture = av.VideoFrame.from_ndarray(red, format="rgb24").reformat(format="yuv420p")
        picture.pts = n
        for packet in encoder.encode(picture):
            frames.append(
                EncodedFrame(
                    bytes(packet),
                    n * 3000,
                    bool(packet.is_keyframe),
                    "H264",
                    at=10.0 + n / 30,
                )
            )
    assert frames and frames[0].keyframe

    recorder = Recorder("c-h264", tmp_path)
    recorder.start()
    outlet = recorder.outlets[("customer", "video")]
    for frame in frames:
        outlet.push(frame)
    recorder.outlets[("agent", "video")].push(
        EncodedFrame(b"\x00" * 50, 0, True, "AV1", at=10.0)  # nobody decodes it: left out
    )
    files = await recorder.close()

    customer = next(f for f in files if f.party == "customer")
    assert customer.streams["video"]["packets"] == len(frames)
    assert recorder.writers["customer"].to_vp8 is not None
    assert recorder.writers["customer"].to_vp8.encoded == len(frames)
    assert recorder.writers["agent"].stats["video"].packets == 0
    with av.open(str(tmp_path / "customer.webm")) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "vp8"
        pictures = list(container.decode(video))
    assert len(pictures) == len(frames)
    assert (pictures[0].width, pictures[0].height) == (320, 240)
    rgb = pictures[-1].to_ndarray(format="rgb24")
    r, g, b = (float(rgb[:, :, c].mean()) for c in range(3))
    assert r > 180 and g < 60 and b < 60, (r, g, b)
    span = float(pictures[-1].time) - float(pictures[0].time)  # type: ignore[arg-type]
    assert abs(span - 44 / 30) < 0.05, span


class _Sent:
    """The delivery port (our own), keeping what was sent."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    async def to_customer(self, ticket_id: str, event: str, data: Any) -> None:
        self.events.append(("customer", str(event), data))

    async def to_agent(self, agent_id: str, event: str, data: Any) -> None:
        self.events.append(("agent", str(event), data))

    async def to_call(self, parties: Any, event: str, data: Any) -> None:
        self.events.append(("call", str(event), data))


class _Recorder:
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    async def close(self) -> list[Any]:
        return []


class _Media:
    def record(self, session_id: str, folder: Path) -> _Recorder:
        return _Recorder()


class TestParts:
    """A call restored after a restart (CALL_RESUME_WINDOW) is recorded on in part 2, with the
    customer's earlier answer: yes records at once, no stands, no answer asks again."""

    @pytest.mark.parametrize(
        ("before", "asked", "state", "consent"),
        [
            ("accepted", False, "recording", "accepted"),
            ("refused", False, "off", "refused"),
            ("unanswered", True, "off", "pending"),
        ],
    )
    async def test_the_customers_answer_carries_over_to_the_next_part(
        self, tmp_path: Path, before: str, asked: bool, state: str, consent: str
    ) -> None:
        records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
        await records.migrate()
        sent = _Sent()

        async def settled() -> None:
            pass

        recordings = Recordings(
            records,
            _Media(),
            sent,  # type: ignore[arg-type]
            {},  # type: ignore[arg-type]  # no call rooms: the sidecar has no media clock
            LocalFiles(tmp_path),
            "key",
            policy_of=lambda ticket_id: (DEFAULT_QUEUE, "ask"),
            settled=settled,
        )
        try:
            await records.add_recording(
                {
                    "id": "part-one",
                    "call_id": "call-1",
                    "ticket_id": "t1",
                    "queue_id": DEFAULT_QUEUE,
                    "policy": "ask",
                    "consent": before,
                    "participants": [],
                    "files": [],
                    "started_at": 1.0,
                    "ended_at": 2.0,
                }
            )
            recordings.call_started("call-1", "t1", "a1")
            await wait_until(lambda: sent.events, 5.0, what="the parties told")
            told = [event for _, event, _ in sent.events]
            assert ("recording_consent_requested" in told) is asked
            assert recordings.state("call-1") == {
                "session_id": "call-1",
                "state": state,
                "consent": consent,
            }
            rows = await records.recordings_of("call-1")
            if state == "recording":
                assert [(r["part"], r["consent"]) for r in rows] == [(1, before), (2, before)]
                assert (tmp_path / "recordings" / "call-1-2" / "events.jsonl").is_file()
            else:
                assert [r["part"] for r in rows] == [1]
        finally:
            await recordings.close()
            await records.close()
