"""The engine's control flow: which steps run, their statuses, and the promotion's phase."""

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kargo_dagster.promotion.step import Skipped, StepContext, StepKind, StepOutput
from tests.promotion.engine_support import (
    PROMOTION,
    START,
    AnyConfig,
    Harness,
    statuses,
    step,
)

OK = step("ok", config={"outputs": {"value": 1}})
BOOM = step("boom", "explode", config={"message": "nope"})


@pytest.mark.parametrize(
    ("steps", "expected", "phase"),
    [
        # Without `if`, a step runs only while nothing has failed.
        (
            [OK, BOOM, step("after")],
            {"ok": "Succeeded", "boom": "Failed", "after": "Skipped"},
            "Failed",
        ),
        # failure(), always(), success() and status() decide for themselves.
        (
            [BOOM, step("after", if_="${{ failure() }}")],
            {"boom": "Failed", "after": "Succeeded"},
            "Failed",
        ),
        (
            [BOOM, step("after", if_="${{ always() }}")],
            {"boom": "Failed", "after": "Succeeded"},
            "Failed",
        ),
        (
            [BOOM, step("after", if_="${{ success() }}")],
            {"boom": "Failed", "after": "Skipped"},
            "Failed",
        ),
        (
            [OK, step("after", if_="${{ success() }}")],
            {"ok": "Succeeded", "after": "Succeeded"},
            "Succeeded",
        ),
        (
            [OK, step("after", if_="${{ failure() }}")],
            {"ok": "Succeeded", "after": "Skipped"},
            "Succeeded",
        ),
        (
            [BOOM, step("after", if_="${{ status('boom') == 'Failed' }}")],
            {"boom": "Failed", "after": "Succeeded"},
            "Failed",
        ),
        # A false `if` skips; skipped steps do not count as failures.
        (
            [step("off", if_="${{ false }}"), step("after")],
            {"off": "Skipped", "after": "Succeeded"},
            "Succeeded",
        ),
        # continueOnError: the failure neither stops later steps nor decides the phase.
        (
            [step("boom", "explode", continue_on_error=True), step("after")],
            {"boom": "Failed", "after": "Succeeded"},
            "Succeeded",
        ),
        (
            [
                step("boom", "explode", continue_on_error=True),
                step("after", if_="${{ success() }}"),
            ],
            {"boom": "Failed", "after": "Succeeded"},
            "Succeeded",
        ),
        # The most severe status decides: Errored outranks Failed.
        (
            [BOOM, step("flaky", "flaky", if_="${{ always() }}", config={"failures": 1})],
            {"boom": "Failed", "flaky": "Errored"},
            "Errored",
        ),
        # An unknown step kind is Errored; steps with their own `if` still run.
        (
            [step("typo", "recrod"), step("after"), step("cleanup", if_="${{ always() }}")],
            {"typo": "Errored", "after": "Skipped", "cleanup": "Succeeded"},
            "Errored",
        ),
        # An `if` that is not a boolean, or does not evaluate, is Errored.
        ([step("odd", if_="${{ 'yes' }}")], {"odd": "Errored"}, "Errored"),
        ([step("odd", if_="${{ nosuch.x }}")], {"odd": "Errored"}, "Errored"),
        # An unknown variable is nil, as in Kargo, which is not a boolean either.
        ([step("odd", if_="${{ nosuch }}")], {"odd": "Errored"}, "Errored"),
        ([], {}, "Succeeded"),
    ],
)
def test_steps_run_skip_and_fail_as_in_kargo(
    tmp_path: Path, steps: list[Any], expected: dict[str, str], phase: str
) -> None:
    result = Harness(tmp_path).run(steps)
    assert statuses(result) == expected
    assert result.phase == phase


def test_the_message_names_the_step_that_decided_the_phase(tmp_path: Path) -> None:
    result = Harness(tmp_path).run([OK, step("last", "fail", config={"message": "stop here"})])
    assert result.phase == "Failed"
    assert result.message == "step 'last' (fail): failed: stop here"
    assert result.step("last").message == "failed: stop here"
    assert result.step("ok").message == ""


def test_messages_say_why_steps_did_not_succeed(tmp_path: Path) -> None:
    result = Harness(tmp_path).run(
        [
            step("typo", "recrod", continue_on_error=True),
            step("unported", "helm-template", continue_on_error=True),
            step("odd", if_="${{ 'yes' }}", continue_on_error=True),
            step("bad", if_="${{ nosuch.x }}", continue_on_error=True),
            step("off", if_="${{ ctx.stage == 'prod' }}"),
            BOOM,
            step("after"),
        ]
    )
    messages = {s.alias: s.message for s in result.steps}
    assert messages["typo"] == "step kind 'recrod' is not registered; did you mean 'record'?"
    assert messages["unported"] == (
        "step kind 'helm-template' is a Kargo step that kargo-dagster does not provide"
    )
    assert messages["odd"] == "step 'odd' if: expression must evaluate to a boolean, got string"
    assert messages["bad"].startswith("cannot decide whether to run: step 'bad' if:")
    assert "nosuch" in messages["bad"]
    assert messages["off"] == "skipped: if ${{ ctx.stage == 'prod' }} is false"
    assert messages["after"] == "skipped: an earlier step did not succeed"


def test_outputs_records_and_times(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step("first", config={"outputs": {"tag": "v1", "n": 2}}),
            step(
                "second",
                config={"outputs": {"copy": "${{ outputs.first.tag }}-${{ outputs.first.n }}"}},
            ),
            step("skipped", if_="${{ false }}"),
        ]
    )
    assert result.phase == "Succeeded"
    assert result.message == ""
    assert result.outputs == {"first": {"tag": "v1", "n": 2}, "second": {"copy": "v1-2"}}
    first = result.step("first")
    assert (first.status, first.attempts, first.started_at, first.finished_at) == (
        "Succeeded",
        1,
        START,
        START,
    )
    assert first.outputs == {"tag": "v1", "n": 2}
    skipped = result.step("skipped")
    assert (skipped.attempts, skipped.started_at, skipped.finished_at) == (0, None, None)
    assert skipped.seconds == 0.0

    data = result.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["phase"] == "Succeeded"
    assert data["steps"][0] == {
        "alias": "first",
        "uses": "record",
        "status": "Succeeded",
        "message": "",
        "startedAt": START.isoformat(),
        "finishedAt": START.isoformat(),
        "attempts": 1,
        "continueOnError": False,
        "outputs": {"tag": "v1", "n": 2},
    }
    assert data["outputs"]["second"] == {"copy": "v1-2"}


def test_ctx_describes_the_promotion_and_the_step(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.run(
        [
            step(
                "look",
                config={
                    "project": "${{ ctx.project }}",
                    "stage": "${{ ctx.stage }}",
                    "promotion": "${{ ctx.promotion }}",
                    "freight": "${{ ctx.targetFreight.name }}",
                    "alias": "${{ ctx.targetFreight.alias }}",
                    "origin": "${{ ctx.targetFreight.origin.name }}",
                    "actor": "${{ ctx.meta.promotion.actor }}",
                    "rollback": "${{ ctx.meta.promotion.rollback }}",
                    "step": "${{ ctx.meta.step.alias }}",
                    "tag": "${{ imageFrom('ghcr.io/akuity/guestbook').Tag }}",
                    "evaluate": "ctx.stage + extra",
                },
            )
        ]
    )
    assert harness.recorder.configs["look"] == {
        "project": "kargo-simple",
        "stage": "dev",
        "promotion": PROMOTION.name,
        "freight": PROMOTION.freight.id,
        "alias": PROMOTION.freight.alias,
        "origin": "guestbook",
        "actor": "alice",
        "rollback": False,
        "step": "look",
        "tag": "v0.0.2",
        "evaluate": "ctx.stage + extra",
    }


def test_steps_can_evaluate_expressions_with_extra_variables(tmp_path: Path) -> None:
    result = Harness(tmp_path).run(
        [step("look", config={"evaluate": "ctx.stage + vars.mark + extra"}, vars={"mark": "?"})]
    )
    assert result.outputs["look"] == {"evaluated": "dev?!"}


def test_the_compose_output_step_returns_its_config(tmp_path: Path) -> None:
    result = Harness(tmp_path).run(
        [
            step("compose", "compose-output", config={"a": 1, "b": "${{ ctx.stage }}", "c": [1]}),
        ]
    )
    assert result.outputs == {"compose": {"a": 1, "b": "dev", "c": [1]}}


class _Idle(StepKind[AnyConfig]):
    """Finds nothing to do, like git-commit on a clean work tree."""

    name: ClassVar[str] = "idle"
    config_model = AnyConfig

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        return Skipped("nothing to do", commit="abc123")


def test_a_step_that_finds_nothing_to_do_is_skipped_and_keeps_its_outputs(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, extra=[_Idle()])
    result = harness.run(
        [
            step("commit", "idle"),
            step("after", config={"outputs": {"seen": "${{ outputs.commit.commit }}"}}),
        ]
    )
    assert statuses(result) == {"commit": "Skipped", "after": "Succeeded"}
    assert result.phase == "Succeeded"
    assert result.step("commit").message == "nothing to do"
    assert result.outputs["after"] == {"seen": "abc123"}
