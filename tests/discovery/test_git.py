"""Git subscriptions discovered from real repositories served over git's smart HTTP."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.git.mirror import GitMirrors
from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.discovery.artifacts import DiscoveredCommit
from kargo_dagster.discovery.git import discover_commits, shorten_subject
from kargo_dagster.errors import DiscoveryError, RepositoryError
from kargo_dagster.spec.warehouse import GitSubscription
from kargo_dagster.testing.git_remote import GitHTTPServer, GitIdentity, GitRemote

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    return tmp_path / "remotes"


@pytest.fixture
def server(remotes: Path) -> Iterator[GitHTTPServer]:
    remotes.mkdir(parents=True, exist_ok=True)
    with GitHTTPServer(remotes) as running:
        yield running


@pytest.fixture
def mirrors(tmp_path: Path) -> GitMirrors:
    return GitMirrors(tmp_path / "mirrors")


@pytest.fixture
def repo(remotes: Path) -> GitRemote:
    return GitRemote.create(remotes, "app")


def _sub(server: GitHTTPServer, remote: GitRemote, **fields: Any) -> GitSubscription:
    return GitSubscription.model_validate({"repoURL": server.url_for(remote), **fields})


def _ids(found: list[DiscoveredCommit]) -> list[str]:
    return [c.id for c in found]


def _tags(found: list[DiscoveredCommit]) -> list[str]:
    return [c.tag for c in found]


# --- NewestFromBranch -----------------------------------------------------------------------


def test_newest_from_default_branch(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    first = repo.commit("first", {"a": "1"}, date=T0)
    second = repo.commit(
        "second line one\nline two\n\nbody",
        {"b": "2"},
        date=T0 + timedelta(hours=1),
        author=GitIdentity("Ann", "ann@example.com"),
        committer=GitIdentity("Cid", "cid@example.com"),
    )
    found = discover_commits(_sub(server, repo), mirrors)
    assert found == [
        DiscoveredCommit(
            repo_url=server.url_for(repo),
            id=second,
            branch="",  # Kargo records the subscription's branch as written
            subject="second line one line two",
            author="Ann <ann@example.com>",
            committer="Cid <cid@example.com>",
            creator_date=T0 + timedelta(hours=1),
        ),
        DiscoveredCommit(
            repo_url=server.url_for(repo),
            id=first,
            subject="first",
            author="Ada Author <ada@example.com>",
            committer="Cy Committer <cy@example.com>",
            creator_date=T0,
        ),
    ]


def test_newest_from_named_branch_follows_first_parents(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    base = repo.commit("base", {"a": "1"})
    repo.branch("feature")
    side = repo.commit("side work", {"s": "1"}, branch="feature")
    main_work = repo.commit("main work", {"m": "1"})
    merge = repo.merge("feature")
    repo.branch("release", base)
    found = discover_commits(_sub(server, repo, branch="main"), mirrors)
    assert _ids(found) == [merge, main_work, base]  # the merged side commit is not listed
    assert side not in _ids(found)
    assert {c.branch for c in found} == {"main"}
    release = discover_commits(_sub(server, repo, branch="release"), mirrors)
    assert _ids(release) == [base]


def test_default_branch_is_the_remote_head(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    repo.commit("on main", {"a": "1"})
    repo.branch("trunk")
    trunk = repo.commit("on trunk", {"t": "1"}, branch="trunk")
    repo.set_default_branch("trunk")
    assert _ids(discover_commits(_sub(server, repo), mirrors))[0] == trunk


def test_discovery_limit_and_since(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    ids = [repo.commit(f"c{i}", {"f": str(i)}, date=T0 + timedelta(days=i)) for i in range(30)]
    newest_first = ids[::-1]
    assert _ids(discover_commits(_sub(server, repo), mirrors)) == newest_first[:20]
    limited = _sub(server, repo, discoveryLimit=3)
    assert _ids(discover_commits(limited, mirrors)) == newest_first[:3]
    # since is inclusive and compares committer dates, whatever the zone it is written in.
    since = (T0 + timedelta(days=27)).astimezone(timezone(timedelta(hours=2)))
    recent = _sub(server, repo, since=since.isoformat())
    assert _ids(discover_commits(recent, mirrors)) == newest_first[:3]


def test_missing_branch_is_a_repository_error(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    repo.commit("only", {"a": "1"})
    with pytest.raises(RepositoryError) as caught:
        discover_commits(_sub(server, repo, branch="nope"), mirrors)
    assert str(caught.value) == (
        f"branch 'nope' not found in git repository {server.url_for(repo)}"
    )


def test_empty_repository_offers_nothing(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    assert discover_commits(_sub(server, repo), mirrors) == []
    assert discover_commits(_sub(server, repo, commitSelectionStrategy="NewestTag"), mirrors) == []


def test_long_subjects_are_cut_like_kargo() -> None:
    assert shorten_subject("x" * 80) == "x" * 80
    assert shorten_subject("x" * 81) == "x" * 77 + "..."
    # 76 ASCII bytes then a two-byte character straddling byte 77: the split one is dropped.
    assert shorten_subject("a" * 76 + "é" * 5) == "a" * 76 + "..."


# --- path filters ---------------------------------------------------------------------------


@pytest.fixture
def monorepo(repo: GitRemote) -> dict[str, str]:
    return {
        "app": repo.commit("app values", {"charts/app/values.yaml": "1"}),
        "docs": repo.commit("docs", {"docs/readme.md": "1"}),
        "both": repo.commit("app and docs", {"charts/app/Chart.yaml": "1", "docs/x.md": "1"}),
        "lib": repo.commit("lib", {"charts/library/values.yaml": "1"}),
        "tests": repo.commit("app tests", {"charts/app/tests/t.yaml": "1"}),
        "move": repo.commit("move", {"charts/app/values.yaml": None, "other/values.yaml": "1"}),
    }


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ([], [], ["move", "tests", "lib", "both", "docs", "app"]),
        (["charts/app"], [], ["move", "tests", "both", "app"]),
        (["./charts/app/"], [], ["move", "tests", "both", "app"]),
        (["glob:charts/*/values.yaml"], [], ["move", "lib", "app"]),
        (["glob:**/values.yaml"], [], ["move", "lib", "app"]),
        (["glob:charts/app/**"], ["glob:**/tests/**"], ["move", "both", "app"]),
        (["regex:^docs/"], [], ["both", "docs"]),
        (["regexp:\\.md$"], [], ["both", "docs"]),
        ([], ["docs"], ["move", "tests", "lib", "both", "app"]),  # "both" also changed a chart
        ([], ["docs", "charts"], ["move"]),
        (["charts"], ["charts/app"], ["lib"]),
    ],
)
def test_include_and_exclude_paths(
    repo: GitRemote,
    server: GitHTTPServer,
    mirrors: GitMirrors,
    monorepo: dict[str, str],
    include: list[str],
    exclude: list[str],
    expected: list[str],
) -> None:
    sub = _sub(server, repo, includePaths=include, excludePaths=exclude)
    assert _ids(discover_commits(sub, mirrors)) == [monorepo[name] for name in expected]


def test_path_filters_page_through_long_histories(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    wanted = [repo.commit(f"app {i}", {"app/f": str(i)}) for i in range(3)]
    for i in range(70):  # pages of 2, 4, 8, 16, 32, then 64 commits
        repo.commit(f"noise {i}", {"noise/f": str(i)})
    sub = _sub(server, repo, includePaths=["app"], discoveryLimit=2)
    assert _ids(discover_commits(sub, mirrors)) == wanted[::-1][:2]
    sub = _sub(server, repo, includePaths=["app"], discoveryLimit=5)
    assert _ids(discover_commits(sub, mirrors)) == wanted[::-1]


def test_merge_commits_count_changes_against_their_first_parent(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    repo.commit("base", {"a": "1"})
    repo.branch("feature")
    repo.commit("feature change", {"app/f": "1"}, branch="feature")
    repo.commit("main change", {"docs/d": "1"})
    merge = repo.merge("feature")
    sub = _sub(server, repo, includePaths=["app"])
    assert _ids(discover_commits(sub, mirrors)) == [merge]


def test_invalid_path_selector_names_the_repository(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    sub = _sub(server, repo, includePaths=["glob:charts/[app"])
    with pytest.raises(DiscoveryError) as caught:
        discover_commits(sub, mirrors)
    assert str(caught.value).startswith(f"git subscription {server.url_for(repo)!r}: includePaths")


# --- tags -------------------------------------------------------------------------------------


@pytest.fixture
def tagged(repo: GitRemote) -> dict[str, str]:
    """Tags made in this order, with dates that disagree with both name and version order."""
    commits = {}
    for i, (tag, day, annotated) in enumerate(
        [
            ("v1.2.0", 5, False),
            ("v1.10.0", 2, True),
            ("v2.0.0-rc.1", 9, True),
            ("v1.9.3", 7, False),
            ("1.0", 1, False),
            ("nightly-2025", 8, True),
            ("v2.0.0", 3, True),
        ]
    ):
        when = T0 + timedelta(days=day)
        commit = repo.commit(f"release {tag}", {f"f{i}": tag}, date=when)
        if annotated:
            # The tagger date, an hour after the commit, is what NewestTag sorts by.
            repo.tag(tag, commit, message=f"Release {tag}", date=when + timedelta(hours=1))
        else:
            repo.tag(tag, commit)
        commits[tag] = commit
    return commits


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"commitSelectionStrategy": "SemVer"},
            ["v2.0.0", "v2.0.0-rc.1", "v1.10.0", "v1.9.3", "v1.2.0"],
        ),
        (
            {"commitSelectionStrategy": "SemVer", "strictSemvers": False},
            ["v2.0.0", "v2.0.0-rc.1", "v1.10.0", "v1.9.3", "v1.2.0", "1.0"],
        ),
        (
            {"commitSelectionStrategy": "SemVer", "semverConstraint": "^1.2"},
            ["v1.10.0", "v1.9.3", "v1.2.0"],
        ),
        (
            {"commitSelectionStrategy": "SemVer", "semverConstraint": ">=2.0.0-0"},
            ["v2.0.0", "v2.0.0-rc.1"],
        ),
        (
            {"commitSelectionStrategy": "Lexical"},
            ["v2.0.0-rc.1", "v2.0.0", "v1.9.3", "v1.2.0", "v1.10.0", "nightly-2025", "1.0"],
        ),
        (
            {"commitSelectionStrategy": "NewestTag"},
            ["v2.0.0-rc.1", "nightly-2025", "v1.9.3", "v1.2.0", "v2.0.0", "v1.10.0", "1.0"],
        ),
        (
            {"commitSelectionStrategy": "NewestTag", "allowTagsRegexes": ["^v1\\.", "^1"]},
            ["v1.9.3", "v1.2.0", "v1.10.0", "1.0"],
        ),
        (
            {"commitSelectionStrategy": "Lexical", "ignoreTagsRegexes": ["rc", "nightly"]},
            ["v2.0.0", "v1.9.3", "v1.2.0", "v1.10.0", "1.0"],
        ),
        (
            {
                "commitSelectionStrategy": "SemVer",
                "allowTagsRegexes": ["^v1"],
                "ignoreTagsRegexes": ["\\.9\\."],
            },
            ["v1.10.0", "v1.2.0"],
        ),
        (
            {"commitSelectionStrategy": "NewestTag", "discoveryLimit": 2},
            ["v2.0.0-rc.1", "nightly-2025"],
        ),
        (  # since does not apply to tag strategies, as in Kargo
            {
                "commitSelectionStrategy": "Lexical",
                "since": "2030-01-01T00:00:00Z",
                "discoveryLimit": 1,
            },
            ["v2.0.0-rc.1"],
        ),
    ],
)
def test_tag_strategies(
    repo: GitRemote,
    server: GitHTTPServer,
    mirrors: GitMirrors,
    tagged: dict[str, str],
    fields: dict[str, Any],
    expected: list[str],
) -> None:
    found = discover_commits(_sub(server, repo, **fields), mirrors)
    assert _tags(found) == expected
    assert _ids(found) == [tagged[tag] for tag in expected]
    assert {c.branch for c in found} == {""}


def test_annotated_and_lightweight_tags(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    light_commit = repo.commit(
        "light", {"a": "1"}, date=T0, author=GitIdentity("Lee", "lee@example.com")
    )
    repo.tag("light", light_commit)
    heavy_commit = repo.commit("heavy", {"b": "1"}, date=T0 + timedelta(days=1))
    repo.tag(
        "heavy",
        heavy_commit,
        message="Annotated release\n\nnotes",
        date=T0 + timedelta(days=10),
        tagger=GitIdentity("Tia Tagger", "tia@example.com"),
    )
    found = discover_commits(_sub(server, repo, commitSelectionStrategy="NewestTag"), mirrors)
    assert found == [
        DiscoveredCommit(
            repo_url=server.url_for(repo),
            id=heavy_commit,  # the commit, not the tag object
            tag="heavy",
            subject="heavy",  # the commit's subject, not the annotation
            author="Ada Author <ada@example.com>",
            committer="Cy Committer <cy@example.com>",
            creator_date=T0 + timedelta(days=10),  # the tagger date
        ),
        DiscoveredCommit(
            repo_url=server.url_for(repo),
            id=light_commit,
            tag="light",
            subject="light",
            author="Lee <lee@example.com>",
            committer="Cy Committer <cy@example.com>",
            creator_date=T0,  # the commit date
        ),
    ]


def test_tags_with_path_filters_look_at_the_tagged_commit_only(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    repo.commit("app 1", {"app/f": "1"})
    repo.tag("v1.0.0")
    repo.commit("app 2", {"app/f": "2"})
    repo.commit("docs", {"docs/f": "1"})
    repo.tag("v1.1.0")  # its own commit touched docs only, though app changed since v1.0.0
    repo.commit("app 3", {"app/f": "3"})
    repo.tag("v1.2.0")
    sub = _sub(server, repo, commitSelectionStrategy="SemVer", includePaths=["app"])
    assert _tags(discover_commits(sub, mirrors)) == ["v1.2.0", "v1.0.0"]
    sub = _sub(
        server, repo, commitSelectionStrategy="SemVer", includePaths=["app"], discoveryLimit=1
    )
    assert _tags(discover_commits(sub, mirrors)) == ["v1.2.0"]


def test_two_tags_on_one_commit(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    commit = repo.commit("one", {"app/f": "1"}, date=T0)
    repo.tag("b", commit)
    repo.tag("a", commit)
    sub = _sub(server, repo, commitSelectionStrategy="NewestTag", includePaths=["app"])
    found = discover_commits(sub, mirrors)
    assert _tags(found) == ["a", "b"]  # equal creator dates: ascending names, as git sorts
    assert _ids(found) == [commit, commit]


def test_invalid_semver_constraint_names_the_repository(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    sub = _sub(server, repo, commitSelectionStrategy="SemVer", semverConstraint="not a range")
    with pytest.raises(
        DiscoveryError, match="^" + re.escape(f"git subscription '{server.url_for(repo)}': ")
    ):
        discover_commits(sub, mirrors)


# --- subscriptions that cannot be evaluated, remotes that fail --------------------------------


def test_expression_filter_keeps_matching_branch_commits_before_the_limit(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    bot = GitIdentity("Bot", "bot@example.com")
    wanted = repo.commit("feat: one", {"a": "1"}, date=T0)
    repo.commit("chore: skip ci", {"a": "2"}, date=T0 + timedelta(hours=1))
    old = repo.commit("feat: two", {"a": "3"}, date=T0 + timedelta(hours=2), author=bot)
    newest = repo.commit("feat: three", {"a": "4"}, date=T0 + timedelta(hours=3))
    sub = _sub(
        server,
        repo,
        discoveryLimit=2,
        expressionFilter="!(subject contains 'skip ci') && author != 'Bot <bot@example.com>'",
    )
    # The filter runs before discoveryLimit: the two newest commits that pass it.
    assert _ids(discover_commits(sub, mirrors)) == [newest, wanted]
    # Times compare with expr's date(); commitDate is the committer date.
    after = _sub(
        server, repo, expressionFilter=f"commitDate >= date('{T0.isoformat()}') + duration('90m')"
    )
    assert _ids(discover_commits(after, mirrors)) == [newest, old]


def test_expression_filter_sees_tag_metadata(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    first = repo.commit("first", {"a": "1"}, date=T0)
    repo.tag("v1.0.0", first, message="Stable release", date=T0 + timedelta(hours=1))
    second = repo.commit("second", {"a": "2"}, date=T0 + timedelta(hours=2))
    repo.tag("v1.1.0", second)  # lightweight: no tagger, no annotation
    repo.tag("v2.0.0-rc.1", second, message="Candidate", date=T0 + timedelta(hours=3))
    semver = {"commitSelectionStrategy": "SemVer", "semverConstraint": ">=0.0.0-0"}
    annotated = _sub(server, repo, **semver, expressionFilter="annotation != ''")
    assert _tags(discover_commits(annotated, mirrors)) == ["v2.0.0-rc.1", "v1.0.0"]
    stable = _sub(server, repo, **semver, expressionFilter="annotation startsWith 'Stable'")
    assert _tags(discover_commits(stable, mirrors)) == ["v1.0.0"]
    # A result Go's strconv.ParseBool reads counts as a bool, as in Kargo.
    numeric = _sub(server, repo, **semver, expressionFilter="tag == 'v1.1.0' ? 1 : 0")
    assert _tags(discover_commits(numeric, mirrors)) == ["v1.1.0"]
    assert _ids(discover_commits(numeric, mirrors)) == [second]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("subject contains", "expressionFilter: "),
        ("subject", "expressionFilter: it gave 'first' for commit "),
        ("nope.field > 1", "expressionFilter: evaluating it for commit "),
    ],
)
def test_a_bad_expression_filter_names_the_subscription(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors, expression: str, message: str
) -> None:
    repo.commit("first", {"a": "1"})
    sub = _sub(server, repo, expressionFilter=expression)
    with pytest.raises(DiscoveryError) as caught:
        discover_commits(sub, mirrors)
    assert not isinstance(caught.value, RepositoryError)
    assert str(caught.value).startswith(f"git subscription {server.url_for(repo)!r}: {message}")


def test_new_commit_is_found_through_the_same_mirror(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    first = repo.commit("first", {"a": "1"})
    sub = _sub(server, repo)
    assert _ids(discover_commits(sub, mirrors)) == [first]
    mirror_dir = mirrors.path_for(sub.repo_url)
    (mirror_dir / "marker").write_text("still here")
    inode = (mirror_dir / "repo.git").stat().st_ino

    # A quiet tick: one ls-remote, no fetch.
    (mirror_dir / "repo.git" / "FETCH_HEAD").unlink()
    server.requests.clear()
    assert _ids(discover_commits(sub, mirrors)) == [first]
    assert not (mirror_dir / "repo.git" / "FETCH_HEAD").exists()
    assert [method for method, _ in server.requests].count("GET") == 1  # the ref advertisement

    second = repo.commit("second", {"a": "2"})
    assert _ids(discover_commits(sub, mirrors)) == [second, first]
    assert (mirror_dir / "marker").read_text() == "still here"
    assert (mirror_dir / "repo.git").stat().st_ino == inode
    assert list(mirrors.root.iterdir()) == [mirror_dir]


def test_unreachable_remote_is_a_repository_error(mirrors: GitMirrors) -> None:
    sub = GitSubscription.model_validate({"repoURL": "http://127.0.0.1:9/acme/app.git"})
    with pytest.raises(
        RepositoryError, match=re.escape("http://127.0.0.1:9/acme/app.git: repository unreachable")
    ):
        discover_commits(sub, mirrors)


def test_credentials_are_used_and_never_shown(remotes: Path, tmp_path: Path) -> None:
    repo = GitRemote.create(remotes, "private")
    commit = repo.commit("secret work", {"a": "1"})
    with GitHTTPServer(remotes, username="bot", password="hunter2-token") as server:
        url = server.url_for(repo)
        good = StaticCredentialStore(
            (CredentialRule("git", url, Credentials("bot", SecretStr("hunter2-token"))),)
        )
        sub = GitSubscription.model_validate({"repoURL": url})
        assert _ids(discover_commits(sub, GitMirrors(tmp_path / "good", good))) == [commit]
        bad = StaticCredentialStore(
            (CredentialRule("git", url, Credentials("bot", SecretStr("wrong-token-42"))),)
        )
        with pytest.raises(RepositoryError) as caught:
            discover_commits(sub, GitMirrors(tmp_path / "bad", bad))
    assert "authentication failed" in str(caught.value)
    assert "wrong-token-42" not in str(caught.value)
    for path in (tmp_path / "good").rglob("*"):
        if path.is_file():
            assert b"hunter2-token" not in path.read_bytes()


def test_invalid_tag_regex_is_a_discovery_error(
    repo: GitRemote, server: GitHTTPServer, mirrors: GitMirrors
) -> None:
    # The manifest loader rejects these; a model built in code skips that check.
    sub = GitSubscription.model_construct(
        repo_url=server.url_for(repo),
        commit_selection_strategy="Lexical",
        allow_tags_regexes=["(unclosed"],
    )
    with pytest.raises(DiscoveryError, match="allowTagsRegexes: invalid regular expression"):
        discover_commits(sub, mirrors)
