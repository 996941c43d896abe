"""Per-client rate limits in `limits` notation (``60/minute``, ``5/second;100/hour``), counted in this process.

Each (client, limit) keeps the times of its latest ``amount`` requests: a request is refused while the oldest of
them is still inside the window, so a check costs a few deque operations and no background work. (The `limits`
package parses the notation; its in-memory storage expires entries on a timer thread that it starts again after
every quiet 10 ms, which on a server meant a new thread for nearly every request.)
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_CLIENTS = 10_000  # the least recently seen client's counts are dropped beyond this many


class RateLimiter:
    """Moving-window limits per client identity. Not thread-safe: called from the event loop only."""

    def __init__(self, spec: str, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        from limits import parse_many

        items = parse_many(spec) if spec.strip() else []
        self.windows = [(item.amount, float(item.get_expiry())) for item in items]
        self.description = "; ".join(str(item) for item in items)
        self.clock = clock
        self.max_clients = max_clients
        self._recent: OrderedDict[str, list[deque[float]]] = OrderedDict()

    def hit(self, identity: str) -> int | None:
        """Count one request of ``identity``: None when every limit allows it, else the whole seconds until they
        would (a refused request is not counted, so a client that waits that long gets through)."""
        if not self.windows:
            return None
        now = self.clock()
        recent = self._recent.get(identity)
        if recent is None:
            recent = self._recent[identity] = [deque(maxlen=amount) for amount, _ in self.windows]
            if len(self._recent) > self.max_clients:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(identity)
        wait = 0.0
        for (amount, seconds), times in zip(self.windows, recent, strict=True):
            if len(times) == amount and times[0] > now - seconds:
                wait = max(wait, times[0] + seconds - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        for times in recent:
            times.append(now)
        return None
