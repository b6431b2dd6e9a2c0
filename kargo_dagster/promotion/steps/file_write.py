"""``file-write``: write text to a file in the work directory."""

import os
from pathlib import PurePosixPath

from pydantic import Field

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput

DEFAULT_PERMISSIONS = 0o600


class Config(StepConfig):
    """``file-write``'s configuration."""

    path: str = Field(min_length=1)
    contents: str
    permissions: str | None = Field(default=None, pattern=r"^0[0-7]{3}$")
    overwrite: bool = False


def parse_permissions(permissions: str | None) -> int:
    """The file mode to write with; Kargo refuses executable and world-writable modes.

    Raises:
        TerminalStepError: The mode is not octal, or sets execute or world-write bits.
    """
    if not permissions:
        return DEFAULT_PERMISSIONS
    try:
        mode = int(permissions, 8)
    except ValueError as error:
        raise TerminalStepError(
            f"invalid permissions {permissions!r}: must be an octal file mode"
        ) from error
    if mode & ~0o777:
        raise TerminalStepError(f"permissions {permissions!r} must not include special mode bits")
    if mode & 0o111:
        raise TerminalStepError(f"permissions {permissions!r} must not include executable bits")
    if mode & 0o002:
        raise TerminalStepError(f"permissions {permissions!r} must not be world-writable")
    return mode


class FileWrite(StepKind[Config]):
    """Write a file."""

    name = "file-write"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Write ``contents`` to ``path`` with the requested mode; no outputs."""
        if os.path.isabs(config.path):
            raise TerminalStepError(f"path {config.path!r} must be relative")
        clean = os.path.normpath(config.path)
        first = PurePosixPath(clean).parts[0]
        if first == "..":
            raise TerminalStepError(
                f"path {config.path!r} attempts to traverse outside the working directory"
            )
        if first == ".git":
            raise TerminalStepError(f"writing to the .git directory is forbidden: {config.path!r}")
        mode = parse_permissions(config.permissions)
        target = ctx.path(clean)
        if os.path.relpath(target, ctx.work_dir.resolve()) != clean:
            raise TerminalStepError(
                f"path {config.path!r} resolves to a different path (symlinks are forbidden)"
            )
        if target.exists() and not config.overwrite:
            raise TerminalStepError(
                f"file {config.path!r} already exists; set overwrite to true to replace it"
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with target.open("w", encoding="utf-8", newline="") as handle:
                handle.write(config.contents)
            target.chmod(mode)
        except OSError as error:
            raise RetryableStepError(
                f"error writing file {config.path!r}: {error.strerror}"
            ) from error
        return {}


STEP = FileWrite()
