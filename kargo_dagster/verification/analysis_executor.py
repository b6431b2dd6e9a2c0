"""Running an AnalysisRun inside kargo-dagster, for teams without the Argo Rollouts controller.

:func:`execute_analysis` takes the AnalysisRun that
:func:`~kargo_dagster.verification.analysis_run.build_analysis_run` builds, takes its
measurements through :class:`Provider` objects (one per provider kind: ``web``, ``job``...)
and returns the run with the ``status`` the Argo Rollouts controller would have written
(``analysis/analysis.go``), so that
:func:`~kargo_dagster.verification.analysis_result.verification_result` reads it unchanged.
The module does no I/O itself: time comes from ``clock`` and ``sleep``, measurements from the
providers.

Before anything is measured the run is checked, and :class:`VerificationError` says what
cannot be run here: a metric whose provider has no entry in ``providers`` (it needs the Argo
Rollouts controller), an argument taking its value from a Secret or a field reference
(``valueFrom``), a ``{{...}}`` no argument resolves, and the metric settings Argo Rollouts
rejects (``count`` above 1 without ``interval``, bad durations, negative limits...).

Then, as Argo Rollouts does:

* every string in a metric has its ``{{args.NAME}}`` replaced by the argument's value;
* a metric is first measured ``initialDelay`` after the run starts, then every ``interval``
  after the previous measurement finished, or 10 seconds after one that errored;
* it is done after ``count`` measurements (errors do not count; 1 when neither ``count`` nor
  ``interval`` is set), or after ``consecutiveSuccessLimit`` successes in a row; with only an
  ``interval`` it runs until the run stops;
* it fails once ``failed > failureLimit`` (default 0, negative: never), is inconclusive once
  ``inconclusive > inconclusiveLimit`` (default 0), and errs once ``consecutiveError >
  consecutiveErrorLimit`` (default 4); a metric that fails, errs or is inconclusive ends
  the run;
* metrics run side by side in time: one thread takes whichever measurement is due first;
* a provider either decides a measurement's phase itself (a ``job`` pod succeeded) or
  returns the value it found, which :func:`evaluate_conditions` judges with the metric's
  ``successCondition`` and ``failureCondition``;
* ``dryRun`` metrics (matched by regular expression) are measured and reported, but their
  outcome does not decide the run; ``measurementRetention`` keeps the most recent ``limit``
  measurements of the metrics it matches, 10 for the others;
* the run's phase is the worst metric phase (Failed > Error > Inconclusive > Successful), with
  Argo Rollouts' message (``Metric "x" assessed Failed due to failed (1) > failureLimit (0)``).

``should_stop()`` ends the run like ``spec.terminate: true`` (``Successful`` with ``Run
Terminated`` unless a metric did worse, and ``spec.terminate`` is set so that the
verification reads as aborted); passing ``deadline`` ends it with ``Error``. Both are looked
at between measurements, at least every second while waiting; a measurement in flight is not
interrupted.
"""

import copy
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from kargo_dagster.errors import ExpressionError, KargoDagsterError, VerificationError
from kargo_dagster.expressions.goduration import SECOND, parse_duration
from kargo_dagster.expressions.gojson import marshal_json
from kargo_dagster.redaction import redact_text
from kargo_dagster.verification.analysis_conditions import evaluate_conditions

__all__ = [
    "DEFAULT_ERROR_RETRY_SECONDS",
    "DEFAULT_MEASUREMENT_LIMIT",
    "PHASES",
    "Measurement",
    "Provider",
    "ProviderMeasurement",
    "evaluate_conditions",
    "execute_analysis",
]

PHASES = ("Successful", "Failed", "Inconclusive", "Error")
# Argo Rollouts' defaults (analysis/analysis.go, utils/defaults).
DEFAULT_MEASUREMENT_LIMIT = 10
DEFAULT_ERROR_RETRY_SECONDS = 10.0
_DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
# Argo Rollouts' order of phases, best to worst.
_ORDER = ("Successful", "Running", "Pending", "Inconclusive", "Error", "Failed")
# How long a wait may last before should_stop() and the deadline are looked at again.
_STOP_POLL_SECONDS = 1.0
_TERMINATED = "Run Terminated"
_ROLLOUTS_HINT = (
    "configure KargoResource(rollouts=RolloutsSettings(...)) to have the Argo Rollouts "
    "controller run the analysis"
)


# --- What providers return ---------------------------------------------------------------


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
        text = value if value is not None else _as_text(result)
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


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return marshal_json(value)
    except ExpressionError:
        return str(value)


# --- Preparing the run -------------------------------------------------------------------


@dataclass
class _Metric:
    """One metric of the run: its settings, then its standing as measurements come in."""

    spec: dict[str, Any]
    name: str
    provider: str
    dry_run: bool = False
    retention: int = DEFAULT_MEASUREMENT_LIMIT
    count: int | None = None
    interval: float | None = None
    initial_delay: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = _DEFAULT_CONSECUTIVE_ERROR_LIMIT
    consecutive_success_limit: int = 0
    due: float = 0.0
    phase: str = ""  # "" until the first measurement, as Argo Rollouts has no result yet
    message: str = ""
    tally: dict[str, int] = field(default_factory=dict)
    measurements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.phase in PHASES

    def counter(self, key: str) -> int:
        return self.tally.get(key, 0)

    def to_json(self) -> dict[str, Any]:
        # Argo Rollouts leaves out zero counters and empty strings (omitempty).
        entry: dict[str, Any] = {"name": self.name, "phase": self.phase}
        if self.measurements:
            entry["measurements"] = copy.deepcopy(self.measurements)
        if self.message:
            entry["message"] = self.message
        for key in ("count", "successful", "failed", "inconclusive", "error"):
            if self.counter(key):
                entry[key] = self.counter(key)
        if self.counter("consecutiveError"):
            entry["consecutiveError"] = self.counter("consecutiveError")
        if self.dry_run:
            entry["dryRun"] = True
        if self.counter("consecutiveSuccess"):
            entry["consecutiveSuccess"] = self.counter("consecutiveSuccess")
        return entry


def _run_name(run: Mapping[str, Any]) -> str:
    meta = run.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    namespace, name = meta.get("namespace"), meta.get("name")
    return f"AnalysisRun {namespace}/{name}" if namespace else f"AnalysisRun {name}"


def _arg_values(subject: str, args: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for arg in args if isinstance(args, list) else []:
        if not isinstance(arg, Mapping) or not isinstance(arg.get("name"), str):
            raise VerificationError(f"{subject}: every spec.args entry needs a name")
        name = arg["name"]
        if isinstance(arg.get("value"), str):
            values[name] = arg["value"]
        elif arg.get("valueFrom"):
            source = ", ".join(sorted(arg["valueFrom"])) or "valueFrom"
            raise VerificationError(
                f"{subject}: argument {name!r} takes its value from {source} (valueFrom); "
                "only the Argo Rollouts controller resolves Secret and field references: "
                f"give the argument a value, or {_ROLLOUTS_HINT}"
            )
        else:
            raise VerificationError(f"{subject}: argument {name!r} has no value")
    return values


def _resolve_text(text: str, args: Mapping[str, str], where: str) -> str:
    # Argo Rollouts' fasttemplate rules: every {{tag}} must be an argument, tags are trimmed,
    # and substituted values are not scanned again.
    pieces: list[str] = []
    rest = text
    while (start := rest.find("{{")) >= 0:
        end = rest.find("}}", start + 2)
        if end < 0:
            raise VerificationError(f"{where}: '{{{{' without a closing '}}}}'")
        tag = rest[start + 2 : end].strip()
        name = tag.removeprefix("args.")
        if not tag.startswith("args.") or name not in args:
            raise VerificationError(
                f"{where}: cannot resolve {{{{{tag}}}}}: the run has no such argument"
            )
        pieces += [rest[:start], args[name]]
        rest = rest[end + 2 :]
    pieces.append(rest)
    return "".join(pieces)


def _resolve(value: Any, args: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):
        return _resolve_text(value, args, where)
    if isinstance(value, Mapping):
        return {
            _resolve_text(str(k), args, f"{where}.{k}"): _resolve(v, args, f"{where}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve(item, args, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _int_setting(metric: Mapping[str, Any], key: str, where: str) -> int | None:
    # int-or-string fields; the value is not quoted back, since it may come from an argument.
    value = metric.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value)
    raise VerificationError(f"{where}: {key} must be an integer")


def _seconds(metric: Mapping[str, Any], key: str, where: str) -> float | None:
    text = metric.get(key)
    if text in (None, ""):
        return None
    try:
        return parse_duration(str(text)).nanoseconds / SECOND
    except ExpressionError as error:
        raise VerificationError(f"{where}: invalid {key}: {error.message}") from error


def _configure(metric: _Metric, where: str) -> None:
    spec = metric.spec
    count = _int_setting(spec, "count", where) or 0
    failure = _int_setting(spec, "failureLimit", where)
    success = _int_setting(spec, "consecutiveSuccessLimit", where) or 0
    inconclusive = _int_setting(spec, "inconclusiveLimit", where) or 0
    errors = _int_setting(spec, "consecutiveErrorLimit", where)
    metric.interval = _seconds(spec, "interval", where)
    metric.initial_delay = _seconds(spec, "initialDelay", where) or 0.0
    failure = 0 if failure is None else failure
    # Argo Rollouts' ValidateMetric, in its order.
    if success < 0:
        raise VerificationError(f"{where}: consecutiveSuccessLimit must be >= 0")
    if failure < -1:
        raise VerificationError(f"{where}: failureLimit must be >= 0, or -1 to be disabled")
    if success == 0 and failure == -1:
        raise VerificationError(
            f"{where}: failureLimit and consecutiveSuccessLimit cannot both be disabled"
        )
    if inconclusive < 0:
        raise VerificationError(f"{where}: inconclusiveLimit must be >= 0")
    if errors is not None and errors < 0:
        raise VerificationError(f"{where}: consecutiveErrorLimit must be >= 0")
    if count > 0 and failure >= 0 and count < failure + success:
        raise VerificationError(
            f"{where}: count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
            f"({failure} + {success}) if both >= 0"
        )
    if count > 0 and failure < 0 and count < success:
        raise VerificationError(f"{where}: count must be >= consecutiveSuccessLimit")
    if 0 < count < inconclusive:
        raise VerificationError(f"{where}: count must be >= inconclusiveLimit")
    if count > 1 and metric.interval is None:
        raise VerificationError(f"{where}: interval must be specified when count > 1")
    # Argo Rollouts' EffectiveCount: 1 without count and interval, unlimited with only interval.
    metric.count = count or (None if metric.interval is not None else 1)
    metric.failure_limit = failure
    metric.inconclusive_limit = inconclusive
    metric.consecutive_error_limit = _DEFAULT_CONSECUTIVE_ERROR_LIMIT if errors is None else errors
    metric.consecutive_success_limit = success


def _matching(
    subject: str, rules: Any, field_name: str, metrics: list[_Metric]
) -> list[tuple[Mapping[str, Any], list[_Metric]]]:
    matched: list[tuple[Mapping[str, Any], list[_Metric]]] = []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        pattern = rule.get("metricName") if isinstance(rule, Mapping) else None
        try:
            # Argo Rollouts matches unanchored regular expressions (Go's MatchString).
            hits = [m for m in metrics if re.search(str(pattern), m.name)]
        except re.error:
            hits = []
        if not hits:
            raise VerificationError(
                f"{subject}: spec.{field_name}[{index}]: rule didn't match any metric name(s)"
            )
        matched.append((rule, hits))
    return matched


def _prepare(run: Mapping[str, Any], providers: Mapping[str, Provider]) -> list[_Metric]:
    subject = _run_name(run)
    spec = run.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    raw = spec.get("metrics")
    if not isinstance(raw, list) or not raw:
        raise VerificationError(f"{subject}: no metrics specified")
    args = _arg_values(subject, spec.get("args"))
    metrics: list[_Metric] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise VerificationError(f"{subject}: spec.metrics[{index}] needs a name")
        where = f"{subject}: metric {entry['name']!r}"
        if any(m.name == entry["name"] for m in metrics):
            raise VerificationError(f"{where}: duplicate name")
        resolved = _resolve(entry, args, f"{where} spec.metrics[{index}]")
        kinds = list(resolved.get("provider") or {})
        if len(kinds) != 1:
            problem = "no provider specified" if not kinds else "multiple providers specified"
            raise VerificationError(f"{where}: {problem}")
        metric = _Metric(spec=resolved, name=entry["name"], provider=str(kinds[0]))
        _configure(metric, where)
        metrics.append(metric)
    for metric in metrics:
        if metric.provider not in providers:
            runs_here = ", ".join(sorted(providers)) or "none"
            raise VerificationError(
                f"{subject}: metric {metric.name!r} uses the {metric.provider!r} provider, "
                "which kargo-dagster cannot run itself (it runs these providers: "
                f"{runs_here}); this provider needs the Argo Rollouts controller: "
                f"{_ROLLOUTS_HINT}"
            )
    for _rule, hits in _matching(subject, spec.get("dryRun"), "dryRun", metrics):
        for metric in hits:
            metric.dry_run = True
    retention = spec.get("measurementRetention")
    for rule, hits in _matching(subject, retention, "measurementRetention", metrics):
        limit = rule.get("limit")
        if isinstance(limit, int) and limit > 0:
            for metric in hits:
                metric.retention = limit
    return metrics


# --- Assessing ---------------------------------------------------------------------------


def _limits_broken(metric: _Metric) -> tuple[str, str]:
    """Argo Rollouts' assessMetricFailureInconclusiveOrError: the phase and the reason."""
    phase, reason = "", ""
    failed, inconclusive = metric.counter("failed"), metric.counter("inconclusive")
    if metric.failure_limit >= 0 and failed > metric.failure_limit:
        phase, reason = "Failed", f"failed ({failed}) > failureLimit ({metric.failure_limit})"
    if inconclusive > metric.inconclusive_limit:
        phase = "Inconclusive"
        reason = f"inconclusive ({inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
    errors = metric.counter("consecutiveError")
    if errors > metric.consecutive_error_limit:
        phase = "Error"
        reason = (
            f"consecutiveErrors ({errors}) > consecutiveErrorLimit "
            f"({metric.consecutive_error_limit})"
        )
    return phase, reason


def _metric_phase(metric: _Metric, terminating: bool) -> str:
    """Argo Rollouts' assessMetricStatus for a metric that has been measured."""
    if metric.done:
        return metric.phase
    broken, _ = _limits_broken(metric)
    if broken:
        return broken
    success_limit = metric.consecutive_success_limit
    if success_limit > 0 and metric.counter("consecutiveSuccess") >= success_limit:
        return "Successful"
    if metric.count is not None and metric.counter("count") >= metric.count:
        # The limits were not broken; with a consecutiveSuccessLimit, not reaching it in
        # ``count`` measurements is not a success.
        if success_limit > 0:
            return "Inconclusive" if metric.failure_limit >= 0 else "Failed"
        return "Successful"
    return "Successful" if terminating else "Running"


def _assess(run: dict[str, Any], metrics: list[_Metric], terminating: bool, now: float) -> None:
    """Argo Rollouts' assessRunStatus: metric phases, summaries and the run's phase."""
    status = run["status"]
    worst, message = "", _TERMINATED if terminating and _terminate_requested(run) else ""
    summaries = {True: _summary(), False: _summary()}
    completed = True
    for metric in metrics:
        summaries[metric.dry_run]["count"] += 1
        if not metric.phase:
            completed = False  # not measured yet (initialDelay)
            continue
        phase = _metric_phase(metric, terminating)
        if phase != metric.phase:
            metric.phase = phase
            metric.message = metric.measurements[-1].get("message", "")
        if not metric.done:
            completed = False
            continue
        broken, reason = _limits_broken(metric)
        summary = summaries[metric.dry_run]
        key = (broken or "Successful").lower()
        summary[key] = summary.get(key, 0) + 1
        if metric.dry_run:
            worst = worst or "Successful"
            if reason:
                metric.message = f"Metric assessed {phase} due to {reason}"
            continue
        if not worst or _ORDER.index(phase) > _ORDER.index(worst):
            worst = phase
            if reason:
                message = f'Metric "{metric.name}" assessed {phase} due to {reason}'
                if metric.message:
                    message += f': "Error Message: {metric.message}"'
    results = [m.to_json() for m in metrics if m.phase]
    if results:
        status["metricResults"] = results
    status["runSummary"] = _omit_zero(summaries[False])
    status["dryRunSummary"] = _omit_zero(summaries[True])
    if not terminating and (not completed or not worst):
        status["phase"] = "Running"
        status.pop("message", None)
        return
    _complete(status, worst or "Successful", message.strip(), now)


def _summary() -> dict[str, int]:
    return {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0}


def _omit_zero(summary: Mapping[str, int]) -> dict[str, int]:
    return {key: value for key, value in summary.items() if value}


def _terminate_requested(run: Mapping[str, Any]) -> bool:
    spec = run.get("spec")
    return isinstance(spec, Mapping) and spec.get("terminate") is True


def _terminating(run: Mapping[str, Any], metrics: list[_Metric]) -> bool:
    # Argo Rollouts' IsTerminating: asked to, or a metric that counts already went wrong.
    return _terminate_requested(run) or any(
        not m.dry_run and m.phase in ("Failed", "Error", "Inconclusive") for m in metrics
    )


def _complete(status: dict[str, Any], phase: str, message: str, now: float) -> None:
    status["phase"] = phase
    if message:
        status["message"] = message
    else:
        status.pop("message", None)
    status["completedAt"] = _timestamp(now)


def _timestamp(seconds: float) -> str:
    # metav1.Time: RFC 3339, whole seconds, UTC.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Measuring ---------------------------------------------------------------------------


def _take(metric: _Metric, provider: Provider, clock: Callable[[], float]) -> float:
    """Take one measurement of ``metric`` and count it; returns when it finished."""
    started = clock()
    try:
        outcome: ProviderMeasurement = provider.measure(metric.spec)
    except KargoDagsterError as error:
        outcome = Measurement(phase="Error", message=str(error))
    phase, message, value = outcome.phase, outcome.message, outcome.value
    if phase == "":
        if not value:
            value = _as_text(outcome.result)
        try:
            phase = evaluate_conditions(outcome.result, metric.spec)
        except ExpressionError as error:
            phase, message = "Error", str(error)
    elif phase not in PHASES:
        phase, message = "Error", f"the {metric.provider} provider reported phase {phase!r}"
    finished = clock()
    measurement: dict[str, Any] = {"phase": phase}
    if message:
        measurement["message"] = redact_text(message)
    measurement |= {"startedAt": _timestamp(started), "finishedAt": _timestamp(finished)}
    if value:
        measurement["value"] = value
    if outcome.metadata:
        # Argo Rollouts keeps measurement metadata as strings.
        measurement["metadata"] = {str(k): _as_text(v) for k, v in outcome.metadata.items()}
    metric.measurements.append(measurement)
    del metric.measurements[: -metric.retention]
    _count(metric, phase)
    if not metric.phase:
        metric.phase = "Running"
    return finished


def _count(metric: _Metric, phase: str) -> None:
    tally = metric.tally
    if phase == "Error":
        tally["error"] = metric.counter("error") + 1
        tally["consecutiveError"] = metric.counter("consecutiveError") + 1
        tally["consecutiveSuccess"] = 0
        return
    tally["count"] = metric.counter("count") + 1
    key = phase.lower()
    tally[key] = metric.counter(key) + 1
    tally["consecutiveError"] = 0
    tally["consecutiveSuccess"] = (
        metric.counter("consecutiveSuccess") + 1 if phase == "Successful" else 0
    )


def _next_due(metric: _Metric, finished: float) -> float:
    if metric.measurements[-1]["phase"] == "Error":
        return finished + DEFAULT_ERROR_RETRY_SECONDS
    return finished + (metric.interval or 0.0)


def execute_analysis(
    run: Mapping[str, Any],
    providers: Mapping[str, Provider],
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    deadline: float | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run an AnalysisRun to completion here, by the rules in the module docstring.

    Args:
        run: The AnalysisRun (``metadata`` and ``spec``), as ``build_analysis_run`` makes it.
            It is not modified.
        providers: Who measures each provider kind, by the key under a metric's ``provider``
            (``web``, ``job``...).
        clock: Seconds since the epoch.
        sleep: Waits that many seconds.
        should_stop: Asked between measurements; True terminates the run.
        deadline: When (in ``clock`` seconds) the run must be over; passing it makes the run
            ``Error``. None: no limit (a metric with only an ``interval`` then runs until
            ``should_stop``).
        on_update: Called with a copy of the run after every measurement, its ``status``
            assessed.

    Returns:
        A copy of the run with its ``status`` as Argo Rollouts writes it (``phase``,
        ``message``, ``startedAt``, ``completedAt``, ``runSummary``, ``metricResults``),
        completed; ``spec.terminate`` is set when ``should_stop`` ended it.

    Raises:
        VerificationError: The run cannot be executed here (see the module docstring);
            nothing was measured.

    Examples:
        >>> class Always:
        ...     def measure(self, metric):
        ...         return Measurement.observed(1)
        >>> run = {"metadata": {"name": "r"}, "spec": {"metrics": [
        ...     {"name": "up", "successCondition": "result == 1", "provider": {"web": {}}}]}}
        >>> execute_analysis(run, {"web": Always()})["status"]["phase"]
        'Successful'
    """
    result = copy.deepcopy(dict(run))
    metrics = _prepare(result, providers)
    started = clock()
    status: dict[str, Any] = {"phase": "Running", "startedAt": _timestamp(started)}
    result["status"] = status
    for metric in metrics:
        metric.due = started + metric.initial_delay
    while True:
        if not _terminate_requested(result) and should_stop():
            result.setdefault("spec", {})["terminate"] = True
        now = clock()
        if _terminating(result, metrics):
            _assess(result, metrics, True, now)
            return result
        waiting = [m for m in metrics if not m.done]
        if not waiting:
            _assess(result, metrics, False, now)
            return result
        if deadline is not None and now >= deadline:
            _assess(result, metrics, False, now)
            names = ", ".join(f'"{m.name}"' for m in waiting)
            _complete(
                status,
                "Error",
                f"The analysis did not finish in time: metric(s) {names} still running at "
                "the deadline",
                now,
            )
            return result
        metric = min(waiting, key=lambda m: m.due)
        if metric.due > now:
            until = metric.due if deadline is None else min(metric.due, deadline)
            sleep(min(until - now, _STOP_POLL_SECONDS))
            continue
        finished = _take(metric, providers[metric.provider], clock)
        metric.due = _next_due(metric, finished)
        now = clock()
        _assess(result, metrics, False, now)
        if _terminating(result, metrics):
            # A metric that went wrong ends the run now (Argo Rollouts does it on its next
            # reconciliation, with the same outcome).
            _assess(result, metrics, True, now)
        if on_update is not None:
            on_update(copy.deepcopy(result))
        if status["phase"] in PHASES:
            return result
