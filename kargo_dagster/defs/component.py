"""``KargoProject``: the ``dg`` Component over :func:`~kargo_dagster.load_definitions`.

A Dagster project that uses ``dg`` adds the Kargo pipeline with
``dg scaffold defs kargo_dagster.KargoProject <folder>`` and configures it in that folder's
``defs.yaml``. ``build_defs`` is the same factory ``load_definitions`` is, so a Component and a
``definitions.py`` build identical definitions, and bad manifests raise the same
``ManifestError``.

The ``kargo`` attribute holds :class:`KargoResource`'s settings. YAML is checked against a
mirror of the resource's models that refuses unknown keys (pydantic models ignore them, and
the resource keeps its defaults for a misspelt key); templates (``{{ env.WORK_DIR }}``) are
rendered in string settings. A ``password`` or ``token``, or any value in ``secrets`` or
``shared_secrets``, written as exactly ``{{ env.NAME }}`` becomes ``dg.EnvVar("NAME")``, as
in Python, so the UI shows the variable's name and never its value.
"""

import copy
import functools
import operator
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import dagster as dg
from pydantic import BaseModel, Field, create_model
from typing_extensions import TypeAliasType

from kargo_dagster.defs.builder import load_definitions
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.errors import KargoDagsterError

# The settings KargoResource reads through dg.EnvVar when it uses them (resources._resolved).
_SECRET_FIELDS = frozenset({"password", "token"})
# Maps whose every value is secret (what secret() and sharedSecret() read), whatever its key.
_SECRET_MAPS = frozenset({"secrets", "shared_secrets"})
_ENV_REFERENCE = re.compile(
    r"""\{\{\s*env(?:\.(?P<attr>\w+)|\(\s*(?P<quote>["'])(?P<call>\w+)(?P=quote)\s*\))\s*\}\}"""
)
_EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}
_EXAMPLE_DIR = "manifests"

# Dagster derives YAML for a pydantic-typed attribute only from models whose fields are all
# plain types, and KargoResource has bounded numbers: naming it through an alias makes
# Dagster take the schema the attribute's Resolver gives (model_field_type) instead.
KargoSettings = TypeAliasType("KargoSettings", KargoResource)


@functools.cache
def _yaml_model(config: type[BaseModel]) -> type[BaseModel]:
    # The same fields, descriptions, defaults and bounds, with extra keys forbidden all the way
    # down (dg.Model forbids them); named as the resource's models, for readable errors.
    fields: dict[str, Any] = {
        name: (_yaml_annotation(info.annotation), copy.copy(info))
        for name, info in config.model_fields.items()
    }
    return create_model(config.__name__, __base__=dg.Model, __doc__=config.__doc__, **fields)


def _yaml_annotation(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _yaml_model(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        return functools.reduce(operator.or_, [_yaml_annotation(a) for a in args])
    if origin is list:
        return list[_yaml_annotation(args[0])]
    return annotation


def _rendered(
    context: dg.ResolutionContext, value: Any, key: str | int | None = None, secret: bool = False
) -> Any:
    if isinstance(value, dict):
        inside = secret or key in _SECRET_MAPS
        return {k: _rendered(context.at_path(k), v, k, inside) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(context.at_path(i), v, i) for i, v in enumerate(value)]
    if isinstance(value, str) and (secret or key in _SECRET_FIELDS):
        match = _ENV_REFERENCE.fullmatch(value.strip())
        if match:
            return dg.EnvVar(match.group("attr") or match.group("call"))
    return context.resolve_value(value)


# A code location has one `kargo` resource, and Definitions.merge refuses two objects under one
# key even when they are equal: Components with the same settings share the first one's.
_SHARED_RESOURCES: list[KargoResource] = []


def _shared(kargo: KargoResource) -> KargoResource:
    for known in _SHARED_RESOURCES:
        if known == kargo:
            return known
    _SHARED_RESOURCES.append(kargo)
    return kargo


def _resolve_kargo(context: dg.ResolutionContext, settings: Any) -> KargoResource:
    if not isinstance(settings, BaseModel):
        raise KargoDagsterError(
            f"kargo: expected a mapping of KargoResource settings, not a {type(settings).__name__}"
        )
    return KargoResource(**_rendered(context, settings.model_dump(exclude_unset=True)))


class KargoProjectScaffolder(dg.Scaffolder):
    """Writes ``defs.yaml`` and an example pipeline in ``manifests/`` that loads as it is."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        """Scaffold the Component's folder (``dg scaffold defs kargo_dagster.KargoProject``)."""
        target = request.target_path
        target.mkdir(parents=True, exist_ok=True)
        if request.scaffold_format == "yaml" and not request.append:
            (target / "defs.yaml").write_text(
                _DEFS_YAML.replace("@TYPE@", request.type_name), encoding="utf-8"
            )
        else:
            dg.scaffold_component(request, {"path": _EXAMPLE_DIR})
        example = target / _EXAMPLE_DIR
        if not example.exists():
            example.mkdir()
            (example / "pipeline.yaml").write_text(
                _EXAMPLE.replace("@PROJECT@", _project_name(target.name)), encoding="utf-8"
            )


@dg.scaffold_with(KargoProjectScaffolder)
class KargoProject(dg.Component, dg.Resolvable, dg.Model):
    """Kargo manifests (Project, Warehouses, Stages...) as Dagster assets, checks and sensors.

    Each Warehouse becomes an asset partitioned by its Freight and each Stage an asset whose
    materialization promotes a Freight into it, as :func:`~kargo_dagster.load_definitions`
    builds them. One Component may load many Projects (a directory tree of manifests); several
    Components in one code location must agree on ``kargo`` and ``executor``, since the code
    location has one ``kargo`` resource and one executor.

    Examples:
        In ``defs/kargo/defs.yaml``:

        .. code-block:: yaml

            type: kargo_dagster.KargoProject
            attributes:
              path: manifests
              kargo:
                credentials:
                - type: image
                  repo_url: ghcr.io/acme/app
                  username: bot
                  password: "{{ env.GHCR_TOKEN }}"

        Or in Python:

        >>> defs = dg.build_defs_for_component(KargoProject(path="stages"))  # doctest: +SKIP
    """

    path: Annotated[
        str,
        dg.Resolver.default(
            description=(
                "The Kargo manifests: a file, or a directory searched recursively for *.yaml "
                "and *.yml (documents of other kinds, defs.yaml too, are skipped); relative to "
                "the folder holding defs.yaml"
            ),
            examples=["manifests", "../../../stages"],
        ),
    ] = "."
    kargo: Annotated[
        KargoSettings,
        dg.Resolver(
            _resolve_kargo,
            model_field_type=_yaml_model(KargoResource),
            description=(
                "The kargo resource's settings (KargoResource): work_dir, credentials, argocd, "
                "rollouts...; write a password or token as {{ env.NAME }}"
            ),
        ),
    ] = Field(default_factory=KargoResource)
    executor: Annotated[
        Literal["in_process", "multiprocess"],
        dg.Resolver.default(
            description=(
                "How runs execute their steps: in the run's own process (a promotion is one "
                "step and its checks) or a process per step"
            )
        ),
    ] = "in_process"
    min_warehouse_interval_seconds: Annotated[
        int | None,
        Field(ge=1),
        dg.Resolver.default(
            description=(
                "The floor of every Warehouse sensor's interval, in seconds; default "
                "$KARGO_DAGSTER_MIN_WAREHOUSE_INTERVAL or 30"
            )
        ),
    ] = None

    def manifest_path(self, context: dg.ComponentLoadContext) -> Path:
        """Where the manifests are: ``path``, relative to the Component's folder."""
        folder = context.path if context.path.is_dir() else context.path.parent
        return (folder / self.path).resolve()

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Load the manifests and build their definitions with the ``kargo`` resource.

        Raises:
            ManifestError: The manifests are invalid; the error lists every problem as
                ``file:line: Kind/name: field: message``.
        """
        return load_definitions(
            self.manifest_path(context),
            resources={"kargo": _shared(self.kargo)},
            min_warehouse_interval_seconds=self.min_warehouse_interval_seconds,
            executor=_EXECUTORS[self.executor],
        )


def _project_name(folder: str) -> str:
    # A Kargo Project's name is a DNS label; the folder's name usually makes one.
    name = re.sub(r"[^a-z0-9-]+", "-", folder.lower()).strip("-")[:63].strip("-")
    return name or "example"


_DEFS_YAML = """\
type: @TYPE@

attributes:
  # The Kargo manifests: a file, or a directory searched recursively, relative to this
  # folder. manifests/ holds an example pipeline; replace it with your own.
  path: manifests

  # How runs execute: in_process (default) or multiprocess.
  # executor: in_process

  # Run each Warehouse's discovery at most this often (default 30 seconds).
  # min_warehouse_interval_seconds: 60

  # The kargo resource (KargoResource): work directory, credentials, Argo CD...
  # kargo:
  #   work_dir: "{{ env.KARGO_DAGSTER_WORK_DIR }}"
  #   credentials:
  #   - type: image
  #     repo_url: ghcr.io/acme/app
  #     username: bot
  #     password: "{{ env.GHCR_TOKEN }}"
  #   argocd:
  #     namespace: argocd
"""

_EXAMPLE = """\
# An example pipeline: the Warehouse turns each new nginx release into Freight, promoted into
# dev and from dev into prod. A real promotion updates a GitOps repository (git-clone,
# kustomize-set-image, git-commit, git-push) and syncs Argo CD (argocd-update); here each
# Stage only records the tag it received.
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: @PROJECT@
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: nginx
  namespace: @PROJECT@
spec:
  subscriptions:
  - image:
      repoURL: public.ecr.aws/nginx/nginx
      constraint: ^1.29.0
      discoveryLimit: 5
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: @PROJECT@
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: nginx
    sources:
      direct: true
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config:
          tag: ${{ imageFrom("public.ecr.aws/nginx/nginx").Tag }}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: prod
  namespace: @PROJECT@
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: nginx
    sources:
      stages:
      - dev
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config:
          tag: ${{ imageFrom("public.ecr.aws/nginx/nginx").Tag }}
"""
