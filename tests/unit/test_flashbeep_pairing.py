"""The recording sync test's pairing (tests.support.flashbeep.pair_up) reports what it must:
a shifted beep train as that shift, a missing beep as a flash without its pair."""

from __future__ import annotations

import pytest

from tests.support.flashbeep import pair_up

FLASHES = [1.0 + i for i in range(9)]


def test_in_sync_trains_pair_one_to_one_with_their_offsets() -> None:
    beeps = [f + 0.004 * (i % 3) for i, f in enumerate(FLASHES)]
    lag, pairs = pair_up(FLASHES, beeps)
    assert lag == pytest.approx(0.0, abs=0.009)
    assert pairs == list(zip(FLASHES, beeps, strict=True))


def test_a_shift_beyond_the_bound_is_measured_not_hidden() -> None:
    beeps = [f + 0.060 for f in FLASHES]
    lag, pairs = pair_up(FLASHES, beeps)
    assert lag == pytest.approx(0.060)
    assert max(b - f for f, b in pairs) == pytest.approx(0.060)


def test_a_missing_beep_leaves_its_flash_unpaired() -> None:
    beeps = [f for f in FLASHES if f != 5.0]
    _, pairs = pair_up(FLASHES, beeps)
    assert 5.0 not in {f for f, _ in pairs}
    assert len(pairs) == len(FLASHES) - 1


def test_a_stray_beep_does_not_steal_a_pair() -> None:
    beeps = sorted([*FLASHES, 4.4])
    lag, pairs = pair_up(FLASHES, beeps)
    assert lag == 0.0 and {b for _, b in pairs} == set(FLASHES)
