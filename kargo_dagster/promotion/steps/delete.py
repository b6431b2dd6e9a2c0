"""``delete``: remove files or directories (literal paths or glob patterns).

A symlink is removed itself, never its target; paths whose parent leads outside the work
directory are refused. Missing paths are fine unless ``strict``.
"""

import glob
import os
import shutil
from pathlib import Path

from pydantic import Field, model_validator

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.schema_types import NonEmpty


class Config(StepConfig):
    """``delete``'s configuration: exactly one of ``path`` and ``paths``."""

    path: str | None = Field(default=None, min_length=1)
    paths: list[NonEmpty] | None = Field(default=None, min_length=1)
    paths_are_globs: bool = False
    strict: bool = False

    @model_validator(mode="after")
    def _one_of_path_and_paths(self) -> "Config":
        if (self.path is None) == (self.paths is None):
            raise ValueError("exactly one of path and paths is required")
        return self


def _existing(ctx: StepContext, relative: str) -> Path | None:
    # Resolve the parent (it may not leave the work directory) but not the last part, so a
    # symlink is deleted rather than followed.
    clean = os.path.normpath(relative)
    if clean == "." or os.path.isabs(clean):
        raise TerminalStepError(f"path {relative!r} leaves the promotion's work directory")
    parent = ctx.path(os.path.dirname(clean) or ".")
    target = parent / os.path.basename(clean)
    return target if os.path.lexists(target) else None


def _remove(path: Path, shown: str) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        raise RetryableStepError(f"failed to delete {shown!r}: {error.strerror}") from error


class Delete(StepKind[Config]):
    """Delete files and directories."""

    name = "delete"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Delete every path (or every glob match); no outputs."""
        patterns = [config.path] if config.path is not None else list(config.paths or [])
        targets: dict[Path, str] = {}
        root = ctx.work_dir.resolve()
        for pattern in patterns:
            if config.paths_are_globs:
                pattern_text = pattern.removeprefix("./")
                matches = sorted(
                    glob.glob(pattern_text, root_dir=root, recursive=True, include_hidden=True)
                )
                if not matches and config.strict:
                    raise TerminalStepError(f"no paths matched pattern {pattern!r}")
                found = [(m, _existing(ctx, m)) for m in matches]
            else:
                found = [(pattern, _existing(ctx, pattern))]
                if found[0][1] is None and config.strict:
                    raise TerminalStepError(f"path {pattern!r} does not exist")
            for shown, path in found:
                if path is not None:
                    targets.setdefault(path, shown)
        for path, shown in targets.items():
            _remove(path, shown)
        return {}


STEP = Delete()
