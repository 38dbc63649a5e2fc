"""The frame assemblers, the keyframe throttle and the outlet, with fake packets and clocks."""

from __future__ import annotations

import asyncio

import pytest

from videoassist.media.forwarding import (
    AudioAssembler,
    EncodedFrame,
    KeyframeThrottle,
    Outlet,
    Packet,
    VideoAssembler,
    unwrap,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame_packets(seq: int, ts: int, parts: int, *, key: bool = False) -> list[Packet]:
    """One VP8-like frame of ``parts`` packets starting at ``seq`` (wrapping at 65536)."""
    return [
        Packet(
            (seq + i) % 65536,
            ts % (1 << 32),
            marker=i == parts - 1,
            data=bytes([ts % 251, i]),
            start=i == 0,
            keyframe=key and i == 0,
        )
        for i in range(parts)
    ]


def feed(assembler: VideoAssembler, packets: list[Packet]) -> tuple[list[EncodedFrame], bool]:
    frames, need = [], False
    for packet in packets:
        result = assembler.add(packet)
        frames += result.frames
        need = need or result.need_keyframe
    return frames, need


class TestUnwrap:
    def test_sequence_numbers_and_timestamps_unwrap_both_ways(self) -> None:
        assert unwrap(2, 65534, 16) == 65538
        assert unwrap(65534, 65538, 16) == 65534
        assert unwrap(5, 2**32 - 10, 32) == 2**32 + 5
        assert unwrap(7, None, 16) == 7


class TestVideoAssembler:
    def test_frames_come_out_at_their_marker_across_the_sequence_wrap(self) -> None:
        assembler = VideoAssembler("VP8", clock=Clock())
        packets = frame_packets(65533, 1000, 2, key=True) + frame_packets(65535, 4000, 3)
        frames, need = feed(assembler, packets)
        assert [f.timestamp for f in frames] == [1000, 4000]
        assert frames[0].keyframe and not frames[1].keyframe
        assert frames[1].data == bytes([4000 % 251, 0, 4000 % 251, 1, 4000 % 251, 2])
        assert not need

    def test_reordered_packets_are_put_back_in_order(self) -> None:
        assembler = VideoAssembler("VP8", clock=Clock())
        first = frame_packets(10, 0, 1, key=True)
        second = frame_packets(11, 3000, 3)
        frames, _ = feed(assembler, [*first, second[2], second[0], second[1]])
        assert [f.timestamp for f in frames] == [0, 3000]
        assert frames[1].data == bytes([3000 % 251, 0, 3000 % 251, 1, 3000 % 251, 2])

    def test_nothing_before_the_first_keyframe_is_forwarded(self) -> None:
        assembler = VideoAssembler("VP8", clock=Clock())
        frames, _ = feed(assembler, frame_packets(1, 0, 2) + frame_packets(3, 3000, 2, key=True))
        assert [f.timestamp for f in frames] == [3000]

    def test_a_hole_filled_in_time_loses_nothing(self) -> None:
        clock = Clock()
        assembler = VideoAssembler("VP8", clock=clock, gap_timeout=0.25)
        packets = frame_packets(1, 0, 1, key=True) + frame_packets(2, 3000, 2)
        packets += frame_packets(4, 6000, 1)
        frames, _ = feed(assembler, [packets[0], packets[2], packets[3]])
        assert len(frames) == 1 and assembler.deadline == pytest.approx(100.25)
        clock.now += 0.2
        assert assembler.poll().frames == []
        frames, need = feed(assembler, [packets[1]])  # the retransmission
        assert [f.timestamp for f in frames] == [3000, 6000]
        assert not need and assembler.deadline is None and assembler.lost == 0

    def test_a_hole_not_filled_in_time_drops_to_the_next_keyframe_and_asks_for_one(self) -> None:
        clock = Clock()
        assembler = VideoAssembler("VP8", clock=clock, gap_timeout=0.25)
        feed(assembler, frame_packets(1, 0, 1, key=True))
        lost = frame_packets(2, 3000, 2)
        frames, _ = feed(assembler, [lost[1], *frame_packets(4, 6000, 1)])
        assert frames == []
        clock.now += 0.25
        result = assembler.poll()
        assert result.frames == [] and result.need_keyframe
        assert assembler.waiting_for_keyframe and assembler.lost == 1
        frames, _ = feed(
            assembler, frame_packets(5, 9000, 1) + frame_packets(6, 12000, 2, key=True)
        )
        assert [f.timestamp for f in frames] == [12000], "deltas after the hole are not sent"
        frames, _ = feed(assembler, [lost[0]])
        assert frames == [] and assembler.late == 1

    def test_a_frame_whose_timestamp_changes_without_a_marker_is_dropped(self) -> None:
        assembler = VideoAssembler("VP8", clock=Clock())
        feed(assembler, frame_packets(1, 0, 1, key=True))
        broken = frame_packets(2, 3000, 2)[:1] + frame_packets(3, 6000, 1)
        frames, need = feed(assembler, broken)
        assert frames == [] and need


class TestAudioAssembler:
    def test_every_packet_goes_at_once_and_late_ones_are_dropped(self) -> None:
        assembler = AudioAssembler("opus")
        out = [assembler.add(Packet(s, s * 960, False, b"x")).frames for s in (65535, 1, 0, 2)]
        assert [len(f) for f in out] == [1, 1, 0, 1]
        assert assembler.late == 1


class TestKeyframeThrottle:
    def test_one_request_per_interval_and_the_rest_coalesced(self) -> None:
        throttle = KeyframeThrottle(0.3)
        assert throttle.request(10.0) == 0.0
        assert throttle.request(10.1) == pytest.approx(0.2)
        assert throttle.request(10.2) == pytest.approx(0.1)
        assert throttle.due(10.3) is True
        assert throttle.due(10.3) is False
        assert throttle.request(10.4) == pytest.approx(0.2)
        assert throttle.request(10.7) == 0.0
        assert throttle.pending is False


class FakeTap:
    def __init__(self, name: str, source_id: int) -> None:
        self.name = name
        self.id = source_id
        self.requests: list[str] = []
        self.outlets: set[Outlet] = set()

    def attach(self, outlet: Outlet, *, ask_keyframe: bool = True) -> None:
        self.outlets.add(outlet)
        if ask_keyframe:
            self.requests.append("attach")

    def detach(self, outlet: Outlet) -> None:
        self.outlets.discard(outlet)

    def request_keyframe(self, reason: str) -> None:
        self.requests.append(reason.split()[0])


def frame(ts: int, *, key: bool = False, source: int = 1) -> EncodedFrame:
    return EncodedFrame(f"{source}:{ts}".encode(), ts, key, "VP8", source)


class TestOutlet:
    async def test_starts_at_a_keyframe_once_read_and_rebases_a_new_source(self) -> None:
        clock = Clock()
        outlet = Outlet("video", "o", clock=clock)
        a, b = FakeTap("a", 1), FakeTap("b", 2)
        outlet.set_source(a)  # type: ignore[arg-type]
        outlet.push(frame(0, key=True))  # nobody reads yet: not queued
        reading = asyncio.ensure_future(outlet.next_frame())
        await asyncio.sleep(0)
        assert a.requests == ["start"]
        outlet.push(frame(3000))
        outlet.push(frame(6000, key=True))
        outlet.push(frame(9000))
        first = await reading
        assert first.data == b"1:6000" and first.timestamp == 0
        assert (await outlet.next_frame()).timestamp == 3000

        clock.now += 0.1
        outlet.set_source(b)  # type: ignore[arg-type]
        assert b.requests == ["attach"] and outlet not in a.outlets
        outlet.push(frame(500, source=2))  # a delta: skipped
        outlet.push(frame(900_000, key=True, source=2))
        outlet.push(frame(903_000, source=2))
        swapped = await outlet.next_frame()
        assert swapped.keyframe and swapped.timestamp == 3000 + 9000  # 0.1 s later
        assert (await outlet.next_frame()).timestamp == 3000 + 9000 + 3000
        assert outlet.skipped == 3

    async def test_overflow_flushes_and_waits_for_a_keyframe_asking_for_one(self) -> None:
        outlet = Outlet("video", "o", maxlen=3)
        tap = FakeTap("a", 1)
        outlet.set_source(tap)  # type: ignore[arg-type]
        reading = asyncio.ensure_future(outlet.next_frame())
        await asyncio.sleep(0)
        outlet.push(frame(0, key=True))
        assert (await reading).keyframe
        for ts in (3000, 6000, 9000, 12000):
            outlet.push(frame(ts))
        assert outlet.overflows == 1 and tap.requests[-1] == "overflow"
        outlet.push(frame(15000))
        outlet.push(frame(18000, key=True))
        got = await outlet.next_frame()
        assert got.data == b"1:18000", "nothing of the broken chain is sent"

    async def test_stop_ends_a_waiting_reader(self) -> None:
        from aiortc.mediastreams import MediaStreamError

        outlet = Outlet("audio", "o")
        reading = asyncio.ensure_future(outlet.recv())
        await asyncio.sleep(0)
        outlet.stop()
        with pytest.raises(MediaStreamError):
            await reading
        outlet.stop()  # idempotent
