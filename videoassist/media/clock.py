"""One media clock per call, and the mapping of each received stream's RTP timestamps onto it.

* ``MediaClock``: seconds since the call's media started (a monotonic origin). The call room
  stamps its events with it (``CallRoom.clock()`` reads the same origin) and the recorder stamps
  every packet with it, so the sidecar log and the files line up.
* ``SenderClock``: one sending party (one peer connection). Its first stream to get an RTCP
  sender report becomes the reference: that stream maps by arrival alone.
* ``StreamClock``: one received stream. A timestamp maps by arrival: the lowest
  ``arrival - ts / rate`` seen in the first second (the least delayed packet). Once this stream
  and the reference both have sender reports, it is placed relative to the reference by what the
  reports say instead: each report pairs the sender's NTP clock with the stream's RTP clock, so
  ``ntp - rtp / rate`` is where the sender puts the stream on its own clock, and the difference
  between two streams of one sender is their A/V offset as the sender captured them (lip sync).
  Each stream keeps the lowest such value (the report whose packet was sent soonest: aiortc's
  reports carry the send time of the last packet, which jitters with the sender's load).

Sans-IO: time comes from the injected ``now`` (media-clock seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from videoassist.media.forwarding import unwrap

WARM_UP = 1.0  # seconds of arrivals over which the arrival offset is refined


class MediaClock:
    def __init__(self, origin: float | None = None, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.origin = clock() if origin is None else origin

    def now(self) -> float:
        return self._clock() - self.origin


MAX_CORRECTION = 0.5  # seconds; a report further off than this is not believed


class SenderClock:
    """Which of a sender's streams the others are aligned to (the first with a report)."""

    def __init__(self) -> None:
        self.reference: StreamClock | None = None


def ntp_seconds(ntp: int) -> float:
    return (ntp >> 32) + (ntp & 0xFFFFFFFF) / (1 << 32)


class StreamClock:
    def __init__(self, rate: int, sender: SenderClock, now: Callable[[], float]) -> None:
        self.rate = rate
        self.sender = sender
        self._now = now
        self._arrival_offset: float | None = None  # media time - ts / rate, least delayed
        self._first_at: float | None = None
        self._last_ts: int | None = None
        self._report_offset: float | None = None  # NTP seconds - ts / rate, least delayed
        self.reports = 0

    def map(self, timestamp: int) -> float:
        """Media time of a frame with this (unwrapped) RTP timestamp, arriving now."""
        now = self._now()
        self._last_ts = timestamp
        offset = now - timestamp / self.rate
        if self._arrival_offset is None:
            self._arrival_offset, self._first_at = offset, now
        elif self._first_at is not None and now - self._first_at < WARM_UP:
            self._arrival_offset = min(self._arrival_offset, offset)
        return self._offset() + timestamp / self.rate

    def _offset(self) -> float:
        assert self._arrival_offset is not None
        ref = self.sender.reference
        if (
            ref is None
            or ref is self
            or self._report_offset is None
            or ref._report_offset is None
            or ref._arrival_offset is None
        ):
            return self._arrival_offset
        aligned = ref._arrival_offset + (self._report_offset - ref._report_offset)
        if abs(aligned - self._arrival_offset) > MAX_CORRECTION:
            return self._arrival_offset
        return aligned

    def report(self, rtp_timestamp: int, ntp: int) -> None:
        """A sender report for this stream: (32-bit RTP timestamp, 64-bit NTP timestamp)."""
        if self._last_ts is None:
            return  # nothing received yet to anchor the RTP clock to
        rtp = unwrap(rtp_timestamp, self._last_ts, 32)
        offset = ntp_seconds(ntp) - rtp / self.rate
        if self._report_offset is None or offset < self._report_offset:
            self._report_offset = offset
        if self.sender.reference is None:
            self.sender.reference = self
        self.reports += 1

    def correction(self) -> float:
        """How far the report-based placement is from the arrival-based one (seconds)."""
        if self._arrival_offset is None:
            return 0.0
        return self._offset() - self._arrival_offset
