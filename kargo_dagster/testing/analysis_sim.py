"""An Argo Rollouts analysis controller simulator for the fake Kubernetes API server.

:class:`AnalysisRunSimulator` plays the Argo Rollouts controller's part for
``argoproj.io/v1alpha1`` AnalysisRuns stored in a
:class:`~kargo_dagster.testing.kube_api.FakeKubeAPI` (as Kargo's verification creates
them). It queries no metric provider: each measurement's phase comes from the outcome
configured for the run, and the run is assessed with Argo Rollouts' rules
(``analysis/analysis.go``):

1. a new run (no ``status.phase``) becomes ``Pending``;
2. then ``Running``, with ``startedAt`` and one ``metricResults`` entry per metric;
3. each further step takes one measurement per unfinished metric (``Successful`` value
   ``"1"``, ``Failed`` value ``"0"``, ``Inconclusive`` value ``"0.5"``, or ``Error`` with a
   message) and re-assesses it: ``Failed`` once ``failed > failureLimit`` (default 0),
   ``Inconclusive`` once ``inconclusive > inconclusiveLimit`` (default 0), ``Error`` once
   ``consecutiveError > consecutiveErrorLimit`` (default 4), ``Successful`` once ``count``
   measurements were taken (1 when neither ``count`` nor ``interval`` is set; a metric with
   only an ``interval`` runs until the run is terminated);
4. when every metric is done, the run takes the worst metric phase (Failed > Error >
   Inconclusive > Successful), with Argo Rollouts' message
   (``Metric "x" assessed Failed due to failed (1) > failureLimit (0)``), ``runSummary`` and
   ``completedAt``. ``spec.terminate: true`` ends a run at once, ``Successful`` unless a
   metric already did worse, with ``Run Terminated``.

How to use::

    with FakeKubeAPI() as api:
        analysis = AnalysisRunSimulator(api)  # every run Successful by default
        analysis.set_outcome("Failed", label_selector="kargo.akuity.io/stage=prod")
        ...  # code under test creates AnalysisRuns
        analysis.settle()  # or: with analysis.running(): ...
"""

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_selectors import label_selector as parse_label_selector
from kargo_dagster.testing.kube_store import KubeAPIError, timestamp
from kargo_dagster.testing.simulated_controller import SimulatedController

__all__ = ["OUTCOMES", "AnalysisRunSimulator"]

OUTCOMES = ("Successful", "Failed", "Error", "Inconclusive")
_COMPLETED = OUTCOMES
# Argo Rollouts' order of analysis phases, best to worst.
_ORDER = ("Pending", "Running", "Successful", "Inconclusive", "Error", "Failed")
_VALUES = {"Successful": "1", "Failed": "0", "Inconclusive": "0.5"}
_DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4


@dataclass(frozen=True)
class _Rule:
    outcome: str
    message: str
    name: str | None
    namespace: str | None
    selects: Callable[[Mapping[str, Any]], bool]
    metric: str | None


def _int(value: Any, default: int | None) -> int | None:
    # int-or-string fields; a string that is not a number (an unresolved argument) counts
    # as absent.
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _worse(current: str, new: str) -> bool:
    return _ORDER.index(new) > _ORDER.index(current)


def _assess(metric: Mapping[str, Any], result: Mapping[str, Any]) -> tuple[str, str]:
    """A metric's phase from its measurements, and the reason when it is not Successful."""
    if not result.get("measurements"):
        return "Pending", ""
    phase, reason = "", ""
    failure_limit = _int(metric.get("failureLimit"), 0)
    assert failure_limit is not None
    if failure_limit >= 0 and result.get("failed", 0) > failure_limit:
        phase = "Failed"
        reason = f"failed ({result.get('failed', 0)}) > failureLimit ({failure_limit})"
    inconclusive_limit = _int(metric.get("inconclusiveLimit"), 0)
    if inconclusive_limit is not None and result.get("inconclusive", 0) > inconclusive_limit:
        phase = "Inconclusive"
        reason = (
            f"inconclusive ({result.get('inconclusive', 0)}) > inconclusiveLimit "
            f"({inconclusive_limit})"
        )
    error_limit = _int(metric.get("consecutiveErrorLimit"), _DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    if error_limit is not None and result.get("consecutiveError", 0) > error_limit:
        phase = "Error"
        reason = (
            f"consecutiveErrors ({result.get('consecutiveError', 0)}) > consecutiveErrorLimit "
            f"({error_limit})"
        )
    if phase:
        return phase, reason
    success_limit = _int(metric.get("consecutiveSuccessLimit"), 0) or 0
    if success_limit > 0 and result.get("consecutiveSuccess", 0) >= success_limit:
        return "Successful", ""
    count = _int(metric.get("count"), None)
    if count is None and not metric.get("interval"):
        count = 1
    if count is not None and result.get("count", 0) >= count:
        return "Successful", ""
    return "Running", ""


class AnalysisRunSimulator(SimulatedController):
    """Drives AnalysisRuns in a :class:`FakeKubeAPI` to the outcomes a test configures.

    Args:
        api: The running fake API server holding the AnalysisRuns.
        namespace: Only runs in this namespace (default: every namespace).
        outcome: The measurement outcome for runs no rule matches.
        clock: The time written into timestamps (default: the API server's clock).

    Attributes:
        log: One line per transition (``kargo-demo/prod.01j...: Running``), oldest first.
    """

    name = "analysis"

    def __init__(
        self,
        api: FakeKubeAPI,
        *,
        namespace: str | None = None,
        outcome: str = "Successful",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(api)
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        self.namespace = namespace
        self.outcome = outcome
        self.clock = clock or api.store.clock
        self.log: list[str] = []
        self._runs = api.resource("argoproj.io/v1alpha1", "AnalysisRun")
        self._rules: list[_Rule] = []
        self._rules_lock = threading.Lock()

    def set_outcome(
        self,
        outcome: str,
        *,
        name: str | None = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        metric: str | None = None,
        message: str = "",
    ) -> None:
        """Measurements of matching runs (and metric, when given) come out ``outcome``.

        The rule added last wins among those that match; runs no rule matches use the
        simulator's default outcome.

        Args:
            outcome: ``Successful``, ``Failed``, ``Error`` or ``Inconclusive``.
            name: Only the run with this name.
            namespace: Only runs in this namespace.
            label_selector: Only runs whose labels match (``kargo.akuity.io/stage=prod``).
            metric: Only this metric of the matching runs.
            message: The measurements' message (default for Error: a provider error).
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        selects = parse_label_selector(label_selector) if label_selector else lambda _: True
        with self._rules_lock:
            self._rules.append(_Rule(outcome, message, name, namespace, selects, metric))

    def _outcome_for(self, run: Mapping[str, Any], metric: str) -> tuple[str, str]:
        meta = run["metadata"]
        with self._rules_lock:
            rules = list(reversed(self._rules))
        for rule in rules:
            if (
                rule.name in (None, meta["name"])
                and rule.namespace in (None, meta.get("namespace"))
                and rule.metric in (None, metric)
                and rule.selects(run)
            ):
                return rule.outcome, rule.message
        return self.outcome, ""

    # Stepping ------------------------------------------------------------------------------

    def _step(self) -> int:
        moved = 0
        for run in self.store.list_objects(self._runs, self.namespace):
            try:
                moved += self._advance(run)
            except KubeAPIError as error:
                if error.code not in (404, 409):
                    raise
                moved += 1  # someone else wrote first: retry on the next step
        return moved

    def _advance(self, run: dict[str, Any]) -> int:
        status = run.setdefault("status", {})
        phase = status.get("phase") or ""
        if phase in _COMPLETED:
            return 0
        now = timestamp(self.clock())
        if not phase:
            status["phase"] = "Pending"
            self._write(run, "Pending")
            return 1
        metrics = list(run["spec"].get("metrics") or [])
        if phase == "Pending":
            status.update(
                phase="Running",
                startedAt=now,
                metricResults=[{"name": m["name"], "phase": "Pending"} for m in metrics],
            )
            self._write(run, "Running")
            return 1
        results = {r["name"]: r for r in status.get("metricResults") or []}
        terminating = bool(run["spec"].get("terminate"))
        for metric in metrics:
            result = results.setdefault(
                metric["name"], {"name": metric["name"], "phase": "Pending"}
            )
            if result["phase"] in _COMPLETED:
                continue
            if terminating:
                if result["phase"] in ("Pending", "Running"):
                    result["phase"] = "Successful"
                continue
            self._measure(run, metric, result, now)
        status["metricResults"] = [results[m["name"]] for m in metrics if m["name"] in results]
        self._assess_run(run, metrics, results, terminating, now)
        self._write(run, status["phase"])
        return 1

    def _measure(
        self, run: Mapping[str, Any], metric: Mapping[str, Any], result: dict[str, Any], now: str
    ) -> None:
        outcome, message = self._outcome_for(run, metric["name"])
        measurement: dict[str, Any] = {"phase": outcome, "startedAt": now, "finishedAt": now}
        if outcome == "Error":
            measurement["message"] = message or "simulated metric provider error"
        else:
            measurement["value"] = _VALUES[outcome]
            if message:
                measurement["message"] = message
        result.setdefault("measurements", []).append(measurement)
        counters = ("count", "successful", "failed", "inconclusive", "error")
        for key in (*counters, "consecutiveError", "consecutiveSuccess"):
            result.setdefault(key, 0)
        if outcome == "Error":
            result["error"] += 1
            result["consecutiveError"] += 1
            result["consecutiveSuccess"] = 0
        else:
            result["count"] += 1
            result[outcome.lower()] += 1
            result["consecutiveError"] = 0
            result["consecutiveSuccess"] = (
                result["consecutiveSuccess"] + 1 if outcome == "Successful" else 0
            )
        result["phase"] = _assess(metric, result)[0]
        result.pop("message", None)
        if measurement.get("message"):
            result["message"] = measurement["message"]

    def _assess_run(
        self,
        run: dict[str, Any],
        metrics: list[dict[str, Any]],
        results: Mapping[str, dict[str, Any]],
        terminating: bool,
        now: str,
    ) -> None:
        status = run["status"]
        worst, message = "", ""
        summary = {
            "count": len(metrics),
            "successful": 0,
            "failed": 0,
            "inconclusive": 0,
            "error": 0,
        }
        done = True
        for metric in metrics:
            result = results.get(metric["name"]) or {}
            phase = result.get("phase", "Pending")
            if phase not in _COMPLETED:
                done = False
                continue
            summary[phase.lower()] += 1
            if not worst or _worse(worst, phase):
                worst = phase
                reason = _assess(metric, result)[1]
                if reason:
                    message = f'Metric "{metric["name"]}" assessed {phase} due to {reason}'
                    if result.get("message"):
                        message += f': "Error Message: {result["message"]}"'
        status["runSummary"] = summary
        if terminating:
            worst, message = worst or "Successful", message or "Run Terminated"
        elif not done or not worst:
            status["phase"] = "Running"
            return
        status["phase"] = worst
        if message:
            status["message"] = message
        status["completedAt"] = now

    def _write(self, run: dict[str, Any], what: str) -> None:
        meta = run["metadata"]
        self.store.replace(self._runs, meta.get("namespace"), meta["name"], run)
        self.log.append(f"{meta.get('namespace')}/{meta['name']}: {what}")
