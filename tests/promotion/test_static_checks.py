"""validate's static checks find what would fail once a promotion has started."""

import json
import shutil
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from kargo_dagster.promotion.builtin import BUILTIN_STEPS
from kargo_dagster.promotion.builtin_kinds import BUILTIN_STEP_KINDS
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.static_checks import check_catalog
from kargo_dagster.spec import load_manifests

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXAMPLES = FIXTURES / "kargo-examples"
DEMO = Path(__file__).parent.parent.parent / "stages"

PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: demo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: demo
spec:
  subscriptions:
  - image:
      repoURL: ghcr.io/acme/app
"""

STAGE = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: demo
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {direct: true}
"""


def _stage(body: str) -> str:
    """The Stage ``dev`` with ``body`` indented under its spec."""
    return STAGE + _indent(body, 2)


def _steps(steps: str, spec: str = "") -> str:
    """The Stage ``dev`` promoting with these ``steps`` (YAML list items), with ``spec``
    (more fields of its spec) before them."""
    return _stage(spec + "promotionTemplate:\n  spec:\n    steps:\n" + _indent(steps, 4))


def _indent(text: str, width: int) -> str:
    return "".join(" " * width + line + "\n" for line in text.splitlines())


Check = Callable[[str], list[str]]


@pytest.fixture
def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Check:
    """Writes the Project, the Warehouse and ``text`` to m.yaml; returns the problems."""
    monkeypatch.chdir(tmp_path)

    def problems(text: str) -> list[str]:
        Path("m.yaml").write_text(PROJECT + text)
        return [str(p) for p in check_catalog(load_manifests("m.yaml"))]

    return problems


@pytest.mark.parametrize(
    "without_untar",
    [
        pytest.param(BUILTIN_STEP_KINDS - {"untar"}, id="names"),
        pytest.param(StepRegistry(s for s in BUILTIN_STEPS if s.name != "untar"), id="registry"),
    ],
)
def test_a_kargo_step_kargo_dagster_does_not_provide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, without_untar: Collection[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(
        PROJECT + _steps("- uses: untar\n  config: {inPath: a.tgz, outPath: out}")
    )

    problems = [str(p) for p in check_catalog(load_manifests("m.yaml"), without_untar)]

    assert problems == [
        "m.yaml:28: Stage/dev: spec.promotionTemplate.spec.steps.0.uses: step kind 'untar' is "
        "a Kargo step that kargo-dagster does not provide, so a promotion would stop at this step"
    ]


def test_every_kargo_step_is_provided(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: http-download\n"
            "  config: {url: 'https://example.com/app.tgz', outPath: app.tgz}\n"
            "- uses: untar\n"
            "  config: {inPath: app.tgz, outPath: app, stripComponents: 1}\n"
            "- uses: oci-download\n"
            "  config: {imageRef: 'oci://ghcr.io/acme/charts/app:1.0.0', outPath: chart.tgz}\n"
            "- uses: oci-push\n"
            "  config: {srcRef: 'ghcr.io/acme/app:v1', destRef: 'ghcr.io/acme/prod/app:v1'}\n"
            "- uses: github-push\n"
            "  config: {path: src, generateTargetBranch: true}\n"
        )
    )

    assert problems == []


def test_a_config_kargo_schema_refuses(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: git-clone\n"
            "  config:\n"
            "    repoUrl: https://git.example.com/app.git\n"
            "    checkout:\n"
            "    - branch: main\n"
            "      path: 3\n"
        )
    )

    assert problems == [
        "m.yaml:29: Stage/dev: spec.promotionTemplate.spec.steps.0.config: Kargo's git-clone "
        "schema: 'repoURL' is a required property",
        "m.yaml:30: Stage/dev: spec.promotionTemplate.spec.steps.0.config.repoUrl: Kargo's "
        "git-clone schema has no field 'repoUrl' here; did you mean 'repoURL'?",
        "m.yaml:33: Stage/dev: spec.promotionTemplate.spec.steps.0.config.checkout.0.path: "
        "Kargo's git-clone schema: 3 is not of type 'string'",
    ]


def test_expressions_stand_for_any_value_the_schema_allows(check: Check) -> None:
    # Whole expressions may become a number, a boolean or a list; the oneOf of git-push
    # depends on what generateTargetBranch gives, and a URL's format on what vars.repo holds.
    problems = check(
        _stage(
            "vars:\n"
            "- {name: repo, value: https://git.example.com/app.git}\n"
            "- {name: attempts, value: '3'}\n"
            "- {name: fresh, value: 'true'}\n"
            "promotionTemplate:\n"
            "  spec:\n"
            "    steps:\n"
            "    - uses: git-clone\n"
            "      config:\n"
            "        repoURL: ${{ vars.repo }}\n"
            "        checkout: \"${{ [{'branch': 'main', 'path': './src'}] }}\"\n"
            "    - uses: git-push\n"
            "      config:\n"
            "        path: ./src\n"
            "        maxAttempts: ${{ vars.attempts }}\n"
            "        generateTargetBranch: ${{ vars.fresh }}\n"
            "        targetBranch: env/${{ ctx.stage }}\n"
        )
    )

    assert problems == []


def test_text_around_an_expression_keeps_it_a_string(check: Check) -> None:
    problems = check(
        _stage(
            "vars:\n"
            "- {name: attempts, value: '3'}\n"
            "promotionTemplate:\n"
            "  spec:\n"
            "    steps:\n"
            "    - uses: git-push\n"
            "      config:\n"
            "        path: ./src\n"
            "        maxAttempts: x${{ vars.attempts }}\n"
        )
    )

    assert problems == [
        "m.yaml:33: Stage/dev: spec.promotionTemplate.spec.steps.0.config.maxAttempts: Kargo's "
        "git-push schema: 'x${{ vars.attempts }}' is a string whatever its expressions give "
        "(there is text around them), but this field must be of type 'integer'"
    ]


def test_an_expression_that_does_not_parse(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: compose-output\n"
            "  config:\n"
            "    tag: ${{ imageFrom('ghcr.io/acme/app').Tag + }}\n"
            "    open: ${{ ctx.stage\n"
        )
    )

    assert problems == [
        "m.yaml:30: Stage/dev: spec.promotionTemplate.spec.steps.0.config.tag: in expression "
        "\"imageFrom('ghcr.io/acme/app').Tag +\" at position 34: unexpected token EOF",
        "m.yaml:31: Stage/dev: spec.promotionTemplate.spec.steps.0.config.open: in expression "
        "'${{ ctx.stage': unclosed expression: expected '}}' but reached end of template",
    ]


def test_an_if_without_an_expression(check: Check) -> None:
    # Text without ${{ }} stays a string, and a step's if needs a boolean.
    problems = check(_steps("- uses: compose-output\n  if: always()\n  config: {a: b}\n"))

    assert problems == [
        "m.yaml:29: Stage/dev: spec.promotionTemplate.spec.steps.0.if: 'always()' is text, not "
        "a boolean; write it as an expression: ${{ always() }}"
    ]


def test_unknown_functions_and_wrong_argument_counts(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: compose-output\n"
            "  config:\n"
            "    a: ${{ imageFrm('ghcr.io/acme/app').Tag }}\n"
            "    b: ${{ configMap('settings', 'key').key }}\n"
            "    c: ${{ imageFrom('ghcr.io/acme/app', warehouse('app'), 3).Tag }}\n"
            "    d: ${{ lower() }}\n"
        )
    )

    assert problems == [
        "m.yaml:30: Stage/dev: spec.promotionTemplate.spec.steps.0.config.a: in expression "
        "\"imageFrm('ghcr.io/acme/app').Tag\" at position 0: unknown function imageFrm(); did "
        "you mean 'imageFrom'?",
        "m.yaml:31: Stage/dev: spec.promotionTemplate.spec.steps.0.config.b: in expression "
        "\"configMap('settings', 'key').key\" at position 0: configMap() takes 1 argument, "
        "not 2",
        "m.yaml:32: Stage/dev: spec.promotionTemplate.spec.steps.0.config.c: in expression "
        "\"imageFrom('ghcr.io/acme/app', warehouse('app'), 3).Tag\" at position 0: imageFrom() "
        "takes 1 to 2 arguments, not 3",
        "m.yaml:33: Stage/dev: spec.promotionTemplate.spec.steps.0.config.d: in expression "
        "'lower()' at position 0: lower() takes 1 argument, not 0",
    ]


def test_data_and_artifact_functions_are_known_and_their_arguments_counted(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: compose-output\n"
            "  if: ${{ secret('creds').token != '' }}\n"
            "  config:\n"
            "    token: ${{ secret('creds').token }}\n"
            "    env: ${{ configMap('settings').env }}\n"
            "    hook: ${{ sharedSecret('slack').url }}\n"
            "    version: ${{ artifactFrom('manifests', warehouse('app'))?.Version ?? 'none' }}\n"
            "    bad1: ${{ sharedSecret('slack', 'url') }}\n"
            "    bad2: ${{ artifactFrom() }}\n",
            spec="vars:\n- {name: region, value: \"${{ sharedConfigMap('defaults').region }}\"}\n",
        )
    )

    where = "Stage/dev: spec.promotionTemplate.spec.steps.0.config"
    assert problems == [
        f"m.yaml:37: {where}.bad1: in expression \"sharedSecret('slack', 'url')\" at position 0: "
        "sharedSecret() takes 1 argument, not 2",
        f"m.yaml:38: {where}.bad2: in expression 'artifactFrom()' at position 0: artifactFrom() "
        "takes 1 to 2 arguments, not 0",
    ]


def test_undefined_vars(check: Check) -> None:
    problems = check(
        _stage(
            "vars:\n"
            "- {name: url, value: '${{ vars.host }}/app.git'}\n"
            "- {name: host, value: https://git.example.com}\n"
            "promotionTemplate:\n"
            "  spec:\n"
            "    steps:\n"
            "    - uses: git-clone\n"
            "      vars:\n"
            "      - {name: path, value: ./src}\n"
            "      config:\n"
            "        repoURL: ${{ vars.url }}\n"
            "        checkout:\n"
            "        - {branch: main, path: '${{ vars.pth }}'}\n"
        )
    )

    assert problems == [
        "m.yaml:26: Stage/dev: spec.vars.0.value: in expression 'vars.host' at position 0: "
        "vars.host is defined after this var, which sees only the vars before it",
        "m.yaml:37: Stage/dev: spec.promotionTemplate.spec.steps.0.config.checkout.0.path: in "
        "expression 'vars.pth' at position 0: vars.pth is not defined in the Stage's vars, the "
        "template's vars or the step's vars; did you mean 'path'?",
    ]


def test_values_an_expression_expects_to_miss_are_not_mistakes(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: compose-output\n"
            "  config:\n"
            "    region: ${{ vars.region ?? 'eu' }}\n"
            "    url: ${{ outputs.probe?.url }}\n"
            "    first: \"${{ let v = vars; filter(['a'], # == 'a')[0] }}\"\n"
        )
    )

    assert problems == []


TASK = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: update
  namespace: demo
spec:
  vars:
  - name: repo
  steps:
  - uses: git-clone
    as: clone
    config:
      repoURL: ${{ vars.repo }}
      checkout:
      - {branch: '${{ vars.branch }}', path: ./out}
  - uses: git-commit
    config:
      path: ./out
      message: ${{ task.outputs.clon.commit }}
"""


def test_task_vars_are_checked_with_each_stage_that_uses_the_task(check: Check) -> None:
    # What only some Stages lack is reported at their task step; what every Stage lacks is
    # the task's mistake, reported once, at the task; so is the task's own text.
    uses = (
        "- task: {name: update}\n"
        "  vars:\n"
        "  - {name: repo, value: https://git.example.com/app.git}\n"
    )
    prod = _steps(uses).replace("name: dev", "name: prod")
    problems = check(
        TASK.replace("- uses: git-commit", "- uses: git-commit\n    if: ${{ vars.push }}")
        + _steps(uses, "vars:\n- {name: branch, value: main}\n")
        + prod
    )

    assert problems == [
        "m.yaml:32: PromotionTask/update: spec.steps.1.if: in expression 'vars.push' at "
        "position 0: vars.push is not defined in the Stage's vars, the template's vars, the "
        "task: step's vars, the task's vars or the step's vars (in every Stage using the "
        "task: dev, prod)",
        "m.yaml:35: PromotionTask/update: spec.steps.1.config.message: in expression "
        "'task.outputs.clon.commit' at position 0: task.outputs.clon: no earlier step of this "
        "task has the alias 'clon'; did you mean 'clone'?",
        "m.yaml:67: Stage/prod: spec.promotionTemplate.spec.steps.0: PromotionTask 'update' "
        "spec.steps.0.config.checkout.0.branch: in expression 'vars.branch' at position 0: "
        "vars.branch is not defined in the Stage's vars, the template's vars, the task: step's "
        "vars, the task's vars or the step's vars",
    ]


def test_outputs_of_steps_that_have_not_run(check: Check) -> None:
    problems = check(
        TASK.replace("task.outputs.clon", "task.outputs.clone")
        + _steps(
            "- task: {name: update}\n"
            "  as: gitops\n"
            "  vars:\n"
            "  - {name: repo, value: https://git.example.com/app.git}\n"
            "  - {name: branch, value: main}\n"
            "- uses: compose-output\n"
            "  if: ${{ outputs.notify.sent }}\n"
            "  config:\n"
            "    commit: ${{ outputs['gitops::step-2'].commit }}\n"
            "    task: ${{ outputs.gitops.commit }}\n"
            "    own: ${{ task.outputs.clone.commit }}\n"
            "- uses: compose-output\n"
            "  as: notify\n"
            "  config:\n"
            "    sent: true\n"
        )
    )

    assert problems == [
        "m.yaml:54: Stage/dev: spec.promotionTemplate.spec.steps.1.if: in expression "
        "'outputs.notify.sent' at position 0: outputs.notify: no earlier step has the alias "
        "'notify'; that step runs after this one",
        "m.yaml:58: Stage/dev: spec.promotionTemplate.spec.steps.1.config.own: in expression "
        "'task.outputs.clone.commit' at position 0: task is not available here: task.outputs "
        "exists only in a PromotionTask's steps; use outputs.<alias> here",
    ]


def test_ctx_fields_the_engine_does_not_provide(check: Check) -> None:
    problems = check(
        _steps(
            "- uses: compose-output\n"
            "  config:\n"
            "    name: ${{ ctx.targetFreight.nmae }}\n"
            "    stage: ${{ stage }}\n"
            "    actor: ${{ ctx.meta.promotion.actor }}\n"
        )
    )

    assert problems == [
        "m.yaml:30: Stage/dev: spec.promotionTemplate.spec.steps.0.config.name: in expression "
        "'ctx.targetFreight.nmae' at position 0: ctx.targetFreight has no field 'nmae' (it has "
        "alias, name, origin); did you mean 'name'?",
        "m.yaml:31: Stage/dev: spec.promotionTemplate.spec.steps.0.config.stage: in expression "
        "'stage' at position 0: unknown variable 'stage'; did you mean 'ctx.stage'?",
    ]


def test_broken_verification_args(check: Check) -> None:
    problems = check(
        _stage(
            "vars:\n"
            "- {name: host, value: app.example.com}\n"
            "verification:\n"
            "  analysisTemplates:\n"
            "  - name: smoke\n"
            "  args:\n"
            "  - {name: url, value: 'https://${{ vars.hst }}/healthz'}\n"
            "  - {name: ok, value: '${{ success() }}'}\n"
            "  - {name: freight, value: '${{ ctx.targetFreight.name }}'}\n"
        )
    )

    assert problems == [
        "m.yaml:31: Stage/dev: spec.verification.args.0.value: in expression 'vars.hst' at "
        "position 0: vars.hst is not defined in the Stage's vars (spec.vars); did you mean "
        "'host'?",
        "m.yaml:32: Stage/dev: spec.verification.args.1.value: in expression 'success()' at "
        "position 0: success() exists only in promotion steps",
        "m.yaml:33: Stage/dev: spec.verification.args.2.value: in expression "
        "'ctx.targetFreight.name' at position 0: ctx has no field 'targetFreight' (it has "
        "project, stage)",
    ]


def test_a_broken_freight_creation_criteria(check: Check) -> None:
    warehouse = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: {name}
  namespace: demo
spec:
  freightCreationCriteria:
    expression: {expression}
  subscriptions:
  - image:
      repoURL: ghcr.io/acme/{name}
"""
    criteria = {
        "api": "imageFrom('ghcr.io/acme/api', warehouse('api')).Tag != ''",
        "web": "'${{ imageFrom(\"ghcr.io/acme/web\").Tag }}' != ''",
        "db": "imageFrom('ghcr.io/acme/db').Tag matches",
    }
    problems = check(
        "".join(
            warehouse.replace("{name}", name).replace("{expression}", json.dumps(expression))
            for name, expression in criteria.items()
        )
    )

    assert problems == [
        "m.yaml:23: Warehouse/api: spec.freightCreationCriteria.expression: in expression "
        "\"imageFrom('ghcr.io/acme/api', warehouse('api')).Tag != ''\" at position 0: "
        "imageFrom() takes 1 argument, not 2",
        "m.yaml:23: Warehouse/api: spec.freightCreationCriteria.expression: in expression "
        "\"imageFrom('ghcr.io/acme/api', warehouse('api')).Tag != ''\" at position 30: "
        "unknown function warehouse()",
        "m.yaml:35: Warehouse/web: spec.freightCreationCriteria.expression: "
        "freightCreationCriteria.expression is plain expr, evaluated as it is: write it "
        "without ${{ }}",
        "m.yaml:47: Warehouse/db: spec.freightCreationCriteria.expression: in expression "
        "\"imageFrom('ghcr.io/acme/db').Tag matches\" at position 39: unexpected token EOF",
    ]


# Kargo's examples that use syntax Kargo removed load once it is rewritten, as they must be.
REWRITTEN = {
    "akuity/kargo-simple": ("kargo/promotiontask.yaml", "'open-pr'].prNumber", "'open-pr'].pr.id"),
    "akuity/kargo-advanced": (
        "kargo/warehouse.yaml",
        r"allowTags: ^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$",
        r"allowTagsRegexes: ['^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$']",
    ),
}
MANIFESTS = {
    **{example: EXAMPLES / example for example in REWRITTEN},
    "chart-n-image": EXAMPLES
    / "krancour/kargo-examples/01-argocd-driven/02-helm-driven/03-chart-n-image",
    "soak-time": EXAMPLES / "krancour/kargo-examples/03-features/v1.10.0/02-soak-time",
    "shop": FIXTURES / "pipelines/shop",
    "analysis": FIXTURES / "analysis",
    "demo": DEMO,
}


@pytest.mark.parametrize("name", list(MANIFESTS))
def test_the_fixtures_and_the_demo_pass_clean(name: str, tmp_path: Path) -> None:
    path = MANIFESTS[name]
    if name in REWRITTEN:
        file, old, new = REWRITTEN[name]
        path = shutil.copytree(path, tmp_path / name)
        manifest = path / file
        manifest.write_text(manifest.read_text().replace(old, new))

    assert [str(p) for p in check_catalog(load_manifests(path))] == []
