"""Re-integration: what a fallback declaration carries when it goes back to customs, and in which order
held and fallback declarations of a system go back (the release drains them, `release.slices`)."""

from __future__ import annotations

from datetime import datetime

from ecluse import policies
from ecluse.clock import parse_iso
from ecluse.records import Record


def reintegration_marks(record: Record) -> tuple[list[str], list[str]]:
    """Marks and references a fallback declaration carries when it is re-integrated: the policy's marks
    (F5000), the real clearance date, the evidence reference (1PDS …), F5200 after a physical control."""
    policy = policies.policy(record.system)
    marks = list(dict.fromkeys([*record.marks, *policy.reintegration.marks]))
    established = parse_iso(record.fallback_at) if record.fallback_at else None
    references = list(record.references)
    if established:
        references.append(f"clearance date {established:%Y-%m-%d %H:%M} UTC")
    return marks, list(dict.fromkeys(references))  # re-integrated again after a hold: once each


def reintegration_order(system: str, held: list[Record], fallback: list[Record]) -> list[Record]:
    """Held and fallback declarations of one system in the order they go back to customs: receipt order,
    unless the policy puts restricted goods first. France (FR-DGDDI-SECOURS-DELTA-IMPORT, fiche 2 étape 4):
    fallback declarations of goods under restrictions (GUN documents) are re-integrated in chronological
    order and before any new declaration, and a held declaration is new to customs. The release reads
    index pages, which carry no documents, so there every fallback declaration goes first, oldest first:
    the restricted ones among them precede every held declaration, as the rule asks."""
    if policies.policy(system).reintegration.restricted_goods_first:
        return [*fallback, *held]
    return sorted([*held, *fallback], key=lambda r: (r.received_at, r.lrn))


def anticipation_expired(record: Record, now: datetime) -> bool:
    expires = record.anticipation_expires_at
    return parse_iso(expires) < now if expires else False
