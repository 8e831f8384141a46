"""The drain outlook: when will the backlog be gone at the current rate, and will that meet the
re-integration deadline (24 h after the end of a French outage, seed 004)?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ecluse.systems import Status, SystemState


@dataclass(frozen=True)
class DrainOutlook:
    projected_end: datetime | None
    at_risk: bool
    rate_to_meet_deadline: int | None  # releases per minute that would still meet it

    def as_dict(self) -> dict:
        return {"at_risk": self.at_risk, "rate_to_meet_deadline": self.rate_to_meet_deadline}


def outlook(state: SystemState, now: datetime) -> DrainOutlook:
    config = state.release_config
    draining = state.held > 0 and state.status is not Status.UNAVAILABLE and not config.paused
    end = now + timedelta(minutes=state.held / config.rate_per_minute) if draining else None
    deadline = state.reintegration_deadline
    if deadline is None or state.held == 0:
        return DrainOutlook(end, False, None)
    if end is not None and end <= deadline:
        return DrainOutlook(end, False, None)
    minutes_left = (deadline - now).total_seconds() / 60
    needed = math.ceil(state.held / minutes_left) if minutes_left > 0 else None
    return DrainOutlook(end, True, needed)
