"""Kargo's expression functions over a Freight collection, and real manifest expressions."""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import kargo_dagster.expressions
from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate, evaluate_template, kargo_functions
from kargo_dagster.freight import Chart, Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.promotion.step import InMemoryMetadataStore

GUESTBOOK = Freight(
    origin=FreightOrigin(name="guestbook"),
    images=(
        Image(
            repo_url="ghcr.io/akuity/guestbook",
            tag="v0.0.1",
            digest="sha256:0f3d",
            annotations={"org.opencontainers.image.source": "https://github.com/akuity/g"},
        ),
    ),
    commits=(
        GitCommit(
            repo_url="https://github.com/akuity/kargo-demo.git",
            id="abc123",
            branch="main",
            message="Update README",
            author="Ann <ann@example.com>",
        ),
    ),
    charts=(
        Chart(repo_url="https://charts.example.com", name="app", version="1.2.3"),
        Chart(repo_url="oci://ghcr.io/akuity/charts/kargo", version="1.0.0"),
    ),
)
OTHER = Freight(
    origin=FreightOrigin(name="other"),
    images=(Image(repo_url="ghcr.io/akuity/guestbook", tag="v9"),),
    commits=(GitCommit(repo_url="https://github.com/akuity/other", id="def456"),),
)
NOW = datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)


def variables(
    collection: dict[str, Freight] | None = None,
    statuses: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    metadata = InMemoryMetadataStore()
    metadata.update_stage_metadata("test", {"lastPromotedAt": "2025-01-01"})
    metadata.update_freight_metadata(GUESTBOOK.id, {"approved": True})
    functions = kargo_functions(
        collection={"guestbook": GUESTBOOK} if collection is None else collection,
        target_origin="guestbook",
        metadata=metadata,
        statuses=statuses or {},
        project="demo",
        now=lambda: NOW,
        continue_on_error={"flaky"},
    )
    return {
        "ctx": {
            "project": "demo",
            "stage": "test",
            "promotion": "test.01abc",
            "targetFreight": {"name": GUESTBOOK.id, "alias": "a", "origin": {"name": "guestbook"}},
            "meta": {"promotion": {"actor": "admin"}},
        },
        "vars": {
            "image": "ghcr.io/akuity/guestbook",
            "repoURL": "https://github.com/akuity/kargo-demo",
            "chartRepo": "https://charts.example.com",
            "chartName": "app",
            "openpr": "false",
        },
        "outputs": {"update-image": {"commitMessage": "Updated image"}},
        "task": {"outputs": {"update-image": {"commitMessage": "Updated image"}}},
        **functions,
        **extra,
    }


MANIFEST_EXPRESSIONS = [
    ("${{ imageFrom( vars.image ).Tag }}", "v0.0.1"),
    ("${{ imageFrom(vars.image).Digest }}", "sha256:0f3d"),
    ("${{ imageFrom(vars.image, warehouse('guestbook')).RepoURL }}", "ghcr.io/akuity/guestbook"),
    ("${{ task.outputs['update-image'].commitMessage }}", "Updated image"),
    ("${{ outputs['update-image'].commitMessage }}", "Updated image"),
    ("${{ vars.openpr != 'true' }}", True),
    ("${{ commitFrom(vars.repoURL).ID }}", "abc123"),
    ("${{ commitFrom(vars.repoURL).Message }}", "Update README"),
    ("${{ commitFrom('https://github.com/Akuity/kargo-demo.git').Branch }}", "main"),
    ("${{ chartFrom(vars.chartRepo, vars.chartName).Version }}", "1.2.3"),
    ("${{ chartFrom('oci://ghcr.io/akuity/charts/kargo').Version }}", "1.0.0"),
    ("${{ ctx.project }}-${{ ctx.stage }}", "demo-test"),
    ("${{ now() }}", "2025-01-02T03:04:05.6Z"),
    ("${{ stageMetadata(ctx.stage).lastPromotedAt }}", "2025-01-01"),
    ("${{ stageMetadata('prod') }}", {}),
    ("${{ freightMetadata(ctx.targetFreight.name).approved }}", True),
    ("${{ ctx.meta.promotion.actor }}", "admin"),
    ("${{ imageFrom('nginx') }}", None),
    ("${{ imageFrom('nginx')?.Tag ?? 'latest' }}", "latest"),
    ("${{ 'Tag' in imageFrom(vars.image) }}", True),
    (
        "${{ imageFrom(vars.image) }}",
        {
            "repoURL": "ghcr.io/akuity/guestbook",
            "tag": "v0.0.1",
            "digest": "sha256:0f3d",
            "annotations": {"org.opencontainers.image.source": "https://github.com/akuity/g"},
        },
    ),
    ("${{ warehouse('guestbook') }}", {"kind": "Warehouse", "name": "guestbook"}),
    ("${{ quote(imageFrom(vars.image).Tag) }}", "v0.0.1"),
    ("${{ semverParse('v1.2.3-rc.1+b5').Major() }}", 1),
    ("${{ semverParse('v1.2.3-rc.1+b5').Prerelease() }}", "rc.1"),
    ("${{ semverParse('v1.2.3-rc.1+b5').Metadata() }}", "b5"),
    ("${{ semverParse('v1.2.3-rc.1+b5').Original() }}", "v1.2.3-rc.1+b5"),
    ("${{ semverParse('1.2.3').IncMinor().String() }}", "1.3.0"),
    ("${{ semverParse('v1.2.3').IncMajor().Original() }}", "v2.0.0"),
    ("${{ semverParse('1.2.3-rc.1').IncPatch().String() }}", "1.2.3"),
    ("${{ semverParse('1.2.3').IncPatch().String() }}", "1.2.4"),
    ("${{ semverParse('1.2') }}", "1.2.0"),
    ("${{ semverDiff(imageFrom(vars.image).Tag, '0.0.2') }}", "Patch"),
    ("${{ semverDiff('1.0.0', '2.0.0') }}", "Major"),
    ("${{ semverDiff('1.0.0', '1.1.0') }}", "Minor"),
    ("${{ semverDiff('1.0.0+a', '1.0.0+b') }}", "Metadata"),
    ("${{ semverDiff('1.0.0-rc.1', '1.0.0') }}", "None"),
    ("${{ semverDiff('x', '1.0.0') }}", "Incomparable"),
    ("${{ always() }}", True),
    ("${{ success() }}", True),
    ("${{ failure() }}", False),
    ("${{ status('missing') }}", ""),
]


@pytest.mark.parametrize(("template", "expected"), MANIFEST_EXPRESSIONS)
def test_manifest_expressions(template: str, expected: Any) -> None:
    assert evaluate_template(template, variables()) == expected


def test_member_access_on_results() -> None:
    image = evaluate("imageFrom(vars.image)", variables())
    assert (image.RepoURL, image.Tag) == ("ghcr.io/akuity/guestbook", "v0.0.1")
    assert evaluate("imageFrom(vars.image)['Tag']", variables()) == "v0.0.1"
    with pytest.raises(ExpressionError, match="type ImageRef has no field tag") as caught:
        evaluate("imageFrom(vars.image).tag", variables())
    assert caught.value.position == 22
    with pytest.raises(ExpressionError, match="no field __class__"):
        evaluate("imageFrom(vars.image).__class__", variables())


@pytest.mark.parametrize(
    ("statuses", "success", "failure"),
    [
        ({}, True, False),
        ({"a": "Succeeded", "b": "Skipped"}, True, False),
        ({"a": "Succeeded", "b": "Failed"}, False, True),
        ({"a": "Errored"}, False, True),
        ({"flaky": "Failed"}, True, False),  # continueOnError steps do not count
    ],
)
def test_success_and_failure(statuses: dict[str, str], success: bool, failure: bool) -> None:
    env = variables(statuses=statuses)
    assert evaluate("success()", env) is success
    assert evaluate("failure()", env) is failure
    assert evaluate("always()", env) is True


def test_status_of_an_earlier_step() -> None:
    env = variables(statuses={"clone": "Succeeded", "push": "Errored"})
    assert evaluate("status('clone') == 'Succeeded'", env) is True
    assert evaluate("status('push')", env) == "Errored"


def test_lookups_by_origin_and_ambiguity() -> None:
    env = variables({"guestbook": GUESTBOOK, "other": OTHER})
    assert evaluate("imageFrom(vars.image, warehouse('other')).Tag", env) == "v9"
    assert evaluate("imageFrom(vars.image, warehouse('guestbook')).Tag", env) == "v0.0.1"
    assert evaluate("imageFrom(vars.image, warehouse('nowhere'))", env) is None
    assert evaluate("commitFrom(vars.repoURL).ID", env) == "abc123"  # only one provides it
    with pytest.raises(ExpressionError, match="please provide a Freight origin") as caught:
        evaluate("imageFrom(vars.image).Tag", env)
    assert caught.value.position == 0


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("imageFrom()", "imageFrom: expected 1-2 arguments, got 0"),
        ("imageFrom(1)", "imageFrom: first argument must be string, got int"),
        ("imageFrom(vars.image, 'guestbook')", "second argument must be FreightOrigin"),
        ("chartFrom('https://nowhere')", "chart from repo https://nowhere not found"),
        ("chartFrom(vars.chartRepo, 'zz')", "chart 'zz' from repo"),
        ("chartFrom(vars.chartRepo, warehouse('a'), 'x')", "second argument must be string"),
        ("warehouse('')", "warehouse: name must not be empty"),
        ("semverParse('nope')", "invalid semantic version: 'nope'"),
        ("stageMetadata('')", "stage name must not be empty"),
        ("status('')", "status: argument must not be empty"),
    ],
)
def test_function_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)) as caught:
        evaluate(expression, variables())
    assert caught.value.position == 0
    assert caught.value.expression == expression


def test_default_clock_is_timezone_aware() -> None:
    now = evaluate("now()", kargo_functions(collection={}))
    assert isinstance(now, datetime)
    assert now.tzinfo is not None


def test_no_python_eval_or_exec_in_the_package() -> None:
    package = Path(kargo_dagster.expressions.__file__).parent
    for source in package.glob("*.py"):
        text = source.read_text()
        for forbidden in ("eval(", "exec(", "compile(", "__import__"):
            assert re.search(rf"(?<![\w.]){re.escape(forbidden)}", text) is None, (
                source.name,
                forbidden,
            )
