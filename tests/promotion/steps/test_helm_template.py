"""``helm-template`` against the real helm from .tools/bin, on a chart the test writes."""

from dataclasses import replace
from pathlib import Path

import pytest

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext, ToolPaths
from kargo_dagster.promotion.steps.helm.template import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors, write

TOOLS = Path(__file__).parents[3] / ".tools" / "bin"

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
  namespace: {{ .Release.Namespace }}
data:
  tag: {{ .Values.image.tag | quote }}
  replicas: {{ .Values.replicas | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
"""
HOOK = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install
spec: {}
"""
TEST_HOOK = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-smoke
  annotations:
    helm.sh/hook: test
spec: {}
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
"""


def context(tmp_path: Path) -> StepContext:
    """A work directory holding chart ``charts/demo``; fails when helm is not installed."""
    if not (TOOLS / "helm").is_file():
        pytest.fail(f"helm missing from {TOOLS}: run scripts/install-tools")
    ctx = replace(make_ctx(tmp_path), tools=ToolPaths(helm=str(TOOLS / "helm")))
    chart = ctx.work_dir / "charts/demo"
    write(chart / "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    write(chart / "values.yaml", "image:\n  tag: '1.0'\nreplicas: 1\n")
    write(chart / "templates/settings.yaml", CONFIG_MAP)
    write(chart / "templates/migrate.yaml", HOOK)
    write(chart / "templates/smoke.yaml", TEST_HOOK)
    write(chart / "crds/widgets.yaml", CRD)
    write(ctx.work_dir / "env/dev.yaml", "replicas: 3\nimage:\n  tag: '2.0'\n")
    return ctx


def render(ctx: StepContext, **config) -> None:
    base = {"path": "charts/demo", "releaseName": "web", "outPath": "out/web.yaml"}
    STEP.run(ctx, Config.model_validate({**base, **config}))


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        (
            {"path": "c", "outPath": "o"},
            [("", "'releaseName' is a required property")],
        ),
        (
            {"path": "c", "outPath": "o", "releaseName": "r", "outLayout": "tree"},
            [("outLayout", "'tree' is not one of ['helm', 'flat']")],
        ),
        (
            {"path": "c", "outPath": "o", "releaseName": "r", "setValues": [{"key": "a"}]},
            [("setValues/0", "'value' is a required property")],
        ),
        (
            {"path": "c", "outPath": "o", "releaseName": "r", "valuesFiles": [""]},
            [("valuesFiles/0", "'' should be non-empty")],
        ),
    ],
)
def test_invalid_configs(config, errors):
    assert schema_errors("helm-template", config) == errors


def test_renders_into_one_file_with_values_in_order(tmp_path):
    ctx = context(tmp_path)
    render(
        ctx,
        valuesFiles=["env/dev.yaml"],
        setValues=[{"key": "image.tag", "value": "3.0"}],
        kubeVersion="1.29.0",
        apiVersions=["example.com/v1"],
    )
    text = (ctx.work_dir / "out/web.yaml").read_text()
    assert text.startswith("---\n# Source: demo/templates/settings.yaml\n")
    assert "  name: web-settings\n  namespace: demo\n" in text  # the Project by default
    assert 'tag: "3.0"' in text and 'replicas: "3"' in text
    assert 'kube: "v1.29.0"' in text and 'widgets: "true"' in text
    assert "# Source: demo/templates/migrate.yaml\n" in text
    assert "web-smoke" in text
    assert "CustomResourceDefinition" not in text


@pytest.mark.parametrize(
    ("options", "present", "absent"),
    [
        ({"skipTests": True}, ["web-migrate"], ["web-smoke"]),
        ({"disableHooks": True}, [], ["web-migrate", "web-smoke"]),
        ({"includeCRDs": True}, ["widgets.example.com"], []),
        ({"namespace": "apps"}, ["namespace: apps"], ["namespace: demo"]),
    ],
)
def test_flags(tmp_path, options, present, absent):
    ctx = context(tmp_path)
    render(ctx, **options)
    text = (ctx.work_dir / "out/web.yaml").read_text()
    for expected in present:
        assert expected in text
    for unexpected in absent:
        assert unexpected not in text


def test_literal_set_values_are_not_parsed(tmp_path):
    ctx = context(tmp_path)
    render(ctx, setValues=[{"key": "image.tag", "value": "a,b", "literal": True}])
    assert 'tag: "a,b"' in (ctx.work_dir / "out/web.yaml").read_text()


def test_helm_layout_writes_helms_output_directory(tmp_path):
    ctx = context(tmp_path)
    render(ctx, outPath="out", skipTests=True)
    files = sorted(
        p.relative_to(ctx.work_dir / "out").as_posix()
        for p in (ctx.work_dir / "out").rglob("*.yaml")
    )
    assert files == ["demo/templates/migrate.yaml", "demo/templates/settings.yaml"]


def test_helm_layout_can_use_the_release_name(tmp_path):
    ctx = context(tmp_path)
    render(ctx, outPath="out", useReleaseName=True, disableHooks=True)
    assert (ctx.work_dir / "out/web/demo/templates/settings.yaml").is_file()


def test_flat_layout_writes_one_file_per_resource(tmp_path):
    ctx = context(tmp_path)
    render(ctx, outPath="out", outLayout="flat", skipTests=True)
    out = ctx.work_dir / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "batch-job-web-migrate.yaml",
        "configmap-demo-web-settings.yaml",
    ]
    settings = (out / "configmap-demo-web-settings.yaml").read_text()
    assert settings.startswith("# Source: demo/templates/settings.yaml\napiVersion: v1\n")
    assert not settings.endswith("\n")
    assert (out / "batch-job-web-migrate.yaml").read_text().startswith("apiVersion: batch/v1\n")


def test_missing_values_files_fail_unless_ignored(tmp_path):
    ctx = context(tmp_path)
    with pytest.raises(TerminalStepError, match=r"values file 'env/prod\.yaml' does not exist"):
        render(ctx, valuesFiles=["env/prod.yaml"])
    render(ctx, valuesFiles=["env/prod.yaml", "env/dev.yaml"], ignoreMissingValueFiles=True)
    assert 'replicas: "3"' in (ctx.work_dir / "out/web.yaml").read_text()


def test_a_missing_chart_is_named(tmp_path):
    ctx = context(tmp_path)
    with pytest.raises(TerminalStepError, match="charts/nothing: no Helm chart there"):
        render(ctx, path="charts/nothing")


def test_missing_helm_names_the_tool_and_how_to_install_it(tmp_path, monkeypatch):
    ctx = replace(context(tmp_path), tools=ToolPaths())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TerminalStepError, match=r"helm is needed.*scripts/install-tools"):
        render(ctx)


def test_builds_local_dependencies_first(tmp_path):
    ctx = context(tmp_path)
    library = ctx.work_dir / "charts/library"
    write(library / "Chart.yaml", "apiVersion: v2\nname: library\nversion: 1.2.3\n")
    write(
        library / "templates/shared.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
    )
    write(
        ctx.work_dir / "charts/demo/Chart.yaml",
        "apiVersion: v2\nname: demo\nversion: 0.1.0\ndependencies:\n"
        "- name: library\n  version: 1.2.3\n  repository: file://../library\n",
    )
    with pytest.raises(RetryableStepError, match="missing in charts/ directory"):
        render(ctx)
    render(ctx, buildDependencies=True)
    assert "name: shared" in (ctx.work_dir / "out/web.yaml").read_text()
    assert (ctx.work_dir / "charts/demo/charts/library-1.2.3.tgz").is_file()


def test_a_configured_helm_that_does_not_exist_is_named(tmp_path):
    ctx = replace(context(tmp_path), tools=ToolPaths(helm=str(tmp_path / "no-helm")))
    with pytest.raises(TerminalStepError, match=r"configured helm program .*no-helm"):
        render(ctx)
