"""The per-system gauges the dashboard draws and the alarms watch."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ecluse.observation import gauges
from ecluse.systems import Source, Status, SystemState
from ecluse.throttle import ReleaseConfig


def test_a_system_quiet_and_empty_has_nothing_to_say(clock):
    seen = gauges(SystemState("DELTA_G"), clock.now(), None, None)
    assert (seen.held, seen.stalled, seen.oldest_held_minutes, seen.deadline_margin_minutes) == (0, False, None, None)


def test_a_drain_that_released_nothing_for_five_minutes_is_stalled(clock):
    ended = clock.now()
    state = SystemState(
        "DELTA_G", Status.AVAILABLE, since=ended, source=Source.OPERATOR, outage_ended_at=ended, held=40
    )
    clock.advance(minutes=4)
    assert gauges(state, clock.now(), ended - timedelta(hours=1), None).stalled is False  # the drain may start
    clock.advance(minutes=1)
    assert gauges(state, clock.now(), None, None).stalled is True
    released = replace(state, released_counted_at=clock.now() - timedelta(seconds=30), released_last_minute=12)
    assert (
        gauges(released, clock.now(), None, None).stalled,
        gauges(released, clock.now(), None, None).released_last_minute,
    ) == (False, 12)
    paused = replace(state, release=ReleaseConfig(rate_per_minute=60, burst=10, paused=True))
    assert gauges(paused, clock.now(), None, None).stalled is False  # an operator paused it: not an accident
    held = replace(state, status=Status.UNAVAILABLE)
    assert gauges(held, clock.now(), None, None).stalled is False  # held, not draining


def test_the_deadline_margin_is_negative_when_the_drain_ends_too_late(clock):
    now = clock.now()
    state = SystemState(
        "DELTA_G", Status.AVAILABLE, since=now, outage_ended_at=now, held=600,
        reintegration_deadline=now + timedelta(minutes=5), release=ReleaseConfig(rate_per_minute=60, burst=10),
    )  # fmt: skip
    assert gauges(state, now, now - timedelta(minutes=30), now - timedelta(minutes=3)).deadline_margin_minutes == -5.0
    faster = replace(state, release=ReleaseConfig(rate_per_minute=600, burst=100))
    seen = gauges(faster, now, now - timedelta(minutes=30), now - timedelta(minutes=3))
    assert (seen.deadline_margin_minutes, seen.oldest_held_minutes, seen.oldest_submitted_minutes) == (4.0, 30.0, 3.0)
