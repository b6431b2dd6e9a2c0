"""Materializing a Stage partition runs its promotion steps against a real GitOps repository."""

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.defs.promotions import failure_message, promote

MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: shop
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: shop
spec:
  subscriptions:
  - image:
      repoURL: registry.example.com/shop/app
---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: update-image
  namespace: shop
spec:
  vars:
  - name: gitopsRepo
    value: {gitops}
  - name: image
    value: registry.example.com/shop/app
  steps:
  - uses: git-clone
    config:
      repoURL: ${{{{ vars.gitopsRepo }}}}
      checkout:
      - branch: main
        path: ./repo
  - uses: kustomize-set-image
    as: update
    config:
      path: ./repo/env/${{{{ ctx.stage }}}}
      images:
      - image: ${{{{ vars.image }}}}
        tag: ${{{{ {tag_expression} }}}}
  - uses: git-commit
    as: commit
    config:
      path: ./repo
      message: ${{{{ task.outputs.update.commitMessage }}}}
  - uses: git-push
    config:
      path: ./repo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: shop
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - task:
          name: update-image
"""
DEV = dg.AssetKey(["shop", "stage", "dev"])
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"


@pytest.fixture
def gitops(tmp_path: Path):
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes, "gitops")
    remote.commit("overlays", {"env/dev/kustomization.yaml": KUSTOMIZATION})
    with GitHTTPServer(remotes) as server:
        yield remote, server.url_for(remote)


def definitions(tmp_path: Path, gitops_url: str, tag_expression: str) -> dg.Definitions:
    folder = tmp_path / "stages"
    folder.mkdir(exist_ok=True)
    (folder / "shop.yaml").write_text(
        MANIFESTS.format(gitops=gitops_url, tag_expression=tag_expression)
    )
    kargo = KargoResource(work_dir=str(tmp_path / "work"))
    return load_definitions(folder, resources={"kargo": kargo})


def freight(tag: str) -> Freight:
    return Freight(
        origin=FreightOrigin(name="app"),
        images=(
            Image(repo_url="registry.example.com/shop/app", tag=tag, digest="sha256:" + "1" * 64),
        ),
    )


def show(remote: GitRemote, what: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote.git_dir), *what.split()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_promotion_updates_the_gitops_repository(tmp_path, gitops, instance):
    remote, url = gitops
    defs = definitions(tmp_path, url, "imageFrom(vars.image).Tag")
    key = record_freight(instance, "shop", freight("v1.2.3"))
    result = promote(defs, instance, DEV, key)
    assert result.success, failure_message(result)

    kustomization = show(remote, "show main:env/dev/kustomization.yaml")
    assert "- name: registry.example.com/shop/app\n  newTag: v1.2.3\n" in kustomization
    assert show(remote, "log -1 --format=%s main") == (
        "Updated ./repo/env/dev/kustomization.yaml to use new image\n"
    )
    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    steps = metadata["steps"].value.records  # type: ignore[union-attr]
    assert [(r.data["alias"], r.data["status"]) for r in steps] == [
        ("task-1::step-1", "Succeeded"),
        ("task-1::update", "Succeeded"),
        ("task-1::commit", "Succeeded"),
        ("task-1::step-4", "Succeeded"),
    ]


def test_a_broken_expression_names_the_step_and_field(tmp_path, gitops, instance):
    _, url = gitops
    defs = definitions(tmp_path, url, "imageFrom(vars.image).Tagg")
    key = record_freight(instance, "shop", freight("v1.2.3"))
    result = promote(defs, instance, DEV, key)
    assert not result.success
    message = failure_message(result)
    assert message.startswith(
        f"Promotion of {key} into Stage dev errored: step 'task-1::update' "
        "(kustomize-set-image): config.images.0.tag: type ImageRef has no field Tagg"
    )
    assert not instance.fetch_materializations(DEV, limit=1).records
