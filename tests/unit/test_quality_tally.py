"""A call's quality summary folds every sample of a leg (videoassist/media/quality.py)."""

from __future__ import annotations

from videoassist.media.quality import QualityTally


def test_worst_and_mean_round_trip_last_loss_most_freezes_mean_bitrate() -> None:
    tally = QualityTally()
    tally.add(None)  # the leg did not exist yet
    tally.add({"rtt_ms": None, "loss_pct": None, "kbps": None, "freezes": 0, "transcoded": False})
    tally.add({"rtt_ms": 40, "loss_pct": 0.0, "kbps": 600, "freezes": 0, "transcoded": False})
    tally.add({"rtt_ms": 120, "loss_pct": 2.5, "kbps": 300, "freezes": 1, "transcoded": True})
    tally.add({"rtt_ms": 20, "loss_pct": 1.5, "kbps": 900, "freezes": 1, "transcoded": False})
    assert tally.summary() == {
        "samples": 4,
        "rtt_ms_max": 120,
        "rtt_ms_mean": 60,
        "loss_pct": 1.5,  # counted from the leg's start: the last sample says it all
        "kbps_mean": 600,
        "freezes": 1,
        "transcoded": True,
    }


def test_a_leg_never_sampled_says_so() -> None:
    assert QualityTally().summary()["samples"] == 0
    assert QualityTally().summary()["rtt_ms_mean"] is None
