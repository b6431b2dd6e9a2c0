"""The four delivery metrics per Stage, from a Project's promotion and verification history.

* **Deployment frequency**: successful promotions into the Stage per day, over the window.
* **Lead time**: from the Freight's creation (its Warehouse recording it) to its first
  successful promotion into the Stage; the median over the Freight promoted in the window.
* **Change failure rate**: the share of promotion attempts that failed, or whose Freight then
  failed verification in the Stage.
* **Time to restore**: from a failure (a failed promotion or verification) to the next
  passing verification of Freight promoted into the Stage; the median over the failures
  restored.

Superseded requests (a newer promotion was asked for while they waited) are not attempts:
they changed nothing. Everything is computed from plain records, so it can be tested and
reused without Dagster.
"""

import bisect
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["PromotionRecord", "StageMetrics", "VerificationRecord", "stage_metrics"]

_DAY = 86400.0


@dataclass(frozen=True)
class PromotionRecord:
    """One promotion attempt: its Stage, Freight, when it ended and whether it succeeded."""

    stage: str
    freight: str
    finished_at: float
    succeeded: bool
    superseded: bool = False


@dataclass(frozen=True)
class VerificationRecord:
    """One evaluation of a Stage's ``verified`` check for a Freight."""

    stage: str
    freight: str
    at: float
    passed: bool


@dataclass(frozen=True)
class StageMetrics:
    """A Stage's delivery metrics over the window (None where there is nothing to measure)."""

    stage: str
    deployments: int
    deployments_per_day: float
    lead_time_seconds: float | None
    change_failure_rate: float | None
    time_to_restore_seconds: float | None
    failures: int


def stage_metrics(
    stages: Sequence[str],
    promotions: Iterable[PromotionRecord],
    verifications: Iterable[VerificationRecord],
    freight_created: Mapping[str, float],
    *,
    now: float,
    window_days: float = 30.0,
) -> list[StageMetrics]:
    """The metrics of each of ``stages``, over the ``window_days`` before ``now``."""
    since = now - window_days * _DAY
    attempts = [p for p in promotions if p.finished_at >= since and not p.superseded]
    checks = [v for v in verifications if v.at >= since]
    return [_for_stage(stage, attempts, checks, freight_created, window_days) for stage in stages]


def _for_stage(
    stage: str,
    attempts: Sequence[PromotionRecord],
    checks: Sequence[VerificationRecord],
    freight_created: Mapping[str, float],
    window_days: float,
) -> StageMetrics:
    mine = sorted((p for p in attempts if p.stage == stage), key=lambda p: p.finished_at)
    verdicts = sorted((v for v in checks if v.stage == stage), key=lambda v: v.at)
    succeeded = [p for p in mine if p.succeeded]
    first_arrival: dict[str, float] = {}
    for promotion in succeeded:
        first_arrival.setdefault(promotion.freight, promotion.finished_at)
    lead_times = [
        arrival - freight_created[freight]
        for freight, arrival in first_arrival.items()
        if freight in freight_created and arrival >= freight_created[freight]
    ]
    verdicts_of: dict[str, list[VerificationRecord]] = {}
    for verdict in verdicts:
        verdicts_of.setdefault(verdict.freight, []).append(verdict)
    # A failure is a failed attempt, or a successful one whose next verdict failed.
    failure_times = [p.finished_at for p in mine if not p.succeeded]
    for promotion in succeeded:
        theirs = verdicts_of.get(promotion.freight, [])
        index = bisect.bisect_left([v.at for v in theirs], promotion.finished_at)
        if index < len(theirs) and not theirs[index].passed:
            failure_times.append(theirs[index].at)
    # A passing verdict restores the Stage when it verifies Freight promoted there (a new
    # promotion after the failure, or the same Freight re-verified once it recovered).
    restoring = [
        v.at
        for v in verdicts
        if v.passed and v.freight in first_arrival and first_arrival[v.freight] <= v.at
    ]
    restores: list[float] = []
    for failed_at in sorted(failure_times):
        index = bisect.bisect_right(restoring, failed_at)
        if index < len(restoring):
            restores.append(restoring[index] - failed_at)
    return StageMetrics(
        stage=stage,
        deployments=len(succeeded),
        deployments_per_day=len(succeeded) / window_days if window_days > 0 else 0.0,
        lead_time_seconds=statistics.median(lead_times) if lead_times else None,
        change_failure_rate=len(failure_times) / len(mine) if mine else None,
        time_to_restore_seconds=statistics.median(restores) if restores else None,
        failures=len(failure_times),
    )
