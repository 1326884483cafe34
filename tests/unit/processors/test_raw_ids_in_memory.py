"""No raw user id stays in the engine's memory after the batch or tick that read it.

The tables are the one place a raw id may live (``test_erasure_state`` checks them); the
per-batch caches (subjects, pseudonyms) are emptied at
the end of every batch and tick, and the partition cache keeps keyed digests only.
"""

from __future__ import annotations

import gc
import json
import sys
import types
from typing import Any

from processors.messages import Msg
from processors.table import MemoryTable
from tests.unit.processors.test_erasure_state import ALICE, BOB, CON, NAV, make, rights, scenario

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
        referents = gc.get_referents(obj)
        if isinstance(obj, dict):  # CPython does not report a str-keyed dict's keys
            referents.extend(obj)
        stack.extend((r, f"{path}>{type(r).__name__}") for r in referents)
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


def test_a_rejected_input_leaves_no_raw_id(policy, nav, consent):
    h, _ = make(policy)
    scenario(h, nav, consent)
    value = json.dumps(nav("a2", ALICE, -5)).encode()
    refused = Msg(NAV, 0, 99, ALICE.encode(), value)  # keyed by its user, as apps produce it
    h.engine.reject(refused, "the broker refused its outputs for good")  # outside any batch
    assert holders(h.engine, ALICE, (MemoryTable, type(h.engine.fence))) == []


def test_no_module_level_cache_holds_a_raw_id(policy, nav, consent):
    # Module globals (an lru_cache keyed by user id, a registry) outlive every batch.
    h, _ = make(policy)
    scenario(h, nav, consent)
    h.run(h.produce(CON, rights("r9", ALICE, "erasure", -0.001)))
    h.tick(advance_s=120)
    ours = [
        vars(module)
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in ("processors", "pipeline", "keys", "schemas")
    ]
    for raw in (ALICE, BOB):
        assert holders(ours, raw, (MemoryTable, type(h.engine.fence), type(h))) == []
