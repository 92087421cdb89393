"""One object per process for equal immutable values that many tabs hold.

Every open tab keeps its cards in its own state until the tab's state expires, and most of
those cards are equal: a user's tabs (and the tabs they reloaded, whose states wait out their
expiry) show the same library, and every visitor of Explore sees the same shared videos. A card
is ~2 KB of small strings; shared, a thousand tabs of one library cost one library.

Values are held weakly: a card no tab holds any more is freed as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value", bound=Hashable)


class SharedValues(Generic[Value]):
    """Hands out the object already held for a value equal to the one given, if there is one."""

    def __init__(self) -> None:
        # Keyed by hash, not by the value: a key holds its value, and would never let it go.
        self._by_hash: weakref.WeakValueDictionary[int, Value] = weakref.WeakValueDictionary()

    def share(self, value: Value) -> Value:
        key = hash(value)
        held = self._by_hash.get(key)
        if held is not None and held == value:
            return held
        if held is None:
            self._by_hash[key] = value
        return value  # a hash collision with another value: this one is simply not shared

    def __len__(self) -> int:
        return len(self._by_hash)
