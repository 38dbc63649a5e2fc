"""Run a snippet of Python in a fresh interpreter: for what this test process can no longer show
(which modules an import loads, behaviour under another hash seed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> str:
    """Standard output of ``code`` run by this Python from the repository root, with ``env``
    added to the environment; fails the test with the child's stderr if it fails. The checkout
    comes first on PYTHONPATH, so the child imports it even where another one is installed."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths), **env},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
