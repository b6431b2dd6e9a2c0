"""What an AnalysisRun says about the verification of a Stage's Freight.

Kargo copies the AnalysisRun's ``status.phase`` into the verification it records
(``getVerificationResult`` in the Stage reconciler, v1.11), so the phases are Argo Rollouts'
own, and :func:`verification_result` maps them one to one:

==================  ==================  =========
``status.phase``    verification phase  terminal
==================  ==================  =========
absent or empty     Pending             no
Pending             Pending             no
Running             Running             no
Successful          Successful          yes
Failed              Failed              yes
Error               Error               yes
Inconclusive        Inconclusive        yes
anything else       Error               yes
==================  ==================  =========

Two refinements:

* **Aborted.** A run asked to stop (``spec.terminate: true``, see :func:`terminate_patch`)
  is Aborted while it winds down and once Argo Rollouts reports it ``Successful`` with
  ``Run Terminated``, because a terminated run proved nothing. A run that had already
  completed (Failed, say) keeps its phase.
* **Unknown phases** are Error rather than waited on, so that a blocking check does not hang
  on a phase this module does not know.

The result keeps the run's message and a compact table of its measurements for check
metadata (:meth:`VerificationResult.to_json`): one row per metric and, per metric, its most
recent measurements, with credentials in URLs masked.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kargo_dagster.redaction import redact_text

__all__ = [
    "DEFAULT_MEASUREMENT_LIMIT",
    "MeasurementRow",
    "MetricRow",
    "VerificationPhase",
    "VerificationResult",
    "terminate_patch",
    "verification_result",
]

# Enough to see a trend in check metadata without storing a long-running metric's history.
DEFAULT_MEASUREMENT_LIMIT = 10

# What Argo Rollouts writes into status.message when a run ends because it was terminated.
_TERMINATED_MESSAGE = "Run Terminated"


class VerificationPhase(StrEnum):
    """Kargo's verification phases."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    ABORTED = "Aborted"
    INCONCLUSIVE = "Inconclusive"

    @property
    def is_terminal(self) -> bool:
        """Whether the verification is over (everything but Pending and Running)."""
        return self not in (VerificationPhase.PENDING, VerificationPhase.RUNNING)


_FROM_ANALYSIS = {
    "": VerificationPhase.PENDING,
    "Pending": VerificationPhase.PENDING,
    "Running": VerificationPhase.RUNNING,
    "Successful": VerificationPhase.SUCCESSFUL,
    "Failed": VerificationPhase.FAILED,
    "Error": VerificationPhase.ERROR,
    "Inconclusive": VerificationPhase.INCONCLUSIVE,
}


@dataclass(frozen=True)
class MeasurementRow:
    """One measurement of one metric.

    Attributes:
        metric: The metric's name.
        phase: The measurement's phase (``Successful``, ``Failed``, ``Error``...).
        value: The measured value as the provider reported it (empty for errors).
        started_at: When the measurement started (RFC 3339), or empty.
        finished_at: When it finished, or empty while it runs.
        message: The provider's message, if any.
    """

    metric: str
    phase: str
    value: str = ""
    started_at: str = ""
    finished_at: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-compatible dict; an empty message is left out."""
        row: dict[str, Any] = {
            "metric": self.metric,
            "phase": self.phase,
            "value": self.value,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }
        if self.message:
            row["message"] = self.message
        return row


@dataclass(frozen=True)
class MetricRow:
    """One metric's standing in the run.

    Attributes:
        metric: The metric's name.
        phase: Its phase as the Rollouts controller assessed it.
        count: Measurements taken (errors excluded, as Argo Rollouts counts them).
        successful: Successful measurements.
        failed: Failed measurements.
        inconclusive: Inconclusive measurements.
        error: Measurements that errored.
        message: The metric's latest message (usually a provider error), if any.
        dry_run: Whether the metric runs in dry-run mode (its failures do not count).
        omitted: Older measurements left out of the table.
    """

    metric: str
    phase: str
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    message: str = ""
    dry_run: bool = False
    omitted: int = 0

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-compatible dict; empty message, dry run and omitted are left out."""
        row: dict[str, Any] = {
            "metric": self.metric,
            "phase": self.phase,
            "count": self.count,
            "successful": self.successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "error": self.error,
        }
        if self.message:
            row["message"] = self.message
        if self.dry_run:
            row["dryRun"] = True
        if self.omitted:
            row["omittedMeasurements"] = self.omitted
        return row


@dataclass(frozen=True)
class VerificationResult:
    """A verification's state, read from its AnalysisRun.

    Attributes:
        phase: Kargo's verification phase.
        message: Why, in Argo Rollouts' words (``Metric "x" assessed Failed due to ...``).
        namespace: The AnalysisRun's namespace.
        name: The AnalysisRun's name.
        analysis_phase: ``status.phase`` as the run reports it.
        started_at: ``status.startedAt``, or empty.
        completed_at: ``status.completedAt``, or empty while it runs.
        metrics: One row per metric, in the run's metric order.
        measurements: The most recent measurements of each metric, oldest first per metric.
    """

    phase: VerificationPhase
    message: str = ""
    namespace: str = ""
    name: str = ""
    analysis_phase: str = ""
    started_at: str = ""
    completed_at: str = ""
    metrics: tuple[MetricRow, ...] = ()
    measurements: tuple[MeasurementRow, ...] = ()

    @property
    def terminal(self) -> bool:
        """Whether the verification is over."""
        return self.phase.is_terminal

    @property
    def passed(self) -> bool:
        """Whether the Freight is verified: only a Successful verification counts."""
        return self.phase is VerificationPhase.SUCCESSFUL

    @property
    def description(self) -> str:
        """One line for people: the phase, then the message."""
        return f"{self.phase.value}: {self.message}" if self.message else self.phase.value

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-compatible dict, for check metadata."""
        return {
            "phase": self.phase.value,
            "terminal": self.terminal,
            "message": self.message,
            "analysisRun": {
                "namespace": self.namespace,
                "name": self.name,
                "phase": self.analysis_phase,
            },
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
            "metrics": [m.to_json() for m in self.metrics],
            "measurements": [m.to_json() for m in self.measurements],
        }


def terminate_patch() -> dict[str, Any]:
    """The JSON merge patch that aborts an AnalysisRun, as Kargo sends it."""
    return {"spec": {"terminate": True}}


def _text(value: Any) -> str:
    # Providers report values and messages as text; anything else is shown as JSON would.
    if value is None:
        return ""
    return redact_text(value if isinstance(value, str) else str(value))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _phase(run: Mapping[str, Any], analysis_phase: str, message: str) -> VerificationPhase:
    spec = run.get("spec")
    terminating = isinstance(spec, Mapping) and spec.get("terminate") is True
    phase = _FROM_ANALYSIS.get(analysis_phase, VerificationPhase.ERROR)
    if terminating and (not phase.is_terminal or message == _TERMINATED_MESSAGE):
        return VerificationPhase.ABORTED
    return phase


def verification_result(
    run: Mapping[str, Any], *, measurement_limit: int = DEFAULT_MEASUREMENT_LIMIT
) -> VerificationResult:
    """The verification state an AnalysisRun reports, by the rules in the module docstring.

    Args:
        run: The AnalysisRun as a JSON object (as read from the Kubernetes API).
        measurement_limit: How many of each metric's most recent measurements to keep in
            the table; older ones are counted in ``MetricRow.omitted``.

    Returns:
        The phase, whether it is terminal, the message and the measurement tables.

    Raises:
        ValueError: ``measurement_limit`` is negative.
    """
    if measurement_limit < 0:
        raise ValueError(f"measurement_limit must not be negative, got {measurement_limit}")
    meta = run.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    status = run.get("status")
    status = status if isinstance(status, Mapping) else {}
    analysis_phase = status.get("phase")
    analysis_phase = analysis_phase if isinstance(analysis_phase, str) else ""
    message = _text(status.get("message"))
    phase = _phase(run, analysis_phase, message)
    if phase is VerificationPhase.ABORTED and message in ("", _TERMINATED_MESSAGE):
        message = "Verification aborted: the AnalysisRun was terminated"
    elif phase is VerificationPhase.ERROR and analysis_phase not in _FROM_ANALYSIS:
        message = f"the AnalysisRun is in an unknown phase {analysis_phase!r}" + (
            f": {message}" if message else ""
        )

    metrics: list[MetricRow] = []
    measurements: list[MeasurementRow] = []
    for result in _mappings(status.get("metricResults")):
        name = _text(result.get("name"))
        taken = _mappings(result.get("measurements"))
        kept = taken[-measurement_limit:] if measurement_limit else []
        metrics.append(
            MetricRow(
                metric=name,
                phase=_text(result.get("phase")),
                count=_count(result.get("count")),
                successful=_count(result.get("successful")),
                failed=_count(result.get("failed")),
                inconclusive=_count(result.get("inconclusive")),
                error=_count(result.get("error")),
                message=_text(result.get("message")),
                dry_run=result.get("dryRun") is True,
                omitted=len(taken) - len(kept),
            )
        )
        measurements.extend(
            MeasurementRow(
                metric=name,
                phase=_text(m.get("phase")),
                value=_text(m.get("value")),
                started_at=_text(m.get("startedAt")),
                finished_at=_text(m.get("finishedAt")),
                message=_text(m.get("message")),
            )
            for m in kept
        )
    return VerificationResult(
        phase=phase,
        message=message,
        namespace=_text(meta.get("namespace")),
        name=_text(meta.get("name")),
        analysis_phase=analysis_phase,
        started_at=_text(status.get("startedAt")),
        completed_at=_text(status.get("completedAt")),
        metrics=tuple(metrics),
        measurements=tuple(measurements),
    )
