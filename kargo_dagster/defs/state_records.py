"""The typed records a Project's state is made of: promotions, promotion runs, check
results, approvals and holds (see :mod:`kargo_dagster.defs.pipeline_state`)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import dagster as dg

from kargo_dagster.defs.dagster_internals import ObservationRow, RunRow
from kargo_dagster.defs.names import (
    META_ACTOR,
    META_APPROVED,
    META_HOLD,
    META_HOLD_REASON,
    OUTCOME_REFUSED,
    OUTCOME_SUPERSEDED,
    TAG_ACTION,
    TAG_FREIGHT,
    TAG_OUTCOME,
    TAG_PARTITION,
    TAG_REASON,
    TAG_STAGE,
)
from kargo_dagster.defs.run_tags import shown_actor

__all__ = [
    "Approval",
    "CheckResult",
    "CheckState",
    "Hold",
    "HoldDecision",
    "Promotion",
    "PromotionRun",
    "RunOutcome",
    "approvals_from",
    "hold_decisions_from",
]

CheckState = Literal["passed", "failed", "pending", "skipped", "never run", "outdated"]


class RunOutcome(StrEnum):
    """How a promotion run stands or ended."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELING = "canceling"
    CANCELED = "canceled"
    SUPERSEDED = "superseded"
    REFUSED = "refused"


_OUTCOMES = {
    dg.DagsterRunStatus.SUCCESS: RunOutcome.SUCCEEDED,
    dg.DagsterRunStatus.FAILURE: RunOutcome.FAILED,
    dg.DagsterRunStatus.CANCELED: RunOutcome.CANCELED,
    dg.DagsterRunStatus.CANCELING: RunOutcome.CANCELING,
    dg.DagsterRunStatus.QUEUED: RunOutcome.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED: RunOutcome.QUEUED,
    dg.DagsterRunStatus.STARTING: RunOutcome.RUNNING,
    dg.DagsterRunStatus.STARTED: RunOutcome.RUNNING,
}
_FINISHED = (
    RunOutcome.SUCCEEDED,
    RunOutcome.FAILED,
    RunOutcome.CANCELED,
    RunOutcome.SUPERSEDED,
    RunOutcome.REFUSED,
)
# Outcomes a run names in its ``kargo/outcome`` tag once it ends.
_TAGGED = {OUTCOME_SUPERSEDED: RunOutcome.SUPERSEDED, OUTCOME_REFUSED: RunOutcome.REFUSED}


@dataclass(frozen=True)
class Promotion:
    """Freight that became current in a Stage: the Stage asset's materialization.

    Attributes:
        asset: The Stage asset (one per origin for a Stage that requests several).
        freight: The Freight's partition key.
        time: When (epoch seconds).
        run_id: The promotion's run.
        storage_id: The materialization's place in the event log.
    """

    asset: dg.AssetKey
    freight: str
    time: float
    run_id: str
    storage_id: int


@dataclass(frozen=True)
class PromotionRun:
    """A run asked to promote Freight into one or more Stages, read from its Kargo tags.

    Attributes:
        run_id: The run.
        stages: The Stages it promotes (``kargo/stage``; several for a run of several).
        freight: The Freight (``kargo/freight``, else the run's partition).
        action: ``promote``, ``auto-promote``, ``rollback``, ``reverify``.
        actor: Who asked (``kargo/actor``, else the sensor or backfill that launched it).
        created: When it was asked for (epoch seconds).
        ended: When it ended, if it did.
        outcome: How it stands or ended.
        reason: The one line the run gave for changing nothing or failing (``kargo/reason``),
            empty when it gave none.
    """

    run_id: str
    stages: tuple[str, ...]
    freight: str
    action: str
    actor: str
    created: float
    ended: float | None
    outcome: RunOutcome
    reason: str = ""

    @property
    def finished(self) -> bool:
        """Whether the run has ended."""
        return self.outcome in _FINISHED

    @classmethod
    def from_row(cls, row: RunRow) -> "PromotionRun":
        """The run as its stored row and tags describe it."""
        tags = row.tags
        outcome = _OUTCOMES.get(row.status, RunOutcome.RUNNING)
        tagged = _TAGGED.get(tags.get(TAG_OUTCOME, ""))
        if tagged is not None and outcome in _FINISHED:
            outcome = tagged
        return cls(
            run_id=row.run_id,
            stages=tuple(s for s in tags.get(TAG_STAGE, "").split(",") if s),
            freight=tags.get(TAG_FREIGHT) or tags.get(TAG_PARTITION, ""),
            action=tags.get(TAG_ACTION, ""),
            actor=shown_actor(tags),
            created=row.created,
            ended=row.ended,
            outcome=outcome,
            reason=tags.get(TAG_REASON, ""),
        )


@dataclass(frozen=True)
class CheckResult:
    """The latest evaluation of a Stage's ``health`` or ``verified`` check for one Freight.

    Attributes:
        state: ``passed``/``failed`` when it checked the Freight's latest promotion into the
            Stage; ``outdated`` when the Freight was promoted again since; ``pending`` while
            a run that plans it has not finished it; ``skipped`` when that run ended without
            running it (its promotion failed); ``never run`` otherwise.
        run_id: The run that last planned or ran it.
        evaluated_at: When the verdict was given (epoch seconds), for a finished one.
    """

    asset: dg.AssetKey
    check: str
    freight: str
    state: CheckState
    run_id: str | None = None
    evaluated_at: float | None = None

    @property
    def passed(self) -> bool:
        """Whether the check passed against the Freight's latest promotion into the Stage."""
        return self.state == "passed"


@dataclass(frozen=True)
class Approval:
    """Freight approved for a Stage (Kargo's ``approvedFor``), by whom and when."""

    asset: dg.AssetKey
    freight: str
    actor: str
    time: float


@dataclass(frozen=True)
class Hold:
    """A Stage on hold: the Freight held, why, by whom and when (epoch seconds)."""

    freight: str
    reason: str
    actor: str
    since: float


@dataclass(frozen=True)
class HoldDecision:
    """The latest hold decision on a Stage asset: a hold placed (``held``) or lifted."""

    held: bool
    hold: Hold


def approvals_from(
    observations: Iterable[ObservationRow],
) -> dict[tuple[dg.AssetKey, str], Approval]:
    """The approvals among Stage partitions' observations, the newest per partition."""
    approvals: dict[tuple[dg.AssetKey, str], Approval] = {}
    for row in observations:
        if row.partition is not None and _value(row.metadata.get(META_APPROVED)) is True:
            # Newest last: a later approval says who approved most recently.
            approvals[(row.asset, row.partition)] = Approval(
                row.asset, row.partition, _text(row.metadata.get(META_ACTOR)), row.timestamp
            )
    return approvals


def hold_decisions_from(
    observations: Iterable[ObservationRow], promoted: Mapping[dg.AssetKey, int]
) -> dict[dg.AssetKey, HoldDecision]:
    """Each Stage asset's newest hold decision stored after its current promotion (whose
    storage id ``promoted`` gives; a Stage that holds nothing has no hold)."""
    decisions: dict[dg.AssetKey, HoldDecision] = {}
    for row in observations:
        if META_HOLD not in row.metadata:
            continue
        if row.asset not in promoted or row.storage_id < promoted[row.asset]:
            continue
        decisions[row.asset] = HoldDecision(
            held=_value(row.metadata[META_HOLD]) is True,
            hold=Hold(
                freight=str(row.partition),
                reason=_text(row.metadata.get(META_HOLD_REASON)),
                actor=_text(row.metadata.get(META_ACTOR)),
                since=row.timestamp,
            ),
        )
    return decisions


def _value(entry: object) -> object:
    return getattr(entry, "value", entry)


def _text(entry: object) -> str:
    return str(_value(entry) or "")
