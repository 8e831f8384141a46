"""The token bucket on its own, driven by a clock in the test's hands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ecluse.throttle import ReleaseConfig, TokenBucket, default_config

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _simulate(config: ReleaseConfig, seconds: int, step: float = 0.25) -> list[float]:
    """Take every token as soon as it exists, for `seconds`; the release times."""
    bucket, times, t = TokenBucket.full(config, T0), [], 0.0
    while t <= seconds:
        bucket = bucket.refilled(config, T0 + timedelta(seconds=t))
        while bucket.available:
            bucket = bucket.take()
            times.append(t)
        t += step
    return times


@pytest.mark.parametrize(("rate", "burst"), [(60, 10), (600, 100), (7, 1), (1, 1)])
def test_no_sixty_second_window_exceeds_rate_plus_burst(rate, burst):
    config = ReleaseConfig(rate_per_minute=rate, burst=burst)
    times = _simulate(config, 600)
    worst = max(sum(1 for u in times if t <= u < t + 60) for t in times)
    assert worst <= rate + burst


@pytest.mark.parametrize(("rate", "burst"), [(60, 10), (600, 100), (7, 1)])
def test_achieved_rate_matches_the_configured_rate(rate, burst):
    config = ReleaseConfig(rate_per_minute=rate, burst=burst)
    times = _simulate(config, 600)
    steady = [t for t in times if t >= 60]  # after the initial burst
    achieved = len(steady) / ((600 - 60) / 60)
    assert achieved >= 0.95 * rate


def test_bucket_never_holds_more_than_burst():
    config = ReleaseConfig(rate_per_minute=60, burst=5)
    bucket = TokenBucket(0, T0).refilled(config, T0 + timedelta(hours=3))
    assert bucket.available == 5


def test_taking_more_than_available_is_refused():
    with pytest.raises(ValueError, match="available"):
        TokenBucket(1.5, T0).take(2)


def test_wait_time_for_tokens():
    config = ReleaseConfig(rate_per_minute=60, burst=10)
    assert TokenBucket(0, T0).seconds_until(5, config) == pytest.approx(5.0)
    assert TokenBucket(0, T0).seconds_until(50, config) == pytest.approx(10.0)  # capped at the burst


def test_config_validation():
    with pytest.raises(ValidationError):
        ReleaseConfig(rate_per_minute=0, burst=1)
    with pytest.raises(ValidationError):
        ReleaseConfig(rate_per_minute=1, burst=11)
    assert default_config(600).burst == 100
    assert default_config(60).burst == 10
