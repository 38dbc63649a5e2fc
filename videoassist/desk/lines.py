"""Ordered sets with removal: the waiting lines and the ready-agent pools of each queue, and
the ranked set that gives a customer's place in line.

A binary heap with lazy deletion: ``push`` and ``discard`` are O(log n) and O(1), the first
acceptable item is found in O(log n) unless the caller rejects the front ones (declines,
skills), in which case at most ``limit`` items are looked at. Keys must be unique tuples (they
end with a sequence number), so items are never compared.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Callable, Hashable, Iterator
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


class RankedSet:
    """A sorted set of unique keys that answers "how many are before this one" in O(log n).

    The keys live in sorted blocks of at most ``2 * load`` (a list of lists, like a B-tree one
    level deep), with the largest key of each block in ``_maxes`` to find a key's block by
    bisection and a Fenwick tree over the block lengths for the count of keys in the blocks
    before it. Adding or removing a key moves at most one block's worth of references; a block
    that splits or empties rebuilds the tree, O(n / load), once per ``load`` changes at most.
    The waiting lines use it for positions: at ten thousand waiting, scanning the line for one
    customer's place cost a millisecond, and everyone re-syncing after a restart whole seconds.
    """

    def __init__(self, load: int = 256) -> None:
        self._load = load
        self._blocks: list[list[Any]] = []
        self._maxes: list[Any] = []
        self._tree: list[int] = [0]  # Fenwick tree, 1-based, over len(block)
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        for block in self._blocks:
            yield from block

    def add(self, key: Any) -> None:
        blocks = self._blocks
        if not blocks:
            self._blocks, self._maxes = [[key]], [key]
            self._len = 1
            self._rebuild()
            return
        i = bisect_left(self._maxes, key)
        if i == len(blocks):
            i -= 1
            blocks[i].append(key)
        else:
            insort(blocks[i], key)
        self._maxes[i] = blocks[i][-1]
        self._len += 1
        if len(blocks[i]) > 2 * self._load:
            block = blocks[i]
            blocks[i : i + 1] = [block[: self._load], block[self._load :]]
            self._maxes[i : i + 1] = [blocks[i][-1], blocks[i + 1][-1]]
            self._rebuild()
        else:
            self._bump(i, 1)

    def discard(self, key: Any) -> bool:
        i = bisect_left(self._maxes, key)
        if i == len(self._blocks):
            return False
        block = self._blocks[i]
        j = bisect_left(block, key)
        if j == len(block) or block[j] != key:
            return False
        del block[j]
        self._len -= 1
        if block:
            self._maxes[i] = block[-1]
            self._bump(i, -1)
        else:
            del self._blocks[i]
            del self._maxes[i]
            self._rebuild()
        return True

    def rank(self, key: Any) -> int:
        """How many keys are smaller than ``key`` (present or not)."""
        i = bisect_left(self._maxes, key)
        if i == len(self._blocks):
            return self._len
        before, node = 0, i
        while node > 0:  # Fenwick prefix sum of the lengths of blocks 0..i-1
            before += self._tree[node]
            node -= node & -node
        return before + bisect_left(self._blocks[i], key)

    def _bump(self, i: int, delta: int) -> None:
        node, tree = i + 1, self._tree
        while node < len(tree):
            tree[node] += delta
            node += node & -node

    def _rebuild(self) -> None:
        tree = [0] * (len(self._blocks) + 1)
        for i, block in enumerate(self._blocks, start=1):
            tree[i] += len(block)
            parent = i + (i & -i)
            if parent < len(tree):
                tree[parent] += tree[i]
        self._tree = tree
