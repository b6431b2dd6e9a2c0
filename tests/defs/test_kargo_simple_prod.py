"""kargo-simple's prod path end to end: its own PromotionTask pushes to a generated branch,
opens a pull request on GitHub and waits for it to be merged.

GitHub is the local GitHub API (``GitProviderAPI``), serving the API and the repository on
one host as github.com does, with auto-merge on: every pull request is merged into the real
bare repository as soon as it is opened, as a reviewer approving at once would.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource, RepositoryCredentials
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_provider_api import GitProviderAPI
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.defs.kargo_simple import IMAGE, OVERLAY, local_copy
from tests.defs.promotions import failure_message, promote

TOKEN = "ghp_kargo-simple-fake-token"
REPOSITORY = "akuity/kargo-simple"
PR_STEPS = ("git-open-pr", "git-wait-for-pr")


def prod_ready_copy(tmp_path: Path, repo_url: str) -> Path:
    """The example as a user would adapt it to a GitHub Enterprise-like host of their own.

    ``local_copy`` points the task's ``repoURL`` at ``repo_url``. On github.com the provider
    is inferred from the host; ``127.0.0.1`` names none, so the two pull request steps get
    ``provider: github``, as a user of a GitHub Enterprise host without "github" in its name
    must write. The API base needs no setting: it is derived from the repository URL
    (``<scheme>://<host>/api/v3``), where the local API serves it.
    """
    copy = local_copy(tmp_path, repo_url)
    task_file = copy / "kargo" / "promotiontask.yaml"
    task: dict[str, Any] = yaml.safe_load(task_file.read_text())
    for step in task["spec"]["steps"]:
        if step["uses"] in PR_STEPS:
            step["config"]["provider"] = "github"
    task_file.write_text(yaml.safe_dump(task, sort_keys=False))
    return copy


def recorded(result: dg.ExecuteInProcessResult) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Each step's kind and status, and the steps' outputs, as the materialization shows them."""
    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    records = metadata["steps"].value.records  # type: ignore[union-attr]
    outputs = metadata["outputs"].value
    assert isinstance(outputs, dict)
    return [(r.data["uses"], r.data["status"]) for r in records], outputs


def test_the_kargo_simple_task_promotes_into_prod_through_a_pull_request(
    tmp_path, instance, monkeypatch
):
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes / "akuity", "kargo-simple")
    remote.commit(
        "layout", {f"env/{s}/kustomization.yaml": OVERLAY for s in ("dev", "staging", "prod")}
    )
    with (
        GitHTTPServer(remotes, username="git", password=TOKEN) as git_server,
        GitProviderAPI(token=TOKEN, git_backend=git_server.base_url, auto_merge=True) as github,
    ):
        github.add_repository(REPOSITORY, remote)
        repo_url = github.repo_url(REPOSITORY)
        # The token is the git password and the GitHub API token alike, as in Kargo.
        kargo = KargoResource(
            work_dir=str(tmp_path / "work"),
            credentials=[
                RepositoryCredentials(
                    type="git", repo_url=repo_url, username="git", password=dg.EnvVar("GH_TOKEN")
                )
            ],
            credentials_from_env=False,
        )
        defs = load_definitions(prod_ready_copy(tmp_path, repo_url), resources={"kargo": kargo})
        freight = Freight(
            origin=FreightOrigin(name="guestbook"),
            images=(Image(repo_url=IMAGE, tag="v0.0.3", digest="sha256:" + "3" * 64),),
        )
        key = record_freight(instance, "kargo-simple", freight)
        # prod takes Freight verified in staging, which takes it from dev.
        for stage in ("dev", "staging"):
            result = promote(defs, instance, dg.AssetKey(["kargo-simple", "stage", stage]), key)
            assert result.success, failure_message(result)
        prod = dg.AssetKey(["kargo-simple", "stage", "prod"])
        result = promote(defs, instance, prod, key)
        assert result.success, failure_message(result)
        statuses, outputs = recorded(result)
        assert statuses == [
            ("git-clone", "Succeeded"),
            ("kustomize-set-image", "Succeeded"),
            ("git-commit", "Succeeded"),
            ("git-push", "Skipped"),
            ("git-push", "Succeeded"),
            ("git-open-pr", "Succeeded"),
            ("git-wait-for-pr", "Succeeded"),
        ]
        [pr] = github.pulls.values()
        assert pr.head.startswith("kargo/promotion/prod.") and pr.base == "main"
        assert (pr.title, pr.body) == (
            "Updated ./src/env/prod/kustomization.yaml to use new image",
            f"\n- {IMAGE}:v0.0.3",
        )
        assert outputs["task-1::push"]["branch"] == pr.head
        assert outputs["task-1::open-pr"]["pr"]["id"] == pr.number
        # Merged by the provider in the real repository: main is the merge commit.
        assert pr.state == "merged"
        assert pr.merge_commit_sha == remote.rev("refs/heads/main")
        assert outputs["task-1::wait-for-pr"]["commit"] == pr.merge_commit_sha
        assert f"- name: {IMAGE}\n  newTag: v0.0.3" in remote.git(
            "show", "main:env/prod/kustomization.yaml"
        )

        # The same Freight promoted into prod again: its change is already in main, so
        # there is nothing to commit and the new branch is main's head; the pull request
        # that merged it is the answer, and no second one is opened.
        again = promote(defs, instance, prod, key)
        assert again.success, failure_message(again)
        statuses, outputs = recorded(again)
        assert statuses == [
            ("git-clone", "Succeeded"),
            ("kustomize-set-image", "Succeeded"),
            ("git-commit", "Skipped"),
            ("git-push", "Skipped"),
            ("git-push", "Succeeded"),
            ("git-open-pr", "Succeeded"),
            ("git-wait-for-pr", "Succeeded"),
        ]
        assert list(github.pulls.values()) == [pr]
        assert outputs["task-1::open-pr"]["pr"]["id"] == pr.number
        assert outputs["task-1::push"]["branch"] != pr.head
        assert outputs["task-1::wait-for-pr"]["commit"] == remote.rev("refs/heads/main")
