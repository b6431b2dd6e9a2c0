"""Image subscriptions: the image versions a Warehouse offers, best first, as Kargo picks them.

Kargo's four selectors (``pkg/image``), rule for rule:

* **SemVer** (default): tags that pass the tag regexes, parse as semantic versions
  (``strictSemvers`` demands major.minor.patch) and satisfy ``constraint``, by descending
  precedence; equal versions by descending tag text (``v1.0.0`` before ``1.0.0``).
* **Lexical**: tags that pass the regexes, in descending lexical order.
* **NewestBuild**: tags that pass the regexes, by descending build date (ties by
  descending tag); every candidate's metadata is read, so it is the expensive strategy.
  Images without a known date come last.
* **Digest**: the single tag named by ``constraint`` with its current digest; the tag regexes
  do not apply, and a missing tag yields nothing rather than an error.

Regexes and the semver checks filter tags *before* ``discoveryLimit`` is applied. With
``platform`` set, an image must be an index listing exactly that ``os/arch[/variant]``; an
image without it (including every single-platform image, whose manifest lists no platforms)
is skipped and the next tag is tried. The recorded digest is the index's (what a deployment
pulls), and the platform's index annotations are merged over the index's.
SemVer and Lexical read metadata only for tags in order until ``discoveryLimit`` images are
found, so a repository with thousands of tags costs one tag listing plus about
``discoveryLimit`` manifest requests.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from kargo_dagster.clients.oci import (
    ImageMetadata,
    RegistryClient,
    RegistryNotFoundError,
    Repository,
)
from kargo_dagster.discovery.artifacts import DiscoveredImage
from kargo_dagster.errors import DiscoveryError
from kargo_dagster.redaction import redact_text
from kargo_dagster.semver import Version, parse_constraint, parse_semver
from kargo_dagster.spec.warehouse import ImageSubscription

_T = TypeVar("_T")
_UNDATED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Platform:
    """An ``os/arch[/variant]`` an image must offer."""

    os: str
    architecture: str
    variant: str = ""

    def find(self, image: ImageMetadata) -> dict[str, str] | None:
        """The matching platform entry's annotations, or None if ``image`` lacks it."""
        for entry in image.platforms:
            if entry.matches(self.os, self.architecture, self.variant):
                return entry.annotations
        return None


def parse_platform(text: str | None) -> Platform | None:
    """``linux/amd64`` or ``linux/arm/v7`` as a :class:`Platform`; None for no constraint.

    Raises:
        DiscoveryError: The text is not ``os/arch[/variant]``.
    """
    if not text:
        return None
    parts = text.split("/", 2)
    if len(parts) < 2 or not all(parts):
        raise DiscoveryError(f"platform {text!r} is not of the form <os>/<arch>[/<variant>]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


@dataclass(frozen=True)
class TagFilter:
    """``allowTagsRegexes`` (any must match, if given) and ``ignoreTagsRegexes`` (none may)."""

    allow: tuple[re.Pattern[str], ...] = ()
    ignore: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, subscription: ImageSubscription) -> "TagFilter":
        """The subscription's tag filter."""
        return cls(
            allow=tuple(re.compile(p) for p in subscription.allow_tags_regexes),
            ignore=tuple(re.compile(p) for p in subscription.ignore_tags_regexes),
        )

    def allows(self, tag: str) -> bool:
        """Whether ``tag`` passes (regexes match anywhere, as Go's ``MatchString``)."""
        if any(p.search(tag) for p in self.ignore):
            return False
        return not self.allow or any(p.search(tag) for p in self.allow)


def discover_images(
    subscription: ImageSubscription, client: RegistryClient
) -> list[DiscoveredImage]:
    """The versions an image subscription offers, best first, at most ``discoveryLimit``.

    Args:
        subscription: The Warehouse's image subscription.
        client: The registry client (its cache makes repeated polls cheap).

    Returns:
        Discovered images, best first; empty when nothing qualifies.

    Raises:
        DiscoveryError: The subscription is unusable (bad constraint or platform).
        RepositoryError: The registry failed or answered badly.
    """
    platform = _checked(subscription, lambda: parse_platform(subscription.platform))
    repository = client.repository(
        subscription.repo_url, insecure_skip_tls_verify=subscription.insecure_skip_tls_verify
    )
    strategy = subscription.image_selection_strategy
    if strategy == "Digest":
        return _digest(subscription, repository, platform)
    if strategy == "SemVer" and subscription.constraint:
        # Parsed before any request, as Kargo builds its selector: a typo fails fast.
        text = subscription.constraint
        _checked(subscription, lambda: parse_constraint(text))
    tag_filter = TagFilter.of(subscription)
    tags = [t for t in repository.list_tags() if tag_filter.allows(t)]
    if strategy == "NewestBuild":
        return _newest_build(subscription, repository, platform, tags)
    if strategy == "Lexical":
        ordered = sorted(tags, reverse=True)
    else:
        ordered = list(
            _semver_order(tuple(tags), subscription.strict_semvers, subscription.constraint or "")
        )
    return _first_matching(subscription, repository, platform, ordered)


def _checked(subscription: ImageSubscription, build: Callable[[], _T]) -> _T:
    """``build()``, its DiscoveryError prefixed with the subscription's repository."""
    try:
        return build()
    except DiscoveryError as exc:
        raise DiscoveryError(
            f"image subscription {redact_text(subscription.repo_url)!r}: {exc}"
        ) from exc


@functools.lru_cache(maxsize=64)
def _semver_order(tags: tuple[str, ...], strict: bool, constraint_text: str) -> tuple[str, ...]:
    # A quiet tick lists the same tags as the last one; remembering the order spares
    # parsing and sorting thousands of versions every time (the key is the whole tag list).
    constraint = parse_constraint(constraint_text) if constraint_text else None
    candidates: list[tuple[Version, str]] = []
    for tag in tags:
        version = parse_semver(tag, strict=strict)
        if version is None or (constraint is not None and not constraint.check(version)):
            continue
        candidates.append((version, tag))
    candidates.sort(key=functools.cmp_to_key(_compare_versions), reverse=True)
    return tuple(tag for _, tag in candidates)


def _compare_versions(a: tuple[Version, str], b: tuple[Version, str]) -> int:
    if a[0] < b[0]:
        return -1
    if b[0] < a[0]:
        return 1
    return (a[1] > b[1]) - (a[1] < b[1])


def _discovered(
    subscription: ImageSubscription, tag: str, image: ImageMetadata, platform: Platform | None
) -> DiscoveredImage | None:
    annotations = dict(image.annotations)
    if platform is not None:
        found = platform.find(image)
        if found is None:
            return None
        annotations.update(found)
    return DiscoveredImage(
        repo_url=subscription.repo_url,
        tag=tag,
        digest=image.digest,
        created_at=image.created_at,
        annotations=annotations,
    )


def _first_matching(
    subscription: ImageSubscription,
    repository: Repository,
    platform: Platform | None,
    ordered: list[str],
) -> list[DiscoveredImage]:
    found: list[DiscoveredImage] = []
    for tag in ordered:
        if len(found) >= subscription.discovery_limit:
            break
        image = repository.get_image(tag, cache_by_tag=subscription.cache_by_tag)
        discovered = _discovered(subscription, tag, image, platform)
        if discovered is not None:
            found.append(discovered)
    return found


def _newest_build(
    subscription: ImageSubscription,
    repository: Repository,
    platform: Platform | None,
    tags: list[str],
) -> list[DiscoveredImage]:
    found: list[DiscoveredImage] = []
    for tag in tags:
        image = repository.get_image(tag, cache_by_tag=subscription.cache_by_tag)
        discovered = _discovered(subscription, tag, image, platform)
        if discovered is not None:
            found.append(discovered)
    # Newest first, undated last; equal dates by descending tag (two stable sorts).
    found.sort(key=lambda d: d.tag, reverse=True)
    found.sort(key=lambda d: d.created_at or _UNDATED, reverse=True)
    return found[: subscription.discovery_limit]


def _digest(
    subscription: ImageSubscription, repository: Repository, platform: Platform | None
) -> list[DiscoveredImage]:
    tag = subscription.constraint or ""
    try:
        image = repository.get_image(tag)
    except RegistryNotFoundError:
        return []  # Kargo: no such tag (yet) means nothing to offer, not a failure
    discovered = _discovered(subscription, tag, image, platform)
    return [discovered] if discovered is not None else []
