"""PromotionTasks are inflated into the Stage's steps as Kargo inflates them."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.promotion.expansion import PlannedStep, expand_steps, expand_template_steps
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.step import StepContext, StepOutput
from kargo_dagster.promotion.steps import compose_output
from kargo_dagster.spec import Catalog, PromotionStep, PromotionTaskSpec, Stage, load_manifests
from tests.manifests import manifests_yaml, project, warehouse
from tests.promotion.engine_support import (
    AnyConfig,
    Call,
    Harness,
    Recorder,
    statuses,
    variables,
    variant,
)

PROJECT = manifests_yaml(
    project("kargo-simple"),
    warehouse("guestbook", "kargo-simple", image="ghcr.io/akuity/guestbook"),
)

# The shape of akuity/kargo-simple's PromotionTask (with the current pr.id output).
TASK = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: promote
  namespace: kargo-simple
spec:
  vars:
  - name: repoURL
    value: https://github.com/akuity/kargo-simple.git
  - name: branch
    value: main
  - name: image
    value: ghcr.io/akuity/guestbook
  - name: openpr
    value: "false"
  steps:
  - uses: git-clone
    config:
      repoURL: ${{ vars.repoURL }}
      checkout:
      - branch: ${{ vars.branch }}
        path: ./src
  - uses: kustomize-set-image
    as: update-image
    config:
      path: ./src/env/${{ ctx.stage }}
      images:
      - image: ${{ vars.image }}
        tag: ${{ imageFrom( vars.image ).Tag }}
  - uses: git-commit
    as: commit
    config:
      path: ./src
      message: ${{ task.outputs['update-image'].commitMessage }}
  - uses: git-push
    if: ${{ vars.openpr != 'true' }}
    config:
      path: ./src
  - uses: git-push
    if: ${{ vars.openpr == 'true' }}
    as: push
    config:
      path: ./src
      generateTargetBranch: true
  - uses: git-open-pr
    as: open-pr
    if: ${{ vars.openpr == 'true' }}
    config:
      repoURL: ${{ vars.repoURL }}
      createTargetBranch: true
      sourceBranch: ${{ task.outputs.push.branch }}
      targetBranch: ${{ vars.branch }}
  - uses: git-wait-for-pr
    as: wait-for-pr
    if: ${{ vars.openpr == 'true' }}
    config:
      repoURL: ${{ vars.repoURL }}
      prNumber: ${{ task.outputs['open-pr'].pr.id }}
"""


def _stage(name: str, template: str, stage_vars: str = "") -> str:
    return f"""\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: {name}
  namespace: kargo-simple
spec:
{stage_vars}  requestedFreight:
  - origin:
      kind: Warehouse
      name: guestbook
    sources:
      direct: true
  promotionTemplate:
    spec:
{template}"""


def _catalog(tmp_path: Path, *stages: str) -> Catalog:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "project.yaml").write_text(PROJECT)
    (manifests / "task.yaml").write_text(TASK)
    (manifests / "stages.yaml").write_text("---\n".join(stages))
    return load_manifests(manifests)


SIMPLE = """\
      steps:
      - task:
          name: promote
"""

WITH_PR = """\
      vars:
      - name: openpr
        value: "true"
      steps:
      - uses: compose-output
        as: before
        config:
          x: 1
      - task:
          name: promote
        as: promo
        vars:
        - name: branch
          value: release
      - uses: compose-output
        config:
          pr: ${{ outputs['promo::open-pr'].pr.url }}
"""


def _aliases(steps: list[PlannedStep]) -> list[tuple[str, str]]:
    return [(s.alias, s.uses) for s in steps]


def test_a_task_is_inflated_with_default_aliases(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, _stage("dev", SIMPLE))
    steps = expand_steps(catalog.projects["kargo-simple"].stages["dev"], catalog=catalog)
    assert _aliases(steps) == [
        ("task-1::step-1", "git-clone"),
        ("task-1::update-image", "kustomize-set-image"),
        ("task-1::commit", "git-commit"),
        ("task-1::step-4", "git-push"),
        ("task-1::push", "git-push"),
        ("task-1::open-pr", "git-open-pr"),
        ("task-1::wait-for-pr", "git-wait-for-pr"),
    ]
    first = steps[0]
    assert (first.task_alias, first.short_alias) == ("task-1", "step-1")
    # The task's defaults lead every inflated step's vars.
    assert [(v.name, v.value) for v in first.vars] == [
        ("repoURL", "https://github.com/akuity/kargo-simple.git"),
        ("branch", "main"),
        ("image", "ghcr.io/akuity/guestbook"),
        ("openpr", "false"),
    ]
    assert steps[3].if_ == "${{ vars.openpr != 'true' }}"
    assert steps[0].config == {
        "repoURL": "${{ vars.repoURL }}",
        "checkout": [{"branch": "${{ vars.branch }}", "path": "./src"}],
    }


def test_template_and_reference_vars_override_task_defaults(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, _stage("dev", WITH_PR))
    steps = expand_steps(catalog.projects["kargo-simple"].stages["dev"], catalog=catalog)
    assert _aliases(steps)[:3] == [
        ("before", "compose-output"),
        ("promo::step-1", "git-clone"),
        ("promo::update-image", "kustomize-set-image"),
    ]
    # The third template step keeps its position-based alias.
    assert _aliases(steps)[-1] == ("step-3", "compose-output")
    # openpr is set by the template, so the task's default is dropped; branch comes from
    # the reference, after the default.
    assert [(v.name, v.value) for v in steps[1].vars] == [
        ("repoURL", "https://github.com/akuity/kargo-simple.git"),
        ("branch", "main"),
        ("image", "ghcr.io/akuity/guestbook"),
        ("branch", "release"),
    ]
    assert steps[0].task_alias is None


def _fake_git_registry(calls: list[Call]) -> StepRegistry:
    """git-* and kustomize steps as recorders answering with plausible outputs."""

    def named(name: str, outputs: dict[str, Any]) -> Recorder:
        class Fake(Recorder):
            def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
                super().run(ctx, config)
                return dict(outputs)

        return variant(Fake, name=name)(calls)

    return StepRegistry(
        [
            named("git-clone", {"commits": {}}),
            named("kustomize-set-image", {"commitMessage": "Updated guestbook to v0.0.2"}),
            named("git-commit", {"commit": "abc123"}),
            named("git-push", {"branch": "kargo/promotion/x", "commit": "abc123"}),
            named("git-open-pr", {"pr": {"id": 7, "url": "https://github.com/pr/7"}}),
            named("git-wait-for-pr", {"commit": "def456"}),
            compose_output.STEP,
        ]
    )


def test_the_simple_task_runs_with_its_defaults(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, _stage("dev", SIMPLE))
    stage = catalog.projects["kargo-simple"].stages["dev"]
    calls: list[Call] = []
    result = Harness(tmp_path / "work").run(
        expand_steps(stage, catalog=catalog), registry=_fake_git_registry(calls)
    )
    assert result.phase == "Succeeded", result.message
    assert statuses(result) == {
        "task-1::step-1": "Succeeded",
        "task-1::update-image": "Succeeded",
        "task-1::commit": "Succeeded",
        "task-1::step-4": "Succeeded",
        "task-1::push": "Skipped",
        "task-1::open-pr": "Skipped",
        "task-1::wait-for-pr": "Skipped",
    }
    configs = {call.alias: call.config for call in calls}
    assert configs["task-1::step-1"] == {
        "repoURL": "https://github.com/akuity/kargo-simple.git",
        "checkout": [{"branch": "main", "path": "./src"}],
    }
    assert configs["task-1::update-image"] == {
        "path": "./src/env/dev",
        "images": [{"image": "ghcr.io/akuity/guestbook", "tag": "v0.0.2"}],
    }
    # task.outputs reads the same task's steps by their short alias.
    assert configs["task-1::commit"] == {"path": "./src", "message": "Updated guestbook to v0.0.2"}


def test_the_task_opens_a_pr_when_the_template_says_so(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, _stage("dev", WITH_PR))
    stage = catalog.projects["kargo-simple"].stages["dev"]
    assert stage.spec.promotion_template is not None
    calls: list[Call] = []
    result = Harness(tmp_path / "work").run(
        expand_steps(stage, catalog=catalog),
        registry=_fake_git_registry(calls),
        stage_vars=stage.spec.vars,
        template_vars=stage.spec.promotion_template.spec.vars,
    )
    assert result.phase == "Succeeded", result.message
    assert statuses(result)["promo::step-4"] == "Skipped"
    configs = {call.alias: call.config for call in calls}
    assert configs["promo::step-1"]["checkout"] == [{"branch": "release", "path": "./src"}]
    assert configs["promo::open-pr"] == {
        "repoURL": "https://github.com/akuity/kargo-simple.git",
        "createTargetBranch": True,
        "sourceBranch": "kargo/promotion/x",
        "targetBranch": "release",
    }
    assert configs["promo::wait-for-pr"]["prNumber"] == 7
    assert result.outputs["step-3"] == {"pr": "https://github.com/pr/7"}


def _task(
    *steps: dict[str, Any], task_vars: list[dict[str, Any]] | None = None
) -> PromotionTaskSpec:
    return PromotionTaskSpec.model_validate({"vars": task_vars or [], "steps": list(steps)})


def _steps(*steps: dict[str, Any]) -> list[PromotionStep]:
    return [PromotionStep.model_validate(s) for s in steps]


def test_precedence_task_default_stage_template_reference_step(tmp_path: Path) -> None:
    task = _task(
        {
            "uses": "record",
            "as": "look",
            "vars": [{"name": "e", "value": "inner"}],
            "config": {k: f"${{{{ vars.{k} }}}}" for k in "abcde"},
        },
        task_vars=[
            {"name": "a", "value": "default"},
            {"name": "b", "value": "default"},
            {"name": "c", "value": "default"},
            {"name": "d", "value": "default"},
            {"name": "e", "value": "default"},
        ],
    )
    promotion_vars = [*variables(b="stage", c="stage"), *variables(c="template")]
    steps = expand_template_steps(
        _steps(
            {
                "task": {"name": "t"},
                "vars": [{"name": "d", "value": "reference"}, {"name": "e", "value": "reference"}],
            }
        ),
        promotion_vars=promotion_vars,
        find_task=lambda ref: task,
    )
    harness = Harness(tmp_path)
    result = harness.run(
        steps, stage_vars=variables(b="stage", c="stage"), template_vars=variables(c="template")
    )
    assert result.phase == "Succeeded", result.message
    assert harness.recorder.configs["task-1::look"] == {
        "a": "default",
        "b": "stage",
        "c": "template",
        "d": "reference",
        "e": "inner",
    }


def test_a_required_task_var_must_be_set_somewhere() -> None:
    task = _task({"uses": "record"}, task_vars=[{"name": "needed"}, {"name": "other"}])
    find = {"t": task}.__getitem__

    def expand(
        promotion_vars: list[Any], reference_vars: list[dict[str, str]]
    ) -> list[PlannedStep]:
        return expand_template_steps(
            _steps({"task": {"name": "t"}, "vars": reference_vars}),
            promotion_vars=promotion_vars,
            find_task=lambda ref: find(ref.name),
        )

    with pytest.raises(ManifestError) as caught:
        expand([], [{"name": "other", "value": "x"}])
    assert "missing value for task variable 'needed'" in str(caught.value)
    # A Stage/template var or the reference's vars provide it.
    assert expand(variables(needed="x"), [{"name": "other", "value": "x"}])
    assert expand([], [{"name": "needed", "value": "x"}, {"name": "other", "value": "y"}])


def test_steps_without_tasks_get_position_aliases() -> None:
    steps = expand_template_steps(
        _steps(
            {"uses": "record"},
            {"uses": "record", "as": "named"},
            {
                "uses": "record",
                "retry": {"errorThreshold": 3, "timeout": "2m"},
                "continueOnError": True,
            },
        ),
        promotion_vars=[],
        find_task=lambda ref: pytest.fail("no task expected"),
    )
    assert [s.alias for s in steps] == ["step-1", "named", "step-3"]
    assert (
        steps[2].error_threshold,
        steps[2].timeout.total_seconds() if steps[2].timeout else None,
    ) == (3, 120)
    assert steps[2].continue_on_error


def test_a_control_flow_stage_has_no_steps(tmp_path: Path) -> None:
    stage = Stage.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "hub", "namespace": "p"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ]
            },
        }
    )
    assert expand_steps(stage, catalog=Catalog()) == []


def test_a_missing_task_is_a_manifest_error(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, _stage("dev", SIMPLE))
    stage = catalog.projects["kargo-simple"].stages["dev"]
    with pytest.raises(ManifestError, match="no PromotionTask 'promote'"):
        expand_steps(stage, catalog=Catalog())
    # With only the Project, PromotionTasks are found but ClusterPromotionTasks are not.
    project = catalog.projects["kargo-simple"]
    assert len(expand_steps(stage, project=project)) == 7
