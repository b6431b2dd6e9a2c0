"""The promotion's own working directory: made before the first step, removed after the last.

Kargo gives every Promotion a temporary directory that steps share (``git-clone`` checks out
into it, ``yaml-update`` edits there); nothing in it survives the promotion.
"""

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["promotion_work_dir"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@contextmanager
def promotion_work_dir(
    work_root: Path, promotion_name: str, log: logging.Logger | None = None
) -> Iterator[Path]:
    """A fresh directory under ``work_root`` named after the promotion, removed on exit.

    The directory is removed however the block ends; a failure to remove it is logged, not
    raised, so it cannot hide the promotion's own outcome.

    Args:
        work_root: Where promotion directories live; created if missing.
        promotion_name: Used (made file-name safe) as the directory's prefix.
        log: Where to report a directory that could not be removed.
    """
    work_root.mkdir(parents=True, exist_ok=True)
    prefix = _UNSAFE.sub("-", promotion_name)[:100] or "promotion"
    work_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}.", dir=work_root))
    try:
        yield work_dir
    finally:
        try:
            shutil.rmtree(work_dir)
        except OSError as error:
            (log or logging.getLogger(__name__)).warning(
                "could not remove the promotion directory %s: %s", work_dir, error.strerror
            )
