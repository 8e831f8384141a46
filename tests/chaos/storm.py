"""A reproducible storm: ERPs lodging, operators flipping statuses, customs failing, deliveries duplicated,
late or cut short by crashes, release runs crashing, all interleaved at random but reproducibly."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests.chaos.invariants import counts_match
from tests.chaos.world import World

OUTAGE_KINDS = ("server_error", "server_error", "connection_failed", "timeout")


@dataclass
class StormReport:
    draw: int
    steps: int
    lodged: int = 0
    twins: int = 0  # lodged by the other ERP under an LRN already lodged
    flips: int = 0
    outages: int = 0
    crashes: int = 0
    duplicates: int = 0
    late: int = 0
    releases: int = 0
    deliveries: int = 0
    problems: list[str] = field(default_factory=list)


def storm(world: World, draw: int, steps: int) -> StormReport:
    rng = random.Random(draw)
    report = StormReport(draw, steps)
    held_by_operator: set[str] = set()
    for step in range(steps):
        roll = rng.random()
        system = rng.choice(world.systems)
        if roll < 0.35:
            crash = rng.randint(1, 3) if rng.random() < 0.05 else None
            ours = [d for d in world.lodged if d.identity is None]
            if ours and rng.random() < 0.15:  # another ERP's declaration under an LRN already used
                world.twin(rng.choice(ours), crash_at=crash)
                report.twins += 1
            else:
                world.lodge(system, crash_at=crash, urgent=rng.random() < 0.05)
            report.lodged += 1
        elif roll < 0.45:
            world.set_status(system, "AVAILABLE" if system in held_by_operator else "UNAVAILABLE")
            held_by_operator ^= {system}
        elif roll < 0.52:
            kind = rng.choice(OUTAGE_KINDS) if system not in world.customs.state()["outages"] else None
            world.outage(system, kind)
            report.outages += kind is not None
        elif roll < 0.55 and world.lodged:
            world.cancel(rng.choice(world.lodged))
        elif roll < 0.68:
            world.release(crash_at=rng.randint(1, 8) if rng.random() < 0.1 else None)
            report.releases += 1
        else:
            duplicate = rng.random() < 0.1
            world.deliver(
                crash_at=rng.randint(1, 10) if rng.random() < 0.1 else None,
                duplicate=duplicate,
                keep_late=rng.random() < 0.05,
            )
            report.deliveries += 1
            report.duplicates += duplicate
        if rng.random() < 0.03 and world.deliver_late():
            report.late += 1
        seen = world.observe()
        drift = counts_match(seen, seen.ledger)
        if drift:
            report.problems += [f"after step {step}: {problem}" for problem in drift]
            break
    report.flips = world.flips
    report.crashes = world.crashes
    return report
