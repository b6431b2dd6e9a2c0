"""Runs a promotion's steps in order, with Kargo's rules for skipping, retrying and failing.

For each step (see ``pkg/promotion/local_orchestrator.go`` in Kargo):

1. **Run or skip.** Without ``if``, the step runs only when no earlier step without
   ``continueOnError`` Failed or Errored. With ``if``, the expression decides (it must be a
   boolean; ``success()``, ``failure()``, ``always()`` and ``status(alias)`` are there). An
   ``if`` that cannot be evaluated makes the step Errored, and later steps may still run
   under their own ``if``.
2. **Look up the step kind.** An unknown kind makes the step Errored.
3. **Attempts.** Each attempt evaluates the vars and the config (see
   :mod:`kargo_dagster.promotion.variables`), validates the config against Kargo's JSON
   schema and the step's ``Config`` model, and runs the step:

   * an expression that does not evaluate makes the step Errored (Kargo cannot build the
     step's context), naming the step and the field;
   * an invalid config, or a :class:`~kargo_dagster.errors.TerminalStepError`, makes it
     Failed;
   * a :class:`~kargo_dagster.errors.RetryableStepError` counts towards
     ``retry.errorThreshold`` (consecutive errors; the step's default, Kargo's 1): at the
     threshold the step is Errored; otherwise, once ``retry.timeout`` (soft, from the
     step's first start; the step's default, none for most) has passed it is Errored too;
     otherwise the engine waits ``retry_after`` (or a growing delay) and tries again.

4. **Outputs.** A successful step's outputs become ``outputs[alias]``; inside a task, also
   ``task.outputs[short alias]``; and ``compose-output`` inside a task also merges its
   outputs into ``outputs[<task alias>]`` for the steps after the task.

Values read through ``secret()`` and ``sharedSecret()`` are masked in what the promotion
logs while it runs and in the result it returns (:mod:`kargo_dagster.promotion.secret_masking`).

The promotion shares one working directory, created before the first step and removed
after the last, whatever happened; just before, what steps deferred to the end runs
(``git-clone`` parks its checkouts there for the next promotion).
"""

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kargo_dagster.clients.argocd.applications import ArgoCDApplications
from kargo_dagster.clients.deadlines import budget
from kargo_dagster.clients.resource_data import ResourceData
from kargo_dagster.credentials import NO_CREDENTIALS, CredentialStore
from kargo_dagster.errors import (
    ExpressionError,
    KargoDagsterError,
    RetryableStepError,
    StepPendingError,
    TerminalStepError,
)
from kargo_dagster.expressions import evaluate, evaluate_template
from kargo_dagster.expressions.expr_builtins import go_type
from kargo_dagster.expressions.resource_functions import ResourceLookups
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.results import PromotionResult, StepExecution, final_phase
from kargo_dagster.promotion.schema_validation import has_schema, validate_step_config
from kargo_dagster.promotion.secret_masking import SecretMaskingFilter, masked_result
from kargo_dagster.promotion.step import (
    InMemoryMetadataStore,
    MetadataStore,
    PromotionInfo,
    Skipped,
    StepConfig,
    StepContext,
    StepKind,
    StepStatus,
    ToolPaths,
)
from kargo_dagster.promotion.variables import step_environment
from kargo_dagster.promotion.workdir import promotion_work_dir
from kargo_dagster.redaction import has_credentials, redact_text
from kargo_dagster.spec.crosscheck import CREDENTIALS_IN_URL
from kargo_dagster.spec.durations import format_go_duration
from kargo_dagster.spec.steps import ExpressionVariable

__all__ = ["TASK_OUTPUT_STEPS", "PromotionServices", "run_promotion"]

# Step kinds whose outputs, inside a task, also become the task's outputs (Kargo's
# "task output propagation" capability).
TASK_OUTPUT_STEPS = frozenset({"compose-output"})

# Waits between attempts when the step gives no retry_after: doubling from the first,
# capped, as a controller's requeue backoff would.
FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 60.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PromotionServices:
    """What steps may use besides their config.

    Attributes:
        credentials: Repository credentials.
        metadata: Stage and Freight metadata (``set-metadata``, ``stageMetadata()``).
        tools: Where kubectl, kustomize, helm and git are.
        git_cache_dir: Where cached clones live, shared between promotions.
        log: Where the engine and the steps log.
        argocd: Argo CD's Applications, for ``argocd-update`` and ``argocd-wait``; None
            when no Argo CD connection is configured (those steps then fail saying so).
        attempt_budget_seconds: How long one attempt of a step may take in all: every
            request and git command it makes ends by then, saying so (None: no bound).
        resource_data: Where ``configMap()``, ``secret()`` and their shared forms read;
            None: every ConfigMap and Secret is absent (an empty map).
    """

    credentials: CredentialStore = NO_CREDENTIALS
    metadata: MetadataStore = field(default_factory=InMemoryMetadataStore)
    tools: ToolPaths = field(default_factory=ToolPaths)
    git_cache_dir: Path | None = None
    log: logging.Logger = field(
        default_factory=lambda: logging.getLogger("kargo_dagster.promotion")
    )
    argocd: ArgoCDApplications | None = None
    attempt_budget_seconds: float | None = 900.0
    resource_data: ResourceData | None = None


class _ContextError(TerminalStepError):
    """The step's vars or config could not be evaluated: Errored, as Kargo cannot build the
    step's context, and not retried."""


def _config_error(uses: str, error: ValidationError) -> TerminalStepError:
    problems = sorted(
        (".".join(str(part) for part in e["loc"]) or "(root)", e["msg"]) for e in error.errors()
    )
    listed = "; ".join(f"{where}: {message}" for where, message in problems)
    return TerminalStepError(f"invalid {uses} config: {listed}")


def _evaluate_config(value: Any, env: Mapping[str, Any], where: str) -> Any:
    # Walks the config as evaluate_template would, to say which field held a bad expression.
    if isinstance(value, Mapping):
        return {key: _evaluate_config(item, env, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_evaluate_config(item, env, f"{where}.{i}") for i, item in enumerate(value)]
    if isinstance(value, str):
        try:
            result = evaluate_template(value, env)
        except ExpressionError as error:
            raise error.located(where) from error
        if isinstance(result, str) and has_credentials(result):
            # Caught at load when written literally; an expression can still build one.
            raise TerminalStepError(f"{where}: {CREDENTIALS_IN_URL}")
        return result
    return value


def _retry_delay(error: RetryableStepError, consecutive: int) -> float:
    if error.retry_after > 0:
        return error.retry_after
    return min(FIRST_RETRY_DELAY * 2 ** (consecutive - 1), MAX_RETRY_DELAY)


@dataclass
class _Promotion:
    """The state of one promotion while its steps run."""

    registry: StepRegistry
    promotion: PromotionInfo
    promotion_vars: Sequence[ExpressionVariable]
    services: PromotionServices
    work_dir: Path
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    resources: ResourceLookups
    executions: list[StepExecution] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deferred: list[Callable[[], None]] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def log(self) -> logging.Logger:
        return self.services.log

    def environment(self, step: PlannedStep) -> dict[str, Any]:
        return step_environment(
            step=step,
            promotion=self.promotion,
            promotion_vars=self.promotion_vars,
            outputs=self.outputs,
            statuses={e.alias: e.status for e in self.executions if e.alias != step.alias},
            continue_on_error={e.alias for e in self.executions if e.continue_on_error},
            metadata=self.services.metadata,
            now=self.clock,
            resources=self.resources,
        )

    def has_failures(self) -> bool:
        return any(
            e.status in ("Failed", "Errored") and not e.continue_on_error for e in self.executions
        )

    def finish(self, execution: StepExecution, status: StepStatus, message: str = "") -> None:
        execution.status = status
        execution.message = redact_text(message)
        if execution.started_at is not None:
            execution.finished_at = self.clock()
        if status != "Succeeded":
            self.log.info(f"step {execution.alias!r} ({execution.uses}) {status}: {message}")

    def should_run(self, step: PlannedStep, execution: StepExecution) -> bool:
        if step.if_ is None:
            if self.has_failures():
                self.finish(execution, "Skipped", "skipped: an earlier step did not succeed")
                return False
            return True
        where = f"step {step.alias!r} if"
        try:
            decision = evaluate_template(step.if_, self.environment(step))
        except ExpressionError as error:
            located = error if error.where else error.located(where)
            self.finish(execution, "Errored", f"cannot decide whether to run: {located}")
            return False
        if not isinstance(decision, bool):
            self.finish(
                execution,
                "Errored",
                f"{where}: expression must evaluate to a boolean, got {go_type(decision)}",
            )
            return False
        if not decision:
            self.finish(execution, "Skipped", f"skipped: if {step.if_} is false")
        return decision

    def config_for(
        self, step: PlannedStep, kind: StepKind[Any]
    ) -> tuple[StepConfig, dict[str, Any]]:
        """The validated config, and the variables it was evaluated with."""
        try:
            env = self.environment(step)
            raw = _evaluate_config(step.config or {}, env, f"step {step.alias!r} config")
        except ExpressionError as error:
            raise _ContextError(str(error)) from error
        if has_schema(kind.name):
            validate_step_config(kind.name, raw)
        try:
            return kind.config_model.model_validate(raw), env
        except ValidationError as error:
            raise _config_error(kind.name, error) from error

    def context_for(
        self, step: PlannedStep, execution: StepExecution, env: dict[str, Any]
    ) -> StepContext:
        def evaluate_with(expression: str, extra: Mapping[str, Any]) -> Any:
            return evaluate(expression, {**env, **extra})

        services = self.services
        return StepContext(
            work_dir=self.work_dir,
            promotion=self.promotion,
            alias=step.alias,
            credentials=services.credentials,
            metadata=services.metadata,
            tools=services.tools,
            git_cache_dir=services.git_cache_dir,
            evaluate=evaluate_with,
            log=services.log,
            attempt=execution.attempts,
            defer=self.deferred.append,
            report=execution.details.__setitem__,
            shared=self.shared,
            argocd=services.argocd,
        )

    def succeed(self, step: PlannedStep, execution: StepExecution, outputs: Any) -> None:
        produced = dict(outputs) if isinstance(outputs, Mapping) else {}
        execution.outputs = produced
        self.outputs[step.alias] = produced
        task_alias = step.task_alias
        if task_alias is not None and step.uses in TASK_OUTPUT_STEPS:
            self.outputs.setdefault(task_alias, {}).update(produced)
        if isinstance(outputs, Skipped):
            self.finish(execution, "Skipped", outputs.reason)
        else:
            self.finish(execution, "Succeeded")

    def run_step(self, step: PlannedStep) -> None:
        execution = StepExecution(
            alias=step.alias,
            uses=step.uses,
            status="Skipped",
            continue_on_error=step.continue_on_error,
        )
        self.executions.append(execution)
        if not self.should_run(step, execution):
            return
        try:
            kind = self.registry.get(step.uses)
        except TerminalStepError as error:
            self.finish(execution, "Errored", str(error))
            return
        threshold = step.error_threshold or kind.default_error_threshold or 1
        timeout = step.timeout if step.timeout is not None else kind.default_timeout
        execution.started_at = self.clock()
        self.log.info(f"step {step.alias!r} ({step.uses}) started")
        consecutive = 0
        while True:
            execution.attempts += 1
            try:
                config, env = self.config_for(step, kind)
                with budget(
                    self.services.attempt_budget_seconds,
                    f"the budget of step {step.alias!r} ({step.uses})",
                ):
                    outputs = kind.run(self.context_for(step, execution, env), config)
            except _ContextError as error:
                self.finish(execution, "Errored", str(error))
            except TerminalStepError as error:
                self.finish(execution, "Failed", str(error))
            except StepPendingError as error:
                # Kargo's Running: the step waits, which is not an error.
                if expired := self.expired(execution, timeout):
                    self.finish(execution, "Errored", f"{expired}: {error}")
                    return
                consecutive = 0
                self.log.info(f"step {step.alias!r} ({step.uses}) is waiting: {error}")
                self.sleep(_retry_delay(error, 1))
                continue
            except RetryableStepError as error:
                consecutive += 1
                if consecutive >= threshold:
                    self.finish(
                        execution, "Errored", f"met error threshold of {threshold}: {error}"
                    )
                elif expired := self.expired(execution, timeout):
                    self.finish(execution, "Errored", f"{expired}: {error}")
                else:
                    delay = _retry_delay(error, consecutive)
                    self.log.info(
                        f"step {step.alias!r} ({step.uses}) attempt {execution.attempts} "
                        f"did not succeed, retrying in {delay:g}s: {redact_text(str(error))}"
                    )
                    self.sleep(delay)
                    continue
            except KargoDagsterError as error:
                self.finish(execution, "Errored", f"an unrecoverable error occurred: {error}")
            else:
                self.succeed(step, execution, outputs)
            return

    def run_deferred(self) -> None:
        """Run what steps deferred to the end, newest first; a failure there is only logged."""
        while self.deferred:
            callback = self.deferred.pop()
            try:
                callback()
            except Exception as error:  # noqa: BLE001 - the promotion's outcome stands
                self.log.warning(
                    f"cleaning up after the promotion failed: {redact_text(str(error))}"
                )

    def expired(self, execution: StepExecution, timeout: timedelta | None) -> str:
        """``timed out after <timeout>`` once the soft timeout has passed, else empty."""
        if not timeout or execution.started_at is None:
            return ""
        if self.clock() - execution.started_at <= timeout:
            return ""
        return f"timed out after {format_go_duration(timeout)}"


def run_promotion(
    *,
    steps: Sequence[PlannedStep],
    registry: StepRegistry,
    promotion: PromotionInfo,
    stage_vars: Sequence[ExpressionVariable] = (),
    template_vars: Sequence[ExpressionVariable] = (),
    services: PromotionServices | None = None,
    work_root: Path,
    clock: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> PromotionResult:
    """Run ``steps`` to promote ``promotion.freight`` into ``promotion.stage``.

    Args:
        steps: The steps, tasks inflated (:func:`~kargo_dagster.promotion.expansion.expand_steps`).
        registry: The step kinds available.
        promotion: Who promotes what, where.
        stage_vars: The Stage's ``spec.vars``.
        template_vars: The promotion template's ``spec.vars`` (override the Stage's).
        services: Credentials, metadata store, tool paths, git cache, logger.
        work_root: Where the promotion's working directory is made (and removed after).
        clock: The time, timezone-aware (tests pass a fake one).
        sleep: Waits between attempts (tests pass one that advances the fake clock).

    Returns:
        How each step went and the promotion's phase. Step failures are reported here,
        not raised.
    """
    services = services or PromotionServices()
    started_at = clock()
    # One per promotion: each ConfigMap or Secret is read once, when first called for.
    resources = ResourceLookups(services.resource_data, promotion.project)
    masking = SecretMaskingFilter(resources.secret_values)
    services.log.addFilter(masking)
    try:
        with promotion_work_dir(work_root, promotion.name, services.log) as work_dir:
            run = _Promotion(
                registry=registry,
                promotion=promotion,
                promotion_vars=[*stage_vars, *template_vars],
                services=services,
                work_dir=work_dir,
                clock=clock,
                sleep=sleep,
                resources=resources,
            )
            for step in steps:
                run.run_step(step)
            run.run_deferred()
    finally:
        services.log.removeFilter(masking)
    phase, message = final_phase(run.executions)
    result = PromotionResult(
        phase=phase,
        message=message,
        steps=run.executions,
        outputs=run.outputs,
        started_at=started_at,
        finished_at=clock(),
    )
    return masked_result(result, resources.secret_values())
