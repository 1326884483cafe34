"""No raw user id stays in the engine's memory after the batch or tick that read it.

The tables are the one place a raw id may live (``test_erasure_state`` checks them); the
per-batch caches (subjects, pseudonyms) are emptied at
the end of every batch and tick, and the partition cache keeps keyed digests only.
"""

from __future__ import annotations

import gc
import types
from typing import Any

from processors.table import MemoryTable
from tests.unit.processors.test_erasure_state import ALICE, BOB, CON, make, rights, scenario

_OPAQUE = (types.ModuleType, type, types.FunctionType)


def holders(root: Any, raw: str, skip: tuple[type, ...] = ()) -> list[str]:
    """Paths (by type name) from ``root`` to every str or bytes containing ``raw``."""
    needle, found = raw.encode(), []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(root, type(root).__name__)]
    while stack:
        obj, path = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE + skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            if (raw in obj) if isinstance(obj, str) else (needle in obj):
                found.append(path)
            continue
        stack.extend((r, f"{path}>{type(r).__name__}") for r in gc.get_referents(obj))
    return found


def test_after_a_batch_only_the_tables_hold_raw_ids(policy, nav, consent):
    h, _ = make(policy)
    scenario(h, nav, consent)  # alice consents, browses, objects; bob's event is held
    outside_tables = (MemoryTable, type(h.engine.fence))
    assert holders(h.engine, ALICE, outside_tables) == []
    assert holders(h.engine, BOB, outside_tables) == []
    # The scan sees what is there: the raw inputs, in the test's stand-in for the topics.
    assert holders(h.engine, BOB) != [] and holders(h.engine, ALICE) != []


def test_after_an_erasure_and_a_tick_no_raw_id_is_left(policy, nav, consent):
    h, _ = make(policy)
    scenario(h, nav, consent)
    h.run(h.produce(CON, rights("r9", ALICE, "erasure", -0.001)))
    h.tick(advance_s=120)
    assert holders(h.engine, ALICE, (type(h.engine.fence),)) == []
    assert holders(h.engine, BOB, (MemoryTable, type(h.engine.fence))) == []
