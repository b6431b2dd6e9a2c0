"""kargo-simple's own PromotionTask, run end to end against a local copy of its repository."""

import subprocess

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.defs.kargo_simple import IMAGE, OVERLAY, local_copy
from tests.defs.promotions import failure_message, promote


def test_the_kargo_simple_task_promotes_into_dev(tmp_path, instance):
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes, "kargo-simple")
    remote.commit("layout", {f"env/{s}/kustomization.yaml": OVERLAY for s in ("dev", "staging")})
    with GitHTTPServer(remotes) as server:
        manifests = local_copy(tmp_path, server.url_for(remote))
        defs = load_definitions(
            manifests, resources={"kargo": KargoResource(work_dir=str(tmp_path / "work"))}
        )
        freight = Freight(
            origin=FreightOrigin(name="guestbook"),
            images=(Image(repo_url=IMAGE, tag="v0.0.2", digest="sha256:" + "2" * 64),),
        )
        key = record_freight(instance, "kargo-simple", freight)
        result = promote(defs, instance, dg.AssetKey(["kargo-simple", "stage", "dev"]), key)
    assert result.success, failure_message(result)
    overlay = subprocess.run(
        ["git", "--git-dir", str(remote.git_dir), "show", "main:env/dev/kustomization.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"- name: {IMAGE}\n  newTag: v0.0.2\n" in overlay
    [materialization] = result.get_asset_materialization_events()
    steps = materialization.materialization.metadata["steps"].value.records  # type: ignore[union-attr]
    # The pull-request steps are skipped: openpr is "false" for dev.
    assert [(r.data["uses"], r.data["status"]) for r in steps] == [
        ("git-clone", "Succeeded"),
        ("kustomize-set-image", "Succeeded"),
        ("git-commit", "Succeeded"),
        ("git-push", "Succeeded"),
        ("git-push", "Skipped"),
        ("git-open-pr", "Skipped"),
        ("git-wait-for-pr", "Skipped"),
    ]
    # What the commit changed is on the materialization for review.
    changes = materialization.materialization.metadata["changes"].value
    assert "| `env/dev/kustomization.yaml` |" in changes  # type: ignore[operator]
    assert f"+- name: {IMAGE}\n" in changes  # type: ignore[operator]
