"""Refreshes run in the background, one at a time per Warehouse, with pushes coalesced.

A webhook answers at once; the discovery it asks for runs on a worker thread. While a
Warehouse is being refreshed, any number of further requests for it make exactly one more
refresh after the current one, so a burst of pushes costs at most two discovery passes and
none of them is lost (the last pass starts after the last push arrived).
"""

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["RefreshQueue"]

_log = logging.getLogger("kargo_dagster.webhooks")

# Kargo refreshes at most four Warehouses at once (its reconcilers' default concurrency).
DEFAULT_WORKERS = 4

WarehouseKey = tuple[str, str]


class RefreshQueue:
    """Runs ``refresh(project, warehouse)`` on worker threads, coalescing repeats.

    Args:
        refresh: Refreshes one Warehouse; its exceptions are logged, never raised here.
        workers: How many Warehouses may be refreshed at once.
    """

    def __init__(
        self, refresh: Callable[[str, str], object], workers: int = DEFAULT_WORKERS
    ) -> None:
        self._refresh = refresh
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="kargo-refresh")
        self._lock = threading.Condition()
        # Warehouses being refreshed; True when another refresh was asked for meanwhile.
        self._running: dict[WarehouseKey, bool] = {}

    def submit(self, project: str, warehouses: Iterable[str]) -> None:
        """Ask for a refresh of each Warehouse; returns at once."""
        for name in warehouses:
            key = (project, name)
            with self._lock:
                if key in self._running:
                    self._running[key] = True
                    continue
                self._running[key] = False
            self._executor.submit(self._run, key)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no refresh is running or asked for; False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._running, timeout)

    def close(self) -> None:
        """Stop taking work and wait for refreshes under way."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, key: WarehouseKey) -> None:
        while True:
            try:
                self._refresh(*key)
            except Exception:  # noqa: BLE001 - a worker must survive any one refresh
                _log.exception("refreshing Warehouse %s/%s failed", *key)
            with self._lock:
                if not self._running.get(key):
                    del self._running[key]
                    self._lock.notify_all()
                    return
                self._running[key] = False
