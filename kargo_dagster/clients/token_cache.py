"""Short-lived tokens kept until shortly before they expire, as Kargo keeps them.

GitHub App installation tokens, ECR authorization tokens and Google access tokens all live
for a while (an hour, twelve hours) and cost a request to get. :class:`TokenCache` keeps
each under a digest of what it was made from (so no secret sits in the cache readable) and
gets a new one once less than five minutes of it are left, so that a command starting with
it does not see it expire halfway.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["REFRESH_MARGIN_SECONDS", "TokenCache"]

REFRESH_MARGIN_SECONDS = 300.0

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    expires_at: float


class TokenCache(Generic[T]):
    """Tokens by what they were made from, each until ``margin`` seconds before it expires.

    Args:
        clock: Seconds since the epoch (``time.time``); replaceable in tests.
        margin: How long before its expiry a token is replaced.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, margin: float = REFRESH_MARGIN_SECONDS
    ) -> None:
        self.clock = clock
        self._margin = margin
        self._entries: dict[str, _Entry[T]] = {}
        self._lock = threading.Lock()

    def get(self, made_from: Sequence[str], fetch: Callable[[], tuple[T, float]]) -> T:
        """The token made from ``made_from``; ``fetch`` gives a new one and its expiry time.

        Callers asking for the same token at once wait for one fetch.
        """
        key = hashlib.sha256("\0".join(made_from).encode()).hexdigest()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires_at - self._margin <= self.clock():
                value, expires_at = fetch()
                entry = _Entry(value, expires_at)
                self._entries[key] = entry
            return entry.value
