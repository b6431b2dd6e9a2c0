"""Running AnalysisRuns without Argo Rollouts: timing, limits, arguments, endings, messages."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from kargo_dagster.errors import ExpressionError, RepositoryError, VerificationError
from kargo_dagster.verification.analysis_executor import (
    Measurement,
    Provider,
    evaluate_conditions,
    execute_analysis,
)
from kargo_dagster.verification.analysis_result import VerificationPhase, verification_result

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class FakeClock:
    """Time that moves only when the executor sleeps (or a measurement takes time)."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


# A Measurement, an exception to raise, or a value to be judged by the conditions.
Outcome = Any


@dataclass
class Scripted:
    """A provider answering from a script; an item that is not a Measurement is a value."""

    clock: FakeClock
    script: list[Outcome] | Callable[[int], Outcome]
    calls: list[tuple[float, Mapping[str, Any]]] = field(default_factory=list)

    def measure(self, metric: Mapping[str, Any]) -> Measurement:
        self.calls.append((self.clock.now - START, metric))
        index = len(self.calls) - 1
        item = self.script(index) if callable(self.script) else self.script[index]
        if isinstance(item, Exception):
            raise item
        return item if isinstance(item, Measurement) else Measurement.observed(item)

    @property
    def times(self) -> list[float]:
        return [at for at, _ in self.calls]


def metric(name: str = "m", provider: str = "web", **settings: Any) -> dict[str, Any]:
    return {"name": name, "provider": {provider: {"url": "http://svc/"}}, **settings}


def analysis(*metrics: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "prod.01hx.abc1234", "namespace": "demo"},
        "spec": {"metrics": list(metrics), **spec},
    }


def execute(
    run: dict[str, Any], providers: Mapping[str, Provider], clock: FakeClock, **options: Any
) -> dict[str, Any]:
    return execute_analysis(run, providers, clock=clock, sleep=clock.sleep, **options)


def result_of(run: Mapping[str, Any], name: str = "m") -> dict[str, Any]:
    return next(r for r in run["status"]["metricResults"] if r["name"] == name)


def test_a_single_measurement_judged_by_the_success_condition() -> None:
    clock = FakeClock()
    web = Scripted(clock, [{"healthy": True}])
    run = analysis(metric(successCondition="result.healthy"))

    done = execute(run, {"web": web}, clock)

    assert done["status"] == {
        "phase": "Successful",
        "startedAt": "2023-11-14T22:13:20Z",
        "metricResults": [
            {
                "name": "m",
                "phase": "Successful",
                "measurements": [
                    {
                        "phase": "Successful",
                        "startedAt": "2023-11-14T22:13:20Z",
                        "finishedAt": "2023-11-14T22:13:20Z",
                        "value": '{"healthy":true}',
                    }
                ],
                "count": 1,
                "successful": 1,
                "consecutiveSuccess": 1,
            }
        ],
        "runSummary": {"count": 1, "successful": 1},
        "dryRunSummary": {},
        "completedAt": "2023-11-14T22:13:20Z",
    }
    assert "status" not in run, "the caller's run is left as it was"
    assert verification_result(done).passed


def test_count_and_interval_space_the_measurements_and_failure_limit_decides() -> None:
    clock = FakeClock()
    web = Scripted(clock, [5, 0, 7, 0])
    run = analysis(
        metric(interval="1m", count=4, failureLimit=1, successCondition="result > 1"),
    )

    done = execute(run, {"web": web}, clock)

    assert web.times == [0, 60, 120, 180]
    assert done["status"]["phase"] == "Failed"
    assert (
        done["status"]["message"]
        == 'Metric "m" assessed Failed due to failed (2) > failureLimit (1)'
    )
    assert result_of(done)["count"] == 4
    verdict = verification_result(done)
    assert verdict.phase is VerificationPhase.FAILED
    assert [m.value for m in verdict.measurements] == ["5", "0", "7", "0"]


def test_failures_within_the_limit_still_pass() -> None:
    clock = FakeClock()
    web = Scripted(clock, [0, 5, 5])
    run = analysis(
        metric(interval="10s", count="3", failureLimit="1", successCondition="result > 1")
    )

    done = execute(run, {"web": web}, clock)

    assert done["status"]["phase"] == "Successful"
    assert "message" not in done["status"]


def test_neither_condition_holding_is_inconclusive() -> None:
    clock = FakeClock()
    web = Scripted(clock, [5])
    run = analysis(metric(successCondition="result > 10", failureCondition="result < 1"))

    done = execute(run, {"web": web}, clock)

    assert done["status"]["phase"] == "Inconclusive"
    assert done["status"]["message"] == (
        'Metric "m" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)'
    )
    assert verification_result(done).phase is VerificationPhase.INCONCLUSIVE


def test_failure_condition_alone() -> None:
    clock = FakeClock()
    run = analysis(metric(failureCondition="result == 'down'"))

    assert execute(run, {"web": Scripted(clock, ["up"])}, clock)["status"]["phase"] == "Successful"
    assert execute(run, {"web": Scripted(clock, ["down"])}, clock)["status"]["phase"] == "Failed"


def test_errors_are_retried_every_ten_seconds_until_the_consecutive_error_limit() -> None:
    clock = FakeClock()
    error = RepositoryError("GET https://user:hunter2@metrics.example.com/q refused")
    web = Scripted(clock, lambda _: error)
    run = analysis(metric(interval="1m", count=3))

    done = execute(run, {"web": web}, clock)

    assert web.times == [0, 10, 20, 30, 40], "errors retry after 10s, not the interval"
    result = result_of(done)
    assert (result["error"], result["consecutiveError"], result.get("count")) == (5, 5, None)
    assert result["measurements"][0]["message"] == (
        "GET https://user:xxxxx@metrics.example.com/q refused"
    )
    assert done["status"]["phase"] == "Error"
    assert done["status"]["message"] == (
        'Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        '"Error Message: GET https://user:xxxxx@metrics.example.com/q refused"'
    )
    assert "hunter2" not in str(done)


def test_an_error_between_successes_resets_the_streak() -> None:
    clock = FakeClock()
    web = Scripted(clock, [Measurement(phase="Error", message="flaky"), 1, 1])
    run = analysis(metric(interval="30s", count=2, consecutiveErrorLimit=1))

    done = execute(run, {"web": web}, clock)

    assert web.times == [0, 10, 40]
    assert done["status"]["phase"] == "Successful"
    assert "consecutiveError" not in result_of(done)


def test_a_condition_that_is_not_a_bool_is_an_error_measurement() -> None:
    clock = FakeClock()
    web = Scripted(clock, [3])
    run = analysis(metric(successCondition="result + 1", consecutiveErrorLimit=0))

    done = execute(run, {"web": web}, clock)

    measurement = result_of(done)["measurements"][0]
    assert measurement["phase"] == "Error"
    assert measurement["message"] == (
        'could not evaluate successCondition "result + 1": expected bool, but got int'
    )
    assert measurement["value"] == "3"
    assert done["status"]["phase"] == "Error"


def test_consecutive_success_limit_ends_early_or_leaves_it_inconclusive() -> None:
    clock = FakeClock()
    settings = {"interval": "5s", "count": 5, "consecutiveSuccessLimit": 2, "failureLimit": 3}
    early = Scripted(clock, [0, 1, 1])
    run = analysis(metric(successCondition="result == 1", **settings))

    assert execute(run, {"web": early}, clock)["status"]["phase"] == "Successful"
    assert len(early.calls) == 3

    never = Scripted(clock, [1, 0, 1, 0, 1])
    assert execute(run, {"web": never}, clock)["status"]["phase"] == "Inconclusive"

    unlimited = {**settings, "failureLimit": -1}
    run = analysis(metric(successCondition="result == 1", **unlimited))
    assert (
        execute(run, {"web": Scripted(clock, [1, 0, 1, 0, 1])}, clock)["status"]["phase"]
        == "Failed"
    )


def test_a_provider_that_decides_the_phase_is_not_judged_again() -> None:
    clock = FakeClock()
    job = Scripted(
        clock,
        [Measurement(phase="Failed", message="exit 1", metadata={"pod": "p-1", "exitCode": 1})],
    )
    run = analysis(metric(provider="job", successCondition="true"))

    done = execute(run, {"job": job}, clock)

    measurement = result_of(done)["measurements"][0]
    assert measurement["phase"] == "Failed"
    assert measurement["metadata"] == {"pod": "p-1", "exitCode": "1"}
    assert done["status"]["phase"] == "Failed"


def test_metrics_interleave_and_a_failure_ends_the_others() -> None:
    clock = FakeClock()
    fast = Scripted(clock, [1, 1, 0])
    slow = Scripted(clock, [1, 1, 1, 1])
    run = analysis(
        metric("fast", interval="10s", count=5, successCondition="result == 1"),
        metric("slow", provider="job", interval="25s", count=4, successCondition="result == 1"),
    )
    updates: list[dict[str, Any]] = []

    done = execute(run, {"web": fast, "job": slow}, clock, on_update=updates.append)

    assert fast.times == [0, 10, 20]
    assert slow.times == [0]
    assert done["status"]["phase"] == "Failed"
    assert result_of(done, "slow")["phase"] == "Successful", "stopped, as Argo Rollouts does"
    assert done["status"]["runSummary"] == {"count": 2, "successful": 1, "failed": 1}
    assert [u["status"]["phase"] for u in updates] == ["Running"] * 3 + ["Failed"]
    assert [len(u["status"]["metricResults"]) for u in updates] == [1, 2, 2, 2]


def test_initial_delay_postpones_the_first_measurement() -> None:
    clock = FakeClock()
    web = Scripted(clock, [1])
    run = analysis(metric(initialDelay="1m30s"))

    done = execute(run, {"web": web}, clock)

    assert web.times == [90]
    assert done["status"]["startedAt"] == "2023-11-14T22:13:20Z"
    assert done["status"]["completedAt"] == "2023-11-14T22:14:50Z"
    assert max(clock.sleeps) <= 1.0, "waits are short enough to notice a stop request"


def test_dry_run_metrics_are_reported_but_do_not_decide() -> None:
    clock = FakeClock()
    run = analysis(
        metric("gate", successCondition="result == 1"),
        metric("experimental-latency", provider="job", successCondition="result < 100"),
        dryRun=[{"metricName": "experimental-.*"}],
    )

    done = execute(run, {"web": Scripted(clock, [1]), "job": Scripted(clock, [250])}, clock)

    assert done["status"]["phase"] == "Successful"
    dry = result_of(done, "experimental-latency")
    assert dry["dryRun"] is True
    assert dry["phase"] == "Failed"
    assert dry["message"] == "Metric assessed Failed due to failed (1) > failureLimit (0)"
    assert done["status"]["runSummary"] == {"count": 1, "successful": 1}
    assert done["status"]["dryRunSummary"] == {"count": 1, "failed": 1}
    assert verification_result(done).passed


def test_measurement_retention_keeps_the_latest() -> None:
    clock = FakeClock()
    run = analysis(
        metric("kept", interval="1s", count=12),
        metric("short", provider="job", interval="1s", count=12),
        measurementRetention=[{"metricName": "^short$", "limit": 2}],
    )
    values = list(range(12))

    done = execute(run, {"web": Scripted(clock, values), "job": Scripted(clock, values)}, clock)

    kept, short = result_of(done, "kept"), result_of(done, "short")
    assert [m["value"] for m in kept["measurements"]] == [str(v) for v in range(2, 12)]
    assert [m["value"] for m in short["measurements"]] == ["10", "11"]
    assert short["count"] == 12


def test_arguments_are_substituted_before_measuring() -> None:
    clock = FakeClock()
    web = Scripted(clock, [1, 1])
    template = {
        "name": "{{args.service}}-up",
        "interval": "{{ args.every }}",
        "count": "{{args.times}}",
        "successCondition": "result == {{args.expected}}",
        "provider": {"web": {"url": "http://{{args.service}}.{{args.ns}}/health?q={{args.q}}"}},
    }
    args = [
        {"name": "service", "value": "api"},
        {"name": "ns", "value": "prod"},
        {"name": "every", "value": "15s"},
        {"name": "times", "value": "2"},
        {"name": "expected", "value": "1"},
        {"name": "q", "value": 'a"b'},
    ]

    done = execute(analysis(template, args=args), {"web": web}, clock)

    seen = web.calls[0][1]
    assert seen["provider"]["web"]["url"] == 'http://api.prod/health?q=a"b'
    assert seen["name"] == "api-up"
    assert web.times == [0, 15]
    assert done["status"]["phase"] == "Successful"


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            analysis(metric(provider="prometheus")),
            "metric 'm' uses the 'prometheus' provider, which kargo-dagster cannot run itself",
        ),
        (analysis(metric(provider="prometheus")), "KargoResource(rollouts=RolloutsSettings(...))"),
        (
            analysis(
                metric(successCondition="result == '{{args.token}}'"),
                args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            ),
            "argument 'token' takes its value from secretKeyRef (valueFrom); only the Argo "
            "Rollouts controller resolves Secret and field references",
        ),
        (
            analysis(metric(successCondition="result == '{{args.missing}}'")),
            "cannot resolve {{args.missing}}: the run has no such argument",
        ),
        (analysis(metric(successCondition="{{args.x")), "'{{' without a closing '}}'"),
        (analysis(metric(count=3)), "metric 'm': interval must be specified when count > 1"),
        (analysis(metric(interval="5 minutes")), "invalid interval: time: unknown unit"),
        (analysis(metric(count="many", interval="1s")), "count must be an integer"),
        (
            analysis(metric(failureLimit=-1)),
            "failureLimit and consecutiveSuccessLimit cannot both be disabled",
        ),
        (analysis(metric(), metric()), "metric 'm': duplicate name"),
        (analysis(), "no metrics specified"),
        (
            analysis(metric(), dryRun=[{"metricName": "nothing-like-it"}]),
            "spec.dryRun[0]: rule didn't match any metric name(s)",
        ),
        ({"metadata": {}, "spec": {"metrics": [{"name": "m", "provider": {}}]}}, "no provider"),
    ],
)
def test_runs_that_cannot_be_executed_here_are_refused_before_measuring(
    run: dict[str, Any], expected: str
) -> None:
    clock = FakeClock()
    web = Scripted(clock, [1, 1])

    with pytest.raises(VerificationError) as raised:
        execute(run, {"web": web}, clock)

    assert expected in str(raised.value)
    assert web.calls == []


def test_should_stop_terminates_an_open_ended_metric() -> None:
    clock = FakeClock()
    web = Scripted(clock, lambda _: 1)
    run = analysis(metric(interval="30s", successCondition="result == 1"))

    done = execute(run, {"web": web}, clock, should_stop=lambda: clock.now - START >= 95)

    assert web.times == [0, 30, 60, 90]
    assert done["spec"]["terminate"] is True
    assert done["status"]["phase"] == "Successful"
    assert done["status"]["message"] == "Run Terminated"
    assert result_of(done)["phase"] == "Successful"
    assert verification_result(done).phase is VerificationPhase.ABORTED


def test_terminating_ends_metrics_mid_count() -> None:
    clock = FakeClock()
    web = Scripted(clock, [0, 1, 1])
    job = Scripted(clock, lambda _: 1)
    run = analysis(
        metric("soft", interval="10s", count=3, failureLimit=1, successCondition="result == 1"),
        metric("open", provider="job", interval="10s"),
    )

    done = execute(run, {"web": web, "job": job}, clock, should_stop=lambda: len(job.calls) >= 2)

    assert web.times == job.times == [0, 10]
    assert [r["phase"] for r in done["status"]["metricResults"]] == ["Successful", "Successful"]
    assert result_of(done, "soft")["failed"] == 1
    assert done["status"]["phase"] == "Successful"
    assert done["status"]["message"] == "Run Terminated"


def test_a_passed_deadline_ends_the_run_in_error() -> None:
    clock = FakeClock()
    web = Scripted(clock, lambda _: 1)
    run = analysis(metric("watch", interval="1m"))

    done = execute(run, {"web": web}, clock, deadline=START + 150)

    assert web.times == [0, 60, 120]
    assert done["status"]["phase"] == "Error"
    assert done["status"]["message"] == (
        'The analysis did not finish in time: metric(s) "watch" still running at the deadline'
    )
    assert done["status"]["completedAt"] == "2023-11-14T22:15:50Z"
    verdict = verification_result(done)
    assert verdict.phase is VerificationPhase.ERROR
    assert "did not finish in time" in verdict.message


def test_a_run_already_asked_to_terminate_measures_nothing() -> None:
    clock = FakeClock()
    web = Scripted(clock, [1])
    run = analysis(metric())
    run["spec"]["terminate"] = True

    done = execute(run, {"web": web}, clock)

    assert web.calls == []
    assert done["status"]["phase"] == "Successful"
    assert done["status"]["message"] == "Run Terminated"
    assert "metricResults" not in done["status"], "Argo Rollouts omits an empty list"


@pytest.mark.parametrize(
    ("result", "condition", "phase"),
    [
        ("12", "asInt(result) == 12", "Successful"),
        ("0.25", "asFloat(result) < 0.5", "Successful"),
        ([1.5, 2.5], "all(result, {# > 1})", "Successful"),
        (None, "isNil(result)", "Successful"),
        (None, "default(result, 7) == 7", "Successful"),
        (3, "default(result, 7) == 7", "Failed"),
        (float("nan"), "isNaN(result)", "Successful"),
        ({"p99": 120}, "result.p99 < 100", "Failed"),
    ],
)
def test_conditions_see_result_and_argo_rollouts_functions(
    result: Any, condition: str, phase: str
) -> None:
    assert evaluate_conditions(result, {"successCondition": condition}) == phase


@pytest.mark.parametrize(
    ("result", "condition", "message"),
    [
        ("x", "asInt(result) > 1", 'strconv.ParseInt: parsing "x": invalid syntax'),
        ([], "result[0] > 1", "metric result is nil or empty: no data returned"),
        (1, "result >", "could not evaluate successCondition"),
    ],
)
def test_conditions_that_cannot_be_evaluated(result: Any, condition: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        evaluate_conditions(result, {"successCondition": condition})
