"""Kargo's availability rule, decided from plain facts."""

from datetime import timedelta

import pytest

from kargo_dagster.availability import (
    AvailabilityRequest,
    Occupancy,
    UpstreamFacts,
    Why,
    decide,
    longest_soak,
)


def request(
    *,
    direct: bool = False,
    stages: tuple[str, ...] = ("dev",),
    soak: timedelta | None = None,
    strategy: str = "OneOf",
) -> AvailabilityRequest:
    return AvailabilityRequest(
        stage="staging",
        origin="guestbook",
        direct=direct,
        upstream_stages=stages,
        required_soak_time=soak,
        availability_strategy=strategy,  # type: ignore[arg-type]
    )


def facts(stage: str, verified: bool = True, soak_minutes: int = 0) -> UpstreamFacts:
    return UpstreamFacts(
        stage=stage,
        verified=verified,
        verification_state="passed" if verified else "failed",
        soak=timedelta(minutes=soak_minutes),
    )


def test_verified_in_the_upstream_stage_is_available():
    answer = decide(request(), freight="f", approved=False, upstream=[facts("dev")])
    assert answer.available
    assert answer.reason == "Freight f is verified in Stage dev"


def test_unverified_freight_is_refused_with_a_remedy():
    answer = decide(request(), freight="f", approved=False, upstream=[facts("dev", False)])
    assert not answer.available
    assert answer.reason == (
        "Freight f is not available to Stage staging: it must be verified in Stage dev, "
        "but it is not verified in Stage dev (failed). Promote it to Stage dev and let it "
        "verify, or approve it for Stage staging."
    )


def test_approval_makes_unverified_freight_available():
    answer = decide(request(), freight="f", approved=True, upstream=[facts("dev", False)])
    assert answer.available
    assert "approved for Stage staging" in answer.reason


def test_direct_needs_no_upstream():
    answer = decide(request(direct=True, stages=()), freight="f", approved=False, upstream=[])
    assert answer.available


@pytest.mark.parametrize(
    ("strategy", "verified", "available"),
    [
        ("OneOf", (True, False), True),
        ("OneOf", (False, False), False),
        ("All", (True, False), False),
        ("All", (True, True), True),
    ],
)
def test_one_of_and_all(strategy: str, verified: tuple[bool, bool], available: bool):
    answer = decide(
        request(stages=("a", "b"), strategy=strategy),
        freight="f",
        approved=False,
        upstream=[facts("a", verified[0]), facts("b", verified[1])],
    )
    assert answer.available is available


def test_all_names_every_stage_in_the_refusal():
    answer = decide(
        request(stages=("a", "b"), strategy="All"),
        freight="f",
        approved=False,
        upstream=[facts("a"), facts("b", False)],
    )
    assert "verified in each of Stage a and Stage b" in answer.reason
    assert "not verified in Stage b" in answer.reason


def test_soak_time_must_be_reached():
    short = decide(
        request(soak=timedelta(hours=1)),
        freight="f",
        approved=False,
        upstream=[facts("dev", soak_minutes=20)],
    )
    assert not short.available
    assert "soaked 20m in Stage dev, 40m short of the required 1h" in short.reason
    enough = decide(
        request(soak=timedelta(hours=1)),
        freight="f",
        approved=False,
        upstream=[facts("dev", soak_minutes=61)],
    )
    assert enough.available
    assert enough.reason == "Freight f is verified and soaked 1h in Stage dev"


@pytest.mark.parametrize(
    ("approved", "direct", "upstream", "why"),
    [
        (True, False, [facts("dev", False)], Why.APPROVED),
        (False, True, [], Why.DIRECT),
        (False, False, [facts("dev", soak_minutes=90)], Why.VERIFIED_UPSTREAM),
        (False, False, [facts("dev", soak_minutes=10)], Why.SOAKING),
        (False, False, [facts("dev", False)], Why.NOT_VERIFIED),
    ],
)
def test_each_answer_names_why_for_code_to_branch_on(
    approved: bool, direct: bool, upstream: list[UpstreamFacts], why: Why
):
    answer = decide(
        request(direct=direct, soak=timedelta(hours=1)),
        freight="f",
        approved=approved,
        upstream=upstream,
    )
    assert answer.why is why
    assert answer.soaking == (why is Why.SOAKING)
    assert answer.available == (why in (Why.APPROVED, Why.DIRECT, Why.VERIFIED_UPSTREAM))


def test_longest_soak_counts_continuous_stays():
    history = [
        Occupancy("a", 0.0),
        Occupancy("a", 100.0),  # re-promoting the same Freight does not interrupt its stay
        Occupancy("b", 300.0),
        Occupancy("a", 1000.0),
    ]
    assert longest_soak(history, "a", now=1100.0) == timedelta(seconds=300)
    assert longest_soak(history, "a", now=2000.0) == timedelta(seconds=1000)
    assert longest_soak(history, "b", now=2000.0) == timedelta(seconds=700)
    assert longest_soak(history, "c", now=2000.0) == timedelta(0)
