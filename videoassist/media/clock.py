"""One media clock per call, and the mapping of each received stream's RTP timestamps onto it.

* ``MediaClock``: seconds since the call's media started (a monotonic origin). The call room
  stamps its events with it (``CallRoom.clock()`` reads the same origin) and the recorder stamps
  every packet with it, so the sidecar log and the files line up.
* ``SenderClock``: one sending party (one peer connection). Its RTCP sender reports pair its
  NTP wall clock with each stream's RTP clock; the first report seen fixes, once, how that NTP
  clock maps onto the media clock.
* ``StreamClock``: one received stream. Until a sender report arrives, a timestamp maps by
  arrival (the lowest ``arrival - ts / rate`` seen in the first second: the least delayed
  packet); afterwards through the report's (NTP, RTP) pair and the sender's NTP offset, which
  puts a party's audio and video on one time line as the sender captured them (lip sync).

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


class SenderClock:
    """The NTP → media clock offset of one sender, fixed by its first sender report."""

    def __init__(self) -> None:
        self.offset: float | None = None


def ntp_seconds(ntp: int) -> float:
    return (ntp >> 32) + (ntp & 0xFFFFFFFF) / (1 << 32)


class StreamClock:
    def __init__(self, rate: int, sender: SenderClock, now: Callable[[], float]) -> None:
        self.rate = rate
        self.sender = sender
        self._now = now
        self._arrival_offset: float | None = None  # media time - ts / rate
        self._first_at: float | None = None
        self._last_ts: int | None = None
        self._report: tuple[int, float] | None = None  # (unwrapped RTP ts, NTP seconds)
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
        return self._mapped(timestamp)

    def arrival(self, timestamp: int) -> float:
        assert self._arrival_offset is not None
        return self._arrival_offset + timestamp / self.rate

    def _mapped(self, timestamp: int) -> float:
        if self._report is not None and self.sender.offset is not None:
            rtp, ntp = self._report
            return ntp + (timestamp - rtp) / self.rate + self.sender.offset
        return self.arrival(timestamp)

    def report(self, rtp_timestamp: int, ntp: int) -> None:
        """A sender report for this stream: (32-bit RTP timestamp, 64-bit NTP timestamp)."""
        if self._last_ts is None or self._arrival_offset is None:
            return  # nothing received yet to anchor the RTP clock to
        rtp = unwrap(rtp_timestamp, self._last_ts, 32)
        seconds = ntp_seconds(ntp)
        if self.sender.offset is None:
            self.sender.offset = self.arrival(rtp) - seconds
        self._report = (rtp, seconds)
        self.reports += 1

    def correction(self) -> float:
        """How far the report-based mapping is from the arrival-based one (seconds)."""
        if self._last_ts is None or self._arrival_offset is None:
            return 0.0
        return self._mapped(self._last_ts) - self.arrival(self._last_ts)
