"""``copy``: copy a file or a directory's contents within the work directory.

A directory is copied onto ``outPath`` (merged into it if it exists; files are replaced),
a file to ``outPath`` itself. Symlinks are skipped, as are paths matching ``ignore``
(gitignore syntax, relative to the copied directory) and ``.git``. Modes are kept.
"""

import os
import shutil
from pathlib import Path

from pydantic import Field

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.documents.ignore_rules import IgnoreRules
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class Config(StepConfig):
    """``copy``'s configuration."""

    in_path: str = Field(min_length=1)
    out_path: str = Field(min_length=1)
    ignore: str | None = Field(default=None, min_length=1)


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    shutil.copyfile(source, target)
    shutil.copymode(source, target)


def _copy_tree(source: Path, target: Path, rules: IgnoreRules) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for directory, subdirectories, files in os.walk(source):
        here = Path(directory)
        relative_dir = here.relative_to(source)
        kept = []
        for name in sorted(subdirectories):
            path = here / name
            relative = (relative_dir / name).as_posix()
            if path.is_symlink() or rules.ignored(relative, is_dir=True):
                continue
            (target / relative).mkdir(exist_ok=True)
            kept.append(name)
        subdirectories[:] = kept
        for name in sorted(files):
            path = here / name
            relative = (relative_dir / name).as_posix()
            if path.is_symlink() or rules.ignored(relative, is_dir=False):
                continue
            _copy_file(path, target / relative)


class CopyFiles(StepKind[Config]):
    """Copy files."""

    name = "copy"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Copy ``inPath`` to ``outPath``; no outputs."""
        source = ctx.path(config.in_path)
        target = ctx.path(config.out_path)
        rules = IgnoreRules(config.ignore)
        if not source.exists():
            raise TerminalStepError(f"failed to copy {config.in_path!r}: it does not exist")
        try:
            if source.is_dir():
                _copy_tree(source, target, rules)
            elif not rules.ignored(source.name, is_dir=False):
                _copy_file(source, target)
        except OSError as error:
            raise RetryableStepError(
                f"failed to copy {config.in_path!r} to {config.out_path!r}: {error.strerror}"
            ) from error
        return {}


STEP = CopyFiles()
