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
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kargo_dagster.errors import ExpressionError, KargoDagsterError
from kargo_dagster.redaction import redact_text
from kargo_dagster.verification.analysis_conditions import evaluate_conditions
from kargo_dagster.verification.analysis_measurement import (
    PHASES,
    Measurement,
    Provider,
    ProviderMeasurement,
    json_text,
    value_text,
)
from kargo_dagster.verification.analysis_metrics import (
    DEFAULT_MEASUREMENT_LIMIT,
    MetricState,
    prepare_metrics,
)

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

# Argo Rollouts waits this long after a measurement that errored.
DEFAULT_ERROR_RETRY_SECONDS = 10.0
# Argo Rollouts' order of phases, best to worst.
_ORDER = ("Successful", "Running", "Pending", "Inconclusive", "Error", "Failed")
# How long a wait may last before should_stop() and the deadline are looked at again.
_STOP_POLL_SECONDS = 1.0
_TERMINATED = "Run Terminated"


# --- Assessing ---------------------------------------------------------------------------


def _limits_broken(metric: MetricState) -> tuple[str, str]:
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


def _metric_phase(metric: MetricState, terminating: bool) -> str:
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


def _assess(run: dict[str, Any], metrics: list[MetricState], terminating: bool, now: float) -> None:
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


def _terminating(run: Mapping[str, Any], metrics: list[MetricState]) -> bool:
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


def _take(metric: MetricState, provider: Provider, clock: Callable[[], float]) -> float:
    """Take one measurement of ``metric`` and count it; returns when it finished."""
    started = clock()
    try:
        outcome: ProviderMeasurement = provider.measure(metric.spec)
    except KargoDagsterError as error:
        outcome = Measurement(phase="Error", message=str(error))
    phase, message, value = outcome.phase, outcome.message, outcome.value
    if phase == "":
        if not value:
            # A provider that leaves the text to us found a JSON value: show it as JSON.
            value = json_text(outcome.result)
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
        measurement["metadata"] = {str(k): value_text(v) for k, v in outcome.metadata.items()}
    metric.measurements.append(measurement)
    del metric.measurements[: -metric.retention]
    _count(metric, phase)
    if not metric.phase:
        metric.phase = "Running"
    return finished


def _count(metric: MetricState, phase: str) -> None:
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


def _next_due(metric: MetricState, finished: float) -> float:
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
    metrics = prepare_metrics(result, providers)
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
