"""``kustomize-build``: render a Kustomization into plain manifests.

Kargo links kustomize v5 into its controller; here ``kubectl kustomize`` (or a standalone
``kustomize build``) does the build, with the Helm chart inflator enabled as in Kargo
(``--enable-helm``, ``plugin.helm`` giving its Kubernetes and API versions).

Output: an ``outPath`` ending in ``.yaml``/``.yml`` receives the whole stream as kustomize
prints it; any other ``outPath`` is a directory receiving one file per resource, with keys
sorted as Kargo marshals them, named

* ``kargo`` (default): ``[<namespace>-]<kind>-<name>.yaml``, lower-cased;
* ``kustomize``: as ``kustomize build -o dir/`` names them,
  ``[<namespace>_]<group>_<version>_<kind>_<name>.yaml`` (empty parts left out), the
  namespace only when the namespaced resources span several namespaces.

Kargo builds inside a filesystem rooted at the work directory and lets a Kustomization load
files from anywhere in it. A command-line kustomize has no such root, so kustomize's own
default applies instead: a Kustomization may load files only from its own directory tree
(other Kustomizations, such as ``../base``, may live anywhere). That keeps a repository's
Kustomization from reading files of the machine the promotion runs on.

kustomize v5 asks ``helm version`` first and accepts Helm 3 only. Helm 4 renders charts for
it just as well (``helm template`` with the same flags), so with Helm 4 kustomize is given a
small wrapper that answers the version question as Helm 3 would and runs helm for the rest.
"""

import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.schema_types import NonEmpty
from kargo_dagster.promotion.tools import (
    helm_major_version,
    kustomize_command,
    optional_helm_program,
    run_tool,
)

__all__ = [
    "STEP",
    "Config",
    "HelmPlugin",
    "KustomizeBuild",
    "Plugin",
    "dump_sorted",
    "resource_documents",
    "safe_file_name",
]

# Rendering a large Kustomization with remote bases and Helm charts can take a while.
BUILD_TIMEOUT = 300.0

# Kinds that have no namespace, as kustomize's built-in schema knows them; anything else
# (custom resources included) counts as namespaced, as it does for kustomize.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "StorageClass",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)


class HelmPlugin(StepConfig):
    """How the Helm chart inflator renders ``helmCharts``."""

    api_versions: list[NonEmpty] | None = None
    kube_version: str | None = None


class Plugin(StepConfig):
    """Settings for kustomize's built-in plugins."""

    helm: HelmPlugin | None = None


class Config(StepConfig):
    """``kustomize-build``'s configuration."""

    path: str = Field(min_length=1)
    out_path: str = Field(min_length=1)
    output_format: Literal["kargo", "kustomize"] | None = None
    plugin: Plugin | None = None


def safe_file_name(name: str) -> str:
    """``name`` if it is a plain file name (names come from rendered, untrusted content).

    Raises:
        TerminalStepError: It is empty, ``.`` or ``..``, or holds a path separator.
    """
    if not name:
        raise TerminalStepError("generated resource filename is empty")
    if name in (".", "..") or "/" in name or "\\" in name:
        raise TerminalStepError(f"unsafe generated resource filename {name!r}")
    return name


# libyaml's C implementation where it is there: rendered output can be large.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(yaml.SafeDumper):
    """The safe dumper; multi-line strings become literal blocks, as Go's YAML writes them."""


def _represent_str(dumper: Any, value: str) -> Any:
    if "\n" in value and "\t" not in value and "\r" not in value and not value.endswith(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def resource_documents(text: str, shown: str) -> Iterator[Any]:
    """The non-empty documents of a multi-document YAML stream.

    Raises:
        TerminalStepError: The stream is not valid YAML; ``shown`` says what produced it.
    """
    try:
        for document in yaml.load_all(text, Loader=_Loader):
            if document is not None:
                yield document
    except yaml.YAMLError as error:
        raise TerminalStepError(f"{shown} produced invalid YAML: {error}") from error


def dump_sorted(document: Any) -> str:
    """One resource as YAML with its keys sorted, the way Kargo marshals it."""
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,  # Go's marshaller does not fold long strings
    )


def _meta(resource: Any) -> tuple[str, str, str, str]:
    """``(apiVersion, kind, namespace, name)`` of a resource, empty where missing."""
    if not isinstance(resource, dict):
        return "", "", "", ""
    metadata = resource.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return (
        str(resource.get("apiVersion") or ""),
        str(resource.get("kind") or ""),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
    )


def kargo_file_name(resource: Any) -> str:
    """``[<namespace>-]<kind>-<name>.yaml``, lower-cased."""
    _, kind, namespace, name = _meta(resource)
    base = f"{kind}-{name}.yaml"
    return (f"{namespace}-{base}" if namespace else base).lower()


def kustomize_file_name(resource: Any, several_namespaces: bool) -> str:
    """``[<namespace>_]<group>_<version>_<kind>_<name>.yaml`` as ``kustomize build -o`` does."""
    api_version, kind, namespace, name = _meta(resource)
    group, _, version = api_version.rpartition("/")
    gvk = "_".join(part for part in (group, version, kind) if part)
    base = f"{gvk.lower()}_{name.lower()}.yaml"
    if several_namespaces and namespace:
        return f"{namespace.lower()}_{base}"
    return base


def _write_directory(directory: Path, resources: list[Any], output_format: str) -> None:
    namespaced = [r for r in resources if _meta(r)[1] not in CLUSTER_SCOPED_KINDS]
    cluster_scoped = [r for r in resources if _meta(r)[1] in CLUSTER_SCOPED_KINDS]
    # kustomize counts a namespaced resource without a namespace as in "default".
    several = len({_meta(r)[2] or "default" for r in namespaced}) > 1
    directory.mkdir(parents=True, exist_ok=True)
    placed = [(r, several) for r in namespaced] + [(r, False) for r in cluster_scoped]
    for resource, with_namespace in placed:
        if output_format == "kustomize":
            name = kustomize_file_name(resource, with_namespace)
        else:
            name = kargo_file_name(resource)
        (directory / safe_file_name(name)).write_text(dump_sorted(resource))


def _helm_for_kustomize(helm: str, scratch: Path) -> str:
    """``helm``, or for Helm 4 a wrapper kustomize accepts (see the module docstring)."""
    if helm_major_version(helm) != 4:
        return helm
    wrapper = scratch / "helm"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# kustomize v5 refuses anything but Helm 3; Helm 4 renders the same way.\n"
        'if [ "$1" = version ]; then echo "v3.99.0+helm4"; exit 0; fi\n'
        f'exec {shlex.quote(helm)} "$@"\n'
    )
    wrapper.chmod(0o700)
    return str(wrapper)


class KustomizeBuild(StepKind[Config]):
    """Build a Kustomization into manifests."""

    name = "kustomize-build"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Run the build and write its output to ``outPath``; there are no outputs."""
        source = ctx.path(config.path)
        if not source.is_dir():
            raise TerminalStepError(f"{config.path}: no such directory to build")
        with tempfile.TemporaryDirectory(prefix="kargo-dagster-kustomize-") as scratch:
            rendered = self._build(ctx, config, source, Path(scratch))
        out = ctx.path(config.out_path)
        try:
            if out.suffix in (".yaml", ".yml"):
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(rendered)
            else:
                resources = list(resource_documents(rendered, f"kustomize build {config.path}"))
                _write_directory(out, resources, config.output_format or "kargo")
        except OSError as error:
            raise TerminalStepError(
                f"failed to write built manifests to {config.out_path!r}: {error.strerror}"
            ) from error
        return {}

    def _build(self, ctx: StepContext, config: Config, source: Path, scratch: Path) -> str:
        argv = [*kustomize_command(ctx.tools), str(source), "--enable-helm"]
        helm = optional_helm_program(ctx.tools)
        if helm is not None:
            argv += ["--helm-command", _helm_for_kustomize(helm, scratch)]
        helm_plugin = config.plugin.helm if config.plugin else None
        if helm_plugin is not None:
            argv += [f"--helm-api-versions={v}" for v in helm_plugin.api_versions or ()]
            if helm_plugin.kube_version:
                argv.append(f"--helm-kube-version={helm_plugin.kube_version}")
        return run_tool(
            argv,
            action=f"build Kustomization {config.path}",
            timeout=BUILD_TIMEOUT,
            cwd=ctx.work_dir,
        )


STEP = KustomizeBuild()
