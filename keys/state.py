"""The in-memory view of a verified keyring: unwrapped key objects, indexed for the hot path.

Key objects (AESGCM / pre-keyed HMAC) are built once per key and reused across reloads as
long as the key's wrapped bytes do not change; destroyed keys are simply not rebuilt, so a
reload drops them from memory.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime

from keys.epochs import epoch_bounds
from keys.fieldcrypt import FieldKey
from keys.kek import Kek
from keys.model import Body, StoredKey
from keys.ops import HANDLE, key_context
from keys.pseudonym import PseudonymKey


@dataclasses.dataclass(slots=True)
class Slot:
    """One (purpose, epoch): its time bounds, pseudonym key and active encryption key."""

    purpose: str
    epoch: str
    start: datetime
    end: datetime
    destroyed: bool
    pseudonym: PseudonymKey | None
    active: FieldKey | None
    start_s: float = dataclasses.field(init=False)
    """``start`` in POSIX seconds: events carry their own UTC offsets, and comparing datetimes
    of two offsets converts both (twice per purpose and event); a float compares at once."""
    end_s: float = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.start_s = self.start.timestamp()
        self.end_s = self.end.timestamp()


@dataclasses.dataclass(frozen=True, slots=True)
class KnownKey:
    """An encryption key as decrypt sees it; ``key`` is ``None`` once destroyed."""

    purpose: str
    epoch: str
    status: str
    key: FieldKey | None


_Cache = dict[tuple[bytes, str], FieldKey | PseudonymKey]


class KeyState:
    """Immutable-after-build indexes of one keyring version."""

    def __init__(self, body: Body, kek: Kek, previous: KeyState | None = None) -> None:
        """Unwrap every live key of ``body`` (reusing ``previous``'s objects when unchanged)."""
        self.kinds: dict[str, str] = {}
        self.slots: dict[tuple[str, str], Slot] = {}
        self.by_id: dict[bytes, KnownKey] = {}
        self._kek = kek
        self._old: _Cache = previous._cache if previous is not None else {}
        self._cache: _Cache = {}
        handle = None if body.handle_key is None else self._build(
            HANDLE, HANDLE, "-", body.handle_key)
        self.handle = handle if isinstance(handle, PseudonymKey) else None
        for name, purpose in body.purposes.items():
            self.kinds[name] = purpose.epoch_kind
            for epoch, keys in purpose.epochs.items():
                start, end = epoch_bounds(purpose.epoch_kind, epoch)
                slot = Slot(name, epoch, start, end, keys.status == "destroyed", None, None)
                pseudo = self._build("pseudonym", name, epoch, keys.pseudonym_key)
                slot.pseudonym = pseudo if isinstance(pseudo, PseudonymKey) else None
                for stored in keys.encryption_keys:
                    field_key = self._build("enc", name, epoch, stored)
                    field_key = field_key if isinstance(field_key, FieldKey) else None
                    self.by_id[bytes.fromhex(stored.id)] = KnownKey(
                        name, epoch, stored.status, field_key
                    )
                    if stored.status == "active":
                        slot.active = field_key
                self.slots[(name, epoch)] = slot
        self._old = {}  # drop references to keys that are gone

    def _build(self, kind: str, purpose: str, epoch: str,
               stored: StoredKey) -> FieldKey | PseudonymKey | None:
        if stored.wrapped is None or stored.status == "destroyed":
            return None
        context = key_context(kind, purpose, epoch, stored.id)
        cache_key = (context, stored.wrapped)
        built = self._old.get(cache_key)
        if built is None:
            material = self._kek.unwrap(base64.b64decode(stored.wrapped), context)
            if kind == "enc":
                built = FieldKey(bytes.fromhex(stored.id), purpose, material)
            else:
                built = PseudonymKey(material)
        self._cache[cache_key] = built
        return built
