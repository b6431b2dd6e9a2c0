"""kargo-advanced's own PromotionTask, run end to end: a local copy of its repository (a
kustomize base with an overlay per Stage, rendered into ``env/<stage>`` branches), and Argo
CD's ``guestbook-dev`` Application on the fake Kubernetes API server, synced by the Argo CD
simulator from that repository."""

import shutil
import subprocess
from pathlib import Path

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import ArgoCDKubernetes, ArgoCDSettings, KargoResource
from kargo_dagster.freight import Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator, application
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.kube_api import FakeKubeAPI
from tests.conftest import FIXTURES
from tests.defs.promotions import failure_message, promote

EXAMPLE = FIXTURES / "kargo-examples" / "akuity" / "kargo-advanced"
UPSTREAM = "https://github.com/akuity/kargo-advanced.git"
IMAGE = "ghcr.io/akuity/guestbook"
TOOLS = Path(__file__).parents[2] / ".tools" / "bin"

# The repository's layout, as kargo-advanced has it: a base and one overlay per Stage.
BASE = {
    "base/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n- deployment.yaml\n- service.yaml\n"
    ),
    "base/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: guestbook\nspec:\n"
        "  selector:\n    matchLabels:\n      app: guestbook\n  template:\n    metadata:\n"
        "      labels:\n        app: guestbook\n    spec:\n      containers:\n"
        f"      - name: guestbook\n        image: {IMAGE}\n"
    ),
    "base/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook\nspec:\n"
        "  selector:\n    app: guestbook\n  ports:\n  - port: 80\n"
    ),
}
OVERLAY = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "namespace: kargo-advanced-{stage}\nresources:\n- ../../base\n"
)


def local_copy(tmp_path: Path, repo_url: str) -> Path:
    """The example pointed at ``repo_url``, its removed ``allowTags`` written as Kargo v1.11
    spells it."""
    copy = tmp_path / "kargo-advanced"
    shutil.copytree(EXAMPLE, copy)
    for name in ("promotiontasks.yaml", "warehouse.yaml"):
        path = copy / "kargo" / name
        path.write_text(path.read_text().replace(UPSTREAM, repo_url))
    warehouse = copy / "kargo" / "warehouse.yaml"
    text = warehouse.read_text()
    allow = "allowTags: ^v?[0-9]+\\.[0-9]+\\.[0-9]+([\\+-].*)?$"
    assert allow in text
    warehouse.write_text(
        text.replace(allow, "allowTagsRegexes:\n      - ^v?[0-9]+\\.[0-9]+\\.[0-9]+([\\+-].*)?$")
    )
    return copy


def repository(tmp_path: Path) -> tuple[Path, GitRemote, str]:
    """The remotes' root, the repository with its manifests on main, and main's commit."""
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes, "kargo-advanced")
    overlay = {"env/dev/kustomization.yaml": OVERLAY.format(stage="dev")}
    return remotes, remote, remote.commit("guestbook manifests", {**BASE, **overlay})


def guestbook(repo_url: str, commit: str, tag: str) -> Freight:
    """Freight as the Warehouse would find it: the image and the repository's commit."""
    return Freight(
        origin=FreightOrigin(name="guestbook"),
        images=(Image(repo_url=IMAGE, tag=tag, digest="sha256:" + tag[-1] * 64),),
        commits=(GitCommit(repo_url=repo_url, id=commit, branch="main"),),
    )


def git_show(remote: GitRemote, revision: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote.git_dir), "show", revision],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_kargo_advanced_task_promotes_into_dev_and_syncs_argo_cd(tmp_path, instance):
    remotes, remote, source_commit = repository(tmp_path)
    with GitHTTPServer(remotes) as git_server, FakeKubeAPI() as kube:
        repo_url = git_server.url_for(remote)
        # Argo CD deploys the rendered branch, which the first promotion creates.
        kube.add(
            application(
                "guestbook-dev",
                repo_url,
                "env/dev",
                destination_namespace="kargo-advanced-dev",
                authorized_stage="kargo-advanced:dev",
            )
        )
        argocd = ArgoCDSimulator(kube)
        resources = {
            "kargo": KargoResource(
                work_dir=str(tmp_path / "work"),
                kubectl=str(TOOLS / "kubectl"),
                argocd=ArgoCDSettings(
                    kubernetes=ArgoCDKubernetes(host=kube.url), poll_interval_seconds=0.05
                ),
            )
        }
        defs = load_definitions(local_copy(tmp_path, repo_url), resources=resources)
        key = record_freight(
            instance, "kargo-advanced", guestbook(repo_url, source_commit, "v0.0.2")
        )
        with argocd.running():
            result = promote(defs, instance, dg.AssetKey(["kargo-advanced", "stage", "dev"]), key)
        app = kube.get("argoproj.io/v1alpha1", "Application", "argocd", "guestbook-dev")
    assert result.success, failure_message(result)

    # The rendered branch holds the built manifests with the promoted image.
    rendered = remote.rev("env/dev")
    listing = git_show(remote, "env/dev:").split()
    assert listing[-2:] == [
        "kargo-advanced-dev-deployment-guestbook.yaml",
        "kargo-advanced-dev-service-guestbook.yaml",
    ]
    deployment = git_show(remote, "env/dev:kargo-advanced-dev-deployment-guestbook.yaml")
    assert f"- image: {IMAGE}:v0.0.2\n" in deployment

    # Argo CD was asked to sync, and synced the pushed commit.
    operation = app["status"]["operationState"]
    assert operation["phase"] == "Succeeded"
    assert operation["syncResult"]["revision"] == rendered
    [promotion] = [
        i["value"]
        for i in operation["operation"]["info"]
        if i["name"] == "kargo.akuity.io/promotion"
    ]
    assert promotion.startswith(f"dev.{result.run_id[:8]}.")
    assert app["status"]["sync"] == {**app["status"]["sync"], "status": "Synced"}

    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    steps = metadata["steps"].value.records  # type: ignore[union-attr]
    assert [(r.data["uses"], r.data["status"]) for r in steps] == [
        ("git-clone", "Succeeded"),
        ("git-clear", "Succeeded"),
        ("kustomize-set-image", "Succeeded"),
        ("kustomize-build", "Succeeded"),
        ("git-commit", "Succeeded"),
        ("git-push", "Succeeded"),
        ("argocd-update", "Succeeded"),
    ]
    # What the health check will look at: the app and the commit it must be at.
    assert metadata["healthChecks"].value == [  # type: ignore[union-attr]
        {
            "kind": "argocd-update",
            "apps": [
                {"name": "guestbook-dev", "namespace": "argocd", "desiredRevisions": [rendered]}
            ],
        }
    ]


def test_without_an_argo_cd_connection_the_promotion_says_what_it_tried(
    tmp_path, instance, monkeypatch
):
    # Nothing in Kargo's chain: no $KUBECONFIG, not in a pod, no ~/.kube/config.
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    remotes, remote, source_commit = repository(tmp_path)
    with GitHTTPServer(remotes) as git_server:
        repo_url = git_server.url_for(remote)
        kargo = KargoResource(work_dir=str(tmp_path / "work"), kubectl=str(TOOLS / "kubectl"))
        defs = load_definitions(local_copy(tmp_path, repo_url), resources={"kargo": kargo})
        key = record_freight(
            instance, "kargo-advanced", guestbook(repo_url, source_commit, "v0.0.3")
        )
        result = promote(defs, instance, dg.AssetKey(["kargo-advanced", "stage", "dev"]), key)
    assert not result.success
    assert (
        "no connection to the Kubernetes API where Argo CD runs is configured; tried "
        "KargoResource.argocd.kubernetes.host and .kubeconfig (not set), $KUBECONFIG (not set), "
        "the pod's service account (not in a Kubernetes pod: $KUBERNETES_SERVICE_HOST is unset), "
        f"{tmp_path / 'home' / '.kube' / 'config'} (no such file)"
    ) in failure_message(result)
