"""Ten thousand held declarations drain in order, at the rate, once each (in-memory adapters with the
DynamoDB adapters' semantics; see tests/integration/test_adapter_contract.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from ecluse.throttle import ReleaseConfig
from tests.drain_scenario import outage_then_drain

RATE, BURST = 600, 100


@pytest.fixture(scope="module")
def drained():
    return outage_then_drain(10_000, ReleaseConfig(rate_per_minute=RATE, burst=BURST))


def test_every_held_declaration_reaches_customs_once_in_order(drained):
    assert drained.received == drained.held
    assert not [lrn for lrn, n in Counter(lrn for lrn, _ in drained.sent).items() if n > 1]


def test_no_minute_exceeds_rate_plus_burst(drained):
    assert drained.max_in_any_minute() <= RATE + BURST


def test_achieved_rate_is_at_least_95_percent_of_the_setting(drained):
    minutes = drained.drain_seconds / 60
    assert len(drained.sent) / minutes >= 0.95 * RATE


def test_per_run_work_and_memory_do_not_grow_with_the_backlog(drained):
    small = outage_then_drain(1_000, ReleaseConfig(rate_per_minute=RATE, burst=BURST))
    full_runs = slice(0, len(small.calls_per_run) - 1)  # the last run of each ends early
    assert max(drained.calls_per_run) <= 1.1 * max(small.calls_per_run[full_runs])
    assert max(drained.peak_memory_per_run) <= 1.5 * max(small.peak_memory_per_run[full_runs])
