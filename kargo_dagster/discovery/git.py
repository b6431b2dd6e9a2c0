"""Discovering the commits a git subscription offers, as Kargo v1.11's git selectors do.

Strategies (Kargo ``pkg/controller/git/commit``):

- ``NewestFromBranch``: ``git log --first-parent`` of ``branch`` (default: the remote's
  default branch, its ``HEAD``), newest first, stopping at the first commit older than
  ``since``. Each commit carries the subscription's ``branch`` as written (empty when it
  names none), as Kargo's does.
- ``SemVer``: tags that parse as semantic versions (``strictSemvers``) and satisfy
  ``semverConstraint``, highest first; equal versions (``1.0`` and ``1.0.0``) in reverse
  order of their text.
- ``Lexical``: tags in reverse lexical (byte) order.
- ``NewestTag``: tags by creator date, newest first (the tagger date of an annotated tag,
  else the commit's committer date); ties in ascending name order, as ``git for-each-ref
  --sort=-creatordate`` leaves them.

Tag strategies drop tags matching any ``ignoreTagsRegexes`` and, when
``allowTagsRegexes`` is given, keep only tags matching one of them (regexes match
anywhere in the name). They ignore ``since``, as Kargo's tag selectors do.

``expressionFilter`` keeps only the commits or tags for which it is true (see
:mod:`~kargo_dagster.discovery.expression_filter`), before path filters.

``includePaths``/``excludePaths`` keep a commit (or a tag's commit) only when it changed a
selected file relative to its first parent; see :mod:`~kargo_dagster.discovery.path_filters`.
Every list is cut to ``discoveryLimit`` after filtering. Subjects longer than 80 bytes are
cut to 77 and end in ``...``, as Kargo stores them.
"""

import functools
import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from kargo_dagster.clients.git.history import (
    CommitInfo,
    TagInfo,
    changed_paths,
    list_commits,
    list_tags,
)
from kargo_dagster.clients.git.mirror import GitMirror, GitMirrors
from kargo_dagster.discovery.artifacts import DiscoveredCommit
from kargo_dagster.discovery.expression_filter import ExpressionFilter
from kargo_dagster.discovery.path_filters import PathFilter
from kargo_dagster.errors import DiscoveryError, RepositoryError
from kargo_dagster.redaction import redact_text
from kargo_dagster.semver import Version, parse_constraint, parse_semver
from kargo_dagster.spec.warehouse import GitSubscription

__all__ = ["discover_commits", "shorten_subject"]

_T = TypeVar("_T")

_SUBJECT_LIMIT = 80
# Kargo pages through history in growing batches when filters may drop commits.
_MAX_BATCH = 1000


def shorten_subject(subject: str, limit: int = _SUBJECT_LIMIT) -> str:
    """``subject`` cut to ``limit`` UTF-8 bytes, ending in ``...`` when cut (Kargo's rule).

    Kargo cuts bytes; a character split by the cut is dropped rather than mangled.
    """
    encoded = subject.encode()
    if len(encoded) <= limit:
        return subject
    return encoded[: limit - 3].decode(errors="ignore") + "..."


def discover_commits(subscription: GitSubscription, mirrors: GitMirrors) -> list[DiscoveredCommit]:
    """The commits a git subscription offers, best first, at most ``discoveryLimit``.

    Args:
        subscription: The Warehouse's git subscription.
        mirrors: Where the repository's local mirror lives (created or fetched as needed).

    Returns:
        Discovered commits, best first; empty when nothing qualifies.

    Raises:
        DiscoveryError: The subscription cannot be evaluated (an ``expressionFilter`` that
            does not parse or fails for a candidate, an invalid path selector, regex or
            semver constraint).
        RepositoryError: The remote is unreachable, refuses the credentials, lacks the
            branch, or git failed.
    """
    text = subscription.expression_filter
    accept = _checked(subscription, lambda: ExpressionFilter(text)) if text else None
    paths = _checked(
        subscription,
        lambda: PathFilter.from_selectors(subscription.include_paths, subscription.exclude_paths),
    )
    strategy = subscription.commit_selection_strategy
    select_tags = None if strategy == "NewestFromBranch" else _tag_strategy(subscription)
    with mirrors.synced(
        subscription.repo_url,
        blobless=subscription.blobless,
        insecure_skip_tls_verify=subscription.insecure_skip_tls_verify,
    ) as mirror:
        if select_tags is None:
            return _from_branch(subscription, mirror, paths, accept)
        tags = select_tags(list_tags(mirror))
        if accept is not None:
            tags = _filtered(subscription, tags, accept.accepts_tag)
        tags = _tags_touching(subscription, mirror, tags, paths)
    return [
        DiscoveredCommit(
            repo_url=subscription.repo_url,
            id=tag.commit_id,
            tag=tag.name,
            subject=shorten_subject(tag.subject),
            author=tag.author,
            committer=tag.committer,
            creator_date=tag.creator_date,
        )
        for tag in tags
    ]


def _error(subscription: GitSubscription, message: str) -> DiscoveryError:
    return DiscoveryError(f"git subscription {redact_text(subscription.repo_url)!r}: {message}")


def _checked(subscription: GitSubscription, build: Callable[[], _T]) -> _T:
    try:
        return build()
    except DiscoveryError as error:
        raise _error(subscription, str(error)) from error


def _filtered(
    subscription: GitSubscription, items: list[_T], keep: Callable[[_T], bool]
) -> list[_T]:
    return _checked(subscription, lambda: [item for item in items if keep(item)])


def _batches(first: int) -> Iterator[tuple[int, int]]:
    """(skip, count) pages of history: ``first`` commits, then doubling up to 1000."""
    skip, count = 0, first
    while True:
        yield skip, count
        skip, count = skip + count, min(count * 2, _MAX_BATCH)


def _from_branch(
    subscription: GitSubscription,
    mirror: GitMirror,
    paths: PathFilter | None,
    accept: ExpressionFilter | None,
) -> list[DiscoveredCommit]:
    limit = subscription.discovery_limit
    if subscription.branch:
        if mirror.remote.branch(subscription.branch) is None:
            raise RepositoryError(
                f"branch {subscription.branch!r} not found in git repository {mirror.label}"
            )
        revision = f"refs/heads/{subscription.branch}"
    else:
        default = mirror.remote.default_branch
        if default is None or mirror.remote.branch(default) is None:
            return []  # an empty repository: nothing to discover yet
        revision = f"refs/heads/{default}"
    selected: list[CommitInfo] = []
    for skip, count in _batches(limit):
        batch = list_commits(
            mirror,
            revision,
            since=subscription.since,
            skip=skip,
            max_count=count,
            with_paths=paths is not None,
        )
        kept = _filtered(subscription, batch, accept.accepts_commit) if accept else batch
        selected += [c for c in kept if paths is None or paths.accepts(c.paths)]
        if len(selected) >= limit or len(batch) < count:
            break
    return [
        DiscoveredCommit(
            repo_url=subscription.repo_url,
            id=commit.id,
            branch=subscription.branch or "",
            subject=shorten_subject(commit.subject),
            author=commit.author,
            committer=commit.committer,
            creator_date=commit.committed_at,
        )
        for commit in selected[:limit]
    ]


def _tag_strategy(subscription: GitSubscription) -> Callable[[list[TagInfo]], list[TagInfo]]:
    """Name filtering and ordering for the subscription's tag strategy (before paths)."""
    allow = _compiled(subscription, "allowTagsRegexes", subscription.allow_tags_regexes)
    ignore = _compiled(subscription, "ignoreTagsRegexes", subscription.ignore_tags_regexes)

    def named(tags: list[TagInfo]) -> list[TagInfo]:
        return [
            tag
            for tag in tags
            if not any(p.search(tag.name) for p in ignore)
            and (not allow or any(p.search(tag.name) for p in allow))
        ]

    strategy = subscription.commit_selection_strategy
    if strategy == "Lexical":
        return lambda tags: sorted(named(tags), key=lambda tag: tag.name, reverse=True)
    if strategy == "NewestTag":
        return named  # git already listed them newest first
    constraint = None
    if subscription.semver_constraint:
        text = subscription.semver_constraint
        constraint = _checked(subscription, lambda: parse_constraint(text))
    strict = subscription.strict_semvers

    def by_version(tags: list[TagInfo]) -> list[TagInfo]:
        versioned: list[tuple[Version, TagInfo]] = []
        for tag in named(tags):
            version = parse_semver(tag.name, strict=strict)
            if version is not None and (constraint is None or constraint.check(version)):
                versioned.append((version, tag))
        versioned.sort(key=functools.cmp_to_key(_compare_versions), reverse=True)
        return [tag for _, tag in versioned]

    return by_version


def _compiled(
    subscription: GitSubscription, field: str, patterns: list[str]
) -> list[re.Pattern[str]]:
    # The manifest loader already checked them; models built in code may not have been.
    try:
        return [re.compile(p) for p in patterns]
    except re.error as error:
        raise _error(subscription, f"{field}: invalid regular expression ({error})") from None


def _compare_versions(a: tuple[Version, TagInfo], b: tuple[Version, TagInfo]) -> int:
    if a[0] < b[0]:
        return -1
    if b[0] < a[0]:
        return 1
    return (a[1].name > b[1].name) - (a[1].name < b[1].name)


def _tags_touching(
    subscription: GitSubscription,
    mirror: GitMirror,
    tags: list[TagInfo],
    paths: PathFilter | None,
) -> list[TagInfo]:
    """The first ``discoveryLimit`` tags whose commit changed a selected path."""
    limit = subscription.discovery_limit
    if paths is None:
        return tags[:limit]
    selected: list[TagInfo] = []
    position = 0
    for _, count in _batches(limit):
        batch = tags[position : position + count]
        if not batch:
            break
        position += len(batch)
        changed = changed_paths(mirror, [tag.commit_id for tag in batch])
        selected += [tag for tag in batch if paths.accepts(changed.get(tag.commit_id, ()))]
        if len(selected) >= limit:
            break
    return selected[:limit]
