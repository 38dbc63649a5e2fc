"""Sealed secrets: read back under the same key and purpose, refused under any other."""

from __future__ import annotations

import pytest

from videoassist.sealing import Sealer, Unreadable, is_sealed


def test_a_sealed_secret_opens_under_its_key_and_purpose_only() -> None:
    sealer = Sealer("key-one", "webhooks")
    sealed = sealer.seal("whsec_abc")
    assert is_sealed(sealed) and "whsec_abc" not in sealed
    assert sealer.open(sealed) == "whsec_abc"
    assert sealer.seal("whsec_abc") != sealed  # a fresh IV each time
    for other in (Sealer("key-two", "webhooks"), Sealer("key-one", "something else")):
        with pytest.raises(Unreadable):
            other.open(sealed)


def test_an_altered_value_is_refused_and_a_clear_one_read_as_it_is() -> None:
    sealer = Sealer("key-one", "webhooks")
    sealed = sealer.seal("whsec_abc")
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(Unreadable):
        sealer.open(altered)
    assert sealer.open("whsec_legacy") == "whsec_legacy"
