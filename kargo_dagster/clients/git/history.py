"""Reading commits and tags out of a git mirror, one git process per question.

Each function runs a single ``git log`` or ``git for-each-ref`` with a machine-readable
format (fields separated by ``0x1f``, records introduced or ended by ``0x1e``, file names
NUL-separated), so listing thousands of tags or walking a long branch costs one process
rather than one per object.

Dates, authors and subjects are those Kargo records: the committer date of a commit, the
creator date of a tag (the tagger date of an annotated tag, else the commit's committer
date), ``Name <email>`` for people, and the first paragraph of a message, joined onto one
line, as its subject.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kargo_dagster.clients.git.mirror import GitMirror

__all__ = ["CommitInfo", "TagInfo", "changed_paths", "list_commits", "list_tags"]

_FIELD = "\x1f"
_RECORD = "\x1e"
_LOG_FORMAT = "%x1e%H%x1f%cI%x1f%an <%ae>%x1f%cn <%ce>%x1f%s"
_PATHS_FORMAT = "%x1e%H"
# Fields of the tag itself (for an annotated tag: its message and tagger) and of the object
# it points at, dereferenced once (``*``); Python picks the right ones per tag.
_TAG_FORMAT = (
    _FIELD.join(
        [
            "%(refname:lstrip=2)",
            "%(objecttype)",
            "%(objectname)",
            "%(*objecttype)",
            "%(*objectname)",
            "%(creatordate:iso-strict)",
            "%(contents:subject)",
            "%(authorname) %(authoremail)",
            "%(committername) %(committeremail)",
            "%(*contents:subject)",
            "%(*authorname) %(*authoremail)",
            "%(*committername) %(*committeremail)",
            "%(taggername) %(taggeremail)",
        ]
    ).replace(_FIELD, "%1f")
    + "%1e"
)


@dataclass(frozen=True)
class CommitInfo:
    """One commit.

    Attributes:
        id: The commit ID.
        committed_at: The committer date, with the committer's zone.
        author: ``Name <email>``.
        committer: ``Name <email>``.
        subject: The message's first paragraph on one line.
        paths: Files the commit changed relative to its first parent (all files for a root
            commit), when asked for.
    """

    id: str
    committed_at: datetime
    author: str
    committer: str
    subject: str
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagInfo:
    """One tag that points (directly or through an annotated tag) at a commit.

    Attributes:
        name: The tag name without ``refs/tags/``.
        commit_id: The commit it designates.
        creator_date: The tagger date of an annotated tag, else the commit's committer date.
        author: The commit's author, ``Name <email>``.
        committer: The commit's committer, ``Name <email>``.
        subject: The commit message's subject.
        tagger: The tagger of an annotated tag, ``Name <email>``; empty for lightweight tags.
        annotation: The subject of an annotated tag's message; empty for lightweight tags.
    """

    name: str
    commit_id: str
    creator_date: datetime
    author: str
    committer: str
    subject: str
    tagger: str = ""
    annotation: str = ""


def _records(output: bytes) -> list[tuple[str, list[str]]]:
    """Split ``git log -z`` output into (header, file names) per commit."""
    records: list[tuple[str, list[str]]] = []
    for token in output.decode(errors="replace").split("\0"):
        token = token.lstrip("\n")
        if token.startswith(_RECORD):
            records.append((token[1:], []))
        elif token and records:
            records[-1][1].append(token)
    return records


def list_commits(
    mirror: GitMirror,
    revision: str,
    *,
    since: datetime | None = None,
    skip: int = 0,
    max_count: int | None = None,
    with_paths: bool = False,
) -> list[CommitInfo]:
    """Commits reachable from ``revision`` along first parents, newest first.

    This is Kargo's ``git log --first-parent``: a merge stands for everything it merged,
    and its changed paths are those relative to its first parent.

    Args:
        mirror: The synced mirror.
        revision: Where to start, e.g. ``refs/heads/main``.
        since: Stop at the first commit whose committer date is older (git's ``--since``).
        skip: Commits to skip first.
        max_count: At most this many commits.
        with_paths: Also list each commit's changed files.

    Raises:
        RepositoryError: git failed (e.g. an unknown revision).
    """
    args = ["log", "--first-parent", "-z", f"--format={_LOG_FORMAT}"]
    if with_paths:
        args += ["--name-only", "--no-renames", "--root"]
    if since is not None:
        args.append(f"--since={since.replace(microsecond=0).isoformat()}")
    if skip:
        args.append(f"--skip={skip}")
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    args += [revision, "--"]
    commits: list[CommitInfo] = []
    for header, paths in _records(mirror.git(*args, action="listing commits of")):
        commit_id, date, author, committer, subject = header.split(_FIELD, 4)
        commits.append(
            CommitInfo(
                id=commit_id,
                committed_at=datetime.fromisoformat(date),
                author=author,
                committer=committer,
                subject=subject,
                paths=tuple(paths),
            )
        )
    return commits


def changed_paths(mirror: GitMirror, commit_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The files each commit changed relative to its first parent, in one ``git log``.

    Raises:
        RepositoryError: git failed (e.g. an unknown commit).
    """
    if not commit_ids:
        return {}
    args = [
        "log",
        "--no-walk=unsorted",
        "--first-parent",
        "--name-only",
        "--no-renames",
        "--root",
        "-z",
        f"--format={_PATHS_FORMAT}",
        *dict.fromkeys(commit_ids),
        "--",
    ]
    records = _records(mirror.git(*args, action="listing changed files of"))
    return {header: tuple(paths) for header, paths in records}


def list_tags(mirror: GitMirror) -> list[TagInfo]:
    """Every tag that designates a commit, newest creator date first.

    Ties keep git's order (ascending tag name), as Kargo's ``git for-each-ref
    --sort=-creatordate`` does. Tags of trees or blobs, and annotated tags of other tags,
    are left out: they name no commit to deploy.

    Raises:
        RepositoryError: git failed.
    """
    output = mirror.git(
        "for-each-ref",
        "--sort=-creatordate",
        f"--format={_TAG_FORMAT}",
        "refs/tags",
        action="listing tags of",
    ).decode(errors="replace")
    tags: list[TagInfo] = []
    for record in output.split(_RECORD):
        record = record.lstrip("\n")
        if not record:
            continue
        (
            name,
            kind,
            object_id,
            target_kind,
            target_id,
            date,
            subject,
            author,
            committer,
            target_subject,
            target_author,
            target_committer,
            tagger,
        ) = record.split(_FIELD, 12)
        if kind == "commit":
            tags.append(
                TagInfo(
                    name=name,
                    commit_id=object_id,
                    creator_date=datetime.fromisoformat(date),
                    author=author,
                    committer=committer,
                    subject=subject,
                )
            )
        elif kind == "tag" and target_kind == "commit":
            tags.append(
                TagInfo(
                    name=name,
                    commit_id=target_id,
                    creator_date=datetime.fromisoformat(date),
                    author=target_author,
                    committer=target_committer,
                    subject=target_subject,
                    tagger=tagger,
                    annotation=subject,
                )
            )
    return tags
