"""settle_heap: start-up objects leave the garbage collector's reach, later garbage does not."""

from __future__ import annotations

import gc

from engine.runtime.heap import settle_heap


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cycle collector frees it


def test_settle_heap_freezes_the_survivors_and_later_cycles_are_still_collected():
    try:
        kept = [Node() for _ in range(100)]
        frozen = settle_heap()
        assert frozen == gc.get_freeze_count() >= len(kept)
        before = gc.get_freeze_count()
        garbage = [Node() for _ in range(1000)]
        del garbage
        assert gc.collect() >= 1000  # made after the freeze: collected as usual
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
