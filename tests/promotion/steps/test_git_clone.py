"""git-clone against real repositories served over git's smart HTTP protocol."""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.steps.git.clone import STEP, Config
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote, git_environment
from tests.promotion.git_support import git, make_ctx, schema_errors

PASSWORD = "pr0mote-t0ken-9f8e7d"
USERNAME = "kargo-bot"


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    return tmp_path / "remotes"


@pytest.fixture
def remote(remotes: Path) -> GitRemote:
    repo = GitRemote.create(remotes, "app")
    repo.commit("first", {"README.md": "hello\n", "charts/app/values.yaml": "replicas: 1\n"})
    repo.tag("v1.0.0", message="release 1.0.0")
    repo.commit("second", {"README.md": "hello again\n"})
    repo.commit("env", {"env.txt": "dev\n"}, branch="stage/dev")
    return repo


@pytest.fixture
def server(remotes: Path) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(remotes) as running:
        yield running


def _config(url: str, checkout: list[dict[str, Any]], **extra: Any) -> Config:
    return Config.model_validate({"repoURL": url, "checkout": checkout, **extra})


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"checkout": [{"path": "src"}]}, "", "'repoURL' is a required property"),
        ({"repoURL": "", "checkout": [{"path": "src"}]}, "repoURL", "should be non-empty"),
        ({"repoURL": "https://h/r"}, "", "'checkout' is a required property"),
        ({"repoURL": "https://h/r", "checkout": []}, "checkout", "should be non-empty"),
        ({"repoURL": "https://h/r", "checkout": [{}]}, "checkout/0", "'path' is a required"),
        (
            {"repoURL": "https://h/r", "checkout": [{"path": "a", "branch": "b", "tag": "t"}]},
            "checkout/0",
            "is not valid under any of the given schemas",
        ),
        (
            {"repoURL": "https://h/r", "checkout": [{"path": "a", "sparse": []}]},
            "checkout/0/sparse",
            "should be non-empty",
        ),
        (
            {"repoURL": "https://h/r", "checkout": [{"path": "a"}], "author": {"name": "A"}},
            "author",
            "'email' is a required property",
        ),
        (
            {
                "repoURL": "https://h/r",
                "checkout": [{"path": "a"}],
                "author": {"name": "A", "email": "not-an-email"},
            },
            "author/email",
            "is not a 'email'",
        ),
        (
            {"repoURL": "https://h/r", "checkout": [{"path": "a"}], "depth": 1},
            "",
            "Additional properties are not allowed ('depth'",
        ),
        (
            {"repoURL": "https://h/r", "checkout": [{"path": "a"}], "blobless": "yes"},
            "blobless",
            "is not of type 'boolean'",
        ),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("git-clone", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_valid_config_passes_schema_and_model() -> None:
    config = {
        "repoURL": "https://git.example.com/app.git",
        "checkout": [{"path": "src", "as": "source"}, {"branch": "stage/dev", "path": "out"}],
        "insecureSkipTLSVerify": True,
        "author": {"name": "Bot", "email": "bot@example.com"},
    }
    assert schema_errors("git-clone", config) == []
    model = Config.model_validate(config)
    assert model.checkout[0].as_ == "source"
    assert model.insecure_skip_tls_verify


def test_clones_branch_commit_tag_and_default_branch(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    first = remote.rev("v1.0.0")
    config = _config(
        server.url_for(remote),
        [
            {"path": "main"},
            {"path": "dev", "branch": "stage/dev"},
            {"path": "old", "commit": first, "as": "pinned"},
            {"path": "release", "tag": "v1.0.0"},
        ],
    )
    output = STEP.run(ctx, config)
    assert output == {
        "commits": {
            "main": remote.rev("main"),
            "dev": remote.rev("stage/dev"),
            "pinned": first,
            "release": first,
        }
    }
    assert (ctx.work_dir / "main" / "README.md").read_text() == "hello again\n"
    assert (ctx.work_dir / "dev" / "env.txt").read_text() == "dev\n"
    assert (ctx.work_dir / "old" / "README.md").read_text() == "hello\n"
    assert git(ctx.work_dir / "main", "branch", "--show-current") == "main"
    assert git(ctx.work_dir / "dev", "branch", "--show-current") == "stage/dev"
    assert git(ctx.work_dir / "release", "branch", "--show-current") == ""
    # Later steps push to the real remote, as the configured identity.
    assert git(ctx.work_dir / "dev", "config", "remote.origin.url") == server.url_for(remote)
    assert git(ctx.work_dir / "dev", "config", "user.name") == "Kargo"
    assert git(ctx.work_dir / "dev", "config", "user.email") == "no-reply@kargo.io"
    assert git(ctx.work_dir / "main", "status", "--porcelain") == ""


def test_missing_branch_is_created_as_an_empty_orphan(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    author = {"name": "Promo Bot", "email": "promo@example.com"}
    config = _config(
        server.url_for(remote),
        [{"path": "out", "branch": "stage/prod", "create": True}],
        author=author,
    )
    output = STEP.run(ctx, config)
    created = remote.rev("stage/prod")
    assert output == {"commits": {"out": created}}
    assert [p.name for p in (ctx.work_dir / "out").iterdir()] == [".git"]
    assert remote.git("log", "--format=%s|%an|%ae|%P", "stage/prod") == (
        "Initial commit|Promo Bot|promo@example.com|"
    )
    assert remote.git("ls-tree", "stage/prod") == ""


def test_missing_branch_without_create_is_an_error(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    config = _config(server.url_for(remote), [{"path": "out", "branch": "nope"}])
    with pytest.raises(RetryableStepError, match=r"remote branch 'nope' .* set create: true"):
        STEP.run(ctx, config)
    assert not (ctx.work_dir / "out").exists()


def test_missing_commit_or_tag_is_an_error_and_leaves_nothing_behind(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    config = _config(server.url_for(remote), [{"path": "ok"}, {"path": "bad", "tag": "v9.9.9"}])
    with pytest.raises(RetryableStepError, match=r"cannot check out tag 'v9.9.9'"):
        STEP.run(ctx, config)
    assert list(ctx.work_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "checkout": [{"path": "a"}],
                "author": {"name": "A", "email": "a@b.c", "signingKey": "K"},
            },
            "author.signingKey: is not a GPG private key gpg can import",
        ),
        (
            {"checkout": [{"path": "a", "as": "x"}, {"path": "b", "as": "x"}]},
            "duplicate checkout alias 'x' at checkout[1]",
        ),
        ({"checkout": [{"path": "a", "sparse": ["src/*"]}]}, "cannot contain glob"),
        ({"checkout": [{"path": "a", "sparse": ["../up"]}]}, "cannot escape"),
        ({"checkout": [{"path": "../outside"}]}, "leaves the promotion's work directory"),
    ],
)
def test_terminal_configuration_problems(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(TerminalStepError, match=message.replace("[", r"\[")):
        STEP.run(ctx, Config.model_validate({"repoURL": "https://git.invalid/r", **config}))


def test_non_empty_checkout_path_is_refused(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "src").mkdir()
    (ctx.work_dir / "src" / "keep.txt").write_text("mine\n")
    with pytest.raises(TerminalStepError, match="checkout path 'src' is not empty"):
        STEP.run(ctx, _config(server.url_for(remote), [{"path": "src"}]))
    assert (ctx.work_dir / "src" / "keep.txt").read_text() == "mine\n"


def test_sparse_and_blobless_checkout(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    config = _config(server.url_for(remote), [{"path": "src", "sparse": ["charts"]}], blobless=True)
    STEP.run(ctx, config)
    names = sorted(p.name for p in (ctx.work_dir / "src").iterdir())
    # Cone mode keeps files at the top and the listed directories.
    assert names == [".git", "README.md", "charts"]
    assert (ctx.work_dir / "src" / "charts" / "app" / "values.yaml").read_text() == "replicas: 1\n"


def test_cached_clone_is_reused_across_promotions(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    url = server.url_for(remote)

    def pack_requests() -> int:
        # ls-remote asks for refs only; a fetch also POSTs a want/have negotiation.
        return sum(1 for method, path in server.requests if path.endswith("git-upload-pack"))

    first = make_ctx(tmp_path, work="promotion-1")
    STEP.run(first, _config(url, [{"path": "src"}]))
    after_first = pack_requests()
    assert after_first >= 2  # ls-remote, then a fetch
    second = make_ctx(tmp_path, work="promotion-2")
    output = STEP.run(
        second, _config(url, [{"path": "src"}, {"path": "dev", "branch": "stage/dev"}])
    )
    assert pack_requests() - after_first == 1  # ls-remote only: nothing downloaded
    assert output["commits"]["dev"] == remote.rev("stage/dev")
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 1
    # The checkouts borrow the cache's objects instead of copying them.
    alternates = second.work_dir / "src" / ".git" / "objects" / "info" / "alternates"
    assert str(tmp_path / "cache") in alternates.read_text()
    # The remote moved: the next promotion fetches and sees it.
    newer = remote.commit("third", {"README.md": "third\n"})
    third = make_ctx(tmp_path, work="promotion-3")
    assert STEP.run(third, _config(url, [{"path": "src"}])) == {"commits": {"src": newer}}


def test_credentials_are_used_and_never_stored_or_shown(tmp_path: Path, remote: GitRemote) -> None:
    with GitHTTPServer(remote.git_dir.parent, username=USERNAME, password=PASSWORD) as server:
        url = server.url_for(remote)
        store = StaticCredentialStore(
            (CredentialRule("git", url, Credentials(USERNAME, SecretStr(PASSWORD))),)
        )
        ctx = make_ctx(tmp_path, credentials=store)
        output = STEP.run(ctx, _config(url, [{"path": "src"}]))
        assert output == {"commits": {"src": remote.rev("main")}}
        assert f"{USERNAME}:{PASSWORD}" in server.authorizations
        stored = [
            p.read_bytes()
            for root in (ctx.work_dir, tmp_path / "cache")
            for p in root.rglob("*")
            if p.is_file() and (p.name == "config" or p.suffix in (".json", ""))
        ]
        assert stored and not any(PASSWORD.encode() in content for content in stored)

        wrong = StaticCredentialStore(
            (CredentialRule("git", url, Credentials(USERNAME, SecretStr("wrong-" + PASSWORD))),)
        )
        other = make_ctx(tmp_path, credentials=wrong, work="other")
        with pytest.raises(RetryableStepError) as caught:
            STEP.run(other, _config(url, [{"path": "src"}]))
        assert "authentication failed" in str(caught.value)
        assert PASSWORD not in str(caught.value)


def test_recurse_submodules_checks_them_out(tmp_path: Path, remotes: Path) -> None:
    library = GitRemote.create(remotes, "lib")
    library_commit = library.commit("lib", {"lib.txt": "shared\n"})
    app = GitRemote.create(remotes, "app")
    with GitHTTPServer(remotes) as server:
        gitmodules = f'[submodule "lib"]\n\tpath = lib\n\turl = {server.url_for(library)}\n'
        base = app.commit("app", {".gitmodules": gitmodules})
        # A gitlink (mode 160000) cannot be written through GitRemote.commit's files.
        entries = app.git("ls-tree", base) + f"\n160000 commit {library_commit}\tlib\n"
        tree = _git_with_input(app, entries, "mktree")
        linked = _git_with_input(app, "add lib", "commit-tree", tree, "-p", base)
        app.git("update-ref", "refs/heads/main", linked)
        ctx = make_ctx(tmp_path)
        config = _config(server.url_for(app), [{"path": "src"}], recurseSubmodules=True)
        output = STEP.run(ctx, config)
    assert output == {"commits": {"src": linked}}
    assert (ctx.work_dir / "src" / "lib" / "lib.txt").read_text() == "shared\n"


def _git_with_input(remote: GitRemote, data: str, *args: str) -> str:
    env = git_environment(
        GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@example.com",
        GIT_COMMITTER_NAME="A", GIT_COMMITTER_EMAIL="a@example.com",
    )  # fmt: skip
    result = subprocess.run(
        ["git", "--git-dir", str(remote.git_dir), *args],
        input=data.encode(),
        env=env,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip()
