from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, test_settings


@pytest.fixture
async def harness(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    h = Harness(test_settings(tmp_path, **overrides))
    await h.start()
    yield h
    await h.stop()
