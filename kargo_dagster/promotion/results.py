"""How a promotion went: one record per step, and the promotion's phase.

The phase follows Kargo's ``DetermineFinalPhase``: the most severe status among the steps
without ``continueOnError`` decides it (Succeeded < Skipped < Failed < Errored); Succeeded
and Skipped both make the promotion Succeeded. The message is that step's.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kargo_dagster.promotion.step import StepStatus

__all__ = ["PromotionPhase", "PromotionResult", "StepExecution", "final_phase"]

PromotionPhase = Literal["Succeeded", "Failed", "Errored"]

_SEVERITY: dict[str, int] = {"Succeeded": 0, "Skipped": 1, "Failed": 4, "Errored": 5}


@dataclass
class StepExecution:
    """One step's run.

    Attributes:
        alias: The step's alias (``task-1::step-2``).
        uses: The step kind.
        status: Succeeded, Failed, Errored or Skipped.
        message: Why it failed, errored or was skipped; empty on success.
        started_at: When its first attempt started (None if it never started).
        finished_at: When it ended (None if it never started).
        attempts: How many times it ran.
        outputs: What it returned (empty unless it succeeded).
        continue_on_error: Its failure did not stop the promotion.
        details: What it reported for people rather than for later steps (the changes a
            commit made), by kind; see :attr:`StepContext.report`.
    """

    alias: str
    uses: str
    status: StepStatus
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    continue_on_error: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """How long the step took, retries and waits included (0 if it never started)."""
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """This record as JSON-ready data, Kargo's key names, times in ISO 8601."""
        return {
            "alias": self.alias,
            "uses": self.uses,
            "status": self.status,
            "message": self.message,
            "startedAt": _iso(self.started_at),
            "finishedAt": _iso(self.finished_at),
            "attempts": self.attempts,
            "continueOnError": self.continue_on_error,
            "outputs": _plain(self.outputs),
        }


HEALTH_CHECK_DETAIL = "healthCheck"
"""A step's report of what the Stage's health check must look at (``argocd-update``'s
Applications and revisions, Kargo's ``Promotion.status.healthChecks``)."""
CHANGES_DETAIL = "changes"
"""A step's report of what a commit changed (``git-commit``: files, lines and the patch)."""


@dataclass
class PromotionResult:
    """The outcome of :func:`~kargo_dagster.promotion.engine.run_promotion`.

    Attributes:
        phase: Succeeded, Failed or Errored.
        message: Which step decided a Failed/Errored phase and why; empty on success.
        steps: Every step, in order, including skipped ones.
        outputs: Outputs by step alias, plus tasks' composed outputs by task alias.
        started_at: When the promotion started.
        finished_at: When it ended.
    """

    phase: PromotionPhase
    message: str
    steps: list[StepExecution]
    outputs: dict[str, dict[str, Any]]
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the phase is Succeeded."""
        return self.phase == "Succeeded"

    def commit_urls(self) -> dict[str, str]:
        """The ``commitURL`` each step output (``git-push``), by step alias."""
        found: dict[str, str] = {}
        for alias, outputs in self.outputs.items():
            url = outputs.get("commitURL") if isinstance(outputs, Mapping) else None
            if url:
                found[alias] = str(url)
        return found

    def health_checks(self) -> list[Any]:
        """What the succeeded steps asked the Stage's health check to look at, in order."""
        return [
            step.details[HEALTH_CHECK_DETAIL]
            for step in self.steps
            if step.status == "Succeeded" and HEALTH_CHECK_DETAIL in step.details
        ]

    def commit_changes(self) -> list[tuple[str, Mapping[str, Any]]]:
        """What each commit the promotion made changed, with the committing step's alias,
        in order."""
        found = ((step.alias, step.details.get(CHANGES_DETAIL)) for step in self.steps)
        return [(alias, changes) for alias, changes in found if isinstance(changes, Mapping)]

    def step(self, alias: str) -> StepExecution:
        """The record of the step ``alias``.

        Raises:
            KeyError: No step has that alias.
        """
        for execution in self.steps:
            if execution.alias == alias:
                return execution
        raise KeyError(alias)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (values JSON cannot hold become strings)."""
        return {
            "phase": self.phase,
            "message": self.message,
            "startedAt": _iso(self.started_at),
            "finishedAt": _iso(self.finished_at),
            "steps": [s.to_json() for s in self.steps],
            "outputs": _plain(self.outputs),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _plain(value: Any) -> Any:
    # Outputs are the steps' own data: usually JSON already, but a step may return a date.
    return json.loads(json.dumps(value, default=str))


def final_phase(steps: list[StepExecution]) -> tuple[PromotionPhase, str]:
    """The promotion's phase and message from its steps, as Kargo decides them."""
    worst: StepExecution | None = None
    for execution in steps:
        if execution.continue_on_error:
            continue
        if worst is None or _SEVERITY[execution.status] > _SEVERITY[worst.status]:
            worst = execution
    if worst is None or worst.status in ("Succeeded", "Skipped"):
        return "Succeeded", ""
    named = f"step {worst.alias!r}"
    # Messages about the step's own config already start by naming it.
    detail = worst.message.removeprefix(named + " ")
    return worst.status, f"{named} ({worst.uses}): {detail}"
