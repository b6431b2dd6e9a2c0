"""``kustomize-build`` against the real kubectl (kustomize v5) and helm from .tools/bin."""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext, ToolPaths
from kargo_dagster.promotion.steps.kustomize_build import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors, write

TOOLS = Path(__file__).parents[3] / ".tools" / "bin"


def installed_tools() -> ToolPaths:
    """kubectl and helm from .tools/bin; the test fails (never skips) when they are missing."""
    missing = [name for name in ("kubectl", "helm") if not (TOOLS / name).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing from {TOOLS}: run scripts/install-tools")
    return ToolPaths(kubectl=str(TOOLS / "kubectl"), helm=str(TOOLS / "helm"))


def context(tmp_path: Path) -> StepContext:
    ctx = replace(make_ctx(tmp_path), tools=installed_tools())
    write(
        ctx.work_dir / "repo/base/kustomization.yaml",
        "resources:\n- deployment.yaml\n",
    )
    write(
        ctx.work_dir / "repo/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n"
        "  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n",
    )
    write(
        ctx.work_dir / "repo/dev/kustomization.yaml",
        "namespace: dev\nresources:\n- ../base\n- namespace.yaml\n"
        "configMapGenerator:\n- name: settings\n  literals:\n  - greeting=hello\n"
        "  options:\n    disableNameSuffixHash: true\n",
    )
    write(
        ctx.work_dir / "repo/dev/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n",
    )
    return ctx


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        (
            {},
            [("", "'outPath' is a required property"), ("", "'path' is a required property")],
        ),
        ({"path": "", "outPath": "x"}, [("path", "'' should be non-empty")]),
        (
            {"path": "a", "outPath": "b", "outputFormat": "helm"},
            [("outputFormat", "'helm' is not one of ['kargo', 'kustomize']")],
        ),
        (
            {"path": "a", "outPath": "b", "plugin": {"helm": {"apiVersions": [""]}}},
            [("plugin/helm/apiVersions/0", "'' should be non-empty")],
        ),
        (
            {"path": "a", "outPath": "b", "plugin": {"kustomize": {}}},
            [("plugin", "Additional properties are not allowed ('kustomize' was unexpected)")],
        ),
    ],
)
def test_invalid_configs(config, errors):
    assert schema_errors("kustomize-build", config) == errors


def test_builds_into_one_file(tmp_path):
    ctx = context(tmp_path)
    outputs = STEP.run(ctx, Config.model_validate({"path": "repo/dev", "outPath": "out/dev.yaml"}))
    assert outputs == {}
    assert (ctx.work_dir / "out/dev.yaml").read_text() == (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n---\n"
        "apiVersion: v1\ndata:\n  greeting: hello\nkind: ConfigMap\nmetadata:\n"
        "  name: settings\n  namespace: dev\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: dev\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n"
        "        name: app\n"
    )


@pytest.mark.parametrize(
    ("output_format", "names"),
    [
        (None, {"namespace-dev.yaml", "dev-configmap-settings.yaml", "dev-deployment-app.yaml"}),
        (
            "kustomize",
            {"v1_namespace_dev.yaml", "v1_configmap_settings.yaml", "apps_v1_deployment_app.yaml"},
        ),
    ],
)
def test_builds_one_file_per_resource(tmp_path, output_format, names):
    ctx = context(tmp_path)
    config = {"path": "repo/dev", "outPath": "out/dev"}
    if output_format:
        config["outputFormat"] = output_format
    STEP.run(ctx, Config.model_validate(config))
    out = ctx.work_dir / "out/dev"
    assert {p.name for p in out.iterdir()} == names
    deployment = next(p for p in out.iterdir() if "deployment" in p.name)
    assert deployment.read_text() == (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: dev\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n"
        "        name: app\n"
    )


def test_kustomize_format_prefixes_namespaces_when_there_are_several(tmp_path):
    ctx = context(tmp_path)
    write(
        ctx.work_dir / "repo/multi/kustomization.yaml",
        "resources:\n- config.yaml\n",
    )
    write(
        ctx.work_dir / "repo/multi/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: one\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: two\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: c\n",
    )
    config = {"path": "repo/multi", "outPath": "out", "outputFormat": "kustomize"}
    STEP.run(ctx, Config.model_validate(config))
    assert {p.name for p in (ctx.work_dir / "out").iterdir()} == {
        "one_v1_configmap_a.yaml",
        "two_v1_configmap_b.yaml",
        "rbac.authorization.k8s.io_v1_clusterrole_c.yaml",
    }


def test_inflates_helm_charts_with_the_plugin_settings(tmp_path):
    ctx = context(tmp_path)
    chart = ctx.work_dir / "repo/helm/charts/demo"
    write(chart / "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    write(chart / "values.yaml", "")
    write(
        chart / "templates/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
        '  batch: {{ .Capabilities.APIVersions.Has "example.com/v9" | quote }}\n',
    )
    write(
        ctx.work_dir / "repo/helm/kustomization.yaml",
        "helmCharts:\n- name: demo\n  releaseName: demo\n",
    )
    config = {
        "path": "repo/helm",
        "outPath": "out.yaml",
        "plugin": {"helm": {"kubeVersion": "1.29.0", "apiVersions": ["example.com/v9"]}},
    }
    STEP.run(ctx, Config.model_validate(config))
    text = (ctx.work_dir / "out.yaml").read_text()
    assert "kube: v1.29.0" in text
    assert 'batch: "true"' in text


def test_a_broken_kustomization_is_reported_with_kustomizes_reason(tmp_path):
    ctx = context(tmp_path)
    write(ctx.work_dir / "repo/broken/kustomization.yaml", "resources:\n- missing.yaml\n")
    with pytest.raises(RetryableStepError, match=r"build Kustomization repo/broken.*missing\.yaml"):
        STEP.run(ctx, Config.model_validate({"path": "repo/broken", "outPath": "out.yaml"}))


def test_files_outside_the_kustomization_cannot_be_loaded(tmp_path):
    ctx = context(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    write(
        ctx.work_dir / "repo/leak/kustomization.yaml",
        f"configMapGenerator:\n- name: leak\n  files:\n  - {secret}\n",
    )
    with pytest.raises(RetryableStepError, match=r"security|not in or below|restrict"):
        STEP.run(ctx, Config.model_validate({"path": "repo/leak", "outPath": "out.yaml"}))
    assert not (ctx.work_dir / "out.yaml").exists()


def test_paths_must_stay_in_the_work_directory(tmp_path):
    ctx = context(tmp_path)
    with pytest.raises(TerminalStepError, match="leaves the promotion's work directory"):
        STEP.run(ctx, Config.model_validate({"path": "../..", "outPath": "out.yaml"}))


def test_missing_kubectl_names_the_tool_and_how_to_install_it(tmp_path, monkeypatch):
    ctx = replace(context(tmp_path), tools=ToolPaths())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TerminalStepError, match=r"kubectl \(or kustomize\).*scripts/install-tools"):
        STEP.run(ctx, Config.model_validate({"path": "repo/dev", "outPath": "out.yaml"}))


def test_kubectl_is_found_on_path(tmp_path, monkeypatch):
    installed_tools()
    ctx = replace(context(tmp_path), tools=ToolPaths())
    monkeypatch.setenv("PATH", f"{TOOLS}{os.pathsep}/usr/bin")
    STEP.run(ctx, Config.model_validate({"path": "repo/dev", "outPath": "out.yaml"}))
    assert "kind: Deployment" in (ctx.work_dir / "out.yaml").read_text()


def test_kustomize_older_than_v5_is_refused(tmp_path):
    old = tmp_path / "bin" / "kustomize"
    write(old, "#!/bin/sh\necho '{Version:kustomize/v4.5.7 GitCommit:abc}'\n")
    old.chmod(0o755)
    ctx = replace(context(tmp_path), tools=ToolPaths(kustomize=str(old)))
    with pytest.raises(TerminalStepError, match="kustomize v4, but v5 or newer is needed"):
        STEP.run(ctx, Config.model_validate({"path": "repo/dev", "outPath": "out.yaml"}))
