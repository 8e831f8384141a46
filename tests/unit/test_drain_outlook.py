"""The drain outlook against the re-integration deadline (24 h after a French outage ends:
FR-DGDDI-SECOURS-DELTA-IMPORT, fiche 2 étape 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecluse.drain import outlook
from ecluse.systems import Source, Status, SystemState
from ecluse.throttle import ReleaseConfig

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _state(**fields) -> SystemState:
    return SystemState("DELTA_G", release=ReleaseConfig(rate_per_minute=60, burst=10), **fields)


def test_projection_counts_fallback_declarations_awaiting_reintegration():
    seen = outlook(_state(held=60, emergency=60), NOW)
    assert seen.projected_end == NOW + timedelta(minutes=2)
    assert not seen.at_risk


def test_at_risk_with_the_rate_that_meets_the_deadline():
    seen = outlook(_state(held=600, reintegration_deadline=NOW + timedelta(minutes=5)), NOW)
    assert seen.at_risk
    assert seen.rate_to_meet_deadline == 120


def test_no_projection_while_holding_or_paused_but_the_risk_shows():
    holding = _state(
        held=10, status=Status.UNAVAILABLE, source=Source.OPERATOR, reintegration_deadline=NOW + timedelta(hours=1)
    )
    assert outlook(holding, NOW).projected_end is None
    assert outlook(holding, NOW).at_risk
    paused = SystemState("DELTA_G", held=10, release=ReleaseConfig(rate_per_minute=60, burst=10, paused=True))
    assert outlook(paused, NOW).projected_end is None


def test_past_deadline_has_no_rate_to_offer():
    late = outlook(_state(held=5, reintegration_deadline=NOW - timedelta(minutes=1)), NOW)
    assert (late.at_risk, late.rate_to_meet_deadline) == (True, None)
