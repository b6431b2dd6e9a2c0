"""Deployment frequency, lead time, change failure rate and time to restore, per Stage."""

import pytest

from kargo_dagster.delivery_metrics import PromotionRecord, VerificationRecord, stage_metrics

HOUR = 3600.0
NOW = 100 * 24 * HOUR


def test_the_four_metrics_of_a_stage():
    created = {"a": NOW - 50 * HOUR, "b": NOW - 30 * HOUR, "c": NOW - 10 * HOUR}
    promotions = [
        PromotionRecord("dev", "a", NOW - 48 * HOUR, succeeded=True),
        PromotionRecord("dev", "b", NOW - 27 * HOUR, succeeded=True),  # then fails verification
        PromotionRecord("dev", "c", NOW - 9 * HOUR, succeeded=False),  # a failed step
        PromotionRecord("dev", "c", NOW - 6 * HOUR, succeeded=True),
        PromotionRecord("dev", "b", NOW - 5 * HOUR, succeeded=False, superseded=True),
        PromotionRecord("prod", "a", NOW - 1 * HOUR, succeeded=True),
    ]
    verifications = [
        VerificationRecord("dev", "a", NOW - 47 * HOUR, passed=True),
        VerificationRecord("dev", "b", NOW - 26 * HOUR, passed=False),
        VerificationRecord("dev", "c", NOW - 5 * HOUR, passed=True),
    ]
    dev, prod, qa = stage_metrics(
        ["dev", "prod", "qa"], promotions, verifications, created, now=NOW, window_days=10
    )
    assert dev.deployments == 3
    assert dev.deployments_per_day == pytest.approx(0.3)
    # Lead times 2h (a), 3h (b), 4h (c): the median.
    assert dev.lead_time_seconds == pytest.approx(3 * HOUR)
    # 4 attempts (the superseded request is none), 2 failures: b's verification and c's step.
    assert (dev.failures, dev.change_failure_rate) == (2, pytest.approx(0.5))
    # Both restored when c passed verification: 21h after b failed, 4h after c's step.
    assert dev.time_to_restore_seconds == pytest.approx(12.5 * HOUR)
    assert (prod.deployments, prod.lead_time_seconds) == (1, pytest.approx(49 * HOUR))
    assert prod.change_failure_rate == 0.0
    assert prod.time_to_restore_seconds is None
    assert (qa.deployments, qa.change_failure_rate, qa.lead_time_seconds) == (0, None, None)


def test_only_the_window_counts():
    old = PromotionRecord("dev", "a", NOW - 40 * 24 * HOUR, succeeded=False)
    [dev] = stage_metrics(["dev"], [old], [], {}, now=NOW, window_days=30)
    assert (dev.deployments, dev.change_failure_rate) == (0, None)
