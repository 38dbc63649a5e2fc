"""Shared pieces of the desk benchmarks: simulated time, percentiles, the machine line.

The desk is sans-IO: time comes in with each event, timers go out as ``SetTimer`` effects. A
benchmark therefore needs no clock and no sleeping: ``Scheduler`` keeps the pending desk timers
(replaced by key, dropped by ``CancelTimer``) and the driver's own scheduled actions in one heap,
and hands them back in time order, advancing ``now``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import itertools
import math
import os
import platform
from collections.abc import Callable, Sequence
from typing import Any


def id_source(prefix: str) -> Callable[[], str]:
    """Numbered ids. The naive baseline numbers its sessions with the same source as the desk it
    is compared with, so that the replayed ``HungUp`` and ``WrapUpDone`` name its sessions too."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):07d}"


class Scheduler:
    """Simulated time: desk timers (by key, as the shell keeps them) and driver actions."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, str | None, Any]] = []
        self._timers: dict[str, int] = {}  # key -> seq of the live entry
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def pending_timers(self) -> int:
        return len(self._timers)

    def set_timer(self, key: str, at: float, event: Any) -> None:
        """``SetTimer``: a timer with the same key replaces the earlier one."""
        self._seq += 1
        self._timers[key] = self._seq
        heapq.heappush(self._heap, (at, self._seq, key, event))

    def cancel_timer(self, key: str) -> None:
        self._timers.pop(key, None)

    def at(self, when: float, action: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (max(when, self.now), self._seq, None, action))

    def after(self, delay: float, action: Any) -> None:
        self.at(self.now + delay, action)

    def pop(self) -> tuple[float, bool, Any] | None:
        """The next due item as (at, is_desk_timer, event or action), or None when idle."""
        heap, timers = self._heap, self._timers
        while heap:
            at, seq, key, payload = heapq.heappop(heap)
            if key is not None:
                if timers.get(key) != seq:
                    continue  # cancelled or replaced
                del timers[key]
            self.now = max(self.now, at)
            return at, key is not None, payload
        return None

    def peek_time(self) -> float | None:
        heap, timers = self._heap, self._timers
        while heap and heap[0][2] is not None and timers.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def machine_line() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs ({cpu}), "
        f"RAM {ram}, Python {platform.python_version()} ({platform.python_implementation()}), "
        f"load average {load}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])
