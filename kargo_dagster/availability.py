"""Whether a piece of Freight may be promoted into a Stage, decided from plain facts.

Kargo makes Freight available to a Stage when, for an origin the Stage requests, the Freight
is approved for that Stage, or the request is ``direct``, or the Freight is verified in the
upstream Stages (one of them for ``OneOf``, every one for ``All``) and has soaked there for
``requiredSoakTime``. This module holds that rule and nothing else: the Dagster layer gathers
the facts from the instance and asks :func:`decide`, so the rule is testable without Dagster.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Literal


class Why(StrEnum):
    """Why Freight is, or is not, available to a Stage: what code branches on, where
    :attr:`Availability.reason` is what a person reads."""

    APPROVED = "approved"
    """Approved for the Stage, whatever its upstream Stages know."""
    DIRECT = "direct"
    """The Stage takes Freight directly from the Warehouse."""
    VERIFIED_UPSTREAM = "verified-upstream"
    """Verified (and soaked, when required) in enough upstream Stages."""
    SOAKING = "soaking"
    """Not yet: verified upstream, but short of the required soak time there."""
    NOT_VERIFIED = "not-verified"
    """Not verified in enough upstream Stages."""
    NOT_RECORDED = "not-recorded"
    """Not Freight the Stage's requested Warehouse recorded."""


@dataclass(frozen=True)
class Occupancy:
    """One promotion recorded in a Stage: ``partition_key`` became current at ``timestamp``."""

    partition_key: str
    timestamp: float


@dataclass(frozen=True)
class UpstreamFacts:
    """What an upstream Stage knows about one piece of Freight.

    Attributes:
        stage: The upstream Stage's name.
        verified: Its latest ``verified`` check for this Freight passed, and checked the
            Freight's latest promotion into that Stage.
        verification_state: A word for a person: ``passed``, ``failed``, ``pending`` or
            ``never promoted``.
        soak: How long the Freight has stayed in that Stage without interruption, at its
            longest (an ongoing stay counts up to now).
    """

    stage: str
    verified: bool
    verification_state: str
    soak: timedelta


@dataclass(frozen=True)
class AvailabilityRequest:
    """The Stage's request for one origin, as its manifest states it."""

    stage: str
    origin: str
    direct: bool
    upstream_stages: Sequence[str]
    required_soak_time: timedelta | None
    availability_strategy: Literal["OneOf", "All"]


@dataclass(frozen=True)
class Availability:
    """The answer: whether the Freight is available, and why in words a person can act on.

    Attributes:
        available: Whether the Freight may be promoted.
        why: Why, as a value code can branch on.
        reason: Why, or what would make it available, in words.
        details: A line per upstream Stage.
        soak_remaining: When the Freight is verified in an upstream Stage but has not soaked
            there long enough, how long until the first such Stage's soak completes (the
            answer may change then without anything else happening); None otherwise.
    """

    available: bool
    why: Why
    reason: str
    details: dict[str, str] = field(default_factory=dict)
    soak_remaining: timedelta | None = None

    @property
    def soaking(self) -> bool:
        """Whether the Freight waits for soak time in some upstream Stage where it is verified."""
        return self.why is Why.SOAKING


def longest_soak(history: Sequence[Occupancy], partition_key: str, now: float) -> timedelta:
    """How long ``partition_key`` stayed in a Stage without interruption, at its longest.

    ``history`` lists the Stage's successful promotions in any order. A stay starts when the
    Freight is promoted and ends when different Freight is promoted; promoting the same Freight
    again does not interrupt it. The current stay counts up to ``now``.

    Examples:
        >>> longest_soak([Occupancy("a", 0.0), Occupancy("b", 60.0)], "a", now=600.0)
        datetime.timedelta(seconds=60)
    """
    return longest_soaks(history, now).get(partition_key, timedelta(0))


def longest_soaks(history: Sequence[Occupancy], now: float) -> dict[str, timedelta]:
    """:func:`longest_soak` of every Freight in ``history`` at once, in one pass."""
    ordered = sorted(history, key=lambda o: o.timestamp)
    longest: dict[str, float] = {}
    held: str | None = None
    started = 0.0
    for occupancy in ordered:
        if occupancy.partition_key == held:
            continue
        if held is not None:
            longest[held] = max(longest.get(held, 0.0), occupancy.timestamp - started)
        held, started = occupancy.partition_key, occupancy.timestamp
    if held is not None:
        longest[held] = max(longest.get(held, 0.0), now - started)
    return {key: timedelta(seconds=max(seconds, 0.0)) for key, seconds in longest.items()}


def decide(
    request: AvailabilityRequest,
    *,
    freight: str,
    approved: bool,
    upstream: Sequence[UpstreamFacts],
) -> Availability:
    """Apply Kargo's availability rule to one Freight and one requested origin.

    Args:
        request: The Stage's request for the Freight's origin.
        freight: The Freight's partition key, used in the messages.
        approved: Whether the Freight was approved for this Stage.
        upstream: Facts for each Stage in ``request.upstream_stages``.

    Returns:
        The decision. When the Freight is not available, ``reason`` names each upstream Stage
        that falls short and what would make the Freight available.
    """
    if approved:
        return Availability(
            True, Why.APPROVED, f"Freight {freight} is approved for Stage {request.stage}"
        )
    if request.direct:
        return Availability(
            True,
            Why.DIRECT,
            f"Stage {request.stage} takes Freight directly from Warehouse {request.origin}",
        )
    required = request.required_soak_time or timedelta(0)
    satisfied: list[str] = []
    shortfalls: list[str] = []
    remaining: list[timedelta] = []
    details: dict[str, str] = {}
    for facts in upstream:
        details[f"upstream/{facts.stage}"] = (
            f"verification {facts.verification_state}, soaked {_words(facts.soak)}"
        )
        if not facts.verified:
            shortfalls.append(f"not verified in Stage {facts.stage} ({facts.verification_state})")
        elif facts.soak < required:
            remaining.append(required - facts.soak)
            shortfalls.append(
                f"soaked {_words(facts.soak)} in Stage {facts.stage}, "
                f"{_words(required - facts.soak)} short of the required {_words(required)}"
            )
        else:
            satisfied.append(facts.stage)
    needed = len(upstream) if request.availability_strategy == "All" else 1
    if upstream and len(satisfied) >= needed:
        return Availability(
            True,
            Why.VERIFIED_UPSTREAM,
            f"Freight {freight} is verified"
            + (f" and soaked {_words(required)}" if required else "")
            + f" in {_stage_list(satisfied)}",
            details,
        )
    if len(request.upstream_stages) <= 1:
        where = _stage_list(request.upstream_stages)
    elif request.availability_strategy == "All":
        where = "each of " + _stage_list(request.upstream_stages)
    else:
        where = "one of " + _stage_list(request.upstream_stages, "or")
    remedy = (
        f"Promote it to {_stage_list(request.upstream_stages)} and let it verify"
        + (f" and soak for {_words(required)}" if required else "")
        + f", or approve it for Stage {request.stage}."
    )
    return Availability(
        False,
        Why.SOAKING if remaining else Why.NOT_VERIFIED,
        f"Freight {freight} is not available to Stage {request.stage}: it must be verified in "
        f"{where}, but it is " + "; ".join(shortfalls) + f". {remedy}",
        details,
        soak_remaining=min(remaining) if remaining else None,
    )


def _stage_list(stages: Sequence[str], conjunction: str = "and") -> str:
    names = [f"Stage {s}" for s in stages]
    if len(names) <= 1:
        return "".join(names) or "no Stage"
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def _words(duration: timedelta) -> str:
    """Render a duration the way Kargo manifests write it (``1h30m``, ``45s``)."""
    total = int(duration.total_seconds())
    if total <= 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return "".join(
        f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if value
    )
