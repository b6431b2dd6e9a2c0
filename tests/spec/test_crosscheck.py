"""Checks across objects: references, the Stage graph, tasks, steps and Dagster names."""

from pathlib import Path

import pytest

from tests.spec.manifests import PROJECT, TASK, WAREHOUSE, join, load, problems, stage


def _problems(here: Path, *documents: str) -> list[str]:
    return problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, *documents)})


def test_origin_must_name_a_warehouse(here: Path) -> None:
    text = stage("dev").replace("      name: app", "      name: apps")
    assert _problems(here, text) == [
        "a.yaml:25: Stage/dev: spec.requestedFreight.0.origin.name: no Warehouse 'apps' in "
        "namespace demo; did you mean 'app'?"
    ]


def test_upstream_stage_must_exist(here: Path) -> None:
    assert _problems(here, stage("dev"), stage("qa", sources="stages: [dev, prodd]")) == [
        "a.yaml:44: Stage/qa: spec.requestedFreight.0.sources.stages.1: no Stage 'prodd' in "
        "namespace demo; define it or name an existing Stage"
    ]


def test_upstream_stage_must_request_the_same_origin(here: Path) -> None:
    other = WAREHOUSE.replace("name: app", "name: other").replace("example/app", "example/o")
    dev = stage("dev").replace("      name: app", "      name: other")
    assert _problems(here, other, dev, stage("qa", sources="stages: [dev]")) == [
        "a.yaml:54: Stage/qa: spec.requestedFreight.0.sources.stages.0: upstream Stage 'dev' "
        "does not request Freight from Warehouse 'app', so it never has any to pass on; add "
        "that origin to dev's requestedFreight or use direct: true"
    ]


def test_cycles_are_named(here: Path) -> None:
    found = _problems(
        here,
        stage("a", sources="stages: [c]"),
        stage("b", sources="stages: [a]"),
        stage("c", sources="stages: [b]"),
    )
    assert found == [
        "a.yaml:27: Stage/a: spec.requestedFreight.0.sources.stages.0: Stages form a cycle: "
        "a -> b -> c -> a; Freight could never enter it, so remove one of these upstream links"
    ]


def test_self_loop_is_a_cycle(here: Path) -> None:
    found = _problems(here, stage("a", sources="direct: true\nstages: [a]"))
    assert found == [
        "a.yaml:28: Stage/a: spec.requestedFreight.0.sources.stages.0: Stages form a cycle: "
        "a -> a; Freight could never enter it, so remove one of these upstream links"
    ]


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (
            "direct: false",
            "a.yaml:26: Stage/dev: spec.requestedFreight.0.sources: Freight has nowhere to come "
            "from; set direct: true or list upstream stages",
        ),
        (
            "direct: true\nautoPromotionOptions:\n  selectionPolicy: MatchUpstream",
            "a.yaml:29: Stage/dev: spec.requestedFreight.0.sources.autoPromotionOptions."
            "selectionPolicy: MatchUpstream cannot be used with direct: true; remove direct or "
            "use NewestFreight",
        ),
        (
            "stages: [x, y]\nautoPromotionOptions:\n  selectionPolicy: MatchUpstream",
            "a.yaml:29: Stage/dev: spec.requestedFreight.0.sources.autoPromotionOptions."
            "selectionPolicy: MatchUpstream needs exactly one upstream Stage (got 2); list one "
            "stage or use NewestFreight",
        ),
        (
            "direct: true\navailabilityStrategy: Any",
            "a.yaml:28: Stage/dev: spec.requestedFreight.0.sources.availabilityStrategy: must be "
            "one of OneOf, All (got 'Any')",
        ),
        (
            "direct: true\nrequiredSoakTime: 10 minutes",
            "a.yaml:28: Stage/dev: spec.requestedFreight.0.sources.requiredSoakTime: '10 minutes'"
            " is not a duration; write it like 10m, 1h30m or 5m0s",
        ),
    ],
)
def test_freight_source_rules(here: Path, sources: str, expected: str) -> None:
    assert _problems(here, stage("dev", sources=sources)) == [expected]


def test_an_origin_may_be_requested_once(here: Path) -> None:
    text = stage("dev").replace(
        "  promotionTemplate:",
        "  - origin:\n      kind: Warehouse\n      name: app\n    sources:\n      direct: true\n"
        "  promotionTemplate:",
    )
    assert _problems(here, text) == [
        "a.yaml:30: Stage/dev: spec.requestedFreight.1.origin.name: Warehouse 'app' is already "
        "requested at requestedFreight.0; merge the two entries"
    ]


def test_task_reference_must_exist(here: Path) -> None:
    found = _problems(here, TASK, stage("dev", steps="- task:\n    name: promot"))
    assert found == [
        "a.yaml:47: Stage/dev: spec.promotionTemplate.spec.steps.0.task.name: no PromotionTask "
        "'promot' in demo; did you mean 'promote'?"
    ]


def test_cluster_task_reference_must_exist(here: Path) -> None:
    steps = "- task:\n    name: promote\n    kind: ClusterPromotionTask"
    assert _problems(here, TASK, stage("dev", steps=steps)) == [
        "a.yaml:47: Stage/dev: spec.promotionTemplate.spec.steps.0.task.name: no "
        "ClusterPromotionTask 'promote'; define the ClusterPromotionTask"
    ]


STEP_VARS = "- task:\n    name: promote\n  vars:\n  - name: repoURL\n    value: https://x/r.git"
TEMPLATE_VARS = "- task:\n    name: promote\nvars:\n- name: repoURL\n  value: https://x/r.git"


@pytest.mark.parametrize(
    ("steps", "stage_vars"),
    [
        (STEP_VARS, ""),
        # The template's vars sit next to its steps.
        ("- task:\n    name: promote", ""),
        ("- task:\n    name: promote", "  vars:\n  - name: repoURL\n    value: https://x/r.git\n"),
    ],
    ids=["step", "template", "stage"],
)
def test_required_task_vars_may_come_from_any_level(
    here: Path, steps: str, stage_vars: str
) -> None:
    text = stage("dev", steps=steps)
    if steps == "- task:\n    name: promote" and not stage_vars:
        text = text.replace(
            "    spec:\n      steps:",
            "    spec:\n      vars:\n      - name: repoURL\n"
            "        value: https://x/r.git\n      steps:",
        )
    text = text.replace(
        "spec:\n  requestedFreight:", "spec:\n" + stage_vars + "  requestedFreight:"
    )
    catalog = load(here, {"a.yaml": join(PROJECT, WAREHOUSE, TASK, text)})
    assert list(catalog.projects["demo"].promotion_tasks) == ["promote"]


def test_required_task_var_missing(here: Path) -> None:
    found = _problems(here, TASK, stage("dev", steps="- task:\n    name: promote"))
    assert found == [
        "a.yaml:46: Stage/dev: spec.promotionTemplate.spec.steps.0: PromotionTask 'promote' "
        "requires var 'repoURL', which nothing provides; add '- name: repoURL' with a value to "
        "this step's vars, the template's vars or the Stage's vars"
    ]


def test_task_steps_are_checked_too(here: Path) -> None:
    task = (
        TASK.replace("uses: git-clone", "uses: git-clon") + "    as: a\n  - uses: fail\n    as: a\n"
    )
    assert _problems(here, task, stage("dev")) == [
        "a.yaml:27: PromotionTask/promote: spec.steps.0.uses: unknown step kind 'git-clon'; did "
        "you mean 'git-clone'?",
        "a.yaml:32: PromotionTask/promote: spec.steps.1.as: alias 'a' is already used by "
        "steps.0; give each step its own alias",
    ]


def test_template_step_kinds_and_aliases(here: Path) -> None:
    steps = "- uses: kustomise-build\n  as: x\n- uses: frobnicate\n  as: x"
    assert _problems(here, stage("dev", steps=steps)) == [
        "a.yaml:31: Stage/dev: spec.promotionTemplate.spec.steps.0.uses: unknown step kind "
        "'kustomise-build'; did you mean 'kustomize-build'?",
        "a.yaml:33: Stage/dev: spec.promotionTemplate.spec.steps.1.uses: unknown step kind "
        "'frobnicate'; see Kargo's built-in steps",
        "a.yaml:34: Stage/dev: spec.promotionTemplate.spec.steps.1.as: alias 'x' is already "
        "used by steps.0; give each step its own alias",
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "- uses: fail\n  task:\n    name: promote",
            "a.yaml:46: Stage/dev: spec.promotionTemplate.spec.steps.0: a step needs exactly one "
            "of uses (a step kind such as git-clone) or task (a PromotionTask reference)",
        ),
        (
            "- task:\n    name: promote\n  if: ${{ true }}",
            "a.yaml:48: Stage/dev: spec.promotionTemplate.spec.steps.0.if: a step referencing a "
            "task cannot set if; set it on the task's steps instead, or pass values through vars",
        ),
        (
            "- task:\n    name: promote\n  config:\n    a: b",
            "a.yaml:48: Stage/dev: spec.promotionTemplate.spec.steps.0.config: a step referencing"
            " a task cannot set config; set it on the task's steps instead, or pass values "
            "through vars",
        ),
    ],
)
def test_step_shape(here: Path, steps: str, expected: str) -> None:
    assert _problems(here, TASK, stage("dev", steps=steps)) == [expected]


def test_promotion_task_cannot_nest_tasks(here: Path) -> None:
    task = TASK + "  - task:\n      name: other\n"
    assert _problems(here, task, stage("dev")) == [
        "a.yaml:30: PromotionTask/promote: spec.steps.1.task: a PromotionTask step cannot "
        "reference another task; copy that task's steps here instead"
    ]


def test_analysis_templates_may_live_in_the_cluster(here: Path) -> None:
    # Kargo resolves AnalysisTemplates at verification time, from the cluster when the
    # manifests do not carry them.
    text = stage("dev") + "  verification:\n    analysisTemplates:\n    - name: smoke\n"
    catalog = load(here, {"a.yaml": join(PROJECT, WAREHOUSE, text)})
    verification = catalog.projects["demo"].stages["dev"].spec.verification
    assert verification is not None
    assert [t.name for t in verification.analysis_templates] == ["smoke"]


def test_project_config_name_must_match_namespace(here: Path) -> None:
    config = (
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata:\n"
        "  name: other\n  namespace: demo\n"
    )
    assert _problems(here, stage("dev"), config) == [
        "a.yaml:36: ProjectConfig/other: metadata.name: a ProjectConfig must be named like its "
        "Project; write name: demo"
    ]


def test_names_with_dots_cannot_become_dagster_names(here: Path) -> None:
    assert _problems(here, stage("prod.eu")) == [
        "a.yaml:19: Stage/prod.eu: metadata.name: Stage names become Dagster names, which cannot"
        " contain '.'; rename it to 'prod-eu'"
    ]


def test_broken_objects_are_not_reported_again_as_missing(here: Path) -> None:
    broken = stage("dev", sources="direct: yes please")
    found = _problems(here, broken, stage("qa", sources="stages: [dev]"))
    assert found == [
        "a.yaml:27: Stage/dev: spec.requestedFreight.0.sources.direct: must be a valid boolean, "
        "unable to interpret input (got 'yes please')"
    ]


def test_stage_graph_helpers(here: Path) -> None:
    catalog = load(
        here,
        {
            "a.yaml": join(
                PROJECT,
                WAREHOUSE,
                stage("prod", sources="stages: [qa-east, qa-west]\navailabilityStrategy: All"),
                stage("qa-west", sources="stages: [dev]"),
                stage("qa-east", sources="stages: [dev]\nrequiredSoakTime: 1h30m"),
                stage("dev"),
                stage("hub", sources="stages: [dev]", steps="[]").replace(
                    "  promotionTemplate:\n    spec:\n      steps:\n      []\n", ""
                ),
            )
        },
    )
    project = catalog.projects["demo"]
    assert project.stage_order() == ["dev", "hub", "qa-east", "qa-west", "prod"]
    assert project.upstream_stages("prod", "app") == ["qa-east", "qa-west"]
    assert project.upstream_stages("dev", "app") == []
    assert project.upstream_stages("prod", "nope") == []
    assert project.downstream_stages("dev", "app") == ["hub", "qa-east", "qa-west"]
    assert project.stages["hub"].is_control_flow
    assert project.stages["hub"].steps == []
    assert not project.stages["dev"].is_control_flow
    assert project.stages["prod"].spec.requested_freight[0].sources.availability_strategy == "All"
