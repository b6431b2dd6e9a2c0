"""Following a promotion run to its end, for ``promote --wait`` and ``rollback --wait``.

The run is read from the instance's run storage, as ``status`` and ``history`` read runs
(one indexed query each time, however many runs are followed), so a run launched through the
webserver and executed by a daemon elsewhere is followed just like one run in this process.
Its outcome is the one ``history`` shows: a run that gave way to a newer request is
``superseded``, not ``failed``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.pipeline_state import PromotionRun, RunOutcome
from kargo_dagster.defs.run_failures import failure_reasons, first_line
from kargo_dagster.errors import InstanceError

__all__ = ["PromotionEnd", "follow_run", "promotion_end"]

# A promotion's first seconds decide most refusals; later, a Stage's steps and verification
# take minutes, and asking more often than this only loads the database.
_FIRST_POLLS = 0.25
_LATER_POLLS = 2.0
_QUICK_PERIOD = 10.0


@dataclass(frozen=True)
class PromotionEnd:
    """How a promotion run ended, and why when it did not succeed.

    Attributes:
        outcome: ``succeeded``, ``failed``, ``canceled``, ``superseded`` or ``refused``.
        reason: The run's one-line reason (else its first failure reason), without the
            ``Superseded:``/``Refused:`` label such a run's reason starts with; ``""`` if none.
    """

    outcome: RunOutcome
    reason: str

    @property
    def succeeded(self) -> bool:
        """Whether the Freight was promoted."""
        return self.outcome == RunOutcome.SUCCEEDED

    def __str__(self) -> str:
        return f"{self.outcome.value}: {self.reason}" if self.reason else self.outcome.value


def follow_run(
    instance: dg.DagsterInstance,
    project: str,
    run_id: str,
    *,
    on_change: Callable[[RunOutcome], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
) -> PromotionEnd:
    """Wait for run ``run_id`` of ``project`` to end; ``on_change`` hears each new state.

    Raises:
        InstanceError: The run is not in the instance (the webserver launched it into
            another one).
    """
    started = time.monotonic()
    seen: RunOutcome | None = None
    while True:
        run = _read(instance, project, run_id)
        if run is None:
            raise InstanceError(
                f"run {run_id} is not in the Dagster instance DAGSTER_HOME names: is the "
                "webserver using another instance?"
            )
        if run.outcome != seen:
            seen = run.outcome
            on_change(seen)
        if run.finished:
            return promotion_end(instance, run)
        quick = time.monotonic() - started < _QUICK_PERIOD
        sleep(_FIRST_POLLS if quick else _LATER_POLLS)


def promotion_end(instance: dg.DagsterInstance, run: PromotionRun) -> PromotionEnd:
    """The outcome of a finished run, with its one-line reason."""
    reason = run.reason
    if not reason and run.outcome != RunOutcome.SUCCEEDED:
        reason = first_line(failure_reasons(instance, run.run_id))
    reason = reason.removeprefix("Superseded: ").removeprefix("Refused: ")
    return PromotionEnd(run.outcome, reason)


def _read(instance: dg.DagsterInstance, project: str, run_id: str) -> PromotionRun | None:
    with storage_session(instance) as session:
        rows = session.promotion_runs(project, (), [run_id])
    found = [PromotionRun.from_row(row) for row in rows if row.run_id == run_id]
    return found[0] if found else None
