"""Freight assembled by hand from the versions a discovery pass found (Kargo's "assemble").

Kargo lets a person create Freight for any Warehouse, whatever its ``freightCreationPolicy``,
by picking one of the versions each subscription discovered. Here a choice names a
subscription (its repository, ``repoURL/name`` for a chart of an HTTP repository, or its
``name``) and a version; every subscription not chosen takes its newest version, as
Automatic creation would. A version discovery did not find is refused with the closest ones
found, so Freight only ever holds artifacts that exist, exactly as discovered (digest, commit
message and all). ``freightCreationCriteria`` do not apply: Kargo applies them to Automatic
creation only.
"""

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.discovery.warehouse import Discovered, SubscriptionOutcome, WarehouseDiscovery
from kargo_dagster.errors import FreightError
from kargo_dagster.freight import Chart, Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.redaction import redact_text
from kargo_dagster.spec import RepoSubscription, SubscriptionKind, Warehouse
from kargo_dagster.urls.normalize import (
    normalize_chart_repo_url,
    normalize_git_url,
    normalize_image_repo_url,
)

__all__ = ["VersionChoice", "assemble_freight", "cloned_choices", "subscription_key"]

# How many close versions a refusal suggests, and how many of the newest it lists.
_CLOSEST = 3
_NEWEST = 5
# A commit is named by 7 or more hex digits of its ID, as git shows it.
_HEX_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class VersionChoice:
    """One version chosen for one subscription.

    Attributes:
        kind: ``image``, ``git`` or ``chart``.
        subject: The subscription: its repository (``repoURL/name`` for a chart of an HTTP
            repository), its ``name``, or its place (``subscriptions[0]``).
        version: An image tag or digest, a git tag or commit ID (7+ hex digits), or a chart
            version.
    """

    kind: SubscriptionKind
    subject: str
    version: str

    @classmethod
    def parse(cls, kind: SubscriptionKind, text: str) -> "VersionChoice":
        """A choice written ``SUBSCRIPTION=VERSION`` (as ``--image`` and friends take it).

        Raises:
            FreightError: ``text`` has no ``=``, or nothing on one side of it.
        """
        subject, equals, version = text.rpartition("=")
        if not equals or not subject or not version:
            raise FreightError(
                f"{kind} choice {redact_text(text)!r}: write SUBSCRIPTION=VERSION (the "
                "subscription's repository, name or subscriptions[N], then the version)"
            )
        return cls(kind, subject, version)


def subscription_key(subscription: RepoSubscription) -> str:
    """The name a choice gives a subscription: its repository, ``repoURL/name`` for a chart
    of an HTTP repository."""
    if subscription.chart is not None and subscription.chart.name:
        return f"{subscription.chart.repo_url.rstrip('/')}/{subscription.chart.name}"
    return subscription.subscription.repo_url


def cloned_choices(
    warehouse: Warehouse, source: Freight, explicit: Sequence[VersionChoice]
) -> list[VersionChoice]:
    """The versions ``source`` holds, for each subscription ``explicit`` does not choose
    (Kargo's "clone Freight": start from existing Freight and change some of it).

    Raises:
        FreightError: ``source`` is another Warehouse's, or holds nothing for a
            subscription (the Warehouse's subscriptions changed since).
    """
    name = warehouse.metadata.name
    if source.origin.name != name:
        raise FreightError(
            f"Freight {source.alias} is Warehouse {source.origin.name}'s, not {name}'s; "
            "clone Freight of the same Warehouse"
        )
    subscriptions = warehouse.spec.subscriptions
    taken = {_subscription_of(name, subscriptions, choice) for choice in explicit}
    cloned: list[VersionChoice] = []
    for index, subscription in enumerate(subscriptions):
        if index in taken:
            continue
        version = _held_version(subscription, source)
        if version is None:
            raise FreightError(
                f"Freight {source.alias} holds nothing from {subscription_key(subscription)} "
                f"(subscriptions[{index}] of Warehouse {name}); choose its version"
            )
        cloned.append(VersionChoice(subscription.kind, f"subscriptions[{index}]", version))
    return cloned


def _held_version(subscription: RepoSubscription, freight: Freight) -> str | None:
    if subscription.image is not None:
        wanted = normalize_image_repo_url(subscription.image.repo_url)
        for image in freight.images:
            if normalize_image_repo_url(image.repo_url) == wanted:
                return image.tag or image.digest
    elif subscription.git is not None:
        wanted = normalize_git_url(subscription.git.repo_url)
        for commit in freight.commits:
            if normalize_git_url(commit.repo_url) == wanted:
                return commit.id
    elif subscription.chart is not None:
        wanted = normalize_chart_repo_url(subscription.chart.repo_url)
        for chart in freight.charts:
            same_name = (chart.name or "") == (subscription.chart.name or "")
            if normalize_chart_repo_url(chart.repo_url) == wanted and same_name:
                return chart.version
    return None


def assemble_freight(
    warehouse: Warehouse, discovery: WarehouseDiscovery, choices: Sequence[VersionChoice]
) -> Freight:
    """The Freight of ``warehouse`` holding the chosen versions, and the newest of the rest.

    Args:
        warehouse: The Warehouse.
        discovery: A discovery pass over it (``discover_warehouse``).
        choices: At most one version per subscription.

    Raises:
        FreightError: A choice names no subscription of the Warehouse, or one chosen twice;
            a chosen version was not discovered (the message lists the closest and the
            newest found); a subscription found nothing or failed.
    """
    name = warehouse.metadata.name
    subscriptions = warehouse.spec.subscriptions
    chosen: dict[int, VersionChoice] = {}
    for choice in choices:
        index = _subscription_of(name, subscriptions, choice)
        if index in chosen:
            raise FreightError(
                f"Warehouse {name}: two versions chosen for {discovery.outcomes[index].label} "
                f"({chosen[index].version} and {choice.version}); choose one"
            )
        chosen[index] = choice
    artifacts: list[Image | GitCommit | Chart] = []
    for outcome in discovery.outcomes:
        picked = _pick(name, outcome, chosen.get(outcome.index))
        artifacts.append(picked.to_freight(subscriptions[outcome.index].name or ""))
    return Freight(
        origin=FreightOrigin(name=name),
        images=tuple(a for a in artifacts if isinstance(a, Image)),
        commits=tuple(a for a in artifacts if isinstance(a, GitCommit)),
        charts=tuple(a for a in artifacts if isinstance(a, Chart)),
    )


def _subscription_of(
    warehouse: str, subscriptions: Sequence[RepoSubscription], choice: VersionChoice
) -> int:
    of_kind = [(i, s) for i, s in enumerate(subscriptions) if s.kind == choice.kind]
    matched = [
        i
        for i, s in of_kind
        if choice.subject in (subscription_key(s), s.name, f"subscriptions[{i}]")
    ]
    if len(matched) == 1:
        return matched[0]
    known = [subscription_key(s) for _, s in of_kind]
    if matched:
        names = ", ".join(subscriptions[i].name or "(unnamed)" for i in matched)
        raise FreightError(
            f"Warehouse {warehouse}: {len(matched)} {choice.kind} subscriptions read "
            f"{redact_text(choice.subject)}; name one of them ({names})"
        )
    listed = ", ".join(redact_text(k) for k in known) or "none"
    close = difflib.get_close_matches(choice.subject, known, n=1, cutoff=0.6)
    hint = f"; did you mean {redact_text(close[0])!r}?" if close else ""
    raise FreightError(
        f"Warehouse {warehouse} has no {choice.kind} subscription "
        f"{redact_text(choice.subject)}{hint} (its {choice.kind} subscriptions: {listed})"
    )


def _pick(warehouse: str, outcome: SubscriptionOutcome, choice: VersionChoice | None) -> Discovered:
    if outcome.error:
        raise FreightError(
            f"Warehouse {warehouse}: {outcome.label} could not be discovered, so no Freight "
            f"can be assembled: {outcome.error}"
        )
    if not outcome.found:
        raise FreightError(
            f"Warehouse {warehouse}: {outcome.label} found no version to put in Freight"
        )
    if choice is None:
        return outcome.found[0]
    matched = [found for found in outcome.found if _names(found, choice.version)]
    if matched:
        return matched[0]
    versions = [_version(found) for found in outcome.found]
    close = difflib.get_close_matches(choice.version, versions, n=_CLOSEST, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    newest = ", ".join(versions[:_NEWEST])
    raise FreightError(
        f"Warehouse {warehouse}: {outcome.label} did not discover {choice.version}{hint} "
        f"(newest found: {newest}; {len(versions)} in all)"
    )


def _names(found: Discovered, version: str) -> bool:
    if isinstance(found, DiscoveredImage):
        return version in (found.tag, found.digest)
    if isinstance(found, DiscoveredCommit):
        lowered = version.lower()
        return version == found.tag or bool(
            _HEX_PREFIX.match(lowered) and found.id.startswith(lowered)
        )
    assert isinstance(found, DiscoveredChart)
    return version == found.version


def _version(found: Discovered) -> str:
    # How a person names the version: the tag, else the digest or the short commit ID.
    if isinstance(found, DiscoveredImage):
        return found.tag or found.digest
    if isinstance(found, DiscoveredCommit):
        return found.tag or found.id[:7]
    return found.version
