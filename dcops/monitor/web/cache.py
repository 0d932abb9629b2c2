"""Pages that change only when the store does, rendered once per change and served from memory."""
from __future__ import annotations

import threading
from collections import OrderedDict


class PageCache:
    """LRU of rendered pages keyed by (page, url, language, role, store version). Concurrent misses
    of one key wait for the first renderer instead of rendering the same page fifty times."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict = {}
        self.hits = self.misses = 0

    def get(self, key, build):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                self.hits += 1
                return self._d[key]
            ev = self._building.get(key)
            mine = ev is None
            if mine:
                ev = self._building[key] = threading.Event()
        if not mine:
            ev.wait(30)
            with self._lock:
                if key in self._d:
                    self.hits += 1
                    return self._d[key]
        try:
            value = build()
        finally:
            if mine:
                with self._lock:
                    self._building.pop(key, None)
                ev.set()
        with self._lock:
            self.misses += 1
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value
