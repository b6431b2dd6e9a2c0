"""Git mirrors against real repositories: file:// remotes and git's smart HTTP server."""

import fcntl
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.git.command import GitCommand, scrub
from kargo_dagster.clients.git.history import changed_paths, list_commits, list_tags
from kargo_dagster.clients.git.mirror import GitMirrors, parse_ls_remote
from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RepositoryError
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote, git_environment
from tests.hang_alarm import hang_alarm

PASSWORD = "s3cret-t0ken-value"
USERNAME = "robot-user"


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    return tmp_path / "remotes"


@pytest.fixture
def remote(remotes: Path) -> GitRemote:
    repo = GitRemote.create(remotes, "app")
    repo.commit("first", {"README.md": "hello\n"})
    repo.commit("second", {"charts/app/values.yaml": "replicas: 1\n"})
    repo.tag("v1.0.0")
    return repo


@pytest.fixture
def mirrors(tmp_path: Path) -> GitMirrors:
    return GitMirrors(tmp_path / "mirrors")


@pytest.fixture
def auth_server(remotes: Path) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(remotes, username=USERNAME, password=PASSWORD) as server:
        yield server


def _store(url: str, password: str = PASSWORD) -> StaticCredentialStore:
    return StaticCredentialStore(
        (CredentialRule("git", url, Credentials(USERNAME, SecretStr(password))),)
    )


def _refs(git_dir: Path) -> dict[str, str]:
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "for-each-ref", "--format=%(refname) %(objectname)"],
        env=git_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ") for line in out.splitlines())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_first_sync_mirrors_every_branch_and_tag(remote: GitRemote, mirrors: GitMirrors) -> None:
    remote.branch("release")
    with mirrors.synced(remote.url) as mirror:
        assert mirror.fetched
        assert mirror.path == mirrors.path_for(remote.url)
        assert mirror.remote.default_branch == "main"
        refs = _refs(mirror.git_dir)
    assert refs == {
        "refs/heads/main": remote.rev("main"),
        "refs/heads/release": remote.rev("main"),
        "refs/tags/v1.0.0": remote.rev("main"),
    }
    state = json.loads((mirror.path / "state.json").read_text())
    assert state["url"] == remote.url
    assert state["remote"]["head"] == "refs/heads/main"


def test_unchanged_remote_is_not_fetched_again(remote: GitRemote, mirrors: GitMirrors) -> None:
    with mirrors.synced(remote.url) as first:
        pass
    marker = first.path / "marker"
    marker.write_text("kept")
    (first.git_dir / "FETCH_HEAD").unlink()
    with mirrors.synced(remote.url) as second:
        assert not second.fetched
    assert second.path == first.path
    assert marker.read_text() == "kept"
    assert not (second.git_dir / "FETCH_HEAD").exists()  # git fetch would have written it


def test_new_commits_tags_and_deletions_reach_the_same_mirror(
    remote: GitRemote, mirrors: GitMirrors
) -> None:
    remote.tag("old")
    with mirrors.synced(remote.url) as first:
        pass
    marker = first.path / "marker"
    marker.write_text("kept")
    inode = first.git_dir.stat().st_ino
    third = remote.commit("third", {"charts/app/values.yaml": "replicas: 2\n"})
    remote.tag("v1.0.0", third)  # a moved tag
    remote.delete_tag("old")
    with mirrors.synced(remote.url) as second:
        assert second.fetched
        refs = _refs(second.git_dir)
    assert second.git_dir.stat().st_ino == inode
    assert marker.read_text() == "kept"
    assert refs == {"refs/heads/main": third, "refs/tags/v1.0.0": third}


def _push_from_clone(remote: GitRemote, tmp_path: Path, message: str) -> tuple[Path, str]:
    clone = tmp_path / "clone"
    env = git_environment()
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", remote.url, str(clone)], env=env, check=True)
    (clone / "pushed.txt").write_text(message)
    for args in (
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message],
        ["push", "-q", "origin", "HEAD:main"],
    ):
        subprocess.run(["git", *args], cwd=clone, env=env, check=True)
    return clone, remote.rev("main")


def test_a_push_from_this_machine_is_recorded_without_fetching_it_back(
    remote: GitRemote, mirrors: GitMirrors, tmp_path: Path
) -> None:
    with mirrors.synced(remote.url):
        pass
    clone, pushed = _push_from_clone(remote, tmp_path, "ours")
    assert mirrors.absorb_push(remote.url, clone, "main", pushed)
    with mirrors.synced(remote.url) as mirror:
        assert not mirror.fetched
        assert mirror.remote.branch("main") == pushed
        assert _refs(mirror.git_dir)["refs/heads/main"] == pushed
    # Someone else's push afterwards is still seen and fetched.
    _, theirs = _push_from_clone(remote, tmp_path, "theirs")
    with mirrors.synced(remote.url) as mirror:
        assert mirror.fetched
        assert _refs(mirror.git_dir)["refs/heads/main"] == theirs


def test_a_push_is_not_recorded_in_a_mirror_that_was_never_synced(
    remote: GitRemote, mirrors: GitMirrors, tmp_path: Path
) -> None:
    clone, pushed = _push_from_clone(remote, tmp_path, "ours")
    assert not mirrors.absorb_push(remote.url, clone, "main", pushed)


def test_equivalent_urls_share_one_mirror(mirrors: GitMirrors) -> None:
    assert mirrors.path_for("https://GitHub.com/Acme/App.git/") == mirrors.path_for(
        "https://github.com/acme/app"
    )
    assert mirrors.path_for("https://github.com/acme/app") != mirrors.path_for(
        "https://github.com/acme/other"
    )


def test_default_branch_change_is_seen(remote: GitRemote, mirrors: GitMirrors) -> None:
    with mirrors.synced(remote.url):
        pass
    remote.branch("trunk")
    remote.set_default_branch("trunk")
    with mirrors.synced(remote.url) as mirror:
        assert mirror.remote.default_branch == "trunk"
        assert mirror.remote.branch("trunk") == remote.rev("trunk")


def test_empty_remote_gives_no_refs(remotes: Path, mirrors: GitMirrors) -> None:
    empty = GitRemote.create(remotes, "empty")
    with mirrors.synced(empty.url) as mirror:
        assert dict(mirror.remote.refs) == {}
        assert mirror.remote.default_branch is None
        assert _refs(mirror.git_dir) == {}


def test_blobless_mirror_is_a_partial_clone_without_blobs(
    remote: GitRemote, mirrors: GitMirrors
) -> None:
    with mirrors.synced(remote.url, blobless=True) as mirror:
        config = mirror.git("config", "--list").decode()
        missing = mirror.git("rev-list", "--objects", "--all", "--missing=print").decode()
        # Reading history and changed paths needs commits and trees only.
        commits = list_commits(mirror, "refs/heads/main", with_paths=True)
    assert "remote.origin.promisor=true" in config
    assert "remote.origin.partialclonefilter=blob:none" in config
    assert sum(line.startswith("?") for line in missing.splitlines()) == 2
    assert [c.paths for c in commits] == [("charts/app/values.yaml",), ("README.md",)]


def test_history_queries(remote: GitRemote, mirrors: GitMirrors) -> None:
    remote.tag("v2.0.0", message="Release 2\n\nnotes")
    with mirrors.synced(remote.url) as mirror:
        commits = list_commits(mirror, "refs/heads/main")
        tags = list_tags(mirror)
        paths = changed_paths(mirror, [remote.rev("main~1"), remote.rev("main")])
    assert [c.subject for c in commits] == ["second", "first"]
    assert commits[0].author == "Ada Author <ada@example.com>"
    assert commits[0].committer == "Cy Committer <cy@example.com>"
    assert [(t.name, t.annotation, t.tagger) for t in tags] == [
        ("v2.0.0", "Release 2", "Cy Committer <cy@example.com>"),
        ("v1.0.0", "", ""),
    ]
    assert paths == {
        remote.rev("main~1"): ("README.md",),
        remote.rev("main"): ("charts/app/values.yaml",),
    }


def test_missing_repository_is_a_clear_error(remotes: Path, mirrors: GitMirrors) -> None:
    url = (remotes / "nope.git").as_uri()
    with pytest.raises(RepositoryError) as caught, mirrors.synced(url):
        pass
    message = str(caught.value)
    assert url in message
    assert "repository not found" in message


def test_unreachable_remote_is_a_clear_error(mirrors: GitMirrors) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/acme/app.git"
    with pytest.raises(RepositoryError) as caught, mirrors.synced(url):
        pass
    message = str(caught.value)
    assert message.startswith(f"listing refs of git repository {url}: repository unreachable")
    assert not (mirrors.path_for(url) / "repo.git").exists()


def test_credentials_reach_the_server_but_never_the_mirror(
    remote: GitRemote, auth_server: GitHTTPServer, tmp_path: Path
) -> None:
    url = auth_server.url_for(remote)
    mirrors = GitMirrors(tmp_path / "mirrors", _store(url))
    with mirrors.synced(url) as mirror:
        assert mirror.remote.branch("main") == remote.rev("main")
        config = subprocess.run(
            ["git", "--git-dir", str(mirror.git_dir), "config", "--list", "--show-origin"],
            env=git_environment(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert f"{USERNAME}:{PASSWORD}" in auth_server.authorizations
    assert f"remote.origin.url={url}" in config
    for path in mirror.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data, path
            assert USERNAME.encode() not in data, path


@pytest.mark.parametrize("password", [None, "wrong-password-123"])
def test_refused_credentials_are_a_clear_error_without_secrets(
    remote: GitRemote, auth_server: GitHTTPServer, tmp_path: Path, password: str | None
) -> None:
    url = auth_server.url_for(remote)
    store = _store(url, password) if password else StaticCredentialStore()
    mirrors = GitMirrors(tmp_path / "mirrors", store)
    with pytest.raises(RepositoryError) as caught, mirrors.synced(url):
        pass
    message = str(caught.value)
    assert url in message
    assert "authentication failed" in message
    assert "wrong-password" not in message
    assert USERNAME not in message


def test_unreachable_remote_with_credentials_leaks_nothing(tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{_closed_port()}/acme/app.git"
    mirrors = GitMirrors(tmp_path / "mirrors", _store(url))
    with pytest.raises(RepositoryError) as caught, mirrors.synced(url):
        pass
    assert PASSWORD not in str(caught.value)
    assert "repository unreachable" in str(caught.value)


def test_git_output_is_scrubbed() -> None:
    command = GitCommand("https://git.example.com/app", Credentials(USERNAME, SecretStr(PASSWORD)))
    error = command.failure(
        "fetching",
        f"fatal: unable to access 'https://{USERNAME}:{PASSWORD}@git.example.com/app/': "
        f"token {PASSWORD} rejected",
    )
    assert PASSWORD not in str(error)
    assert USERNAME not in str(error)
    assert scrub(f"x {PASSWORD} y", [PASSWORD, "ab"]) == "x ***** y"


def test_a_locked_mirror_makes_others_wait_then_give_up(remote: GitRemote, tmp_path: Path) -> None:
    mirrors = GitMirrors(tmp_path / "mirrors", timeout=0.3)
    path = mirrors.path_for(remote.url)
    path.mkdir(parents=True)
    with (path / "lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(RepositoryError, match="stayed locked"), mirrors.synced(remote.url):
            pass
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    with mirrors.synced(remote.url) as mirror:
        assert mirror.fetched


def test_concurrent_syncs_share_the_mirror(remote: GitRemote, mirrors: GitMirrors) -> None:
    results: list[bool] = []
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            with mirrors.synced(remote.url) as mirror:
                results.append(mirror.fetched)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=sync) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]  # exactly one fetch


def test_parse_ls_remote() -> None:
    refs = parse_ls_remote(
        "ref: refs/heads/main\tHEAD\n"
        "aaa\tHEAD\n"
        "aaa\trefs/heads/main\n"
        "bbb\trefs/tags/v1\n"
        "ccc\trefs/tags/v1^{}\n"
        "ddd\trefs/pull/1/head\n"
    )
    assert dict(refs.refs) == {"refs/heads/main": "aaa", "refs/tags/v1": "bbb"}
    assert (refs.head, refs.head_id, refs.default_branch) == ("refs/heads/main", "aaa", "main")


def test_another_spelling_of_the_url_shares_the_mirror_and_is_used(
    remote: GitRemote, remotes: Path, tmp_path: Path
) -> None:
    with GitHTTPServer(remotes) as server:
        url = server.url_for(remote)
        mirrors = GitMirrors(tmp_path / "mirrors")
        with mirrors.synced(url) as first:
            pass
        respelled = url + ".git/" if not url.endswith(".git") else url.removesuffix(".git") + "/"
        remote.commit("third", {"x": "1"})
        with mirrors.synced(respelled) as second:
            assert second.path == first.path
            assert second.fetched
            assert f"remote.origin.url={respelled}" in second.git("config", "--list").decode()


def test_a_git_command_that_hangs_is_stopped_with_its_helpers(tmp_path: Path) -> None:
    # A stand-in for git that starts a helper holding the output open, then hangs for a
    # minute: a run still going after half of it waited for the helper.
    hanging = tmp_path / "hanging-git"
    hanging.write_text("#!/bin/sh\nsleep 60 &\nsleep 60\n")
    hanging.chmod(0o755)
    command = GitCommand(
        repo_label="https://git.example.com/app", timeout=0.5, executable=str(hanging)
    )
    with (
        hang_alarm(30, "the hanging git command"),
        pytest.raises(RepositoryError, match=r"fetching git repository .* timed out after 0.5s"),
    ):
        command.run(["fetch"], action="fetching", cwd=tmp_path)


def test_a_clone_borrowing_the_mirrors_objects_hands_its_new_ones_over(
    remote: GitRemote, mirrors: GitMirrors, tmp_path: Path
) -> None:
    with mirrors.synced(remote.url) as mirror:
        git_dir = mirror.git_dir
    clone = tmp_path / "shared"
    env = git_environment()
    subprocess.run(
        ["git", "clone", "-q", "--shared", "-b", "main", str(git_dir), str(clone)],
        env=env,
        check=True,
    )
    subprocess.run(
        ["git", "remote", "set-url", "origin", remote.url], cwd=clone, env=env, check=True
    )
    (clone / "pushed.txt").write_text("ours")
    for args in (
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "ours"],
        ["push", "-q", "origin", "HEAD:main"],
    ):
        subprocess.run(["git", *args], cwd=clone, env=env, check=True)
    pushed = remote.rev("main")
    assert mirrors.absorb_push(remote.url, clone, "main", pushed)
    assert list((clone / ".git" / "objects").glob("??/*")) == []  # moved into the mirror...
    log = subprocess.run(
        ["git", "log", "-1", "--format=%s"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert log.stdout.strip() == "ours"  # ...and still seen by the clone through it
    with mirrors.synced(remote.url) as mirror:
        assert not mirror.fetched
        assert _refs(mirror.git_dir)["refs/heads/main"] == pushed


def test_fetching_first_reads_the_refs_from_the_mirror(
    remote: GitRemote, mirrors: GitMirrors
) -> None:
    remote.branch("release")
    with mirrors.synced(remote.url, fetch_first=True) as first:  # new: made as usual
        assert first.remote.default_branch == "main"
    third = remote.commit("third", {"x": "1"})
    remote.tag("v2.0.0", third)
    remote.git("branch", "-D", "release")
    with mirrors.synced(remote.url, fetch_first=True) as second:
        assert second.fetched
        assert dict(second.remote.refs) == {
            "refs/heads/main": third,
            "refs/tags/v1.0.0": remote.rev("v1.0.0"),
            "refs/tags/v2.0.0": third,
        }
        assert (second.remote.default_branch, second.remote.head_id) == ("main", third)
    # What it read is recorded: an ordinary sync finds nothing to fetch.
    with mirrors.synced(remote.url) as third_sync:
        assert not third_sync.fetched
