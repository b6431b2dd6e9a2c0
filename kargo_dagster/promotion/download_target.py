"""Where the download steps (``http-download``, ``oci-download``) write, and how.

Both steps write one file in the work directory: they refuse to replace an existing one
unless ``allowOverwrite`` is set, stream the content into a temporary file beside the target
(readable by its owner only) so that a failed or oversized download leaves nothing behind,
and move it into place when it is complete.
"""

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext

__all__ = ["output_path", "write_atomically"]


def output_path(ctx: StepContext, out_path: str, allow_overwrite: bool) -> Path:
    """``outPath`` inside the work directory, its parent directory made.

    Raises:
        TerminalStepError: The path leaves the work directory, or a file is there already
            and ``allowOverwrite`` is not set.
    """
    target = ctx.path(out_path)
    if target == ctx.work_dir.resolve():
        raise TerminalStepError("outPath must name a file inside the work directory")
    if not allow_overwrite and (target.exists() or target.is_symlink()):
        raise TerminalStepError(
            f"file already exists at {out_path} and overwrite is not allowed (set allowOverwrite)"
        )
    if target.is_dir():
        raise TerminalStepError(f"outPath {out_path!r} is a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RetryableStepError(
            f"failed to create the directory for {out_path!r}: {error.strerror}"
        ) from error
    return target


def write_atomically(target: Path, chunks: Iterable[bytes], limit: int) -> int:
    """Write ``chunks`` to ``target`` through a temporary file; the number of bytes written.

    Raises:
        TerminalStepError: More than ``limit`` bytes arrived (nothing is written).
        RetryableStepError: The file could not be written.
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    written = 0
    try:
        with os.fdopen(descriptor, "wb") as stream:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise TerminalStepError(f"download exceeds limit of {limit} bytes")
                stream.write(chunk)
        if target.is_symlink():
            # Replace the link itself, never the file it points to.
            target.unlink()
        os.replace(temporary, target)
    except OSError as error:
        raise RetryableStepError(f"failed to write {target.name}: {error.strerror}") from error
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return written
