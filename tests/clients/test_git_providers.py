"""The git provider clients against the local provider API, in each provider's shapes."""

from collections.abc import Iterator

import httpx
import pytest

from kargo_dagster.clients.pull_requests.providers import (
    AzureDevOpsProvider,
    BitbucketProvider,
    GiteaProvider,
    GitHubProvider,
    GitLabProvider,
    GitProviderError,
    git_provider,
    infer_provider,
)
from kargo_dagster.testing.git_provider_api import GitProviderAPI

TOKEN = "glpat-s3cr3t-token"
PROVIDERS = ["github", "gitlab", "gitea", "bitbucket", "azure"]
PR_PATHS = {
    "github": "/acme/app/pull/1",
    "gitlab": "/acme/app/-/merge_requests/1",
    "gitea": "/acme/app/pulls/1",
    "bitbucket": "/acme/app/pull-requests/1",
    "azure": "/acme/app/_git/app/pullrequest/1",
}


@pytest.fixture
def api() -> Iterator[GitProviderAPI]:
    with GitProviderAPI(token=TOKEN) as server:
        server.add_repository("acme/app")
        # Gitea gives a pull request only labels its repository has.
        server.define_labels("acme/app", "kargo", "dev")
        yield server


def client(api: GitProviderAPI, provider: str, token: str = TOKEN, username: str = ""):
    url = api.repo_url("acme/app", provider)
    return git_provider(url, token=token, username=username, name=provider)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/app.git", "github"),
        ("https://github.example.com/acme/app", "github"),
        ("https://acme.ghe.com/acme/app", "github"),
        ("https://gitlab.com/group/sub/app.git", "gitlab"),
        ("https://gitlab.internal:8443/app", "gitlab"),
        ("https://bitbucket.org/acme/app", "bitbucket"),
        ("https://gitea.acme.io/acme/app", "gitea"),
        ("https://dev.azure.com/acme/ops/_git/app", "azure"),
        ("https://acme.visualstudio.com/ops/_git/app", "azure"),
        ("https://bitbucket.acme.io/acme/app", None),
        ("https://127.0.0.1:3000/acme/app", None),
    ],
)
def test_provider_inferred_from_host(url, expected):
    assert infer_provider(url) == expected


@pytest.mark.parametrize(
    ("url", "name", "expected"),
    [
        ("https://github.com/acme/app.git", None, "https://api.github.com/repos/acme/app/pulls"),
        (
            "https://GHE.example.com/Acme/App/",
            "github",
            "https://ghe.example.com/api/v3/repos/acme/app/pulls",
        ),
        (
            "http://127.0.0.1:8080/acme/app",
            "github",
            "http://127.0.0.1:8080/api/v3/repos/acme/app/pulls",
        ),
    ],
)
def test_github_api_addresses(url, name, expected):
    with git_provider(url, name=name) as provider:
        assert isinstance(provider, GitHubProvider)
        assert provider.pulls_url == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://gitlab.com/group/sub/app.git",
            "https://gitlab.com/api/v4/projects/group%2Fsub%2Fapp/merge_requests",
        ),
        (
            "https://gitlab.acme.io/team/app",
            "https://gitlab.acme.io/api/v4/projects/team%2Fapp/merge_requests",
        ),
    ],
)
def test_gitlab_api_addresses(url, expected):
    with git_provider(url) as provider:
        assert isinstance(provider, GitLabProvider)
        assert provider.merge_requests_url == expected


@pytest.mark.parametrize(
    ("url", "name", "message"),
    [
        ("https://git.example.com/acme/app", None, "cannot tell which git provider hosts"),
        ("https://git.example.com/acme/app", "gogs", "provider 'gogs' is not supported"),
        ("https://dev.azure.com/acme/app", "azure", "repoURL .* is not an Azure DevOps repository"),
        ("https://acme.visualstudio.com/a/b/_git/c", None, "not an Azure DevOps repository"),
        ("https://github.com/acme", None, "could not extract repository owner and name"),
        ("https://bitbucket.org/acme", None, "could not extract repository owner and name"),
        ("https://gitea.acme.io/a/b/c", None, "could not extract repository owner and name"),
    ],
)
def test_unusable_providers(url, name, message):
    with pytest.raises(GitProviderError, match=message):
        git_provider(url, token=TOKEN, name=name)


@pytest.mark.parametrize(
    ("url", "name", "expected"),
    [
        ("https://gitea.acme.io/Acme/App.git", None, "https://gitea.acme.io/api/v1/repos/acme/app"),
        ("http://127.0.0.1:3000/acme/app", "gitea", "http://127.0.0.1:3000/api/v1/repos/acme/app"),
        (
            "https://bitbucket.org/acme/app.git",
            None,
            "https://api.bitbucket.org/2.0/repositories/acme/app",
        ),
        (
            "http://127.0.0.1:3000/acme/app",
            "bitbucket",
            "http://127.0.0.1:3000/api/2.0/repositories/acme/app",
        ),
        (
            "https://dev.azure.com/acme/ops/_git/app",
            None,
            "https://dev.azure.com/acme/ops/_apis/git/repositories/app",
        ),
        (
            "https://acme.visualstudio.com/ops/_git/app",
            None,
            "https://dev.azure.com/acme/ops/_apis/git/repositories/app",
        ),
        (
            "https://acme@dev.azure.com/acme/Fabrikam%20Ops/_git/app",
            None,
            "https://dev.azure.com/acme/fabrikam%20ops/_apis/git/repositories/app",
        ),
        (
            "https://tfs.acme.io/DefaultCollection/ops/_git/app",
            "azure",
            "https://tfs.acme.io/defaultcollection/ops/_apis/git/repositories/app",
        ),
    ],
)
def test_gitea_bitbucket_and_azure_api_addresses(url, name, expected):
    with git_provider(url, token=TOKEN, name=name) as provider:
        assert isinstance(provider, GiteaProvider | BitbucketProvider | AzureDevOpsProvider)
        assert provider.repository_url == expected


def test_azure_devops_needs_a_token():
    with pytest.raises(GitProviderError, match="needs a personal access token"):
        git_provider("https://dev.azure.com/acme/ops/_git/app")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_open_get_list_and_merge(api, provider):
    with client(api, provider) as gp:
        pr = gp.create_pull_request(
            head="kargo/promotion/dev",
            base="main",
            title="Promote",
            description="Body",
            labels=["kargo", "dev"],
        )
        assert pr.number == 1 and pr.open and not pr.merged
        assert pr.url == api.base_url + PR_PATHS[provider]
        stored = api.pulls[("acme/app", 1)]
        # Bitbucket has no labels: they are left out, as Kargo does.
        labels = [] if provider == "bitbucket" else ["kargo", "dev"]
        assert (stored.title, stored.body, stored.labels) == ("Promote", "Body", labels)

        assert gp.get_pull_request(1) == pr
        listed = gp.list_pull_requests(head_branch="kargo/promotion/dev", base_branch="main")
        assert [p.number for p in listed] == [1]
        assert gp.list_pull_requests(head_branch="other", base_branch="main") == []
        assert (
            gp.list_pull_requests(
                head_branch="kargo/promotion/dev", base_branch="main", head_commit="f" * 40
            )
            == []
        )

        assert (pr.head_branch, pr.base_branch) == ("kargo/promotion/dev", "main")

        merged = gp.merge_pull_request(1)
        assert merged is not None and merged.merged and not merged.open
        assert merged.merge_commit_sha == api.pulls[("acme/app", 1)].merge_commit_sha != ""
        # Merging again reports the merged pull request.
        assert gp.merge_pull_request(1) == merged


@pytest.mark.parametrize("provider", PROVIDERS)
def test_listing_all_states_includes_merged_and_closed(api, provider):
    for _ in range(3):
        api.open_pull("acme/app", "feature", "main")
    api.merge("acme/app", 1)
    api.close("acme/app", 2)
    with client(api, provider) as gp:
        opened = gp.list_pull_requests(head_branch="feature", base_branch="main")
        every = gp.list_pull_requests(head_branch="feature", base_branch="main", state="all")
    assert [p.number for p in opened] == [3]
    assert sorted((p.number, p.open, p.merged) for p in every) == [
        (1, False, True),
        (2, False, False),
        (3, True, False),
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_pull_requests_for_a_commit(api, provider):
    api.open_pull("acme/app", "feature", "main")
    api.open_pull("acme/app", "other", "main")
    merge_commit = api.merge("acme/app", 1)
    head = api.pulls[("acme/app", 2)].head_sha
    with client(api, provider) as gp:
        by_merge = gp.pull_requests_for_commit(merge_commit)
        by_head = gp.pull_requests_for_commit(head)
        unknown = gp.pull_requests_for_commit("0" * 40)
    assert [(p.number, p.merged, p.merge_commit_sha) for p in by_merge] == [(1, True, merge_commit)]
    # Gitea finds a pull request by the commit that merged it only.
    expected = [] if provider == "gitea" else [(2, True, "other")]
    assert [(p.number, p.open, p.head_branch) for p in by_head] == expected
    assert unknown == []


LISTS = ("/pulls", "/merge_requests", "/pullrequests")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_listing_follows_pages(api, provider):
    for number in range(205):
        api.open_pull("acme/app", f"feature-{number % 2}", "main")
    with client(api, provider) as gp:
        found = gp.list_pull_requests(head_branch="feature-0", base_branch="main")
    assert len(found) == 103
    lists = [(m, p) for m, p in api.requests if p.endswith(LISTS)]
    assert len(set(lists)) == 1
    # Gitea and Bitbucket list every pull request, 50 to a page; the others filter by branch.
    assert len(lists) == (5 if provider in ("gitea", "bitbucket") else 2)


@pytest.mark.parametrize(
    ("provider", "state", "draft"),
    # Bitbucket tells nothing of mergeability before a merge is tried: only drafts wait.
    [(p, "blocked", False) for p in PROVIDERS if p != "bitbucket"]
    + [(p, "clean", True) for p in PROVIDERS],
)
def test_not_yet_mergeable_is_none(api, provider, state, draft):
    api.open_pull("acme/app", "feature", "main")
    api.set_mergeability("acme/app", 1, state, draft=draft)
    with client(api, provider) as gp:
        assert gp.merge_pull_request(1) is None
    assert api.pulls[("acme/app", 1)].state == "open"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_closed_without_merging_cannot_be_merged(api, provider):
    api.open_pull("acme/app", "feature", "main")
    api.close("acme/app", 1)
    with (
        client(api, provider) as gp,
        pytest.raises(GitProviderError, match="closed but not merged"),
    ):
        gp.merge_pull_request(1)


def test_github_conflicts_are_final(api):
    api.open_pull("acme/app", "feature", "main")
    api.set_mergeability("acme/app", 1, "dirty")
    with client(api, "github") as gp, pytest.raises(GitProviderError, match="has conflicts"):
        gp.merge_pull_request(1)


def test_gitlab_rejects_unknown_merge_methods(api):
    api.open_pull("acme/app", "feature", "main")
    with (
        client(api, "gitlab") as gp,
        pytest.raises(GitProviderError, match="unsupported merge method 'rebase'"),
    ):
        gp.merge_pull_request(1, merge_method="rebase")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_token_fails_without_showing_it(api, provider):
    with (
        client(api, provider, token="wrong-token-value") as gp,
        pytest.raises(GitProviderError) as caught,
    ):
        gp.get_pull_request(1)
    assert caught.value.status == 401 and not caught.value.retryable
    assert "authentication failed" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value) and TOKEN not in str(caught.value)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_pull_request_is_not_found(api, provider):
    with (
        client(api, provider) as gp,
        pytest.raises(GitProviderError, match=r"get .* request 7.*not found") as caught,
    ):
        gp.get_pull_request(7)
    assert caught.value.status == 404


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicate_pull_requests_are_refused(api, provider):
    with client(api, provider) as gp:
        gp.create_pull_request(head="feature", base="main", title="t", description="", labels=[])
        with pytest.raises(GitProviderError, match="already exists") as caught:
            gp.create_pull_request(
                head="feature", base="main", title="t", description="", labels=[]
            )
    assert caught.value.status in (400, 409, 422)


def test_unreachable_api_is_retryable():
    with git_provider("http://127.0.0.1:1/acme/app", name="github", timeout=2) as gp:
        with pytest.raises(GitProviderError, match="unreachable") as caught:
            gp.get_pull_request(1)
    assert caught.value.retryable


def test_server_errors_are_retryable_with_their_delay():
    # A real server cannot be made to fail like this on demand; MockTransport can.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "7"}, json={"message": "maintenance"})

    with git_provider("https://github.com/acme/app", transport=httpx.MockTransport(handler)) as gp:
        with pytest.raises(GitProviderError, match="HTTP 503: maintenance") as caught:
            gp.get_pull_request(1)
    assert caught.value.retryable and caught.value.retry_after == 7


def test_malformed_answers_are_reported():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>")

    with git_provider("https://gitlab.com/acme/app", transport=httpx.MockTransport(handler)) as gp:
        with pytest.raises(GitProviderError, match="not JSON"):
            gp.get_pull_request(1)


def test_gitea_labels_must_exist_in_the_repository(api):
    with (
        client(api, "gitea") as gp,
        pytest.raises(GitProviderError, match=r"labels not found in repository .*: prod"),
    ):
        gp.create_pull_request(
            head="feature", base="main", title="t", description="", labels=["kargo", "prod"]
        )
    assert api.pulls == {}


@pytest.mark.parametrize(
    ("provider", "method", "message"),
    [
        ("gitea", "octopus", "unsupported merge method 'octopus' for Gitea"),
        ("bitbucket", "merge", "unsupported merge strategy 'merge' for Bitbucket"),
        ("azure", "merge", "unsupported merge strategy 'merge' for Azure DevOps"),
    ],
)
def test_merge_methods_are_checked(api, provider, method, message):
    api.open_pull("acme/app", "feature", "main")
    with client(api, provider) as gp, pytest.raises(GitProviderError, match=message):
        gp.merge_pull_request(1, merge_method=method)
    assert api.pulls[("acme/app", 1)].state == "open"


@pytest.mark.parametrize(
    ("provider", "method"),
    [("gitea", "squash"), ("bitbucket", "squash"), ("azure", "noFastForward")],
)
def test_merge_methods_of_the_provider_merge(api, provider, method):
    api.open_pull("acme/app", "feature", "main")
    with client(api, provider) as gp:
        merged = gp.merge_pull_request(1, merge_method=method)
    assert merged is not None and merged.merged


@pytest.mark.parametrize("provider", ["bitbucket", "azure"])
def test_conflicts_refuse_the_merge_or_wait(api, provider):
    # Bitbucket learns of conflicts only by trying; Azure DevOps' trial merge says so first,
    # and Kargo waits for it as for anything that blocks completing.
    api.open_pull("acme/app", "feature", "main")
    api.set_mergeability("acme/app", 1, "dirty")
    with client(api, provider) as gp:
        if provider == "azure":
            assert gp.merge_pull_request(1) is None
        else:
            with pytest.raises(GitProviderError, match="HTTP 409: Merge conflicts"):
                gp.merge_pull_request(1)
    assert api.pulls[("acme/app", 1)].state == "open"


@pytest.mark.parametrize("username", ["x-token-auth", "", "alice"])
def test_bitbucket_access_tokens_and_app_passwords(api, username):
    # An app password is sent as the password of its user, an access token on its own.
    with client(api, "bitbucket", username=username) as gp:
        assert gp.list_pull_requests(head_branch="feature", base_branch="main") == []
        assert gp.headers["Authorization"].startswith(
            "Basic " if username == "alice" else "Bearer "
        )


@pytest.mark.parametrize(("reads", "merged", "sleeps"), [(3, True, 2), (12, False, 9)])
def test_azure_devops_completion_is_awaited_a_few_seconds(api, reads, merged, sleeps):
    # Azure DevOps merges in the background: the client looks again up to 10 times, a
    # second apart, and reports the pull request not merged yet after that, as Kargo does.
    api.open_pull("acme/app", "feature", "main")
    api.completion_reads[("acme/app", 1)] = reads
    slept: list[float] = []
    url = api.repo_url("acme/app", "azure")
    with httpx.Client() as http:
        gp = AzureDevOpsProvider(url, token=TOKEN, client=http, sleep=slept.append)
        result = gp.merge_pull_request(1)
        assert (result is not None) == merged
        assert slept == [1.0] * sleeps
        if not merged:
            # Looked at again later, once Azure DevOps is done, it is merged.
            assert gp.merge_pull_request(1) is not None
    assert api.pulls[("acme/app", 1)].state == "merged"
