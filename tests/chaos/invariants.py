"""The guarantees checked at the end of every chaos run, over the whole ledger and customs' receipts.

Each check returns the list of violations (empty when it holds), written so that a failing run says
which declarations broke what. A declaration is known by its key: the declaring party's EORI and the LRN,
as customs knows it; two ERPs of Écluse may lodge the same LRN for different parties, and each is a
declaration of its own (decision 16).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

FINAL = frozenset({"ACCEPTED", "REJECTED", "CANCELLED", "REDECLARE"})
HELD_STATES = frozenset({"QUEUED"})
WAITING = frozenset({"QUEUED", "EMERGENCY"})  # the lines held and fallback declarations wait in


def declaration_key(eori: str | None, lrn: str) -> str:
    """Whose LRN: the party's EORI with the LRN (the LRN alone for a receipt that names no party)."""
    return f"{eori}/{lrn}" if eori else lrn


@dataclass(frozen=True)
class Receipt:
    lrn: str
    system: str
    mrn: str | None
    eori: str | None = None
    # whether it had been held when customs received it, where the observer knows (a lodgement whose
    # answer was lost reaches customs before the hold that follows it); else its history says
    held: bool | None = None

    @property
    def key(self) -> str:
        return declaration_key(self.eori, self.lrn)


@dataclass
class Observation:
    """What a run left behind: the ledger (declaration key -> item, no body), each system's counters, what
    customs received in order, the keys of what the ERPs lodged, and the throttle the run used."""

    ledger: dict[str, dict[str, Any]]
    counters: dict[str, dict[str, Any]]
    received: list[Receipt]
    lodged: list[str]
    rate_per_minute: int
    burst: int
    sent_while_held: list[str] = field(default_factory=list)


def _at(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def nothing_stuck(seen: Observation, ledger: dict[str, dict[str, Any]]) -> list[str]:
    """Every lodged declaration is in the ledger, and in a final state once the storm has settled."""
    problems = [f"{key} was lodged but is not in the ledger" for key in seen.lodged if key not in ledger]
    problems += [
        f"{key} is stuck {record['state']} ({record['history'][-1]['detail']})"
        for key, record in ledger.items()
        if record["state"] not in FINAL
    ]
    return problems


def counts_match(seen: Observation, ledger: dict[str, dict[str, Any]]) -> list[str]:
    """Each system's `held` and `emergency` counters equal what the ledger holds."""
    held: Counter[str] = Counter()
    emergency: Counter[str] = Counter()
    for record in ledger.values():
        if record["state"] == "QUEUED":
            held[record["system"]] += 1
        elif record["state"] == "EMERGENCY":
            emergency[record["system"]] += 1
    problems = []
    for system, item in seen.counters.items():
        if int(item.get("held", 0)) != held[system]:
            problems.append(f"{system}: counter held={item.get('held', 0)} but the ledger holds {held[system]}")
        if int(item.get("emergency", 0)) != emergency[system]:
            problems.append(
                f"{system}: counter emergency={item.get('emergency', 0)} but the ledger holds {emergency[system]}"
            )
    return problems


def at_most_once(seen: Observation, ledger: dict[str, dict[str, Any]]) -> list[str]:
    """Customs received each declaration (a party's LRN) at most once, and every ACCEPTED one exactly once,
    with its MRN: two declarants' equal LRNs are two declarations, each processed."""
    received = Counter(r.key for r in seen.received)
    problems = [f"{key} reached customs {n} times" for key, n in received.items() if n > 1]
    mrns = {r.key: r.mrn for r in seen.received}
    for key, record in ledger.items():
        if record["state"] == "ACCEPTED" and (received[key] != 1 or mrns.get(key) not in (None, record.get("mrn"))):
            problems.append(f"{key} is ACCEPTED with MRN {record.get('mrn')} but customs received it {received[key]}x")
    return problems


def _left_its_line(record: dict[str, Any]) -> tuple[str, str] | None:
    """When the declaration last left a waiting line on its way to customs, and which line it was."""
    left = None
    for before, entry in pairwise(record["history"]):
        if before["state"] in WAITING and entry["state"] in ("RELEASED", "SUBMITTED"):
            left = (entry["at"], before["state"])
    return left


def _states_at(record: dict[str, Any], moment: str) -> set[str]:
    """The states it may have been in at `moment`, from its history (ISO times in one format compare as
    text): the one just before, and each it passed through at that very moment (moves at the same time
    as another declaration's may have come before or after it)."""
    history = record["history"]
    before = [e["state"] for e in history if e["at"] < moment] or [history[0]["state"]]
    return {before[-1], *(e["state"] for e in history if e["at"] == moment)}


def held_in_receipt_order(seen: Observation, ledger: dict[str, dict[str, Any]]) -> list[str]:
    """Per system, a declaration that was held before customs received it reached customs after every
    declaration of its system received before it (that reached customs at all) — except one that was then
    waiting in the other line: fallback declarations are re-integrated in their own line, in France before
    any held one (the fallback policy's restricted_goods_first), so a held declaration and a fallback one
    are not ordered between them. Which line each was in is read when the later one left its own."""
    position = {r.key: i for i, r in enumerate(seen.received)}
    held_when_received = {r.key: r.held for r in seen.received if r.held is not None}
    systems: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for key, record in ledger.items():
        if key in position:
            systems[record["system"]].append((key, record))
    problems = []
    for system, records in systems.items():
        records.sort(key=lambda pair: (pair[1]["received_at"], pair[1]["lrn"], pair[1].get("declarant", "")))
        for index, (key, record) in enumerate(records):
            held = held_when_received.get(key, any(h["state"] in HELD_STATES for h in record["history"]))
            left = _left_its_line(record)
            if not held or left is None:
                continue
            moment, line = left
            overtaken = next(
                (
                    (older_key, older)
                    for older_key, older in records[:index]
                    if position[older_key] > position[key]
                    and older["received_at"] < record["received_at"]
                    and not _states_at(older, moment) & (WAITING - {line})
                ),
                None,
            )
            if overtaken:
                problems.append(
                    f"{system}: {key} (received {record['received_at']}, held) reached customs before "
                    f"{overtaken[0]} (received {overtaken[1]['received_at']})"
                )
    return problems


def within_rate(seen: Observation, ledger: dict[str, dict[str, Any]]) -> list[str]:
    """In any 60 s window, releases from the backlog per system never exceed rate + burst."""
    limit = seen.rate_per_minute + seen.burst
    releases: dict[str, list[datetime]] = defaultdict(list)
    for record in ledger.values():
        history = record["history"]
        for before, entry in pairwise(history):
            if entry["state"] == "RELEASED" and before["state"] in ("QUEUED", "EMERGENCY"):
                releases[record["system"]].append(_at(entry["at"]))
    problems = []
    for system, moments in releases.items():
        moments.sort()
        start = 0
        for end, moment in enumerate(moments):
            while moment - moments[start] >= timedelta(minutes=1):
                start += 1
            if end - start + 1 > limit:
                problems.append(f"{system}: {end - start + 1} releases within 60 s up to {moment} (limit {limit})")
                break
    return problems


def check_all(seen: Observation, *, settled: bool = True) -> list[str]:
    checks = [counts_match, at_most_once, held_in_receipt_order, within_rate]
    if settled:
        checks.insert(0, nothing_stuck)
    return [*seen.sent_while_held, *(problem for check in checks for problem in check(seen, seen.ledger))]
