"""One asyncio lock per key (a run, a person, a chat), kept only while in use."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable


class KeyedLocks:
    """`locks(key)` is the same lock for the same key as long as someone holds
    or waits for it; unused locks are dropped (no table that only grows)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[Hashable, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, key: Hashable) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    def get(self, key: Hashable) -> asyncio.Lock | None:
        """The key's lock if it is in use, without making one."""
        return self._locks.get(key)
