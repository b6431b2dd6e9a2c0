"""Retries: the error threshold, the soft timeout, and the waits between attempts."""

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from kargo_dagster.errors import StepPendingError
from kargo_dagster.promotion.step import StepContext, StepKind, StepOutput
from tests.promotion.engine_support import START, AnyConfig, Flaky, Harness, step, variant


@pytest.mark.parametrize(
    ("failures", "threshold", "status", "attempts", "message"),
    [
        # Kargo's default threshold is 1: the first error ends the step.
        (1, None, "Errored", 1, "met error threshold of 1: transient failure 1"),
        # 0 means "the step's default", as in Kargo.
        (1, 0, "Errored", 1, "met error threshold of 1: transient failure 1"),
        (2, 3, "Succeeded", 3, ""),
        (2, 2, "Errored", 2, "met error threshold of 2: transient failure 2"),
        (0, None, "Succeeded", 1, ""),
    ],
)
def test_the_error_threshold_counts_consecutive_errors(
    tmp_path: Path,
    failures: int,
    threshold: int | None,
    status: str,
    attempts: int,
    message: str,
) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [step("f", "flaky", config={"failures": failures}, error_threshold=threshold)]
    )
    execution = result.step("f")
    assert (execution.status, execution.attempts, execution.message) == (
        status,
        attempts,
        message,
    )
    assert result.phase == ("Succeeded" if status == "Succeeded" else "Errored")
    if status == "Succeeded":
        # The attempt number reaches the step through its context.
        assert result.outputs["f"] == {"attempt": attempts}


def test_a_step_kind_sets_its_own_default_threshold(tmp_path: Path) -> None:
    patient = variant(Flaky, name="patient", default_error_threshold=4)
    harness = Harness(tmp_path)
    harness.extra.append(patient(harness.clock))
    result = harness.run([step("p", "patient", config={"failures": 3})])
    assert result.step("p").status == "Succeeded"
    assert result.step("p").attempts == 4


@pytest.mark.parametrize(
    ("retry_after", "failures", "sleeps"),
    [
        (7.5, 2, [7.5, 7.5]),
        # Without retry_after the waits double from 1s, capped at a minute.
        (0, 3, [1, 2, 4]),
        (0, 8, [1, 2, 4, 8, 16, 32, 60, 60]),
    ],
)
def test_waits_between_attempts(
    tmp_path: Path, retry_after: float, failures: int, sleeps: list[float]
) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step(
                "f",
                "flaky",
                config={"failures": failures, "retryAfter": retry_after},
                error_threshold=100,
            )
        ]
    )
    assert result.step("f").status == "Succeeded"
    assert harness.clock.sleeps == sleeps
    # Started at the first attempt, finished after the last: the waits are included.
    execution = result.step("f")
    assert execution.started_at == START
    assert execution.seconds == sum(sleeps)


def test_the_timeout_is_soft_and_counts_from_the_first_start(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step(
                "f",
                "flaky",
                config={"failures": 100, "retryAfter": 30},
                error_threshold=100,
                timeout=timedelta(minutes=1),
            ),
            step("after"),
        ]
    )
    execution = result.step("f")
    # Attempts at 0s, 30s and 60s are within the minute; the one at 90s is past it.
    assert execution.attempts == 4
    assert execution.status == "Errored"
    assert execution.message == "timed out after 1m0s: transient failure 4"
    assert execution.seconds == 90
    assert result.step("after").status == "Skipped"
    assert result.phase == "Errored"
    assert result.message == "step 'f' (flaky): timed out after 1m0s: transient failure 4"


def test_the_threshold_is_checked_before_the_timeout(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step(
                "f",
                "flaky",
                config={"failures": 5, "retryAfter": 100},
                error_threshold=2,
                timeout=timedelta(seconds=10),
            )
        ]
    )
    # The wait after the first error passes the timeout, but the second error meets the
    # threshold first.
    assert result.step("f").message == "met error threshold of 2: transient failure 2"


def test_a_step_kind_sets_its_own_default_timeout(tmp_path: Path) -> None:
    argo_like = variant(Flaky, name="argo-like", default_timeout=timedelta(minutes=5))
    harness = Harness(tmp_path)
    harness.extra.append(argo_like(harness.clock))
    result = harness.run(
        [
            step(
                "a",
                "argo-like",
                config={"failures": 100, "retryAfter": 60},
                error_threshold=1000,
            ),
            step(
                "b",
                "argo-like",
                config={"failures": 3, "retryAfter": 60},
                error_threshold=1000,
                # An explicit zero timeout means none, overriding the step's default.
                timeout=timedelta(0),
                if_="${{ always() }}",
            ),
        ]
    )
    assert result.step("a").message == "timed out after 5m0s: transient failure 7"
    assert result.step("b").status == "Succeeded"


def test_slow_attempts_count_towards_the_timeout(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step(
                "f",
                "flaky",
                config={"failures": 100, "retryAfter": 1, "advance": 40},
                error_threshold=100,
                timeout=timedelta(minutes=1),
            )
        ]
    )
    # 40s, wait 1s, 81s: past the minute after the second attempt.
    assert result.step("f").attempts == 2
    assert result.step("f").status == "Errored"


def test_a_terminal_error_is_not_retried(tmp_path: Path) -> None:
    result = Harness(tmp_path).run(
        [step("boom", "explode", config={"message": "no way"}, error_threshold=5)]
    )
    execution = result.step("boom")
    assert (execution.status, execution.attempts, execution.message) == (
        "Failed",
        1,
        "no way",
    )


class Waiting(StepKind[AnyConfig]):
    """Waits (StepPendingError) ``config["polls"]`` times per alias, then succeeds."""

    name: ClassVar[str] = "wait"
    config_model = AnyConfig

    def __init__(self) -> None:
        self.polls: dict[str, int] = {}

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        done = self.polls.get(ctx.alias, 0)
        if done < int(config.values.get("polls", 0)):
            self.polls[ctx.alias] = done + 1
            raise StepPendingError("the pull request is still open", retry_after=30)
        return {"polls": done}


def test_waiting_does_not_count_as_an_error(tmp_path: Path) -> None:
    harness = Harness(tmp_path, extra=[Waiting()])
    result = harness.run([step("w", "wait", config={"polls": 5})])
    execution = result.step("w")
    assert (execution.status, execution.attempts) == ("Succeeded", 6)
    assert harness.clock.sleeps == [30.0] * 5


def test_waiting_stops_at_the_timeout(tmp_path: Path) -> None:
    harness = Harness(tmp_path, extra=[Waiting()])
    result = harness.run([step("w", "wait", config={"polls": 50}, timeout=timedelta(minutes=2))])
    execution = result.step("w")
    assert execution.status == "Errored"
    assert execution.message == "timed out after 2m0s: the pull request is still open"
