"""What a metric provider reports for one measurement of an AnalysisRun's metric.

The executor (:mod:`kargo_dagster.verification.analysis_executor`) asks a :class:`Provider`
per metric kind (``web``, ``job``...) for measurements. A provider either decides the phase
itself (a ``job`` pod exited 0) or returns the ``result`` it found, which the executor judges
with the metric's ``successCondition`` and ``failureCondition``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.gojson import marshal_json

__all__ = ["PHASES", "Measurement", "Provider", "ProviderMeasurement", "json_text", "value_text"]

PHASES = ("Successful", "Failed", "Inconclusive", "Error")


class ProviderMeasurement(Protocol):
    """What a provider reports for one measurement.

    :class:`Measurement` is the executor's own; providers in lower layers (the ``web``
    client) return a record of their own with the same attributes.

    Attributes:
        phase: ``Successful``, ``Failed``, ``Inconclusive`` or ``Error`` when the provider
            decided the outcome itself; ``""`` when it only fetched ``result``, which the
            executor then judges with the metric's conditions.
        value: The measured value as text (``""`` to use ``result`` as JSON).
        message: Why, usually for an ``Error``; never a credential.
        metadata: Extra facts about the measurement, kept with it as text.
        result: The value the conditions see as ``result`` (when ``phase`` is ``""``).
    """

    @property
    def phase(self) -> str:
        """The decided phase, or ``""`` to judge ``result``."""
        ...

    @property
    def value(self) -> str:
        """The measured value as text."""
        ...

    @property
    def message(self) -> str:
        """Why (usually for an ``Error``)."""
        ...

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Extra facts about the measurement."""
        ...

    @property
    def result(self) -> Any:
        """The value the conditions judge."""
        ...


@dataclass(frozen=True)
class Measurement:
    """One measurement as a provider reports it (see :class:`ProviderMeasurement`).

    Examples:
        >>> Measurement(phase="Failed", message="the smoke test exited 1").phase
        'Failed'
        >>> Measurement.observed({"ok": True}).value
        '{"ok":true}'
    """

    phase: str
    value: str = ""
    message: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    result: Any = None

    def __post_init__(self) -> None:
        if self.phase not in (*PHASES, ""):
            raise ValueError(f"a measurement's phase is one of {', '.join(PHASES)} or ''")

    @classmethod
    def observed(
        cls, result: Any, *, value: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> "Measurement":
        """A measurement that found ``result``, to be judged by the metric's conditions.

        Args:
            result: The value (JSON-like) the conditions see as ``result``.
            value: The value as text; default: ``result`` as Go's JSON (text stays text).
            metadata: Extra facts about the measurement.
        """
        text = value if value is not None else value_text(result)
        return cls(phase="", value=text, metadata=dict(metadata or {}), result=result)


class Provider(Protocol):
    """Takes measurements of one kind of metric (``web``, ``job``...).

    ``measure`` gets the metric with its arguments substituted and returns what it found.
    Problems it can name (a refused request, a pod that cannot start) are an ``Error``
    measurement or a raised :class:`~kargo_dagster.errors.KargoDagsterError`, which the
    executor records as one; any other exception is a bug and ends the analysis.
    """

    def measure(self, metric: Mapping[str, Any]) -> ProviderMeasurement:
        """Take one measurement of ``metric``."""
        ...


def value_text(value: Any) -> str:
    """A measured value as text: text stays text, anything else is Go's JSON."""
    return value if isinstance(value, str) else json_text(value)


def json_text(value: Any) -> str:
    """``value`` as Go's ``json.Marshal`` writes it (a string quoted), else as ``str``."""
    try:
        return marshal_json(value)
    except ExpressionError:
        return str(value)
