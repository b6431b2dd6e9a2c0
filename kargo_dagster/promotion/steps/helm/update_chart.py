"""``helm-update-chart``: set dependency versions in a chart's ``Chart.yaml``, then update them.

Each entry of ``charts`` names a dependency by its ``repository`` and ``name``, both exactly
as ``Chart.yaml`` spells them, and the ``version`` to set; an entry that matches no dependency
fails the step. Only the version's text changes in ``Chart.yaml``, so comments and layout
stay. Then, with or without ``charts``, the chart's dependencies are updated as
``helm dependency update`` does it (resolving version ranges, downloading the charts into
``charts/`` and rewriting ``Chart.lock``), with repository credentials and a throw-away Helm
home as described in :mod:`kargo_dagster.promotion.steps.helm.dependencies`.

Output, as in Kargo: ``commitMessage``, ``Updated chart dependencies for <path>`` followed by
a blank line and one ``- <name>: <change>`` line per dependency whose locked version changed
(``<old> -> <new>``, the version of a new dependency, or ``removed``), in name order; no
output when ``Chart.lock`` did not change.
"""

import posixpath

from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.files import read_text, write_text
from kargo_dagster.promotion.documents.yaml_edit import YamlUpdate, set_values
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.helm.dependencies import (
    ChartDependency,
    check_local_dependencies,
    read_dependencies,
    update_dependencies,
)
from kargo_dagster.promotion.tools import helm_program

__all__ = ["STEP", "ChartUpdate", "Config", "HelmUpdateChart", "chart_commit_message"]


class ChartUpdate(StepConfig):
    """The version to give one dependency."""

    repository: str = Field(min_length=1)
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)


class Config(StepConfig):
    """``helm-update-chart``'s configuration."""

    path: str = Field(min_length=1)
    charts: list[ChartUpdate] | None = Field(default=None, min_length=1)


def chart_commit_message(path: str, changes: dict[str, str]) -> str:
    """Kargo's description of the changed dependencies; empty when none changed."""
    if not changes:
        return ""
    lines = "".join(
        f"\n- {name}: {change or 'removed'}" for name, change in sorted(changes.items())
    )
    return f"Updated chart dependencies for {path}\n{lines}"


def _version_edits(
    dependencies: list[ChartDependency], updates: list[ChartUpdate]
) -> list[YamlUpdate]:
    edits: list[YamlUpdate] = []
    for update in updates:
        index = next(
            (
                i
                for i, d in enumerate(dependencies)
                if d.name == update.name and d.repository == update.repository
            ),
            None,
        )
        if index is None:
            raise TerminalStepError(
                f"no dependency in Chart.yaml matches update with repository "
                f"{update.repository!r} and name {update.name!r}"
            )
        if dependencies[index].version != update.version:
            edits.append(YamlUpdate(f"dependencies.{index}.version", update.version))
    return edits


class HelmUpdateChart(StepKind[Config]):
    """Update a chart's dependencies."""

    name = "helm-update-chart"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Set the versions, update the dependencies, describe it in ``commitMessage``."""
        helm = helm_program(ctx.tools, purpose="update Helm chart dependencies")
        chart_dir = ctx.path(config.path)
        chart_file = chart_dir / "Chart.yaml"
        shown = posixpath.join(config.path, "Chart.yaml")
        try:
            dependencies = read_dependencies(chart_file, shown)
        except FileNotFoundError as error:
            raise TerminalStepError(
                f"{config.path}: no Helm chart there (no Chart.yaml)"
            ) from error
        check_local_dependencies(ctx.work_dir, chart_dir, dependencies)
        edits = _version_edits(dependencies, list(config.charts or ()))
        if edits:
            text = read_text(chart_file, shown)
            try:
                text = set_values(text, edits)
            except TerminalStepError as error:
                raise TerminalStepError(f"{shown}: {error}") from error
            write_text(chart_file, shown, text)
        changes = update_dependencies(helm, chart_dir, config.path, dependencies, ctx.credentials)
        message = chart_commit_message(config.path, changes)
        return {"commitMessage": message} if message else {}


STEP = HelmUpdateChart()
