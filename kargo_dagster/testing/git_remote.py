"""Git repositories for tests: bare repositories built commit by commit, served over HTTP.

:class:`GitRemote` writes commits, branches and tags straight into a bare repository with
git's plumbing commands, so every object has the dates, authors and files a test asks for
and no working copy or push is involved. Its :attr:`GitRemote.url` is a ``file://`` URL;
:class:`GitHTTPServer` serves the same repositories over git's smart HTTP protocol (through
``git http-backend``), optionally behind Basic authentication, for code that only accepts
``http(s)://`` URLs or that must send credentials.

Examples:
    >>> remote = GitRemote.create(tmp_path / "remotes", "app")  # doctest: +SKIP
    >>> first = remote.commit("add chart", {"charts/app/values.yaml": "replicas: 1\\n"})
    >>> remote.tag("v1.0.0", message="release 1.0.0")
    >>> with GitHTTPServer(tmp_path / "remotes") as server:
    ...     url = server.url_for(remote)
"""

import base64
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from kargo_dagster.testing.loopback import LoopbackService, QuietHandler

__all__ = ["AUTHOR", "COMMITTER", "GitHTTPServer", "GitIdentity", "GitRemote", "git_environment"]

_ZERO_ID = "0" * 40
_FIRST_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def git_environment(**extra: str) -> dict[str, str]:
    """The environment for test git commands: no user or system configuration, no prompts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in ("SSH_ASKPASS",)
    }
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    env.update(extra)
    return env


def _git(git_dir: Path, *args: str, env: Mapping[str, str] | None = None, data: bytes = b"") -> str:
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        input=data,
        env=dict(env) if env is not None else git_environment(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(args)
        raise RuntimeError(
            f"git {command} failed in {git_dir}: {result.stderr.decode(errors='replace')}"
        )
    return result.stdout.decode().strip()


def _git_date(when: datetime) -> str:
    # git's internal "<seconds> <zone>" form keeps the zone a test asked for.
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{int(when.timestamp())} {sign}{minutes // 60:02d}{minutes % 60:02d}"


@dataclass(frozen=True)
class GitIdentity:
    """A name and e-mail for authors, committers and taggers."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


AUTHOR = GitIdentity("Ada Author", "ada@example.com")
COMMITTER = GitIdentity("Cy Committer", "cy@example.com")


@dataclass
class GitRemote:
    """A bare repository that tests write history into.

    Commits and tags without an explicit date get one from a clock that starts at
    2024-01-01T00:00:00Z and moves one minute per object, so "newer" is always well defined.

    Attributes:
        git_dir: The bare repository.
        default_branch: The branch ``HEAD`` points at.
    """

    git_dir: Path
    default_branch: str = "main"
    _clock: datetime = field(default=_FIRST_DATE, repr=False)

    @classmethod
    def create(cls, root: Path, name: str = "repo", *, default_branch: str = "main") -> "GitRemote":
        """A new, empty bare repository ``<root>/<name>.git``."""
        git_dir = root / f"{name}.git"
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "git",
                "init",
                "--quiet",
                "--bare",
                f"--initial-branch={default_branch}",
                str(git_dir),
            ],
            env=git_environment(),
            check=True,
        )
        # Let clients ask for partial clones, as hosted git servers do.
        _git(git_dir, "config", "uploadpack.allowFilter", "true")
        return cls(git_dir=git_dir, default_branch=default_branch)

    @property
    def url(self) -> str:
        """The repository's ``file://`` URL."""
        return self.git_dir.resolve().as_uri()

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run a git command in the repository and return its trimmed output."""
        return _git(self.git_dir, *args, env=env)

    def rev(self, revision: str) -> str:
        """The object ID ``revision`` resolves to."""
        return self.git("rev-parse", "--verify", f"{revision}^{{commit}}")

    def branches(self) -> dict[str, str]:
        """Branch name to commit ID."""
        out = self.git("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads")
        return dict(line.split(" ", 1) for line in out.splitlines())

    def _tick(self, when: datetime | None) -> datetime:
        if when is None:
            self._clock += timedelta(minutes=1)
            return self._clock
        if when.tzinfo is None:
            raise ValueError("dates must carry a time zone")
        return when

    def _tree_with(self, parent: str | None, files: Mapping[str, str | None]) -> str:
        index = self.git_dir / f"test-index-{threading.get_ident()}"
        env = git_environment(GIT_INDEX_FILE=str(index))
        try:
            if parent is not None:
                _git(self.git_dir, "read-tree", parent, env=env)
            else:
                _git(self.git_dir, "read-tree", "--empty", env=env)
            lines: list[str] = []
            for path, content in files.items():
                if content is None:
                    lines.append(f"0 {_ZERO_ID}\t{path}")
                else:
                    blob = _git(self.git_dir, "hash-object", "-w", "--stdin", data=content.encode())
                    lines.append(f"100644 {blob}\t{path}")
            if lines:
                data = ("\n".join(lines) + "\n").encode()
                _git(self.git_dir, "update-index", "--index-info", env=env, data=data)
            return _git(self.git_dir, "write-tree", env=env)
        finally:
            index.unlink(missing_ok=True)

    def commit(
        self,
        message: str,
        files: Mapping[str, str | None] | None = None,
        *,
        branch: str | None = None,
        date: datetime | None = None,
        author: GitIdentity = AUTHOR,
        committer: GitIdentity = COMMITTER,
        parents: list[str] | None = None,
    ) -> str:
        """Commit ``files`` (path to content; None deletes) on top of ``branch``.

        Args:
            message: The commit message; its first line is the subject.
            files: Changes relative to the first parent; an empty mapping makes an empty commit.
            branch: The branch to advance (created if missing); default: the default branch.
            date: Author and committer date; default: the next tick of the clock.
            author: Who wrote the change.
            committer: Who committed it.
            parents: Explicit parents (default: the branch's tip, if any); the first parent's
                tree is the base the changes apply to.

        Returns:
            The new commit's ID.
        """
        branch = branch or self.default_branch
        if parents is None:
            tip = self.branches().get(branch)
            parents = [tip] if tip else []
        tree = self._tree_with(parents[0] if parents else None, files or {})
        when = _git_date(self._tick(date))
        env = git_environment(
            GIT_AUTHOR_NAME=author.name,
            GIT_AUTHOR_EMAIL=author.email,
            GIT_AUTHOR_DATE=when,
            GIT_COMMITTER_NAME=committer.name,
            GIT_COMMITTER_EMAIL=committer.email,
            GIT_COMMITTER_DATE=when,
        )
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        commit = _git(self.git_dir, *args, env=env, data=message.encode())
        self.git("update-ref", f"refs/heads/{branch}", commit)
        return commit

    def merge(
        self,
        source: str,
        *,
        into: str | None = None,
        message: str | None = None,
        date: datetime | None = None,
    ) -> str:
        """A merge commit of branch ``source`` into ``into`` (default branch) with both parents.

        Returns:
            The merge commit's ID.
        """
        into = into or self.default_branch
        ours, theirs = self.rev(f"refs/heads/{into}"), self.rev(f"refs/heads/{source}")
        tree = self.git("merge-tree", "--write-tree", ours, theirs).splitlines()[0]
        when = _git_date(self._tick(date))
        env = git_environment(
            GIT_AUTHOR_NAME=AUTHOR.name,
            GIT_AUTHOR_EMAIL=AUTHOR.email,
            GIT_AUTHOR_DATE=when,
            GIT_COMMITTER_NAME=COMMITTER.name,
            GIT_COMMITTER_EMAIL=COMMITTER.email,
            GIT_COMMITTER_DATE=when,
        )
        text = message or f"Merge branch '{source}' into {into}"
        args = ["commit-tree", tree, "-p", ours, "-p", theirs]
        commit = _git(self.git_dir, *args, env=env, data=text.encode())
        self.git("update-ref", f"refs/heads/{into}", commit)
        return commit

    def branch(self, name: str, start: str | None = None) -> str:
        """Create (or move) branch ``name`` at ``start`` (default: the default branch's tip)."""
        commit = self.rev(start or f"refs/heads/{self.default_branch}")
        self.git("update-ref", f"refs/heads/{name}", commit)
        return commit

    def delete_branch(self, name: str) -> None:
        """Delete branch ``name``."""
        self.git("update-ref", "-d", f"refs/heads/{name}")

    def set_default_branch(self, name: str) -> None:
        """Point ``HEAD`` at branch ``name``."""
        self.git("symbolic-ref", "HEAD", f"refs/heads/{name}")
        self.default_branch = name

    def tag(
        self,
        name: str,
        target: str | None = None,
        *,
        message: str | None = None,
        date: datetime | None = None,
        tagger: GitIdentity = COMMITTER,
    ) -> str:
        """Tag ``target`` (default: the default branch's tip).

        Args:
            name: The tag name.
            target: A commit ID or revision.
            message: With a message the tag is annotated, else lightweight.
            date: The tagger date of an annotated tag (default: the next tick of the clock).
            tagger: Who made an annotated tag.

        Returns:
            The ID of the tag object (annotated) or of the commit (lightweight).
        """
        commit = self.rev(target or f"refs/heads/{self.default_branch}")
        if message is None:
            self.git("update-ref", f"refs/tags/{name}", commit)
            return commit
        env = git_environment(
            GIT_COMMITTER_NAME=tagger.name,
            GIT_COMMITTER_EMAIL=tagger.email,
            GIT_COMMITTER_DATE=_git_date(self._tick(date)),
        )
        self.git("tag", "--annotate", "--force", "--message", message, name, commit, env=env)
        return self.git("rev-parse", f"refs/tags/{name}")

    def delete_tag(self, name: str) -> None:
        """Delete tag ``name``."""
        self.git("update-ref", "-d", f"refs/tags/{name}")


class GitHTTPServer(LoopbackService):
    """Serves every bare repository under ``root`` over git's smart HTTP protocol.

    Runs ``git http-backend`` per request on ``127.0.0.1`` and ``port`` (default: any free
    one). With ``username`` and ``password`` every request needs that Basic authentication; the
    credentials clients sent are kept in :attr:`authorizations` (decoded ``user:password``),
    and each request's method and path in :attr:`requests`.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        port: int = 0,
    ):
        self.root = root
        self._listen_port = port
        self._expected = None
        if password is not None:
            token = base64.b64encode(f"{username or ''}:{password}".encode()).decode()
            self._expected = f"Basic {token}"
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str] = []

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.url

    def url_for(self, remote: GitRemote) -> str:
        """The HTTP URL of ``remote``, which must live under the server's root."""
        relative = remote.git_dir.resolve().relative_to(self.root.resolve())
        return f"{self.base_url}/{relative.as_posix()}"

    def check_authorization(self, header: str | None) -> bool:
        """Record the credentials in ``header`` and say whether they are the expected ones."""
        if header and header.startswith("Basic "):
            self.authorizations.append(base64.b64decode(header[6:]).decode(errors="replace"))
        return self._expected is None or header == self._expected


def _handler_for(server: GitHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.read_body()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            server.requests.append((self.command, url.path))
            body = self._body() if self.command == "POST" else b""
            if not server.check_authorization(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            env = git_environment(
                GIT_PROJECT_ROOT=str(server.root.resolve()),
                GIT_HTTP_EXPORT_ALL="1",
                GATEWAY_INTERFACE="CGI/1.1",
                REQUEST_METHOD=self.command,
                PATH_INFO=url.path,
                QUERY_STRING=url.query,
                CONTENT_TYPE=self.headers.get("Content-Type", ""),
                CONTENT_LENGTH=str(len(body)),
                REMOTE_ADDR=self.client_address[0],
                REMOTE_USER="tester",
            )
            for header, variable in (
                ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
                ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ):
                if self.headers.get(header):
                    env[variable] = self.headers[header]
            result = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split(" ")[0])
                elif name:
                    headers.append((name, value.strip()))
            self.reply(status, payload, headers)

    return Handler
