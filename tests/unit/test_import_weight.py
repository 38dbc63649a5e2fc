"""The signaling path loads no image stack: OpenCV and numpy wait until a call tracks or renders.

Each probe runs in a fresh interpreter, since this test process has long since imported both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.probe import ROOT, run_python

HEAVY = ["cv2", "numpy"]


def loaded_after_import(module: str) -> tuple[str, list[str]]:
    """Where ``module`` was imported from, and which of HEAVY importing it loaded."""
    probe = (
        "import importlib, json, sys; "
        f"m = importlib.import_module({module!r}); "
        f"print(json.dumps([m.__file__, sorted(set({HEAVY!r}) & set(sys.modules))]))"
    )
    where, heavy = json.loads(run_python(probe))
    return where, heavy


@pytest.mark.parametrize(
    "module",
    [
        # Validates every mark a client sends; the renderer is videoassist.media.render.
        "videoassist.annotations",
        # Reaches the hub, and through it sticky marks, which load the tracker only for a call.
        "videoassist.gateway",
        # Reaches the gateway and the hub through http.keys and call_content.
        "videoassist.http.api",
    ],
)
def test_importing_a_signaling_module_loads_neither_opencv_nor_numpy(module: str) -> None:
    where, heavy = loaded_after_import(module)
    assert Path(where).is_relative_to(ROOT), f"{module} came from {where}, not this checkout"
    assert heavy == []
