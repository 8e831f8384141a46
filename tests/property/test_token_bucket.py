"""The release throttle's token bucket (ecluse.throttle) under random configurations and random timings of
refills and takes, the way the release run uses it (refill to now, take what is available, persist): at
most burst + rate releases in any 60 s window, and never fewer than zero tokens or more than the burst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ecluse.throttle import ReleaseConfig, TokenBucket

EPSILON = 1e-9  # TokenBucket.available forgives this much float error, no more

configs = st.integers(1, 6000).flatmap(
    lambda rate: st.builds(ReleaseConfig, rate_per_minute=st.just(rate), burst=st.integers(1, min(6000, rate * 10)))
)
# (seconds since the previous step, how many tokens the run wants now)
steps = st.lists(
    st.tuples(
        st.one_of(st.floats(0, 5, allow_nan=False), st.sampled_from([0.0, 0.001, 59.999, 60.0, 60.001, 600.0])),
        st.integers(0, 200),
    ),
    min_size=1,
    max_size=120,
)


@given(config=configs, start_full=st.booleans(), steps=steps)
def test_at_most_burst_plus_rate_in_any_minute_and_never_negative(config, start_full, steps) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    bucket = TokenBucket.full(config, now) if start_full else TokenBucket(0.0, now)
    released: list[datetime] = []
    for seconds, wanted in steps:
        now += timedelta(seconds=seconds)
        bucket = bucket.refilled(config, now)
        assert -EPSILON <= bucket.tokens <= config.burst + EPSILON
        for _ in range(min(wanted, bucket.available)):
            bucket = bucket.take()
            released.append(now)
            assert bucket.tokens >= -EPSILON
        if wanted > bucket.available:  # the run waits as long as the bucket says, then comes back
            wait = bucket.seconds_until(1, config)
            assert wait >= 0
            # (a datetime keeps microseconds: the wait, rounded, may fall short by half of one; the release
            # run never sleeps less than MIN_SLEEP anyway)
            assert bucket.refilled(config, now + timedelta(seconds=wait, milliseconds=1)).available >= 1
    start = 0
    for end, moment in enumerate(released):
        while moment - released[start] >= timedelta(minutes=1):
            start += 1
        assert end - start + 1 <= config.rate_per_minute + config.burst, (moment, end - start + 1)


@given(config=configs, tokens=st.floats(0, 6000, allow_nan=False), count=st.integers(0, 7000))
def test_taking_more_than_available_is_refused_and_changes_nothing(config, tokens, count) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    bucket = TokenBucket(min(tokens, float(config.burst)), now)
    if count <= bucket.available:
        assert bucket.take(count).tokens >= -EPSILON
    else:
        try:
            bucket.take(count)
        except ValueError:
            pass
        else:
            raise AssertionError(f"took {count} with {bucket.available} available")
