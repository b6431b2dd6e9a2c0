"""``yaml-merge``: merge YAML files, each over the ones before it, into one file.

The files in ``inFiles`` are merged in order (see
:mod:`kargo_dagster.promotion.documents.yaml_merge` for the rules: mappings merge
recursively, lists and scalars are replaced, ``null`` removes a key). A missing input file
fails the step unless ``ignoreMissingFiles`` is set, in which case it is skipped; when every
file is skipped, ``outFile`` is written empty. ``outFile`` is replaced if it exists, and its
directories are created.

Output, as in Kargo: ``commitMessage``, ``Wrote <file> to <outFile>`` for one input file, or
``Merged <n> YAML files to <outFile>`` followed by one ``- <file>`` line per input file; no
output at all when no input file was found.
"""

from pathlib import Path

from pydantic import Field

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.documents.files import read_text
from kargo_dagster.promotion.documents.yaml_merge import MergeInput, merge_documents
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput

__all__ = ["STEP", "Config", "YamlMerge", "merge_commit_message"]


class Config(StepConfig):
    """``yaml-merge``'s configuration."""

    in_files: list[str] = Field(min_length=1)
    out_file: str = Field(min_length=1)
    ignore_missing_files: bool = False


def merge_commit_message(in_files: list[str], out_file: str) -> str:
    """Kargo's description of a merge; empty when there were no input files."""
    if not in_files:
        return ""
    if len(in_files) == 1:
        return f"Wrote {in_files[0]} to {out_file}"
    listed = "".join(f"\n- {path}" for path in in_files)
    return f"Merged {len(in_files)} YAML files to {out_file}{listed}"


def _write(path: Path, shown: str, text: str) -> None:
    try:
        # Kargo creates missing directories and a new file readable by the owner only.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except IsADirectoryError as error:
        raise TerminalStepError(f"cannot write {shown!r}: it is a directory") from error
    except OSError as error:
        raise RetryableStepError(f"cannot write {shown!r}: {error.strerror}") from error


class YamlMerge(StepKind[Config]):
    """Merge YAML files."""

    name = "yaml-merge"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Merge ``inFiles`` into ``outFile``; describe it in ``commitMessage``."""
        found: list[str] = []
        sources: list[MergeInput] = []
        for in_file in config.in_files:
            path = ctx.path(in_file)
            if not path.exists():
                if config.ignore_missing_files:
                    continue
                raise TerminalStepError(f"input file {in_file!r} not found")
            found.append(in_file)
            sources.append(MergeInput(in_file, read_text(path, in_file)))
        out = ctx.path(config.out_file)
        _write(out, config.out_file, merge_documents(sources))
        message = merge_commit_message(found, config.out_file)
        return {"commitMessage": message} if message else {}


STEP = YamlMerge()
