"""The desk is sans-IO: importing it must not pull in an event loop, a network or a database."""

from __future__ import annotations

import json
import subprocess
import sys

IO_MODULES = ("asyncio", "aiohttp", "socketio", "engineio", "redis", "sqlalchemy", "aiortc", "av")

PROBE = f"""
import json, sys
import videoassist.desk
roots = {{name.partition(".")[0] for name in sys.modules}}
print(json.dumps(sorted(roots & set({list(IO_MODULES)!r}))))
"""


def test_importing_the_desk_loads_no_io_library() -> None:
    # A fresh interpreter: this one already has pytest's (and its plugins') imports loaded.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    offenders = json.loads(result.stdout)
    assert offenders == [], (
        f"importing videoassist.desk loaded {', '.join(offenders)}; the desk must stay sans-IO "
        "(move the import into a shell: service, gateway, media or store)"
    )
