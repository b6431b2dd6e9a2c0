"""Removed Kargo syntax is rejected with the replacement named."""

from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.spec import is_removed_syntax, load_manifests
from tests.spec.manifests import PROJECT, WAREHOUSE, join, problems, stage, write


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        (
            "  - image:\n      repoURL: nginx\n      semverConstraint: ^1.0.0\n",
            "a.yaml:17: Warehouse/app: spec.subscriptions.1.image.semverConstraint: "
            "semverConstraint was removed from image subscriptions in Kargo v1.9; write "
            "constraint: <semver range> instead",
        ),
        (
            "  - image:\n      repoURL: nginx\n      allowTags: ^v1\n",
            "a.yaml:17: Warehouse/app: spec.subscriptions.1.image.allowTags: allowTags was "
            "removed (Kargo v1.11 fails artifact discovery when it is set); write "
            "allowTagsRegexes: ['<regex>'] instead",
        ),
        (
            "  - image:\n      repoURL: nginx\n      ignoreTags: [latest]\n",
            "a.yaml:17: Warehouse/app: spec.subscriptions.1.image.ignoreTags: ignoreTags was "
            "removed (Kargo v1.11 fails artifact discovery when it is set); write "
            "ignoreTagsRegexes: ['^<tag>$', ...] instead",
        ),
        (
            "  - git:\n      repoURL: https://x/y.git\n      allowTags: ^v1\n",
            "a.yaml:17: Warehouse/app: spec.subscriptions.1.git.allowTags: allowTags was "
            "removed (Kargo v1.11 fails artifact discovery when it is set); write "
            "allowTagsRegexes: ['<regex>'] instead",
        ),
        (
            "  - git:\n      repoURL: https://x/y.git\n      ignoreTags: [v1]\n",
            "a.yaml:17: Warehouse/app: spec.subscriptions.1.git.ignoreTags: ignoreTags was "
            "removed (Kargo v1.11 fails artifact discovery when it is set); write "
            "ignoreTagsRegexes: ['^<tag>$', ...] instead",
        ),
    ],
)
def test_removed_subscription_fields(here: Path, subscription: str, expected: str) -> None:
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE + subscription, stage("dev"))})
    assert found == [expected]


def test_project_spec(here: Path) -> None:
    text = PROJECT + "spec:\n  promotionPolicies: []\n"
    found = problems(here, {"a.yaml": join(text, WAREHOUSE, stage("dev"))})
    assert found == [
        "a.yaml:5: Project/demo: spec: Project spec was removed in Kargo v1.7; move "
        "promotionPolicies to a ProjectConfig with the Project's name, in the Project's namespace"
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "- uses: helm-update-image\n  config: {}",
            "a.yaml:31: Stage/dev: spec.promotionTemplate.spec.steps.0.uses: helm-update-image "
            "was removed in Kargo v1.3; use yaml-update (or helm-template setValues) with "
            "${{ imageFrom(<repo>).Tag }} instead",
        ),
        (
            "- uses: argocd-update\n  config:\n    apps:\n    - name: a\n      sources:\n"
            "      - repoURL: x\n        desiredCommitFromStep: commit",
            "a.yaml:37: Stage/dev: spec.promotionTemplate.spec.steps.0.config.apps.0.sources.0."
            "desiredCommitFromStep: desiredCommitFromStep was removed; write desiredCommit: "
            "${{ outputs.<alias>.<output> }} instead",
        ),
        (
            "- uses: git-commit\n  config:\n    path: ./out\n    messageFromSteps: [update]",
            "a.yaml:34: Stage/dev: spec.promotionTemplate.spec.steps.0.config.messageFromSteps: "
            "messageFromSteps was removed; write message: ${{ outputs.<alias>.commitMessage }} "
            "instead",
        ),
    ],
)
def test_removed_step_syntax(here: Path, steps: str, expected: str) -> None:
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps))})
    assert found == [expected]


OPEN_PR = "- uses: git-open-pr\n  as: open-pr\n  config: {repoURL: x, sourceBranch: b}\n"


@pytest.mark.parametrize(
    ("expression", "prefix"),
    [
        ("${{ outputs['open-pr'].prNumber }}", "outputs"),
        ('${{ outputs["open-pr"].prNumber }}', "outputs"),
        ("${{ outputs.open-pr.prNumber }}", "outputs"),
        ("${{ task.outputs.open-pr.prNumber }}", "task.outputs"),
        ("${{ task.outputs['open-pr']['prNumber'] }}", "task.outputs"),
    ],
)
def test_pr_number_output(here: Path, expression: str, prefix: str) -> None:
    steps = OPEN_PR + f"- uses: git-wait-for-pr\n  config:\n    prNumber: {expression}"
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps))})
    assert found == [
        "a.yaml:36: Stage/dev: spec.promotionTemplate.spec.steps.1.config.prNumber: the "
        "git-open-pr output prNumber was removed; read the pull request number as "
        f"${{{{ {prefix}['open-pr'].pr.id }}}} instead"
    ]


def test_pr_number_in_vars_and_if(here: Path) -> None:
    steps = (
        OPEN_PR + "- uses: fail\n  if: ${{ outputs['open-pr'].prNumber > 0 }}\n  vars:\n"
        "  - name: pr\n    value: ${{ outputs['open-pr'].prNumber }}"
    )
    found = problems(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps))})
    assert [line.split(": ")[2] for line in found] == [
        "spec.promotionTemplate.spec.steps.1.if",
        "spec.promotionTemplate.spec.steps.1.vars.0.value",
    ]


def test_pr_number_of_other_steps_is_fine(here: Path) -> None:
    # A compose-output step may legitimately output a key named prNumber.
    steps = (
        OPEN_PR + "- uses: compose-output\n  as: out\n  config:\n"
        "    prNumber: ${{ outputs['open-pr'].pr.id }}\n"
        "- uses: git-wait-for-pr\n  config:\n    prNumber: ${{ outputs.out.prNumber }}"
    )
    write(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps))})
    assert list(load_manifests(".").projects["demo"].stages) == ["dev"]


def test_is_removed_syntax(here: Path) -> None:
    text = WAREHOUSE + "  - image:\n      repoURL: nginx\n      allowTags: x\n      colour: red\n"
    write(here, {"a.yaml": join(PROJECT, text, stage("dev"))})
    with pytest.raises(ManifestError) as caught:
        load_manifests(".")
    assert [is_removed_syntax(p) for p in caught.value.problems] == [True, False]
