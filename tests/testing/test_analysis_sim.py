"""The AnalysisRun simulator takes runs from creation to the configured outcome."""

import pytest

from kargo_dagster.testing.analysis_sim import AnalysisRunSimulator
from kargo_dagster.testing.polling import wait_until

RUNS = ("argoproj.io", "v1alpha1", "kargo-demo", "analysisruns")


def web(name: str, **limits) -> dict:
    return {"name": name, "provider": {"web": {"url": f"http://app/{name}"}}, **limits}


def analysis_run(name: str = "dev.01jabc.1a2b3c4", stage: str = "dev", metrics=None) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "labels": {"kargo.akuity.io/stage": stage}},
        "spec": {"metrics": metrics or [web("up")]},
    }


def create(custom, run: dict) -> str:
    return custom.create_namespaced_custom_object(*RUNS, run)["metadata"]["name"]


def get(custom, name: str = "dev.01jabc.1a2b3c4") -> dict:
    return custom.get_namespaced_custom_object(*RUNS, name)


def test_a_run_goes_pending_running_successful(kube, custom):
    analysis = AnalysisRunSimulator(kube)
    create(custom, analysis_run())
    analysis.step()
    assert get(custom)["status"] == {"phase": "Pending"}
    analysis.step()
    status = get(custom)["status"]
    assert status["phase"] == "Running" and status["startedAt"]
    assert status["metricResults"] == [{"name": "up", "phase": "Pending"}]
    analysis.step()
    status = get(custom)["status"]
    assert status["phase"] == "Successful"
    assert status["completedAt"]
    assert status["runSummary"] == {
        "count": 1,
        "successful": 1,
        "failed": 0,
        "inconclusive": 0,
        "error": 0,
    }
    result = status["metricResults"][0]
    assert (result["phase"], result["count"], result["successful"]) == ("Successful", 1, 1)
    assert [m["phase"] for m in result["measurements"]] == ["Successful"]
    assert result["measurements"][0]["value"] == "1"
    assert analysis.step() == 0


def test_outcomes_by_label_selector(kube, custom):
    analysis = AnalysisRunSimulator(kube)
    analysis.set_outcome("Failed", label_selector="kargo.akuity.io/stage=prod")
    create(custom, analysis_run("dev.1"))
    create(custom, analysis_run("prod.1", stage="prod"))
    analysis.settle()
    assert get(custom, "dev.1")["status"]["phase"] == "Successful"
    prod = get(custom, "prod.1")["status"]
    assert prod["phase"] == "Failed"
    assert prod["message"] == 'Metric "up" assessed Failed due to failed (1) > failureLimit (0)'


def test_failure_limit_and_count(kube, custom):
    analysis = AnalysisRunSimulator(kube, outcome="Failed")
    create(custom, analysis_run(metrics=[web("up", count=5, interval="10s", failureLimit=1)]))
    analysis.settle()
    result = get(custom)["status"]["metricResults"][0]
    assert (result["phase"], result["failed"], len(result["measurements"])) == ("Failed", 2, 2)


def test_errors_need_more_than_the_consecutive_error_limit(kube, custom):
    analysis = AnalysisRunSimulator(kube, outcome="Error")
    create(custom, analysis_run())
    analysis.settle()
    status = get(custom)["status"]
    assert status["phase"] == "Error"
    assert len(status["metricResults"][0]["measurements"]) == 5
    assert status["message"] == (
        'Metric "up" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        '"Error Message: simulated metric provider error"'
    )


def test_the_worst_metric_decides_and_the_last_matching_rule_wins(kube, custom):
    analysis = AnalysisRunSimulator(kube)
    analysis.set_outcome("Failed", metric="latency")
    analysis.set_outcome("Inconclusive", metric="latency", name="dev.01jabc.1a2b3c4")
    create(custom, analysis_run(metrics=[web("up"), web("latency")]))
    analysis.settle()
    status = get(custom)["status"]
    assert [r["phase"] for r in status["metricResults"]] == ["Successful", "Inconclusive"]
    assert status["phase"] == "Inconclusive"
    assert status["runSummary"]["inconclusive"] == 1


def test_a_metric_with_only_an_interval_runs_until_terminated(kube, custom):
    analysis = AnalysisRunSimulator(kube)
    create(custom, analysis_run(metrics=[web("up", interval="1m")]))
    for _ in range(6):
        analysis.step()
    status = get(custom)["status"]
    assert status["phase"] == "Running"
    assert len(status["metricResults"][0]["measurements"]) == 4
    custom.patch_namespaced_custom_object(
        *RUNS, "dev.01jabc.1a2b3c4", {"spec": {"terminate": True}}
    )
    analysis.settle()
    status = get(custom)["status"]
    assert (status["phase"], status["message"]) == ("Successful", "Run Terminated")


def test_background_mode(kube, custom):
    analysis = AnalysisRunSimulator(kube)
    with analysis.running(interval=0.01):
        create(custom, analysis_run())
        wait_until(
            lambda: get(custom).get("status", {}).get("phase") == "Successful",
            what=lambda: f"the run to succeed: {analysis.log}",
            interval=0.01,
        )


def test_unknown_outcomes_are_refused(kube):
    with pytest.raises(ValueError, match="outcome must be one of"):
        AnalysisRunSimulator(kube, outcome="Passed")
    with pytest.raises(ValueError, match="outcome must be one of"):
        AnalysisRunSimulator(kube).set_outcome("Aborted")
