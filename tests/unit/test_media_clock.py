"""The media clock's mapping of RTP timestamps: by arrival, then aligned by sender reports."""

from __future__ import annotations

from videoassist.media.clock import SenderClock, StreamClock


def ntp(seconds: float) -> int:
    return round(seconds * (1 << 32))


class Now:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_stream_maps_by_its_least_delayed_arrival_in_the_first_second() -> None:
    now = Now()
    clock = StreamClock(90000, SenderClock(), now)
    now.t = 1.05  # the first frame (ts 0) was 50 ms late
    assert clock.map(0) == 1.05
    now.t = 1.1  # the next one (33 ms later at the sender) arrived with 17 ms less delay
    assert abs(clock.map(3000) - (1.0 + 1 / 30 + 0.05 - 0.017 + 0.0003)) < 0.02
    now.t = 5.0  # after the first second the offset no longer moves
    assert abs(clock.map(90000 * 4) - (clock.map(0) + 4)) < 1e-9


def test_sender_reports_put_audio_where_the_sender_captured_it_relative_to_video() -> None:
    """Video arrives 30 ms behind audio (say, encoding): by arrival the two are 30 ms apart;
    the reports say both were captured together, so audio moves onto video's time line."""
    now = Now()
    sender = SenderClock()
    video = StreamClock(90000, sender, now)
    audio = StreamClock(48000, sender, now)
    now.t = 2.0
    audio.map(48000)  # captured at sender time 1.0
    now.t = 2.03
    video.map(90000)  # captured at sender time 1.0 too
    assert abs((video.map(90000) - audio.map(48000)) - 0.03) < 1e-6
    video.report(90000, ntp(1001.0))  # the reference: still by arrival
    audio.report(48000 + 480, ntp(1001.01))  # a later report, same clocks
    assert abs(video.map(90000) - audio.map(48000)) < 1e-6
    assert abs(audio.correction() - 0.03) < 1e-6 and video.correction() == 0.0


def test_a_report_far_from_the_arrivals_is_not_believed() -> None:
    now = Now()
    sender = SenderClock()
    video, audio = StreamClock(90000, sender, now), StreamClock(48000, sender, now)
    now.t = 1.0
    video.map(0)
    audio.map(0)
    video.report(0, ntp(100.0))
    audio.report(0, ntp(105.0))  # five seconds apart: garbage
    assert audio.map(0) == 1.0
