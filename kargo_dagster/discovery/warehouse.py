"""One discovery pass over a Warehouse, and the Freight it would create.

Kargo's rules: each subscription lists its versions best first; Automatic creation takes
element 0 of every subscription and creates Freight only when every subscription found
something (and, here, none failed); Manual creation creates nothing. Which Freight already
exists is the caller's question: the same artifacts always give the same Freight ID.

A pass has a budget (:data:`DEFAULT_BUDGET_SECONDS` unless the caller sets one): every
request and git command in it ends by the time the budget is spent, with an error naming the
request and the budget, and subscriptions not started by then fail without being tried.
Every request also has its own deadline (see :mod:`kargo_dagster.clients.deadlines`).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kargo_dagster.clients.deadlines import budget, spent_budget
from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.discovery.creation_criteria import criteria_satisfied
from kargo_dagster.errors import DiscoveryError, RepositoryError
from kargo_dagster.freight import Chart, Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.redaction import redact_text
from kargo_dagster.spec import (
    ChartSubscription,
    GitSubscription,
    ImageSubscription,
    RepoSubscription,
    SubscriptionKind,
    Warehouse,
)

Discovered = DiscoveredImage | DiscoveredCommit | DiscoveredChart

# Kargo's default Warehouse interval: a pass should not outlast the wait for the next one.
DEFAULT_BUDGET_SECONDS = 300.0


@dataclass(frozen=True)
class Subscribers:
    """How each kind of subscription is discovered: the seam between rules and I/O."""

    images: Callable[[ImageSubscription], list[DiscoveredImage]]
    charts: Callable[[ChartSubscription], list[DiscoveredChart]]
    commits: Callable[[GitSubscription], list[DiscoveredCommit]]
    # How many HTTP requests the clients behind these subscribers have made so far.
    requests_made: Callable[[], int] = lambda: 0

    def discover(self, subscription: RepoSubscription) -> list[Discovered]:
        """The versions ``subscription`` finds, best first."""
        if subscription.image is not None:
            return list(self.images(subscription.image))
        if subscription.chart is not None:
            return list(self.charts(subscription.chart))
        assert subscription.git is not None  # the model guarantees exactly one kind
        return list(self.commits(subscription.git))


@dataclass(frozen=True)
class SubscriptionOutcome:
    """What one subscription found, or why it found nothing.

    Attributes:
        index: The subscription's position in ``spec.subscriptions``.
        kind: ``image``, ``git`` or ``chart``.
        repo_url: The repository (credentials masked).
        name: The subscription's name, or ``""``.
        found: The versions, best first.
        error: Why discovery failed, or None.
        retry_after: Seconds the repository asked us to wait, if it did.
        seconds: How long the subscription took.
    """

    index: int
    kind: SubscriptionKind
    repo_url: str
    name: str = ""
    found: tuple[Discovered, ...] = ()
    error: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0

    @property
    def label(self) -> str:
        """How messages name the subscription: ``subscriptions[0] (image ghcr.io/acme/app)``."""
        return f"subscriptions[{self.index}] ({self.kind} {self.repo_url})"


@dataclass(frozen=True)
class WarehouseDiscovery:
    """The result of one pass: every subscription's outcome and the Freight to create.

    Attributes:
        warehouse: The Warehouse's name.
        outcomes: One per subscription, in manifest order.
        freight: The Freight Automatic creation would create now, or None.
        note: Why there is no Freight, or which Freight it is, in words.
    """

    warehouse: str
    outcomes: tuple[SubscriptionOutcome, ...]
    freight: Freight | None
    note: str
    errors: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """Whether any subscription (or the Warehouse's own rules) failed."""
        return bool(self.errors)

    @property
    def retry_after(self) -> float | None:
        """The longest wait any repository asked for."""
        waits = [o.retry_after for o in self.outcomes if o.retry_after is not None]
        return max(waits) if waits else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary, as ``kargo-dagster discover --json`` prints it."""
        return {
            "warehouse": self.warehouse,
            "subscriptions": [
                {
                    "index": o.index,
                    "kind": o.kind,
                    "repoURL": o.repo_url,
                    **({"name": o.name} if o.name else {}),
                    "found": [_artifact_json(a) for a in o.found],
                    **({"error": o.error} if o.error else {}),
                }
                for o in self.outcomes
            ],
            "freight": (
                {"id": self.freight.id, "key": self.freight.partition_key, **self.freight.to_json()}
                if self.freight
                else None
            ),
            "note": self.note,
            "errors": list(self.errors),
        }


def _artifact_json(artifact: Discovered) -> dict[str, Any]:
    return artifact.to_freight().model_dump(by_alias=True, exclude_defaults=True)


def discover_warehouse(
    warehouse: Warehouse,
    subscribers: Subscribers,
    *,
    budget_seconds: float | None = DEFAULT_BUDGET_SECONDS,
) -> WarehouseDiscovery:
    """Discover every subscription of ``warehouse`` once, within ``budget_seconds`` in all.

    A subscription that fails is reported in its outcome; the others still run, so one
    broken repository does not hide what the rest found. Once the budget is spent, the
    request under way fails saying so, and the subscriptions after it are not tried.

    Args:
        warehouse: The Warehouse.
        subscribers: How each kind of subscription is discovered.
        budget_seconds: Seconds the whole pass may take; None for no budget.
    """
    what = f"the discovery budget of Warehouse {warehouse.metadata.name!r}"
    with budget(budget_seconds, what):
        return _decide(warehouse, _discover(warehouse, subscribers))


def _discover(warehouse: Warehouse, subscribers: Subscribers) -> tuple[SubscriptionOutcome, ...]:
    outcomes: list[SubscriptionOutcome] = []
    for index, subscription in enumerate(warehouse.spec.subscriptions):
        started = time.monotonic()
        base = {
            "index": index,
            "kind": subscription.kind,
            "repo_url": redact_text(subscription.subscription.repo_url),
            "name": subscription.name or "",
        }
        spent = spent_budget()
        if spent is not None:
            error = f"not tried: {spent} was spent before its turn"
            outcomes.append(SubscriptionOutcome(**base, error=error))
            continue
        try:
            found = tuple(subscribers.discover(subscription))
        except DiscoveryError as error:
            retry_after = error.retry_after if isinstance(error, RepositoryError) else None
            outcomes.append(
                SubscriptionOutcome(
                    **base,
                    error=redact_text(str(error)),
                    retry_after=retry_after,
                    seconds=time.monotonic() - started,
                )
            )
            continue
        outcomes.append(
            SubscriptionOutcome(**base, found=found, seconds=time.monotonic() - started)
        )
    return tuple(outcomes)


def _decide(warehouse: Warehouse, outcomes: tuple[SubscriptionOutcome, ...]) -> WarehouseDiscovery:
    name = warehouse.metadata.name
    errors = tuple(f"{o.label}: {o.error}" for o in outcomes if o.error)
    if errors:
        return WarehouseDiscovery(name, outcomes, None, "no Freight: discovery failed", errors)
    empty = [o.label for o in outcomes if not o.found]
    if empty:
        note = f"no Freight: {', '.join(empty)} found nothing"
        return WarehouseDiscovery(name, outcomes, None, note)
    criteria = warehouse.spec.freight_creation_criteria
    expression = (criteria.expression or "").strip() if criteria is not None else ""
    automatic = warehouse.spec.freight_creation_policy != "Manual"
    if automatic and expression:
        try:
            satisfied = criteria_satisfied(expression, [o.found[0] for o in outcomes])
        except DiscoveryError as error:
            note = "no Freight: freightCreationCriteria could not be evaluated"
            return WarehouseDiscovery(name, outcomes, None, note, (redact_text(str(error)),))
        if not satisfied:
            note = f"no Freight: freightCreationCriteria not satisfied ({expression})"
            return WarehouseDiscovery(name, outcomes, None, note)
    subscriptions = warehouse.spec.subscriptions
    artifacts = [o.found[0].to_freight(subscriptions[o.index].name or "") for o in outcomes]
    freight = Freight(
        origin=FreightOrigin(name=name),
        images=tuple(a for a in artifacts if isinstance(a, Image)),
        commits=tuple(a for a in artifacts if isinstance(a, GitCommit)),
        charts=tuple(a for a in artifacts if isinstance(a, Chart)),
    )
    if warehouse.spec.freight_creation_policy == "Manual":
        note = (
            f"freightCreationPolicy is Manual: Freight {freight.partition_key} is not created; "
            "assemble Freight with `kargo-dagster freight create` or the Warehouse's assemble job"
        )
        return WarehouseDiscovery(name, outcomes, None, note)
    return WarehouseDiscovery(name, outcomes, freight, f"Freight {freight.partition_key}")
