"""Public Kargo examples load, or fail only on syntax Kargo removed."""

import shutil
from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.spec import is_removed_syntax, load_manifests

EXAMPLES = Path(__file__).parent.parent / "fixtures" / "kargo-examples"


def _copy(example: str, tmp_path: Path) -> Path:
    target = tmp_path / example
    shutil.copytree(EXAMPLES / example, target)
    return target


def _problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifests(path)
    base = f"{path}/"
    return [str(p).removeprefix(base) for p in caught.value.problems]


@pytest.mark.parametrize(
    "example",
    [
        "krancour/kargo-examples/01-argocd-driven/02-helm-driven/03-chart-n-image",
        "krancour/kargo-examples/03-features/v1.10.0/02-soak-time",
    ],
)
def test_krancour_examples_load(example: str) -> None:
    catalog = load_manifests(EXAMPLES / example)
    (project,) = catalog.projects.values()
    assert project.stage_order() == ["test", "uat", "prod"]
    assert project.config is not None
    assert [p.stage_pattern for p in project.config.spec.promotion_policies][:2] == ["test", "uat"]
    assert list(project.analysis_templates) == ["kargo-demo"]


def test_soak_time_example_parses_durations() -> None:
    catalog = load_manifests(EXAMPLES / "krancour/kargo-examples/03-features/v1.10.0/02-soak-time")
    uat = catalog.projects["kargo-demo-16"].stages["uat"]
    assert uat.spec.requested_freight[0].sources.required_soak_time is not None
    assert uat.spec.requested_freight[0].sources.required_soak_time.total_seconds() == 600
    image = catalog.projects["kargo-demo-16"].warehouses["kargo-demo"].spec.subscriptions[0].image
    assert image is not None and image.discovery_limit == 3


def test_kargo_simple_fails_only_on_the_pr_number_output() -> None:
    path = EXAMPLES / "akuity/kargo-simple"
    with pytest.raises(ManifestError) as caught:
        load_manifests(path)
    assert all(is_removed_syntax(p) for p in caught.value.problems)
    assert _problems(path) == [
        "kargo/promotiontask.yaml:68: PromotionTask/promote: spec.steps.6.config.prNumber: the "
        "git-open-pr output prNumber was removed; read the pull request number as "
        "${{ task.outputs['open-pr'].pr.id }} instead"
    ]


def test_kargo_simple_loads_once_fixed(tmp_path: Path) -> None:
    path = _copy("akuity/kargo-simple", tmp_path)
    task = path / "kargo/promotiontask.yaml"
    task.write_text(task.read_text().replace("'open-pr'].prNumber", "'open-pr'].pr.id"))

    project = load_manifests(path).projects["kargo-simple"]
    assert project.stage_order() == ["dev", "staging", "prod"]
    assert project.promotion_tasks["promote"].spec.required_vars == []


def test_kargo_advanced_fails_only_on_allow_tags() -> None:
    path = EXAMPLES / "akuity/kargo-advanced"
    with pytest.raises(ManifestError) as caught:
        load_manifests(path)
    assert all(is_removed_syntax(p) for p in caught.value.problems)
    assert _problems(path) == [
        "kargo/warehouse.yaml:11: Warehouse/guestbook: spec.subscriptions.0.image.allowTags: "
        "allowTags was removed (Kargo v1.11 fails artifact discovery when it is set); write "
        "allowTagsRegexes: ['<regex>'] instead",
    ]


def test_kargo_advanced_loads_once_fixed(tmp_path: Path) -> None:
    path = _copy("akuity/kargo-advanced", tmp_path)
    warehouse = path / "kargo/warehouse.yaml"
    warehouse.write_text(
        warehouse.read_text().replace(
            r"allowTags: ^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$",
            r"allowTagsRegexes: ['^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$']",
        )
    )

    project = load_manifests(path).projects["kargo-advanced"]
    assert project.stage_order() == [
        "dev",
        "staging",
        "ab-test-a",
        "ab-test-b",
        "prod",
        "prod-central",
        "prod-east",
        "prod-west",
    ]
    assert project.stages["prod"].is_control_flow
    image = project.warehouses["guestbook"].spec.subscriptions[0].image
    assert image is not None and image.allow_tags_regexes == [
        r"^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$"
    ]
    assert project.upstream_stages("prod", "guestbook") == ["ab-test-a", "ab-test-b"]
