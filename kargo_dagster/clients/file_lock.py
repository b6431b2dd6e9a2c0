"""Advisory file locks that only ever make things faster, never correct.

Caches on disk (git mirrors, parked checkouts) are shared by the processes of one machine
and, on a ReadWriteMany volume, by pods on several machines. A lock lets the processes of
one machine take turns instead of doing the same fetch twice; nothing may depend on it for
correctness, because locks are not reliable across machines on every network file system.
So a file system that refuses locks (``ENOLCK``, ``EOPNOTSUPP``) is simply worked on
unlocked, and what is done under the lock must be safe without it: git's own lock files
guard refs and packs, and files are replaced by atomic renames.
"""

import contextlib
import errno
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["advisory_lock"]

_POLL_SECONDS = 0.05
# Errors saying the file system cannot lock at all, rather than that someone holds the lock.
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


@contextlib.contextmanager
def advisory_lock(
    path: Path, *, timeout: float, on_timeout: Callable[[], Exception]
) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` for the block, when the file system has locks.

    Yields:
        Whether the lock is held (False on a file system without locks).

    Raises:
        Exception: ``on_timeout()`` when another process held the lock for ``timeout``
            seconds.
    """
    deadline = time.monotonic() + timeout
    with path.open("a+") as handle:
        locked = True
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise on_timeout() from None
                time.sleep(_POLL_SECONDS)
            except OSError as error:
                if error.errno not in _UNSUPPORTED:
                    raise
                locked = False
                break
        try:
            yield locked
        finally:
            if locked:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
