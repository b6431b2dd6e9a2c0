"""Why a run failed, as ``promote``, ``history`` and ``status`` tell it: each failure once.

A failed blocking check is reported twice in a run's events, by the verdict it stored and by
the failure that ends its step; the reasons tell it once because that failure names its check,
whatever the words of the two. Failures that are not the same stay apart, even when the words
of one hold the other's.
"""

from collections.abc import Iterator

import dagster as dg

from kargo_dagster.defs.run_failures import check_failure, failure_reasons


@dg.asset
def shop() -> None:
    """An asset whose checks below judge it."""


@dg.asset
def till() -> None:
    """An asset that fails on its own, in words that hold the shop check's verdict."""
    raise dg.Failure(description="The till is down: card payments refused")


@dg.asset_check(asset=shop)
def up() -> dg.AssetCheckResult:
    """A check that fails without ending its step."""
    return dg.AssetCheckResult(passed=False, description="down")


@dg.multi_asset_check(specs=[dg.AssetCheckSpec("healthy", asset=shop, blocking=True)])
def healthy() -> Iterator[dg.AssetCheckResult]:
    """A blocking check that fails and ends its step saying so, in other words."""
    yield dg.AssetCheckResult(passed=False, description="HTTP 503 from /healthz")
    raise check_failure(
        "healthy failed for the shop: it answers 503", dg.AssetCheckKey(shop.key, "healthy")
    )


def _run(
    instance: dg.DagsterInstance, *definitions: dg.AssetsDefinition | dg.AssetChecksDefinition
) -> str:
    result = dg.materialize(definitions, instance=instance, raise_on_error=False)
    assert not result.success
    return result.run_id


def test_failures_whose_words_hold_one_another_are_both_told(instance):
    run_id = _run(instance, shop, till, up)

    assert failure_reasons(instance, run_id) == [
        "The till is down: card payments refused",
        "up failed: down",
    ]


def test_a_failed_check_is_told_once_in_the_words_of_its_step(instance):
    run_id = _run(instance, shop, healthy)

    assert failure_reasons(instance, run_id) == ["healthy failed for the shop: it answers 503"]


def test_other_checks_still_tell_their_verdicts(instance):
    run_id = _run(instance, shop, healthy, up)

    assert failure_reasons(instance, run_id) == [
        "healthy failed for the shop: it answers 503",
        "up failed: down",
    ]
