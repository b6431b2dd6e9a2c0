"""``git-open-pr``, ``git-wait-for-pr`` and ``git-merge-pr`` against a real git remote served
over HTTP behind the local provider API (GitHub, GitLab, Gitea, Bitbucket, Azure DevOps), on
one host as a real provider has."""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.schema_validation import schema_errors as validation_errors
from kargo_dagster.promotion.step import Skipped, StepContext
from kargo_dagster.promotion.steps.git import merge_pr as git_merge_pr
from kargo_dagster.promotion.steps.git import open_pr as git_open_pr
from kargo_dagster.promotion.steps.git import wait_for_pr as git_wait_for_pr
from kargo_dagster.testing.git_provider_api import GitProviderAPI
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.promotion.git_support import make_ctx

TOKEN = "ghp_t0ken-never-shown"
SOURCE = "kargo/promotion/dev"


@dataclass
class Provider:
    api: GitProviderAPI
    remote: GitRemote
    url: str
    name: str
    # Each work directory stands for a promotion, with its own shared state.
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)

    def context(self, tmp_path: Path, token: str = TOKEN, work: str = "work") -> StepContext:
        """A step context; another ``work`` directory stands for another promotion."""
        rule = CredentialRule(
            kind="git", repo_url=self.url, credentials=Credentials("git", SecretStr(token))
        )
        ctx = make_ctx(tmp_path, credentials=StaticCredentialStore((rule,)), work=work)
        return replace(ctx, shared=self.shared.setdefault(work, {}))


@pytest.fixture(params=["github", "gitlab", "gitea", "bitbucket", "azure"])
def provider(request, tmp_path) -> Iterator[Provider]:
    root = tmp_path / "remotes"
    remote = GitRemote.create(root / "acme", "app")
    remote.commit("Initial manifests", {"env/dev/app.yaml": "image: app:v1\n"})
    remote.branch(SOURCE)
    remote.commit(
        "Updated env/dev to app:v2\n\nPromoted by Kargo.",
        {"env/dev/app.yaml": "image: app:v2\n"},
        branch=SOURCE,
    )
    with (
        GitHTTPServer(root, username="git", password=TOKEN) as git_server,
        GitProviderAPI(token=TOKEN, git_backend=git_server.base_url) as api,
    ):
        api.add_repository("acme/app", remote)
        api.define_labels("acme/app", "kargo")
        yield Provider(api, remote, api.repo_url("acme/app", request.param), request.param)


def open_pr(p: Provider, tmp_path: Path, *, work: str = "work", **extra):
    config = {
        "repoURL": p.url,
        "sourceBranch": SOURCE,
        "targetBranch": "main",
        "provider": p.name,
        **extra,
    }
    # A key given as None is left out: Kargo's schemas refuse null for every typed key.
    config = {key: value for key, value in config.items() if value is not None}
    step = git_open_pr.STEP
    return step.run(p.context(tmp_path, work=work), step.config_model.model_validate(config))


def wait_for(p: Provider, tmp_path: Path, number: int, **extra):
    config = {"repoURL": p.url, "prNumber": number, "provider": p.name, **extra}
    step = git_wait_for_pr.STEP
    return step.run(p.context(tmp_path), step.config_model.model_validate(config))


def merge(p: Provider, tmp_path: Path, number: int, **extra):
    config = {"repoURL": p.url, "prNumber": number, "provider": p.name, **extra}
    step = git_merge_pr.STEP
    return step.run(p.context(tmp_path), step.config_model.model_validate(config))


@pytest.mark.parametrize(
    ("step", "config", "errors"),
    [
        (
            "git-open-pr",
            {"repoURL": "https://github.com/a/b"},
            [
                ("", "'targetBranch' is a required property"),
                ("", "'sourceBranch' is a required property"),
            ],
        ),
        (
            "git-open-pr",
            {"repoURL": "x", "sourceBranch": "a", "targetBranch": "b", "provider": "gogs"},
            [
                (
                    "provider",
                    "'gogs' is not one of ['azure', 'bitbucket', 'gitea', 'github', 'gitlab']",
                ),
                ("repoURL", "'x' is not a 'uri'"),
            ],
        ),
        (
            "git-open-pr",
            {"repoURL": "https://h/a/b", "sourceBranch": "a", "targetBranch": "b", "labels": [""]},
            [("labels/0", "'' should be non-empty")],
        ),
        (
            "git-wait-for-pr",
            {"repoURL": "https://h/a/b", "prNumber": 0},
            [("prNumber", "0 is less than the minimum of 1")],
        ),
        (
            "git-wait-for-pr",
            {"repoURL": "https://h/a/b", "prNumber": 1, "pollInterval": "often"},
            [("pollInterval", "'often' does not match '(?:\\\\d+(ns|us|µs|ms|s|m|h))+'")],
        ),
        ("git-merge-pr", {"prNumber": 1}, [("", "'repoURL' is a required property")]),
        (
            "git-merge-pr",
            {"repoURL": "https://h/a/b", "prNumber": 1, "mergeMethod": ""},
            [("mergeMethod", "'' should be non-empty")],
        ),
    ],
)
def test_invalid_configs(step, config, errors):
    # The engine's validator checks the "uri" format as Kargo's does.
    expected = sorted(
        f"{path.replace('/', '.') or '(root)'}: {message}" for path, message in errors
    )
    assert validation_errors(step, config) == expected


def test_opens_a_pull_request_titled_after_the_head_commit(provider, tmp_path):
    outputs = open_pr(provider, tmp_path, labels=["kargo"])
    pr = provider.api.pulls[("acme/app", 1)]
    assert outputs == {"pr": {"id": 1, "url": provider.api.pulls and outputs["pr"]["url"]}}
    assert outputs["pr"]["url"].startswith(provider.api.base_url + "/acme/app/")
    assert (pr.head, pr.base, pr.title, pr.body) == (
        SOURCE,
        "main",
        "Updated env/dev to app:v2",
        "\nPromoted by Kargo.",
    )
    # Bitbucket has no labels: as in Kargo, they are left out there.
    assert pr.labels == ([] if provider.name == "bitbucket" else ["kargo"])
    assert pr.head_sha == provider.remote.rev(f"refs/heads/{SOURCE}")


def test_title_and_description_can_be_given_and_the_ui_is_linked(provider, tmp_path):
    ctx = provider.context(tmp_path)
    ctx = replace(ctx, promotion=replace(ctx.promotion, ui_base_url="https://dagster.example.com/"))
    config = git_open_pr.Config.model_validate(
        {
            "repoURL": provider.url,
            "sourceBranch": SOURCE,
            "targetBranch": "main",
            "provider": provider.name,
            "title": "Promote dev",
            "createTargetBranch": True,
        }
    )
    git_open_pr.STEP.run(ctx, config)
    pr = provider.api.pulls[("acme/app", 1)]
    assert pr.title == "Promote dev"
    assert pr.body == (
        "Updated env/dev to app:v2\n\nPromoted by Kargo.\n\n"
        "[View in Dagster](https://dagster.example.com/assets/demo/stage/dev)"
    )


def api_calls(p: Provider) -> list[tuple[str, str]]:
    return [(method, path) for method, path in p.api.requests if path.startswith("/api/")]


def test_an_open_pull_request_for_the_same_commit_is_adopted(provider, tmp_path):
    first = open_pr(provider, tmp_path, work="first-promotion")
    again = open_pr(provider, tmp_path, work="second-promotion")
    assert again == first
    assert len(provider.api.pulls) == 1


def test_run_again_in_the_promotion_the_step_keeps_its_pull_request_even_merged(provider, tmp_path):
    first = open_pr(provider, tmp_path)
    provider.api.merge("acme/app", first["pr"]["id"])
    # Whatever happened to the branches since, the step's own pull request is the answer,
    # without asking the provider again (Kargo keeps it in the promotion's shared state).
    provider.remote.commit("Later change", {"env/dev/app.yaml": "image: app:v3\n"}, branch=SOURCE)
    calls = len(api_calls(provider))
    assert open_pr(provider, tmp_path) == first
    assert len(api_calls(provider)) == calls
    assert len(provider.api.pulls) == 1


def test_run_again_in_the_promotion_a_closed_pull_request_is_still_the_answer(provider, tmp_path):
    first = open_pr(provider, tmp_path)
    number = first["pr"]["id"]
    provider.api.close("acme/app", number)
    assert open_pr(provider, tmp_path) == first
    # ...so that git-wait-for-pr reports what happened to it.
    with pytest.raises(TerminalStepError, match="closed without being merged"):
        wait_for(provider, tmp_path, number)


def test_each_step_alias_keeps_its_own_pull_request(provider, tmp_path):
    first = open_pr(provider, tmp_path)
    provider.remote.branch("other", f"refs/heads/{SOURCE}")
    ctx = replace(provider.context(tmp_path), alias="open-other")
    config = git_open_pr.Config.model_validate(
        {
            "repoURL": provider.url,
            "sourceBranch": "other",
            "targetBranch": "main",
            "provider": provider.name,
        }
    )
    other = git_open_pr.STEP.run(ctx, config)
    assert other["pr"]["id"] != first["pr"]["id"]
    assert open_pr(provider, tmp_path) == first
    assert git_open_pr.STEP.run(ctx, config) == other


def test_a_merged_pull_request_for_the_same_commit_is_adopted(provider, tmp_path):
    # The first attempt's pull request was merged before the step could report it.
    first = open_pr(provider, tmp_path, work="first-promotion")
    provider.api.merge("acme/app", first["pr"]["id"])
    assert open_pr(provider, tmp_path, work="second-promotion") == first
    assert len(provider.api.pulls) == 1


def test_a_pull_request_closed_without_merging_is_replaced(provider, tmp_path):
    first = open_pr(provider, tmp_path, work="first-promotion")
    provider.api.close("acme/app", first["pr"]["id"])
    again = open_pr(provider, tmp_path, work="second-promotion")
    assert again["pr"]["id"] == first["pr"]["id"] + 1
    assert provider.api.pulls[("acme/app", again["pr"]["id"])].state == "open"


def test_no_pull_request_when_the_branches_do_not_differ(provider, tmp_path):
    provider.remote.branch(SOURCE, "refs/heads/main")
    outputs = open_pr(provider, tmp_path)
    assert isinstance(outputs, Skipped) and outputs == {}
    assert "do not differ" in outputs.reason
    assert provider.api.pulls == {}
    # Nothing is remembered: a later run of the step looks again.
    assert not provider.shared["work"].get(git_open_pr.SHARED_KEY)


def test_a_change_already_merged_reports_the_pull_request_that_merged_it(provider, tmp_path):
    # A promotion run again for the same Freight after its pull request was merged: nothing
    # to commit, so its new branch is the target's head, the merge commit.
    first = open_pr(provider, tmp_path, work="first-promotion")
    merge_commit = provider.api.merge("acme/app", first["pr"]["id"])
    provider.remote.branch("kargo/promotion/again", "refs/heads/main")
    again = open_pr(
        provider, tmp_path, work="second-promotion", sourceBranch="kargo/promotion/again"
    )
    assert again == first
    assert len(provider.api.pulls) == 1
    assert wait_for(provider, tmp_path, first["pr"]["id"])["commit"] == merge_commit


def test_a_target_that_moved_on_since_the_merge_has_nothing_to_propose(provider, tmp_path):
    first = open_pr(provider, tmp_path, work="first-promotion")
    provider.api.merge("acme/app", first["pr"]["id"])
    provider.remote.commit("Unrelated", {"README.md": "hello\n"})
    provider.remote.branch("kargo/promotion/again", "refs/heads/main")
    again = open_pr(
        provider, tmp_path, work="second-promotion", sourceBranch="kargo/promotion/again"
    )
    assert isinstance(again, Skipped)


def test_the_target_branch_must_exist(provider, tmp_path):
    with pytest.raises(RetryableStepError, match="target branch 'release' does not exist"):
        open_pr(provider, tmp_path, targetBranch="release")


def test_a_missing_source_branch_is_an_error_naming_the_repository(provider, tmp_path):
    with pytest.raises(RetryableStepError, match="acme/app") as caught:
        open_pr(provider, tmp_path, sourceBranch="nope")
    assert TOKEN not in str(caught.value)


def test_wrong_credentials_never_show_the_token(provider, tmp_path):
    config = git_open_pr.Config.model_validate(
        {
            "repoURL": provider.url,
            "sourceBranch": SOURCE,
            "targetBranch": "main",
            "provider": provider.name,
        }
    )
    with pytest.raises(RetryableStepError, match="authentication failed") as caught:
        git_open_pr.STEP.run(provider.context(tmp_path, token="wrong-secret-token"), config)
    assert "wrong-secret-token" not in str(caught.value)


def test_the_provider_must_be_known(provider, tmp_path):
    with pytest.raises(TerminalStepError, match="cannot tell which git provider hosts"):
        open_pr(provider, tmp_path, provider=None)


def test_waits_while_open_then_reports_the_merge_commit(provider, tmp_path):
    number = open_pr(provider, tmp_path)["pr"]["id"]
    with pytest.raises(RetryableStepError, match="still open") as caught:
        wait_for(provider, tmp_path, number)
    assert caught.value.retry_after == 30
    with pytest.raises(RetryableStepError) as caught:
        wait_for(provider, tmp_path, number, pollInterval="1m30s")
    assert caught.value.retry_after == 90
    commit = provider.api.merge("acme/app", number)
    assert commit == provider.remote.rev("refs/heads/main")
    outputs = wait_for(provider, tmp_path, number)
    assert outputs == {
        "pr": {"id": number, "url": outputs["pr"]["url"], "open": False, "merged": True},
        "commit": commit,
    }


def test_a_pull_request_closed_without_merging_fails_the_wait(provider, tmp_path):
    number = open_pr(provider, tmp_path)["pr"]["id"]
    provider.api.close("acme/app", number)
    with pytest.raises(
        TerminalStepError, match=f"pull request {number} was closed without being merged"
    ):
        wait_for(provider, tmp_path, number)


def test_waiting_for_a_missing_pull_request_is_an_error(provider, tmp_path):
    with pytest.raises(RetryableStepError, match="not found"):
        wait_for(provider, tmp_path, 41)


def test_merges_and_outputs_the_merge_commit(provider, tmp_path):
    number = open_pr(provider, tmp_path)["pr"]["id"]
    outputs = merge(provider, tmp_path, number)
    assert outputs == {"commit": provider.remote.rev("refs/heads/main")}
    assert provider.api.pulls[("acme/app", number)].state == "merged"
    # An already merged pull request is fine.
    assert merge(provider, tmp_path, number) == outputs


def test_not_ready_to_merge_fails_unless_waiting(provider, tmp_path):
    number = open_pr(provider, tmp_path)["pr"]["id"]
    provider.api.set_mergeability("acme/app", number, "clean", draft=True)
    with pytest.raises(TerminalStepError, match="not ready to merge and wait is disabled"):
        merge(provider, tmp_path, number)
    with pytest.raises(RetryableStepError, match="not ready to merge yet") as caught:
        merge(provider, tmp_path, number, wait=True)
    assert caught.value.retry_after == 10
    with pytest.raises(RetryableStepError) as caught:
        merge(provider, tmp_path, number, wait=True, pollInterval="2s")
    assert caught.value.retry_after == 2


def test_merging_a_closed_pull_request_fails(provider, tmp_path):
    number = open_pr(provider, tmp_path)["pr"]["id"]
    provider.api.close("acme/app", number)
    with pytest.raises(TerminalStepError, match="closed but not merged"):
        merge(provider, tmp_path, number, wait=True)
