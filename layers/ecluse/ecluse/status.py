"""What a customs system's status can be, who says so, and the mode derived from it. Plain names that
everything else builds on: this module imports nothing of Écluse's."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    AVAILABLE = "AVAILABLE"
    DEGRADED = "DEGRADED"  # lodge, but watch
    UNAVAILABLE = "UNAVAILABLE"  # hold


class Source(StrEnum):
    CID_ALERT = "CID_ALERT"
    SELF_TRIGGERED = "SELF_TRIGGERED"
    MAINTENANCE = "MAINTENANCE"
    FEED = "FEED"
    AUTO = "AUTO"
    OPERATOR = "OPERATOR"


class Mode(StrEnum):
    NORMAL = "NORMAL"  # available, nothing held
    HOLDING = "HOLDING"  # unavailable
    DRAINING = "DRAINING"  # available, backlog > 0
