"""Ordered sets with removal: the waiting lines and the ready-agent pools of each queue.

A binary heap with lazy deletion: ``push`` and ``discard`` are O(log n) and O(1), the first
acceptable item is found in O(log n) unless the caller rejects the front ones (declines,
skills), in which case at most ``limit`` items are looked at. Keys must be unique tuples (they
end with a sequence number), so items are never compared.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from typing import Any

Key = tuple[Any, ...]


class LazyHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[Key, Hashable]] = []
        self._live: dict[Hashable, tuple[Key, Hashable]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: object) -> bool:
        return item in self._live

    def key(self, item: Hashable) -> Key | None:
        entry = self._live.get(item)
        return entry[0] if entry else None

    def push(self, item: Hashable, key: Key) -> None:
        entry = (key, item)
        self._live[item] = entry
        heapq.heappush(self._heap, entry)

    def discard(self, item: Hashable) -> None:
        if self._live.pop(item, None) is not None and len(self._heap) > 2 * len(self._live) + 64:
            self._heap = list(self._live.values())
            heapq.heapify(self._heap)

    def first(self, accept: Callable[[Any], bool] | None = None, limit: int = 64) -> Any:
        """The first item ``accept`` takes (looking at ``limit`` items at most), or None."""
        heap, live = self._heap, self._live
        while heap and live.get(heap[0][1]) is not heap[0]:
            heapq.heappop(heap)
        if not heap:
            return None
        if accept is None or accept(heap[0][1]):
            return heap[0][1]
        looked: list[tuple[Key, Hashable]] = []
        found = None
        while heap and len(looked) < limit:
            entry = heapq.heappop(heap)
            if live.get(entry[1]) is not entry:
                continue
            looked.append(entry)
            if accept(entry[1]):
                found = entry[1]
                break
        for entry in looked:
            heapq.heappush(heap, entry)
        return found

    def ordered(self) -> list[Any]:
        """Every item, first to last (O(n log n): for announcements, not decisions)."""
        return [item for _, item in sorted(self._live.values(), key=lambda e: e[0])]
