"""Small fake steps, a fake clock and a promotion, for the engine tests.

The fakes are real :class:`StepKind` subclasses (the engine sees nothing else), each with
its own record of what it was given, so a test can assert on configs, aliases, attempts
and work directories.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from pydantic import ConfigDict

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.results import PromotionResult
from kargo_dagster.promotion.step import (
    PromotionInfo,
    StepConfig,
    StepContext,
    StepKind,
    StepOutput,
)
from kargo_dagster.promotion.steps import compose_output, fail
from kargo_dagster.spec.steps import ExpressionVariable

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

GUESTBOOK = Freight(
    origin=FreightOrigin(name="guestbook"),
    images=(Image(repo_url="ghcr.io/akuity/guestbook", tag="v0.0.2", digest="sha256:0f"),),
)

PROMOTION = PromotionInfo(
    project="kargo-simple",
    stage="dev",
    name="dev.01jabcdefghijkmnpqrstvwxyz.6e372ca",
    freight=GUESTBOOK,
    collection={"guestbook": GUESTBOOK},
    actor="alice",
)


class AnyConfig(StepConfig):
    """Accepts any keys, like a step whose schema is permissive."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @property
    def values(self) -> dict[str, Any]:
        """The configured keys and values."""
        return dict(self.model_extra or {})


@dataclass
class Call:
    """One run of a fake step."""

    alias: str
    config: dict[str, Any]
    attempt: int
    work_dir: Path


class Recorder(StepKind[AnyConfig]):
    """Records every call; returns ``config["outputs"]`` (default ``{}``) as outputs.

    With ``evaluate`` in the config, also returns ``evaluated``: that expression evaluated
    through ``ctx.evaluate`` with ``extra = "!"`` added.
    """

    name: ClassVar[str] = "record"
    config_model = AnyConfig

    def __init__(self, calls: list[Call] | None = None) -> None:
        self.calls: list[Call] = calls if calls is not None else []

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        """Record the call, touch a file in the work directory, return the outputs asked for."""
        values = config.values
        self.calls.append(Call(ctx.alias, values, ctx.attempt, ctx.work_dir))
        (ctx.work_dir / f"{ctx.alias.replace(':', '_')}.touched").write_text("x")
        outputs = dict(values.get("outputs", {}))
        if "evaluate" in values:
            outputs["evaluated"] = ctx.evaluate(values["evaluate"], {"extra": "!"})
        return outputs

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        """The last config each alias ran with."""
        return {call.alias: call.config for call in self.calls}


class Flaky(StepKind[AnyConfig]):
    """Raises RetryableStepError ``config["failures"]`` times (per alias), then succeeds.

    ``retryAfter`` sets the error's ``retry_after``; ``advance`` (seconds) moves the fake
    clock during each attempt, like a slow step.
    """

    name: ClassVar[str] = "flaky"
    config_model = AnyConfig

    def __init__(self, clock: "FakeClock | None" = None) -> None:
        self.clock = clock
        self.failed: dict[str, int] = {}

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        """Fail until the configured number of failures is reached."""
        values = config.values
        if self.clock is not None:
            self.clock.now += timedelta(seconds=float(values.get("advance", 0)))
        done = self.failed.get(ctx.alias, 0)
        if done < int(values.get("failures", 0)):
            self.failed[ctx.alias] = done + 1
            raise RetryableStepError(
                f"transient failure {done + 1}",
                retry_after=float(values.get("retryAfter", 0)),
            )
        return {"attempt": ctx.attempt}


class Explode(StepKind[AnyConfig]):
    """Always raises TerminalStepError with ``config["message"]`` (and ``config["then"]``,
    so that a message can hold what no config value may, such as a URL with credentials)."""

    name: ClassVar[str] = "explode"
    config_model = AnyConfig

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        """Fail for good."""
        values = config.values
        raise TerminalStepError(str(values.get("message", "boom")) + str(values.get("then", "")))


K = TypeVar("K", bound=StepKind[Any])


def variant(base: type[K], **class_attributes: Any) -> type[K]:
    """A subclass of ``base`` with other class attributes (``name``, ``default_timeout``)."""
    return cast(type[K], type(f"{base.__name__}Variant", (base,), class_attributes))


@dataclass
class FakeClock:
    """A clock that only moves when told to; its ``sleep`` records and advances."""

    now: datetime = START
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock past it."""
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def variables(**values: str) -> list[ExpressionVariable]:
    """ExpressionVariables from keyword arguments, in order."""
    return [ExpressionVariable(name=name, value=value) for name, value in values.items()]


def step(alias: str, uses: str = "record", **fields: Any) -> PlannedStep:
    """A planned step; ``config``, ``if_``, ``vars`` and friends as keywords."""
    if "vars" in fields and isinstance(fields["vars"], dict):
        fields["vars"] = tuple(variables(**fields["vars"]))
    return PlannedStep(alias=alias, uses=uses, **fields)


@dataclass
class Harness:
    """A registry of fakes plus the two real steps, and a way to run steps with them."""

    work_root: Path
    clock: FakeClock = field(default_factory=FakeClock)
    recorder: Recorder = field(default_factory=Recorder)
    extra: list[StepKind[Any]] = field(default_factory=list)

    @property
    def registry(self) -> StepRegistry:
        """Every step these tests use."""
        return StepRegistry(
            [
                self.recorder,
                Flaky(self.clock),
                Explode(),
                compose_output.STEP,
                fail.STEP,
                *self.extra,
            ]
        )

    def run(
        self,
        steps: list[PlannedStep],
        *,
        stage_vars: list[ExpressionVariable] | None = None,
        template_vars: list[ExpressionVariable] | None = None,
        registry: StepRegistry | None = None,
        promotion: PromotionInfo = PROMOTION,
    ) -> PromotionResult:
        """Run ``steps`` with the fake clock and sleep."""
        return run_promotion(
            steps=steps,
            registry=registry or self.registry,
            promotion=promotion,
            stage_vars=stage_vars or [],
            template_vars=template_vars or [],
            services=PromotionServices(),
            work_root=self.work_root,
            clock=self.clock,
            sleep=self.clock.sleep,
        )


def statuses(result: PromotionResult) -> dict[str, str]:
    """Each step's status by alias."""
    return {s.alias: s.status for s in result.steps}
