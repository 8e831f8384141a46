"""Customs systems: the registry of the ones Écluse knows, their stored status and the derived mode."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ecluse.errors import EcluseError, FieldProblem
from ecluse.throttle import ReleaseConfig, TokenBucket, default_config


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


@dataclass(frozen=True)
class CustomsSystem:
    id: str
    country: str
    name: str
    # Hours after the end of an outage within which held and fallback declarations must be re-integrated;
    # None where no public source gives one (DOMAIN.md). French DELTA family: 24 h (seed 004).
    reintegration_hours: int | None = None
    default_rate_per_minute: int = 60


_FR_24H = 24
REGISTRY: dict[str, CustomsSystem] = {
    s.id: s
    for s in (
        CustomsSystem("DELTA_G", "FR", "DELTA G (import/export, common law)", _FR_24H),
        CustomsSystem("DELTA_X", "FR", "DELTA X (express freight)", _FR_24H),
        CustomsSystem("DELTA_H7", "FR", "DELTA H7 (low-value e-commerce)", _FR_24H),
        CustomsSystem("DELTA_T", "FR", "DELTA T (transit, NCTS)", _FR_24H),
        CustomsSystem("DELTA_IMPORT", "FR", "DELTA Import / IE", _FR_24H),
        CustomsSystem("ECS", "FR", "ECS (export control)", _FR_24H),
        CustomsSystem("ICS2", "FR", "ICS2 (entry summary)"),
        CustomsSystem("CDS", "GB", "Customs Declaration Service"),
        CustomsSystem("AIS", "IE", "Automated Import System"),
        CustomsSystem("AES_IE", "IE", "Automated Export System"),
        CustomsSystem("NCTS_IE", "IE", "New Computerised Transit System"),
        CustomsSystem("DMS_NL", "NL", "Declaration Management System"),
        CustomsSystem("AGS_NL", "NL", "Aangiftesysteem"),
        CustomsSystem("PLDA", "BE", "Paperless Douane en Accijnzen"),
        CustomsSystem("IDMS", "BE", "Integrated Declaration Management System"),
        CustomsSystem("ATLAS", "DE", "ATLAS"),
        CustomsSystem("DMS_DK", "DK", "DMS Import"),
    )
}


def lookup(system_id: str) -> CustomsSystem:
    try:
        return REGISTRY[system_id]
    except KeyError:
        raise EcluseError(
            "unknown_system",
            f"unknown customs system {system_id!r}; known: {', '.join(REGISTRY)}",
            [FieldProblem("system", "unknown_system", f"use one of {', '.join(REGISTRY)}")],
            http_status=404,
        ) from None


@dataclass(frozen=True)
class StatusChange:
    """What an operator, a feed or the circuit says about a system."""

    status: Status
    source: Source
    reference: str | None = None
    reason: str | None = None
    authorised_from: datetime | None = None


@dataclass(frozen=True)
class SystemState:
    """The stored record of one system, as the `systems` table holds it."""

    system: str
    status: Status = Status.AVAILABLE
    since: datetime | None = None
    source: Source | None = None
    reference: str | None = None
    reason: str | None = None
    authorised_from: datetime | None = None
    outage_ended_at: datetime | None = None
    reintegration_deadline: datetime | None = None
    held: int = 0
    emergency: int = 0
    version: int = 0
    # the release throttle and who is draining: written by the release run, not by status changes
    release: ReleaseConfig | None = None
    bucket: TokenBucket | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    released_last_minute: int = 0
    released_counted_at: datetime | None = None
    probe_until: datetime | None = None

    @property
    def release_config(self) -> ReleaseConfig:
        return self.release or default_config(lookup(self.system).default_rate_per_minute)

    @property
    def auto_held(self) -> bool:
        """Held because sending errors tripped the circuit, not because anyone declared an outage."""
        return self.status is Status.UNAVAILABLE and self.source is Source.AUTO

    @property
    def mode(self) -> Mode:
        if self.status is Status.UNAVAILABLE:
            return Mode.HOLDING
        return Mode.DRAINING if self.held > 0 else Mode.NORMAL

    @property
    def accepts_fast_path(self) -> bool:
        """A newcomer may go straight to customs only when nothing waits ahead of it."""
        return self.mode is Mode.NORMAL

    def after(self, change: StatusChange, at: datetime) -> SystemState:
        """The record once `change` is applied: an outage ending starts the re-integration clock."""
        ending = self.status is Status.UNAVAILABLE and change.status is not Status.UNAVAILABLE
        starting = change.status is Status.UNAVAILABLE and self.status is not Status.UNAVAILABLE
        hours = lookup(self.system).reintegration_hours
        ended_at = at if ending else (None if starting else self.outage_ended_at)
        deadline = self.reintegration_deadline
        if ending:
            deadline = at + timedelta(hours=hours) if hours is not None else None
        elif starting:
            deadline = None
        return replace(
            self,
            status=change.status,
            since=at if change.status is not self.status else (self.since or at),
            source=change.source,
            reference=change.reference,
            reason=change.reason,
            authorised_from=change.authorised_from,
            outage_ended_at=ended_at,
            reintegration_deadline=deadline,
            version=self.version + 1,
        )
