"""The local provider API itself: requests as the providers document them, and merges
that happen in the real repository behind it."""

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from kargo_dagster.testing.git_provider_api import GitProviderAPI
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote, git_environment

TOKEN = "glpat-fake-provider-token"


@pytest.fixture
def remote(tmp_path) -> GitRemote:
    remote = GitRemote.create(tmp_path / "remotes" / "acme", "app")
    remote.commit("Initial", {"app.yaml": "tag: v1\n"})
    remote.branch("feature")
    remote.commit("Bump", {"app.yaml": "tag: v2\n"}, branch="feature")
    remote.commit("Unrelated", {"README.md": "hello\n"})
    return remote


@pytest.fixture
def api(tmp_path, remote) -> Iterator[GitProviderAPI]:
    with (
        GitHTTPServer(tmp_path / "remotes") as git_server,
        GitProviderAPI(token=TOKEN, git_backend=git_server.base_url, auto_merge=True) as server,
    ):
        server.add_repository("acme/app", remote)
        yield server


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/v3/repos/acme/app/pulls", {"head": "feature", "base": "main", "title": "Bump"}),
        (
            "/api/v4/projects/acme%2Fapp/merge_requests",
            {"source_branch": "feature", "target_branch": "main", "title": "Bump"},
        ),
        ("/api/v1/repos/acme/app/pulls", {"head": "feature", "base": "main", "title": "Bump"}),
        (
            "/api/2.0/repositories/acme/app/pullrequests",
            {
                "title": "Bump",
                "source": {"branch": {"name": "feature"}},
                "destination": {"branch": {"name": "main"}},
            },
        ),
        (
            "/acme/ops/_apis/git/repositories/app/pullrequests?api-version=7.1",
            {"sourceRefName": "refs/heads/feature", "targetRefName": "refs/heads/main"},
        ),
    ],
)
def test_auto_merge_merges_in_the_real_repository(api, remote, path, payload):
    feature = remote.rev("refs/heads/feature")
    before = remote.rev("refs/heads/main")
    # Azure DevOps takes a personal access token only as a Basic password.
    auth = ("", TOKEN) if "/_apis/" in path else None
    headers = {} if auth else {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(api.base_url + path, json=payload, headers=headers, auth=auth)
    # The answer to opening shows it open, as a provider answers; the merge follows.
    assert created.status_code == 201
    answer = created.json()
    assert answer.get("state", answer.get("status")) in ("open", "opened", "OPEN", "active")
    pr = api.pulls[("acme/app", 1)]
    assert pr.state == "merged"
    assert pr.merge_commit_sha == remote.rev("refs/heads/main")
    assert remote.git("rev-list", "--parents", "-n", "1", pr.merge_commit_sha).split() == [
        pr.merge_commit_sha,
        before,
        feature,
    ]
    assert remote.git("show", "main:app.yaml") == "tag: v2"
    assert remote.git("show", "main:README.md") == "hello"


@pytest.mark.parametrize("provider", ["github", "azure"])
def test_the_repository_is_served_on_the_same_host(api, tmp_path, provider):
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", api.repo_url("acme/app", provider), str(clone)],
        env=git_environment(),
        check=True,
    )
    assert (clone / "README.md").read_text() == "hello\n"
