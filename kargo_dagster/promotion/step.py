"""What a promotion step is, and what the engine hands it.

Every built-in step is one module in ``kargo_dagster/promotion/steps/`` defining one
:class:`StepKind`: its Kargo name (``yaml-update``), a frozen pydantic ``Config`` model that
mirrors the step's JSON schema (``extra="forbid"``, Kargo's camelCase keys as aliases), its
defaults (timeout, error threshold), and ``run(ctx, config) -> StepOutput``. The engine
validates the evaluated configuration against the Kargo JSON schema *and* the model before
``run`` is called, so ``run`` receives a valid ``Config``.

A step reports failure only by raising :class:`~kargo_dagster.errors.TerminalStepError`
(will not succeed by retrying; Kargo's Failed/terminal) or
:class:`~kargo_dagster.errors.RetryableStepError` (may succeed later; Kargo's Errored). A step
that must wait (``git-wait-for-pr``, ``http`` polling) raises
:class:`~kargo_dagster.errors.StepPendingError` with ``retry_after`` (Kargo's Running) and is
run again until it succeeds or its timeout passes. A step that ran and found nothing to do
returns :class:`Skipped`.

Services a step needs (git workspaces, tool paths, the metadata store, credentials) come from
:class:`StepContext`; tests build one directly with fakes where the seam is I/O.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from kargo_dagster.clients.argocd.applications import ArgoCDApplications
from kargo_dagster.credentials import NO_CREDENTIALS, CredentialStore
from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions.templates import evaluate as evaluate_expression
from kargo_dagster.freight import Freight

StepStatus = Literal["Succeeded", "Failed", "Errored", "Skipped"]

# What a step returns: its outputs, readable by later steps as ``outputs.<alias>.<key>``.
StepOutput = dict[str, Any]


class Skipped(dict[str, Any]):
    """Outputs of a step that ran and found nothing to do; Kargo reports such a step Skipped.

    ``git-commit`` with no changes returns ``Skipped("nothing to commit", commit=head)``: its
    outputs are still recorded (later steps read ``outputs.commit.commit``), and like any
    Skipped step it does not fail the promotion.
    """

    def __init__(self, reason: str, /, **outputs: Any) -> None:
        super().__init__(outputs)
        self.reason = reason


class StepConfig(BaseModel):
    """Base of every step's ``Config``: frozen, strict about unknown keys, Kargo's key names.

    Subclasses declare snake_case fields; the camelCase aliases Kargo uses are generated
    (``outPath`` for ``out_path``). Where Kargo spells an acronym (``repoURL``), give an
    explicit ``Field(alias=...)``.

    Values are taken as JSON Schema types them, as Kargo's schemas do: no ``"true"`` for a
    ``bool`` nor ``"7"`` for an ``int`` (strict mode), and an optional key is left out, never
    given as ``null``, unless its field is typed ``Any`` (a value the schema leaves untyped).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        strict=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        # Defaults are not validated, so only a null actually given reaches this.
        if value is None and info.field_name is not None:
            if cls.model_fields[info.field_name].annotation is not Any:
                raise ValueError("must not be null: leave the key out instead")
        return value


ConfigT = TypeVar("ConfigT", bound=StepConfig)


class MetadataStore(Protocol):
    """Where ``set-metadata`` writes and ``stageMetadata()``/``freightMetadata()`` read."""

    def stage_metadata(self, stage: str) -> dict[str, Any]:
        """The metadata recorded for a Stage (empty when none)."""
        ...

    def freight_metadata(self, freight: str) -> dict[str, Any]:
        """The metadata recorded for a Freight, by Freight name (ID) or alias."""
        ...

    def update_stage_metadata(self, stage: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the Stage's metadata."""
        ...

    def update_freight_metadata(self, freight: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the Freight's metadata."""
        ...

    def set_freight_alias(self, freight: str, alias: str) -> None:
        """Give the Freight a new alias."""
        ...


@dataclass
class InMemoryMetadataStore:
    """A :class:`MetadataStore` in a dict: for tests and for ``kargo-dagster`` dry runs."""

    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    freight: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def stage_metadata(self, stage: str) -> dict[str, Any]:
        """The metadata recorded for a Stage."""
        return dict(self.stages.get(stage, {}))

    def freight_metadata(self, freight: str) -> dict[str, Any]:
        """The metadata recorded for a Freight."""
        return dict(self.freight.get(freight, {}))

    def update_stage_metadata(self, stage: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the Stage's metadata."""
        self.stages.setdefault(stage, {}).update(values)

    def update_freight_metadata(self, freight: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the Freight's metadata."""
        self.freight.setdefault(freight, {}).update(values)

    def set_freight_alias(self, freight: str, alias: str) -> None:
        """Record the Freight's new alias."""
        self.aliases[freight] = alias


@dataclass(frozen=True)
class ToolPaths:
    """Where the external tools are; ``None`` means "look on ``PATH``"."""

    kubectl: str | None = None
    kustomize: str | None = None
    helm: str | None = None
    git: str = "git"


@dataclass(frozen=True)
class PromotionInfo:
    """Who promotes what, where: the facts behind ``ctx`` in expressions.

    Attributes:
        project: The Project (namespace).
        stage: The Stage being promoted.
        name: The promotion's name, ``<stage>.<run id or ULID>.<first 7 of the Freight ID>``.
        freight: The Freight being promoted.
        collection: Every origin's Freight the Stage will hold afterwards (the promoted one
            plus what the Stage already holds from other origins), by Warehouse name.
        actor: Who asked for the promotion.
        rollback: Whether this promotion rolls the Stage back to older Freight.
        ui_base_url: The Dagster webserver's URL, when known, for links.
        freight_alias: The Freight's current alias, when another than the one its ID gives
            was set (``freight alias``, ``set-freight-alias``).
    """

    project: str
    stage: str
    name: str
    freight: Freight
    collection: Mapping[str, Freight]
    actor: str = "unknown"
    rollback: bool = False
    ui_base_url: str = ""
    freight_alias: str = ""


@dataclass
class StepContext:
    """What the engine gives a running step.

    Attributes:
        work_dir: The promotion's own directory; relative paths in configs resolve here.
        promotion: Who promotes what, where.
        alias: The step's alias (``update-image``, ``promote::step-2``).
        credentials: Repository credentials (git, helm, image).
        metadata: The Stage and Freight metadata store.
        tools: Where kubectl, kustomize, helm and git are.
        git_cache_dir: Where cached clones live, shared between promotions.
        evaluate: Evaluates an expression (no ``${{ }}``) with extra variables on top of the
            step's, e.g. ``response`` for ``http``; raises ExpressionError. The engine's
            knows the promotion's variables and Kargo's functions; by default, plain expr
            over the given variables.
        log: The promotion's logger (goes to the Dagster run's logs).
        attempt: 1 on the first run of the step, higher on retries.
        defer: Registers a callback the engine runs when the promotion ends, before its work
            directory is removed (``git-clone`` parks its checkouts for the next promotion).
        report: Records something for people to see with the step's result, by kind
            (``git-commit`` reports the changes it committed); unlike outputs, later steps
            cannot read it.
        shared: The promotion's shared state (Kargo's ``SharedState``): what a step keeps
            for its own later attempts, or for other steps, for as long as the promotion
            lasts (``git-open-pr`` keeps the pull request it opened).
        argocd: Argo CD's Applications (``argocd-update``, ``argocd-wait``); None when no
            Argo CD connection is configured.
    """

    work_dir: Path
    promotion: PromotionInfo
    alias: str
    credentials: CredentialStore = NO_CREDENTIALS
    metadata: MetadataStore = field(default_factory=InMemoryMetadataStore)
    tools: ToolPaths = field(default_factory=ToolPaths)
    git_cache_dir: Path | None = None
    evaluate: Callable[[str, Mapping[str, Any]], Any] = field(default=evaluate_expression)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("kargo_dagster"))
    attempt: int = 1
    defer: Callable[[Callable[[], None]], None] = field(default=lambda callback: None)
    report: Callable[[str, Any], None] = field(default=lambda kind, value: None)
    shared: dict[str, Any] = field(default_factory=dict)
    argocd: ArgoCDApplications | None = None

    def path(self, relative: str) -> Path:
        """``relative`` under the work directory; refuses paths that escape it."""
        candidate = (self.work_dir / relative).resolve()
        root = self.work_dir.resolve()
        if candidate != root and root not in candidate.parents:
            raise TerminalStepError(f"path {relative!r} leaves the promotion's work directory")
        return candidate


class StepCapability(StrEnum):
    """What a step needs from the engine beyond its config, as Kargo's steps declare it."""

    ACCESS_ARGOCD = "access-argocd"
    """Argo CD's Applications (``StepContext.argocd``)."""


class StepKind(Generic[ConfigT]):
    """One built-in step. Subclass it once per step module and register the instance.

    Class attributes:
        name: Kargo's step name (``yaml-update``).
        config_model: The step's ``Config`` class.
        default_timeout: Kargo's default ``retry.timeout`` for the step (None: no limit).
        default_error_threshold: Consecutive errors allowed before the step fails.
        required_capabilities: What the engine must provide for the step to run.
    """

    name: ClassVar[str]
    config_model: type[ConfigT]
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    required_capabilities: ClassVar[frozenset[StepCapability]] = frozenset()

    def run(self, ctx: StepContext, config: ConfigT) -> StepOutput:
        """Do the step's work; return its outputs or raise a StepError."""
        raise NotImplementedError
