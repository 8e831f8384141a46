"""Customs systems: the registry of the ones Écluse knows, their stored status and the derived mode."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ecluse import policies
from ecluse.errors import EcluseError, FieldProblem
from ecluse.policies import Policy
from ecluse.status import Mode, Source, Status
from ecluse.throttle import ReleaseConfig, TokenBucket, default_config

__all__ = ["REGISTRY", "CustomsSystem", "Mode", "Source", "Status", "StatusChange", "SystemState", "lookup"]


@dataclass(frozen=True)
class CustomsSystem:
    id: str
    country: str
    name: str
    default_rate_per_minute: int = 60

    @property
    def reintegration_hours(self) -> int | None:
        """Hours after an outage's end to re-integrate; from the system's continuity policy (None where
        no source gives one)."""
        return policies.policy(self.id).reintegration.deadline_hours


REGISTRY: dict[str, CustomsSystem] = {
    s.id: s
    for s in (
        CustomsSystem("DELTA_G", "FR", "DELTA G (import/export, common law)"),
        CustomsSystem("DELTA_X", "FR", "DELTA X (express freight)"),
        CustomsSystem("DELTA_H7", "FR", "DELTA H7 (low-value e-commerce)"),
        CustomsSystem("DELTA_T", "FR", "DELTA T (transit, NCTS)"),
        CustomsSystem("DELTA_IMPORT", "FR", "DELTA Import / IE"),
        CustomsSystem("ECS", "FR", "ECS (export control)"),
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
    by: str = field(kw_only=True)  # who says so: a principal, or Écluse itself (callers.DETECTION…)

    def __post_init__(self) -> None:
        if not self.by:
            raise ValueError("every status change says who made it")


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
    by: str | None = None  # who made the status what it is (None: never changed, or before decision 16)
    outage_ended_at: datetime | None = None
    reintegration_deadline: datetime | None = None
    held: int = 0
    emergency: int = 0
    version: int = 0
    # The hold epoch: moves on each time a declaration that was on its way to customs is held again.
    # A declaration released in an earlier epoch would overtake it: it goes back in line instead.
    epoch: int = 0
    # The epoch whose stale releases were all put back in line: until it equals `epoch`, nothing is
    # released (no drain, no probe, no fast path), so nothing younger overtakes them (decision 11).
    settled_epoch: int = 0
    # the release throttle and who is draining: written by the release run, not by status changes
    release: ReleaseConfig | None = None
    release_by: str | None = None  # who set the throttle last, when and why
    release_changed_at: datetime | None = None
    release_reason: str | None = None
    bucket: TokenBucket | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    released_last_minute: int = 0
    released_counted_at: datetime | None = None
    probe_until: datetime | None = None
    # The system's continuity policy, which says whether an outage holds and when re-integration is due.
    # The status board passes it; a state built without one (a test, a default) takes its system's.
    policy: Policy = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.policy is None:
            object.__setattr__(self, "policy", policies.policy(self.system))

    @property
    def release_config(self) -> ReleaseConfig:
        return self.release or default_config(lookup(self.system).default_rate_per_minute)

    @property
    def settled(self) -> bool:
        return self.settled_epoch == self.epoch

    @property
    def auto_held(self) -> bool:
        """Held because sending errors tripped the circuit, not because anyone declared an outage."""
        return self.status is Status.UNAVAILABLE and self.source is Source.AUTO

    @property
    def holds(self) -> bool:
        """UNAVAILABLE, and this system's policy holds declarations for this kind of outage (some
        authorities buffer what is sent during planned maintenance: the policy says send_through)."""
        return self.status is Status.UNAVAILABLE and not self.policy.passes_through(self.source)

    @property
    def backlog(self) -> int:
        """Held declarations and fallback declarations waiting to be re-integrated."""
        return self.held + self.emergency

    @property
    def mode(self) -> Mode:
        if self.holds:
            return Mode.HOLDING
        return Mode.DRAINING if self.backlog > 0 else Mode.NORMAL

    @property
    def accepts_fast_path(self) -> bool:
        """A newcomer may go straight to customs only when nothing waits ahead of it."""
        return self.mode is Mode.NORMAL

    def after(self, change: StatusChange, at: datetime) -> SystemState:
        """The record once `change` is applied: an outage ending starts the re-integration clock."""
        ending = self.status is Status.UNAVAILABLE and change.status is not Status.UNAVAILABLE
        starting = change.status is Status.UNAVAILABLE and self.status is not Status.UNAVAILABLE
        hours = self.policy.reintegration.deadline_hours
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
            by=change.by,
            outage_ended_at=ended_at,
            reintegration_deadline=deadline,
            version=self.version + 1,
        )
