"""Reading files: documents, directories, kinds, duplicates and located errors."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.spec import SourceLocation, load_manifests
from tests.spec.manifests import PROJECT, TASK, WAREHOUSE, join, load, problems, stage, write


def test_multi_document_file_loads_with_sources(here: Path) -> None:
    text = join(PROJECT, "", WAREHOUSE, stage("dev"))
    catalog = load(here, {"all.yaml": text})

    project = catalog.projects["demo"]
    assert project.name == "demo"
    assert project.config is None
    assert list(project.warehouses) == ["app"]
    assert project.stages["dev"].source == SourceLocation(file="all.yaml", line=17)
    assert project.warehouses["app"].source.line == 7
    assert project.warehouses["app"].line_of("spec.subscriptions.0.image.repoURL") == 15
    # A missing field resolves to its nearest parent present in the YAML.
    assert project.warehouses["app"].line_of("spec.interval") == 12
    assert project.warehouses["app"].spec.interval == timedelta(minutes=5)


def test_directory_is_read_recursively_in_sorted_order(here: Path) -> None:
    write(
        here,
        {
            "b/project.yml": PROJECT,
            "a/nested/deeper/warehouse.yaml": WAREHOUSE,
            "a/stage.yaml": stage("dev"),
            "notes.txt": "not: yaml: at all: [",
            "a/README.md": "# ignored",
        },
    )
    catalog = load_manifests(here)

    assert list(catalog.projects["demo"].stages) == ["dev"]
    assert list(catalog.projects["demo"].warehouses) == ["app"]


def test_a_single_file_can_be_loaded(here: Path) -> None:
    write(here, {"one.yaml": join(PROJECT, WAREHOUSE, stage("dev"))})
    assert list(load_manifests("one.yaml").projects) == ["demo"]


def test_other_kinds_are_ignored_with_a_debug_line(
    here: Path, caplog: pytest.LogCaptureFixture
) -> None:
    others = join(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: x\n"
        "spec:\n  whatever: 1\n",
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Freight\nmetadata:\n  name: abc\n",
    )
    with caplog.at_level(logging.DEBUG, logger="kargo_dagster.spec.loader"):
        catalog = load(here, {"k.yaml": join(PROJECT, WAREHOUSE, stage("dev")), "o.yaml": others})

    assert list(catalog.projects) == ["demo"]
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert skipped == [
        "o.yaml:1: skipping v1 Namespace/demo: not a kind kargo-dagster reads",
        "o.yaml:6: skipping argoproj.io/v1alpha1 Application/x: not a kind kargo-dagster reads",
        "o.yaml:13: skipping kargo.akuity.io/v1alpha1 Freight/abc: not a kind kargo-dagster reads",
    ]


def test_analysis_templates_are_kept(here: Path) -> None:
    template = (
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n"
        "  name: smoke\n  namespace: demo\nspec:\n  metrics:\n  - name: m\n"
    )
    cluster = (
        "apiVersion: argoproj.io/v1alpha1\nkind: ClusterAnalysisTemplate\nmetadata:\n"
        "  name: global\nspec:\n  metrics: []\n"
    )
    catalog = load(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev"), template, cluster)})

    kept = catalog.projects["demo"].analysis_templates["smoke"]
    assert kept.spec == {"metrics": [{"name": "m"}]}
    assert list(catalog.cluster_analysis_templates) == ["global"]


def test_cluster_promotion_tasks_are_global(here: Path) -> None:
    task = TASK.replace("kind: PromotionTask", "kind: ClusterPromotionTask").replace(
        "  namespace: demo\n", ""
    )
    steps = (
        "- task:\n    name: promote\n    kind: ClusterPromotionTask\n"
        "  vars:\n  - name: repoURL\n    value: https://example.com/r.git"
    )
    catalog = load(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps), task)})

    step = catalog.projects["demo"].stages["dev"].steps[0]
    assert step.task is not None
    assert catalog.find_task("demo", step.task) is catalog.cluster_promotion_tasks["promote"]


def test_find_task_reports_a_missing_task(here: Path) -> None:
    catalog = load(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev"))})
    from kargo_dagster.spec import PromotionTaskReference

    with pytest.raises(ManifestError, match="no PromotionTask 'nope' in Project 'demo'"):
        catalog.find_task("demo", PromotionTaskReference(name="nope"))


def test_duplicates_name_both_files(here: Path) -> None:
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev")), "b.yaml": WAREHOUSE})
    assert found == [
        "b.yaml:4: Warehouse/app: metadata.name: Warehouse 'app' is defined twice: here and at "
        "a.yaml:6; keep one of them"
    ]


def test_yaml_syntax_error_is_located_and_other_files_still_checked(here: Path) -> None:
    found = problems(
        here,
        {
            "a.yaml": join(PROJECT, WAREHOUSE),
            "b.yaml": "kind: Stage\nmetadata:\n  name: [dev\n",
            "c.yaml": stage("dev", sources="direkt: true"),
        },
    )
    assert found[0].startswith("b.yaml:4: (document): invalid YAML: expected ',' or ']'")
    assert found[1:] == [
        "c.yaml:12: Stage/dev: spec.requestedFreight.0.sources.direkt: unknown field 'direkt'; "
        "did you mean 'direct'?"
    ]


def test_duplicate_keys_are_syntax_errors(here: Path) -> None:
    found = problems(here, {"a.yaml": "kind: Project\nkind: Stage\n"})
    assert found == [
        'a.yaml:2: (document): invalid YAML: found duplicate key "kind" with value "Stage" '
        '(original value: "Project") (while constructing a mapping at line 1); fix the '
        "indentation, quoting or punctuation there"
    ]


def test_non_mapping_document(here: Path) -> None:
    found = problems(here, {"a.yaml": join(PROJECT, "- just\n- a list\n")})
    assert found == [
        "a.yaml:6: (document): a manifest document must be a mapping with apiVersion, kind and "
        "metadata"
    ]


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "repoURL: ghcr",
            "repoUrl: ghcr",
            "a.yaml:14: Warehouse/app: spec.subscriptions.0.image.repoUrl: unknown field "
            "'repoUrl'; did you mean 'repoURL'?",
        ),
        (
            "repoURL: ghcr",
            "repo_url: ghcr",
            "a.yaml:14: Warehouse/app: spec.subscriptions.0.image.repo_url: unknown field "
            "'repo_url'; did you mean 'repoURL'?",
        ),
        (
            "  subscriptions:",
            "  intervall: 1m\n  subscriptions:",
            "a.yaml:12: Warehouse/app: spec.intervall: unknown field 'intervall'; did you mean "
            "'interval'?",
        ),
        (
            "  subscriptions:",
            "  colour: red\n  subscriptions:",
            "a.yaml:12: Warehouse/app: spec.colour: unknown field 'colour'; known fields here: "
            "freightCreationCriteria, freightCreationPolicy, interval, shard, subscriptions",
        ),
        (
            "  namespace: demo",
            "  namespace: demo\n  lables: {a: b}",
            "a.yaml:11: Warehouse/app: metadata.lables: unknown field 'lables'; did you mean "
            "'labels'?",
        ),
    ],
)
def test_unknown_fields_are_located_with_suggestions(
    here: Path, replace: str, by: str, expected: str
) -> None:
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE.replace(replace, by))})
    assert found == [expected]


def test_missing_required_field_points_at_its_parent(here: Path) -> None:
    text = stage("dev").replace("      name: app\n", "")
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, text)})
    assert found == [
        "a.yaml:23: Stage/dev: spec.requestedFreight.0.origin.name: is required; add it"
    ]


def test_non_string_var_value_asks_for_quotes(here: Path) -> None:
    steps = "- uses: fail\n  vars:\n  - name: openpr\n    value: true"
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps))})
    assert found == [
        "a.yaml:34: Stage/dev: spec.promotionTemplate.spec.steps.0.vars.0.value: must be a "
        'string, but YAML read true as a bool; quote it: "true"'
    ]


def test_unsupported_kargo_version(here: Path) -> None:
    text = WAREHOUSE.replace("kargo.akuity.io/v1alpha1", "kargo.akuity.io/v1beta1")
    found = problems(here, {"a.yaml": join(PROJECT, text)})
    assert found == [
        "a.yaml:6: Warehouse/app: apiVersion: unsupported version 'kargo.akuity.io/v1beta1'; "
        "write apiVersion: kargo.akuity.io/v1alpha1"
    ]


def test_namespace_is_required(here: Path) -> None:
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE.replace("  namespace: demo\n", ""))})
    assert found == [
        "a.yaml:8: Warehouse/app: metadata: namespace is required; write namespace: demo (the "
        "Project's name)"
    ]


def test_namespace_must_have_a_project(here: Path) -> None:
    found = problems(here, {"a.yaml": join(WAREHOUSE, stage("dev"))})
    assert found == [
        "a.yaml:5: Warehouse/app: metadata.namespace: namespace 'demo' has no Project; add a "
        "Project manifest named demo (kind: Project, apiVersion: kargo.akuity.io/v1alpha1)"
    ]


def test_all_problems_are_collected_across_files(here: Path) -> None:
    found = problems(
        here,
        {
            "a.yaml": join(PROJECT, WAREHOUSE.replace("repoURL", "repoUrl")),
            "b.yaml": stage("dev", steps="- uses: git-clonee"),
            "c.yaml": stage("qa", sources="stages: [nope]"),
        },
    )
    assert [line.split(": ")[0] for line in found] == ["a.yaml:14", "b.yaml:16", "c.yaml:12"]


def test_missing_path_is_a_problem(here: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifests("nowhere")
    assert str(caught.value.problems[0]) == "nowhere:1: (document): no such file or directory"
