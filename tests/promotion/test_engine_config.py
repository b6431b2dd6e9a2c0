"""What a step's config sees (vars, outputs, task outputs) and how bad configs are reported."""

from pathlib import Path

import pytest

from kargo_dagster.promotion.steps import yaml_update
from tests.promotion.engine_support import Harness, statuses, step, variables


def test_vars_precedence_is_stage_then_template_then_step(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.run(
        [
            step(
                "look",
                config={k: f"${{{{ vars.{k} }}}}" for k in ("a", "b", "c", "d", "e")},
                vars={"c": "step", "e": "${{ vars.d }}+step"},
            )
        ],
        stage_vars=variables(a="stage", b="stage", c="stage"),
        template_vars=variables(b="template", c="template", d="${{ vars.a }}/${{ ctx.stage }}"),
    )
    assert harness.recorder.configs["look"] == {
        "a": "stage",
        "b": "template",
        "c": "step",
        # Vars see earlier vars and ctx.
        "d": "stage/dev",
        "e": "stage/dev+step",
    }


def test_var_values_are_templates_coerced_like_config_values(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.run(
        [
            step(
                "look",
                config={
                    "n": "${{ vars.n + 1 }}",
                    "plain": "${{ vars.plain + 'x' }}",
                    # A var's value is coerced again where it is used: quote() it there.
                    "s": "${{ vars.s }}",
                    "quoted": "${{ quote(vars.s) }}",
                },
            )
        ],
        # Text without an expression stays a string, as in Kargo.
        stage_vars=variables(n="${{ 40 + 1 }}", plain="41", s="${{ quote('007') }}"),
    )
    assert harness.recorder.configs["look"] == {
        "n": 42,
        "plain": "41x",
        "s": 7,
        "quoted": "007",
    }


def test_step_vars_see_outputs_but_promotion_vars_do_not(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step("first", config={"outputs": {"tag": "v1"}}),
            step(
                "second",
                config={"tag": "${{ vars.tag }}"},
                vars={"tag": "${{ outputs.first.tag }}"},
            ),
        ]
    )
    assert result.phase == "Succeeded"
    assert harness.recorder.configs["second"] == {"tag": "v1"}

    harness = Harness(tmp_path)
    result = harness.run(
        [step("first", config={"outputs": {"tag": "v1"}}), step("second", config={"x": 1})],
        template_vars=variables(tag="${{ outputs.first.tag }}"),
    )
    # Promotion vars are evaluated for every step, and never see outputs.
    first = result.step("first")
    assert first.status == "Errored"
    assert first.message.startswith("step 'first' vars.tag: ")
    assert "outputs" in first.message


def test_an_if_sees_the_vars(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step("on", if_="${{ vars.go == 'yes' }}", vars={"go": "yes"}),
            step("off", if_="${{ vars.go == 'yes' }}"),
            step("bad", if_="${{ vars.go == 'yes' }}", vars={"go": "${{ nosuch.x }}"}),
        ],
        stage_vars=variables(go="no"),
    )
    assert statuses(result) == {"on": "Succeeded", "off": "Skipped", "bad": "Errored"}
    assert result.step("bad").message.startswith(
        "cannot decide whether to run: step 'bad' vars.go: "
    )


def test_outputs_and_task_outputs_are_scoped_by_task(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step("top", config={"outputs": {"where": "template"}}),
            step("t::top", config={"outputs": {"where": "task"}}),
            step(
                "t::look",
                config={
                    "mine": "${{ task.outputs.top.where }}",
                    "full": "${{ outputs['t::top'].where }}",
                    "template": "${{ outputs.top.where }}",
                    "status": "${{ status('top') }}",
                },
            ),
            step("other::look", config={"mine": "${{ task.outputs.top ?? 'none' }}"}),
            # Outside a task there is no `task` variable at all: it is nil, as any unknown
            # variable, and has no outputs.
            step("look", config={"task": "${{ task.outputs }}"}, continue_on_error=True),
        ]
    )
    configs = harness.recorder.configs
    assert configs["t::look"] == {
        "mine": "task",
        "full": "task",
        "template": "template",
        "status": "Succeeded",
    }
    assert configs["other::look"] == {"mine": "none"}
    assert result.step("look").status == "Errored"
    assert "task" in result.step("look").message


def test_status_looks_in_the_steps_own_task(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step("a", "explode", continue_on_error=True),
            step("t::a"),
            step("t::check", config={"a": "${{ status('a') }}", "none": "${{ status('x') }}"}),
            step("check", config={"a": "${{ status('a') }}"}),
        ]
    )
    assert result.phase == "Succeeded"
    assert harness.recorder.configs["t::check"] == {"a": "Succeeded", "none": ""}
    assert harness.recorder.configs["check"] == {"a": "Failed"}


def test_compose_output_in_a_task_becomes_the_tasks_outputs(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step("build::step-1", config={"outputs": {"digest": "sha256:1"}}),
            step(
                "build::step-2",
                "compose-output",
                config={"image": "app@${{ task.outputs['step-1'].digest }}"},
            ),
            step("build::step-3", "compose-output", config={"extra": True}),
            step(
                "use", config={"image": "${{ outputs.build.image }}", "all": "${{ outputs.build }}"}
            ),
        ]
    )
    assert result.phase == "Succeeded"
    assert result.outputs["build"] == {"image": "app@sha256:1", "extra": True}
    assert result.outputs["build::step-2"] == {"image": "app@sha256:1"}
    assert harness.recorder.configs["use"] == {
        "image": "app@sha256:1",
        "all": {"image": "app@sha256:1", "extra": True},
    }


def test_compose_output_outside_a_task_is_only_its_own_output(tmp_path: Path) -> None:
    result = Harness(tmp_path).run([step("c", "compose-output", config={"x": 1})])
    assert result.outputs == {"c": {"x": 1}}


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"path": "${{ nosuch.x }}"}, "step 'upd' config.path"),
        ({"updates": [{"key": "a", "value": "${{ 1 + }}"}]}, "step 'upd' config.updates.0.value"),
        ({"nested": {"deep": ["ok", "${{ ctx.stage"]}}, "step 'upd' config.nested.deep.1"),
    ],
)
def test_an_expression_error_names_the_step_and_the_field(
    tmp_path: Path, config: dict[str, object], where: str
) -> None:
    result = Harness(tmp_path).run([step("upd", config=config), step("after")])
    execution = result.step("upd")
    # Kargo cannot build the step's context: Errored, not retried.
    assert (execution.status, execution.attempts) == ("Errored", 1)
    assert execution.message.startswith(f"{where}: ")
    assert result.step("after").status == "Skipped"
    # The promotion's message names the step once.
    field = where.removeprefix("step 'upd' ")
    assert result.message.startswith(f"step 'upd' (record): {field}: ")


def test_a_config_the_schema_refuses_fails_the_step(tmp_path: Path) -> None:
    harness = Harness(tmp_path, extra=[yaml_update.STEP])
    result = harness.run(
        [step("update-values", "yaml-update", config={"path": "values.yaml", "updates": []})]
    )
    execution = result.step("update-values")
    assert execution.status == "Failed"
    assert execution.message == "invalid yaml-update config: updates: [] should be non-empty"
    assert result.phase == "Failed"
    assert result.message == (
        "step 'update-values' (yaml-update): invalid yaml-update config: "
        "updates: [] should be non-empty"
    )


def test_the_schema_is_checked_after_evaluation(tmp_path: Path) -> None:
    harness = Harness(tmp_path, extra=[yaml_update.STEP])
    result = harness.run(
        [
            step(
                "update-values",
                "yaml-update",
                config={"path": "values.yaml", "updates": "${{ [] }}"},
            )
        ]
    )
    assert result.step("update-values").message == (
        "invalid yaml-update config: updates: [] should be non-empty"
    )


def test_a_config_the_model_refuses_fails_the_step(tmp_path: Path) -> None:
    result = Harness(tmp_path).run([step("f", "fail", config={"message": 3})])
    execution = result.step("f")
    assert execution.status == "Failed"
    # The schema speaks first.
    assert execution.message == "invalid fail config: message: 3 is not of type 'string'"


def test_credentials_in_messages_are_masked(tmp_path: Path) -> None:
    result = Harness(tmp_path).run(
        [
            step(
                "f",
                "explode",
                config={"message": "cannot reach https://me:s3cret", "then": "@git.example.com/x"},
            )
        ]
    )
    assert "s3cret" not in result.message
    assert "s3cret" not in result.step("f").message
    assert "https://me:xxxxx@git.example.com/x" in result.step("f").message


def test_a_config_value_an_expression_makes_a_url_with_credentials_is_refused(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path)
    result = harness.run(
        [
            step(
                "clone",
                config={"repoURL": "${{ 'https://bob:' + vars.token + '@git.example.com/a.git' }}"},
            )
        ],
        stage_vars=variables(token="s3cr3t"),
    )
    assert statuses(result) == {"clone": "Failed"}
    message = result.step("clone").message or ""
    assert message.startswith("step 'clone' config.repoURL: a URL here must not carry credentials")
    assert "s3cr3t" not in message and "s3cr3t" not in (result.message or "")
    assert "clone" not in harness.recorder.configs
