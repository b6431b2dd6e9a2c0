"""Which Warehouses a refresh request is for, as Kargo's receivers choose them.

The index maps normalised subscription URLs (git, image and chart URLs each normalised their
own way, as Kargo's ``subscribedURLs`` index does) to the Warehouses subscribing, in every
Project, so a request is matched by dictionary lookups however many Warehouses there are: in
the receiver's Project, or in all of them for a ClusterConfig receiver.
When the request names refs, tags or versions, a subscription is refreshed only if it would
select one of them (its branch, tag rules, semver constraint, or Digest tag), and for a git
push that lists changed files, only if its path filters select one of those files.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from kargo_dagster.discovery.image import TagFilter
from kargo_dagster.discovery.path_filters import PathFilter
from kargo_dagster.errors import DiscoveryError
from kargo_dagster.semver import parse_constraint, parse_semver
from kargo_dagster.spec import (
    ChartSubscription,
    GitSubscription,
    ImageSubscription,
    ProjectManifests,
    RepoSubscription,
)
from kargo_dagster.urls import normalize_chart_repo_url, normalize_git_url, normalize_image_repo_url
from kargo_dagster.webhooks.inbound import RefreshRequest

__all__ = ["SubscriptionIndex", "WarehouseRef", "subscribed_url"]

WarehouseRef = tuple[str, str]
"""A Warehouse as ``(project, name)``."""

_TAGS, _HEADS = "refs/tags/", "refs/heads/"


def subscribed_url(subscription: RepoSubscription) -> str:
    """The subscription's repository URL, normalised as Kargo indexes it."""
    if subscription.git is not None:
        return normalize_git_url(subscription.git.repo_url)
    if subscription.chart is not None:
        return normalize_chart_repo_url(subscription.chart.repo_url)
    assert subscription.image is not None  # the model guarantees exactly one kind
    return normalize_image_repo_url(subscription.image.repo_url)


class SubscriptionIndex:
    """Each Project's Warehouses by the normalised URLs they subscribe to.

    Args:
        projects: The Projects whose Warehouses are indexed.
    """

    def __init__(self, projects: Iterable[ProjectManifests]) -> None:
        # URL -> Project -> the Warehouses subscribing, with the subscription.
        self._by_url: dict[str, dict[str, list[tuple[str, RepoSubscription]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self._urls: dict[WarehouseRef, frozenset[str]] = {}
        for project in projects:
            for name, warehouse in project.warehouses.items():
                urls = []
                for subscription in warehouse.spec.subscriptions:
                    url = subscribed_url(subscription)
                    urls.append(url)
                    self._by_url[url][project.name].append((name, subscription))
                self._urls[(project.name, name)] = frozenset(urls)

    def subscribed_urls(self, project: str, warehouse: str) -> frozenset[str]:
        """The normalised URLs the Warehouse subscribes to (empty if there is no such one)."""
        return self._urls.get((project, warehouse), frozenset())

    def warehouses_for(self, project: str, request: RefreshRequest) -> list[str]:
        """The names of ``project``'s Warehouses ``request`` should refresh, sorted."""
        return [name for _, name in self.targets_for(project, request)]

    def targets_for(self, project: str | None, request: RefreshRequest) -> list[WarehouseRef]:
        """The ``(project, warehouse)`` pairs ``request`` should refresh, sorted: in
        ``project``, or with None (a ClusterConfig receiver) in every Project."""
        chosen: set[WarehouseRef] = set()
        qualifiers = sorted({q for q in request.qualifiers if q})
        for url in {u for u in request.repo_urls if u}:
            subscribers = self._by_url.get(url, {})
            owners = subscribers if project is None else (project,)
            for owner in owners:
                for name, subscription in subscribers.get(owner, ()):
                    if (owner, name) in chosen:
                        continue
                    if not qualifiers or _selects(subscription, qualifiers, request.changed_files):
                        chosen.add((owner, name))
        return sorted(chosen)


def _selects(
    subscription: RepoSubscription, qualifiers: Sequence[str], changed_files: Sequence[str]
) -> bool:
    try:
        if subscription.git is not None:
            git = subscription.git
            return any(_git_ref_matches(git, ref) for ref in qualifiers) and (
                not changed_files or _paths_match(git, changed_files)
            )
        if subscription.image is not None:
            return any(_tag_matches(subscription.image, tag) for tag in qualifiers)
        assert subscription.chart is not None
        return any(_version_matches(subscription.chart, v) for v in qualifiers)
    except DiscoveryError:
        # A rule that cannot be applied here fails discovery too, which then says why.
        return True


def _git_ref_matches(subscription: GitSubscription, ref: str) -> bool:
    strategy = subscription.commit_selection_strategy
    if strategy == "NewestFromBranch":
        if not ref.startswith(_HEADS):
            return False
        branch = ref.removeprefix(_HEADS)
        # Without a branch the subscription follows the default one, which Kargo assumes
        # is main or master.
        return (
            branch == subscription.branch
            if subscription.branch
            else branch
            in (
                "main",
                "master",
            )
        )
    if not ref.startswith(_TAGS):
        return False
    tag = ref.removeprefix(_TAGS)
    names = TagFilter(
        allow=tuple(re.compile(p) for p in subscription.allow_tags_regexes),
        ignore=tuple(re.compile(p) for p in subscription.ignore_tags_regexes),
    )
    if not names.allows(tag):
        return False
    if strategy != "SemVer":
        return True
    return _semver_matches(tag, subscription.strict_semvers, subscription.semver_constraint)


def _paths_match(subscription: GitSubscription, changed_files: Sequence[str]) -> bool:
    paths = PathFilter.from_selectors(subscription.include_paths, subscription.exclude_paths)
    return paths is None or paths.accepts(changed_files)


def _tag_matches(subscription: ImageSubscription, tag: str) -> bool:
    strategy = subscription.image_selection_strategy
    if strategy == "Digest":
        return tag == subscription.constraint
    if not TagFilter.of(subscription).allows(tag):
        return False
    if strategy != "SemVer":
        return True
    return _semver_matches(tag, subscription.strict_semvers, subscription.constraint)


def _version_matches(subscription: ChartSubscription, version: str) -> bool:
    return _semver_matches(version, False, subscription.semver_constraint)


def _semver_matches(text: str, strict: bool, constraint: str | None) -> bool:
    version = parse_semver(text, strict=strict)
    if version is None:
        return False
    return not constraint or parse_constraint(constraint).check(version)
