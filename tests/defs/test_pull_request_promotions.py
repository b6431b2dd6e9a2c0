"""A promotion through a pull request on each git provider, run by Dagster.

The Stage commits the Freight's tag to a generated branch, opens a pull request
(``git-open-pr``), merges it through the provider's API (``git-merge-pr``), waits for it
(``git-wait-for-pr``), then clones the merge commit and reads the tag back from it. The
provider is the local provider API in that provider's shapes, serving the real repository on
the same host: merging merges the branches in it, so the later clone sees the merge.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource, RepositoryCredentials
from kargo_dagster.errors import ManifestError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_provider_api import GitProviderAPI
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.defs.promotions import failure_message
from tests.defs.stored_state import everything_stored
from tests.manifests import image_tag, project, requested, stage, step, warehouse, write_manifests

APP = "registry.example.com/shop/app"
TOKEN = "pr-t0ken-planted-4-this-test"
TOKEN_VARIABLE = "KARGO_DAGSTER_TEST_PROVIDER_TOKEN"
REPOSITORY = "acme/gitops"
PROVIDERS = ["gitea", "bitbucket", "azure", "github", "gitlab"]


@dataclass
class Provider:
    name: str
    api: GitProviderAPI
    remote: GitRemote
    url: str


@pytest.fixture(params=PROVIDERS)
def provider(request, tmp_path) -> Iterator[Provider]:
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes / "acme", "gitops")
    remote.commit("values", {"env/prod/values.yaml": "image:\n  tag: v0.0.0\n"})
    with (
        GitHTTPServer(remotes, username="git", password=TOKEN) as git_server,
        GitProviderAPI(token=TOKEN, git_backend=git_server.base_url) as api,
    ):
        api.add_repository(REPOSITORY, remote)
        api.define_labels(REPOSITORY, "kargo")
        yield Provider(request.param, api, remote, api.repo_url(REPOSITORY, request.param))


def aliased(alias: str, uses: str, **config: Any) -> dict[str, Any]:
    return {**step(uses, **config), "as": alias}


def shop(tmp_path: Path, steps: list[dict[str, Any]]) -> Path:
    """Project shop's manifests: Stage prod takes the app's Freight with ``steps``."""
    return write_manifests(
        tmp_path / "shop.yaml",
        project("shop"),
        warehouse("app", "shop", image=APP),
        stage("prod", "shop", requested=[requested("app")], steps=steps),
    )


def definitions(
    tmp_path: Path, p: Provider, monkeypatch: pytest.MonkeyPatch, **pr_config: Any
) -> dg.Definitions:
    """Stage prod promoting through a pull request into ``p``'s repository."""
    pr = {"repoURL": p.url, "provider": p.name, **pr_config}
    number = "${{ outputs['open-pr'].pr.id }}"
    path = shop(
        tmp_path,
        [
            step("git-clone", repoURL=p.url, checkout=[{"branch": "main", "path": "./repo"}]),
            step(
                "yaml-update",
                path="./repo/env/prod/values.yaml",
                updates=[{"key": "image.tag", "value": image_tag(APP)}],
            ),
            step("git-commit", path="./repo", message="Promote " + image_tag(APP)),
            aliased("push", "git-push", path="./repo", generateTargetBranch=True),
            aliased(
                "open-pr",
                "git-open-pr",
                sourceBranch="${{ outputs.push.branch }}",
                targetBranch="main",
                labels=["kargo"],
                **pr,
            ),
            aliased("merge", "git-merge-pr", prNumber=number, **pr),
            aliased("wait", "git-wait-for-pr", prNumber=number, **pr),
            step(
                "git-clone",
                repoURL=p.url,
                checkout=[{"commit": "${{ outputs.wait.commit }}", "path": "./merged"}],
            ),
            aliased(
                "merged-values",
                "yaml-parse",
                path="./merged/env/prod/values.yaml",
                outputs=[{"name": "tag", "fromExpression": "image.tag"}],
            ),
        ],
    )
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    kargo = KargoResource(
        work_dir=str(tmp_path / "work"),
        credentials_from_env=False,
        credentials=[
            RepositoryCredentials(
                type="git", repo_url=p.url, username="git", password=dg.EnvVar(TOKEN_VARIABLE)
            )
        ],
    )
    return load_definitions(path, resources={"kargo": kargo})


def promote(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    digest = "sha256:" + "1" * 64
    freight = Freight(
        origin=FreightOrigin(name="app"), images=(Image(repo_url=APP, tag="v1.2.3", digest=digest),)
    )
    key = record_freight(instance, "shop", freight)
    job = defs.resolve_job_def("shop__promote__prod")
    return job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)


def outputs(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [materialization] = result.get_asset_materialization_events()
    value = materialization.materialization.metadata["outputs"].value
    assert isinstance(value, dict)
    return value


def assert_token_nowhere(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, logged):
    stored = serialize_value(list(result.all_events)) + everything_stored(instance).decode(
        errors="replace"
    )
    assert TOKEN not in stored and TOKEN not in logged


def test_open_merge_and_wait_through_the_provider(
    tmp_path, provider, instance, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    result = promote(definitions(tmp_path, provider, monkeypatch), instance)

    assert result.success, failure_message(result)
    produced = outputs(result)
    [pr] = provider.api.pulls.values()
    assert pr.head == produced["push"]["branch"] and pr.base == "main"
    assert pr.title == "Promote v1.2.3"
    assert pr.labels == ([] if provider.name == "bitbucket" else ["kargo"])
    assert produced["open-pr"]["pr"]["id"] == pr.number
    # Merged in the real repository, and the merge commit is what a later clone sees.
    assert pr.state == "merged"
    assert produced["merge"]["commit"] == pr.merge_commit_sha == provider.remote.rev("main")
    assert produced["wait"]["commit"] == pr.merge_commit_sha
    assert produced["merged-values"] == {"tag": "v1.2.3"}
    assert provider.remote.git("show", "main:env/prod/values.yaml") == "image:\n  tag: v1.2.3"
    assert_token_nowhere(instance, result, caplog.text)


@pytest.mark.parametrize("provider", ["gitea"], indirect=True)
def test_a_url_the_provider_cannot_use_names_the_step_and_field(
    tmp_path, provider, instance, monkeypatch
):
    defs = definitions(tmp_path, provider, monkeypatch, provider="azure")
    result = promote(defs, instance)

    assert not result.success
    message = failure_message(result)
    assert "open-pr" in message and "git-open-pr" in message
    assert f"repoURL {provider.url} is not an Azure DevOps repository URL" in message
    assert provider.api.pulls == {}


def test_an_unknown_provider_is_refused_at_load_naming_the_field(tmp_path):
    open_pr = step(
        "git-open-pr",
        repoURL="https://git.example.com/acme/gitops",
        sourceBranch="promote",
        targetBranch="main",
        provider="gogs",
    )
    path = shop(tmp_path, [open_pr])
    with pytest.raises(ManifestError) as caught:
        load_definitions(path)
    assert (
        "shop.yaml:" in str(caught.value)
        and "Stage/prod: spec.promotionTemplate.spec.steps.0.config.provider: " in str(caught.value)
        and "'gogs' is not one of ['azure', 'bitbucket', 'gitea', 'github', 'gitlab']"
        in str(caught.value)
    )


@pytest.mark.parametrize("provider", ["bitbucket", "azure"], indirect=True)
def test_a_refused_token_is_never_shown(tmp_path, provider, instance, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    defs = definitions(tmp_path, provider, monkeypatch)
    # The git server still takes the token; only the provider's API refuses it.
    provider.api.token = "another-token"
    result = promote(defs, instance)

    assert not result.success
    assert "authentication failed" in failure_message(result)
    assert_token_nowhere(instance, result, caplog.text)
