"""A call's media quality over its whole length, for the canonical log line.

The hub samples each leg every ``quality_interval`` (round-trip time, loss since the leg
started, bitrate since the last sample, freezes so far, transcoding); the wallboard shows the
newest sample. :class:`QualityTally` folds every sample of a leg into a summary: the worst and
mean round-trip time, the loss and freezes at the end (both are counted from the leg's start),
the mean bitrate, whether it was ever transcoded, and how many samples it stands on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class QualityTally:
    samples: int = 0
    rtt_max: int | None = None
    rtt_sum: int = 0
    rtt_n: int = 0
    kbps_sum: int = 0
    kbps_n: int = 0
    loss_pct: float | None = None
    freezes: int = 0
    transcoded: bool = False

    def add(self, sample: dict[str, Any] | None) -> None:
        if sample is None:
            return
        self.samples += 1
        rtt = sample.get("rtt_ms")
        if rtt is not None:
            self.rtt_max = rtt if self.rtt_max is None else max(self.rtt_max, rtt)
            self.rtt_sum += rtt
            self.rtt_n += 1
        if sample.get("kbps") is not None:
            self.kbps_sum += sample["kbps"]
            self.kbps_n += 1
        if sample.get("loss_pct") is not None:
            self.loss_pct = sample["loss_pct"]
        self.freezes = max(self.freezes, sample.get("freezes") or 0)
        self.transcoded = self.transcoded or bool(sample.get("transcoded"))

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "rtt_ms_max": self.rtt_max,
            "rtt_ms_mean": round(self.rtt_sum / self.rtt_n) if self.rtt_n else None,
            "loss_pct": self.loss_pct,
            "kbps_mean": round(self.kbps_sum / self.kbps_n) if self.kbps_n else None,
            "freezes": self.freezes,
            "transcoded": self.transcoded,
        }
