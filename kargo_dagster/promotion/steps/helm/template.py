"""``helm-template``: render a local Helm chart into plain manifests with ``helm template``.

Kargo renders with Helm's library in client-only dry-run mode; ``helm template`` is that
same mode, so the flags map one to one: ``releaseName`` and ``namespace`` (default: the
Project), ``valuesFiles`` (``-f``, in order; missing ones skipped with
``ignoreMissingValueFiles``), ``setValues`` (``--set``, or ``--set-literal`` when
``literal``), ``includeCRDs``, ``disableHooks`` (``--no-hooks``), ``skipTests``,
``kubeVersion`` and ``apiVersions``.

Output, as in Kargo:

* ``outPath`` ending in ``.yaml``/``.yml``: the whole rendered stream in that file;
* ``outLayout: helm`` (default) and a directory: Helm's own ``--output-dir`` layout,
  ``<outPath>/<chart or release name>/templates/...``;
* ``outLayout: flat`` and a directory: one file per resource in ``outPath``, named
  ``[<group>-]<kind>[-<namespace>]-<name>.yaml`` (dots in the group become ``_``).

``buildDependencies`` runs ``helm dependency build`` first (``helm dependency update`` when
the chart has no ``Chart.lock``), with a throw-away Helm home. Repository credentials are
not passed to it yet: dependencies must come from public repositories or be vendored.
"""

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.kustomize_build import safe_file_name
from kargo_dagster.promotion.steps.schema_types import NonEmpty
from kargo_dagster.promotion.tools import helm_program, run_tool

__all__ = ["STEP", "Config", "HelmTemplate", "SetValue", "flat_file_name"]

RENDER_TIMEOUT = 300.0
DEPENDENCY_TIMEOUT = 600.0

_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_SOURCE_COMMENT = re.compile(r"\A# Source: [^\n]*\n?")
_HOOK_ANNOTATION = "helm.sh/hook"


class SetValue(StepConfig):
    """One ``--set key=value`` (``--set-literal`` when ``literal``)."""

    key: str = Field(min_length=1)
    value: str
    literal: bool = False


class Config(StepConfig):
    """``helm-template``'s configuration."""

    path: str = Field(min_length=1)
    out_path: str = Field(min_length=1)
    out_layout: Literal["helm", "flat"] | None = None
    release_name: str = Field(min_length=1)
    use_release_name: bool = False
    namespace: str | None = None
    values_files: list[NonEmpty] | None = None
    ignore_missing_value_files: bool = False
    set_values: list[SetValue] | None = None
    build_dependencies: bool = False
    include_crds: bool = Field(default=False, alias="includeCRDs")
    disable_hooks: bool = False
    skip_tests: bool = False
    kube_version: str | None = None
    api_versions: list[NonEmpty] | None = None


def _is_file(out_path: str) -> bool:
    return Path(out_path).suffix in (".yaml", ".yml")


def _metadata(document: str) -> tuple[str, str, str, str, bool]:
    """``(group, kind, namespace, name, is_hook)`` of one rendered document."""
    try:
        loaded: Any = yaml.safe_load(document)
    except yaml.YAMLError:
        return "", "", "", "", False
    if not isinstance(loaded, dict):
        return "", "", "", "", False
    metadata = loaded.get("metadata") if isinstance(loaded.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    annotations = metadata.get("annotations")
    is_hook = isinstance(annotations, dict) and _HOOK_ANNOTATION in annotations
    group = str(loaded.get("apiVersion") or "").rpartition("/")[0]
    return (
        group,
        str(loaded.get("kind") or ""),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
        is_hook,
    )


def flat_file_name(group: str, kind: str, namespace: str, name: str) -> str:
    """``[<group>-]<kind>[-<namespace>]-<name>.yaml``, lower-cased; empty without kind/name."""
    if not kind or not name:
        return ""
    base = kind
    if group:
        base = group.replace(".", "_") + "-" + base
    if namespace:
        base += "-" + namespace
    return f"{base}-{name}.yaml".lower()


def _write_flat(directory: Path, rendered: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    unnamed = 0
    for chunk in _DOCUMENT_SEPARATOR.split(rendered):
        document = chunk.strip()
        if not document or all(
            not line.strip() or line.lstrip().startswith("#") for line in document.splitlines()
        ):
            continue
        group, kind, namespace, name, is_hook = _metadata(document)
        if is_hook:
            # Kargo writes a hook's manifest as Helm keeps it, without the "# Source:" line
            # that `helm template` prints above it.
            document = _SOURCE_COMMENT.sub("", document, count=1).strip()
        file_name = flat_file_name(group, kind, namespace, name)
        if not file_name:
            file_name = f"resource-{unnamed}.yaml"
            unnamed += 1
        # Kargo writes the trimmed document, without a final newline.
        (directory / safe_file_name(file_name)).write_text(document)


class HelmTemplate(StepKind[Config]):
    """Render a Helm chart."""

    name = "helm-template"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Render the chart into ``outPath``; there are no outputs."""
        helm = helm_program(ctx.tools)
        chart = ctx.path(config.path)
        # helm would take a path that does not exist for a repository reference and go to
        # the network: refuse it here.
        if not chart.exists():
            raise TerminalStepError(f"{config.path}: no Helm chart there")
        if config.build_dependencies:
            self._build_dependencies(helm, chart, config.path)
        out = ctx.path(config.out_path)
        argv = [
            helm,
            "template",
            config.release_name,
            str(chart),
            "--namespace",
            config.namespace or ctx.promotion.project,
            *self._values_arguments(ctx, config),
        ]
        if config.include_crds:
            argv.append("--include-crds")
        if config.disable_hooks:
            argv.append("--no-hooks")
        if config.skip_tests:
            argv.append("--skip-tests")
        if config.kube_version:
            argv.append(f"--kube-version={config.kube_version}")
        argv += [f"--api-versions={v}" for v in config.api_versions or ()]
        helm_layout = not _is_file(config.out_path) and config.out_layout != "flat"
        if helm_layout:
            argv += ["--output-dir", str(out)]
            if config.use_release_name:
                argv.append("--release-name")
        rendered = run_tool(
            argv, action=f"render chart {config.path}", timeout=RENDER_TIMEOUT, cwd=ctx.work_dir
        )
        try:
            if _is_file(config.out_path):
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(rendered)
            elif not helm_layout:
                _write_flat(out, rendered)
        except OSError as error:
            raise TerminalStepError(
                f"failed to write rendered chart to {config.out_path!r}: {error.strerror}"
            ) from error
        return {}

    def _values_arguments(self, ctx: StepContext, config: Config) -> list[str]:
        arguments: list[str] = []
        for values_file in config.values_files or ():
            path = ctx.path(values_file)
            if not path.is_file():
                if config.ignore_missing_value_files:
                    continue
                raise TerminalStepError(f"values file {values_file!r} does not exist")
            arguments += ["--values", str(path)]
        for item in config.set_values or ():
            flag = "--set-literal" if item.literal else "--set"
            arguments += [flag, f"{item.key}={item.value}"]
        return arguments

    def _build_dependencies(self, helm: str, chart: Path, shown: str) -> None:
        command = "build" if (chart / "Chart.lock").is_file() else "update"
        run_tool(
            [helm, "dependency", command, str(chart)],
            action=f"build the dependencies of chart {shown}",
            timeout=DEPENDENCY_TIMEOUT,
        )


STEP = HelmTemplate()
