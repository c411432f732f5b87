"""Keep Python's full garbage collections out of call routing.

Why: with the engine, the web side, SQLAlchemy's metadata and every imported module loaded,
the process holds about a million container objects. A full (generation 2) collection
walks all of them: bench/routing_latency.py caught three in a minute of bursts, the longest
111 ms, and each one stalled every call being routed at that moment (the bench's p99 at
100 calls/s went from about 5 ms to over 100 ms because of them).

`settle_heap()` runs once after start-up: one full collection, then `gc.freeze()` moves
everything still alive to the permanent generation, which later collections skip. Those
objects live as long as the process anyway (modules, the schema, the directory). Full
collections after that only walk what was made since, so they take a millisecond or two.
It is called by the process entry points (`switchboard engine`, the demo, the benches),
not by `Engine.start()`: a test process starts hundreds of engines and must not pin the
garbage of every earlier test.
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect, then freeze what survives. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
