"""Checkouts kept between promotions, so the next promotion of a repository starts warm.

Checking out a branch writes every file of it; in a repository of a thousand manifests that
costs more than the rest of a promotion together. So after a promotion its checkouts are
parked next to the repository's cached clone instead of being deleted, and the next
``git-clone`` of that repository takes one back: moving a directory is atomic and free, and
switching a parked checkout to the wanted commit rewrites only the files that differ.

    <cached clone's directory>/checkouts/<parked at, epoch seconds>-<random>/

Taking is a ``rename`` of a parked directory to the checkout path, so two promotions can
never take the same one, with or without a lock. A parked checkout is only taken back when
it is whole: a ``.git`` directory with no lock file and no rebase, merge or cherry-pick in
progress, not sparse. Parked checkouts are dropped after :data:`MAX_PARKED_AGE` (their own
commits may rest on objects the cached clone has since pruned) and beyond
:data:`MAX_PARKED` per repository.

Only plain checkouts are parked: sparse ones and ones with submodules are made afresh each
time. Parking happens when the promotion ends, whatever its outcome; a checkout that cannot
be moved (the work directory is on another file system) is simply left to be deleted.
"""

import os
import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MAX_PARKED", "MAX_PARKED_AGE", "CheckoutPool"]

MAX_PARKED = 4
MAX_PARKED_AGE = 7 * 24 * 3600.0

# A parked checkout with one of these in its .git directory was left mid-operation.
_UNFINISHED = (
    "index.lock",
    "HEAD.lock",
    "rebase-merge",
    "rebase-apply",
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "info/sparse-checkout",
)


class CheckoutPool:
    """The parked checkouts of one repository.

    Args:
        root: Where they are parked (``checkouts/`` beside the cached clone).
        max_parked: How many to keep.
        max_age: Seconds after which a parked checkout is dropped rather than reused.
    """

    def __init__(
        self, root: Path, *, max_parked: int = MAX_PARKED, max_age: float = MAX_PARKED_AGE
    ) -> None:
        self.root = root
        self.max_parked = max_parked
        self.max_age = max_age

    def take(self, destination: Path) -> bool:
        """Move a parked checkout to ``destination`` (missing or an empty directory).

        Returns:
            True when ``destination`` now holds a parked checkout, False when none could be
            taken (the caller checks out afresh).
        """
        now = time.time()
        for parked in self._parked():
            if now - _parked_at(parked) > self.max_age:
                shutil.rmtree(parked, ignore_errors=True)
                continue
            try:
                if destination.is_dir():
                    destination.rmdir()
                parked.rename(destination)
            except FileNotFoundError:
                continue  # another promotion took it first
            except OSError:
                return False  # another file system, or the destination is not empty
            if _is_whole(destination):
                return True
            shutil.rmtree(destination, ignore_errors=True)
            destination.mkdir(parents=True, exist_ok=True)
        return False

    def park(self, checkouts: Iterable[Path]) -> None:
        """Keep ``checkouts`` for later promotions, newest first, within :attr:`max_parked`."""
        self.root.mkdir(parents=True, exist_ok=True)
        for checkout in checkouts:
            if not _is_whole(checkout):
                continue
            target = self.root / f"{int(time.time())}-{secrets.token_hex(4)}"
            try:
                checkout.rename(target)
            except OSError:
                continue  # left where it is, to be deleted with the work directory
        for surplus in self._parked()[self.max_parked :]:
            shutil.rmtree(surplus, ignore_errors=True)

    def _parked(self) -> list[Path]:
        try:
            entries = [entry for entry in self.root.iterdir() if entry.is_dir()]
        except FileNotFoundError:
            return []
        # Most recently parked first: the closest to what the remote has now.
        return sorted(entries, key=_parked_at, reverse=True)


def _parked_at(path: Path) -> float:
    stamp = path.name.split("-", 1)[0]
    return float(stamp) if stamp.isdigit() else 0.0


def _is_whole(checkout: Path) -> bool:
    git_dir = checkout / ".git"
    if not git_dir.is_dir() or not (git_dir / "HEAD").is_file():
        return False
    return not any(os.path.lexists(git_dir / name) for name in _UNFINISHED)
