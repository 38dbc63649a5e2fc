"""The storage port's local store: one folder per area and key, and no key that leaves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoassist.files import LocalFiles


def test_folders_are_under_their_area(tmp_path: Path) -> None:
    files = LocalFiles(tmp_path)
    assert files.folder("recordings", "abc-2") == tmp_path / "recordings" / "abc-2"
    assert files.area("tutorials") == tmp_path / "tutorials"


@pytest.mark.parametrize("key", ["", "..", "../secret.key", "a/b", "/etc", "a\\b", "x" * 81, "é"])
def test_a_key_that_is_not_one_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        LocalFiles(tmp_path).folder("calls", key)


def test_an_area_that_is_not_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalFiles(tmp_path).folder("secrets", "abc")  # type: ignore[arg-type]
