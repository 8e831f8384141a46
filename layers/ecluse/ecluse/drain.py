"""The drain outlook: when will the backlog be gone at the current rate, and will that meet the
re-integration deadline (24 h after the end of a French outage: FR-DGDDI-SECOURS-DELTA-IMPORT, fiche 2 étape 4)?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ecluse.clock import iso
from ecluse.systems import SystemState


@dataclass(frozen=True)
class DrainOutlook:
    projected_end: datetime | None
    at_risk: bool
    rate_to_meet_deadline: int | None  # releases per minute that would still meet it

    def as_dict(self) -> dict[str, Any]:
        return {"at_risk": self.at_risk, "rate_to_meet_deadline": self.rate_to_meet_deadline}


def outlook(state: SystemState, now: datetime) -> DrainOutlook:
    config = state.release_config
    backlog = state.backlog  # held declarations and fallback ones awaiting re-integration
    draining = backlog > 0 and not state.holds and not config.paused
    end = now + timedelta(minutes=backlog / config.rate_per_minute) if draining else None
    deadline = state.reintegration_deadline
    if deadline is None or backlog == 0:
        return DrainOutlook(end, False, None)
    if end is not None and end <= deadline:
        return DrainOutlook(end, False, None)
    minutes_left = (deadline - now).total_seconds() / 60
    needed = math.ceil(backlog / minutes_left) if minutes_left > 0 else None
    return DrainOutlook(end, True, needed)


def risk_report(state: SystemState, now: datetime) -> dict[str, Any] | None:
    """What the release run reports about a system whose re-integration deadline is at risk (else None)."""
    risk = outlook(state, now)
    if not risk.at_risk:
        return None
    deadline = state.reintegration_deadline
    return {
        "held": state.held,
        "deadline": iso(deadline) if deadline else None,
        "projected_drain_end": iso(risk.projected_end) if risk.projected_end else None,
        **risk.as_dict(),
    }
