"""`make soak`: the chaos suite at length. Reproducible storms on the embedded AWS (every fault the suite knows,
many more steps), then busy borders on `make run`'s stack with real threads; each run ends with every
guarantee checked over the whole ledger and customs' receipts. Prints the totals and exits non-zero on
the first broken guarantee.

SOAK_STORMS (default 8), SOAK_STEPS (default 400) and SOAK_BORDERS (default 3) set its length.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.environment import offline_aws

offline_aws(log_level="ERROR")

import local  # noqa: E402,F401 - the layer on sys.path


def storms(count: int, steps: int) -> dict[str, int]:
    from moto import mock_aws

    from tests.chaos.invariants import check_all
    from tests.chaos.storm import storm
    from tests.chaos.world import World

    totals = {"runs": 0, "declarations": 0, "crashes": 0, "flips": 0, "customs outages": 0, "duplicates": 0}
    with mock_aws():
        for draw in range(100, 100 + count):
            world = World(stack_name=f"soak{draw}")
            try:
                report = storm(world, draw, steps)
                world.settle()
                problems = report.problems + check_all(world.observe())
            finally:
                world.close()
            _fail_on(problems, f"storm draw {draw}")
            totals["runs"] += 1
            totals["declarations"] += report.lodged
            totals["crashes"] += report.crashes
            totals["flips"] += report.flips
            totals["customs outages"] += report.outages
            totals["duplicates"] += report.duplicates + report.late
            summary = f"{report.lodged} lodged, {report.crashes} crashes, {report.flips} flips"
            print(f"- storm draw {draw}: {summary}: ok", flush=True)
    return totals


def borders(count: int) -> dict[str, int]:
    from tests.chaos.border import Border, local_stack, run
    from tests.chaos.invariants import check_all

    totals = {"runs": 0, "declarations": 0, "flips": 0, "customs outages": 0}
    with tempfile.TemporaryDirectory() as folder:
        for draw in range(1, count + 1):
            log = Path(folder) / f"border{draw}.log"
            with local_stack(log, CIRCUIT_RECOVERY_SECONDS="3", RESEND_AFTER_SECONDS="10") as http:
                report = run(http, Border(draw=draw, erps=6, per_erp=40))
            _fail_on(check_all(report.observation), f"border draw {draw}")
            totals["runs"] += 1
            totals["declarations"] += report.lodged
            totals["flips"] += report.flips
            totals["customs outages"] += report.customs_outages
            summary = f"{report.lodged} lodged, {report.flips} flips in {report.seconds:.0f} s"
            print(f"- border draw {draw}: {summary}: ok", flush=True)
    return totals


def _fail_on(problems: list[str], run: str) -> None:
    if problems:
        print(f"{run}: {len(problems)} broken guarantee(s):", *problems[:20], sep="\n  ", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    started = time.monotonic()
    print("## Storms (real handlers on the embedded AWS, faults injected)")
    stormed = storms(int(os.environ.get("SOAK_STORMS", "8")), int(os.environ.get("SOAK_STEPS", "400")))
    print(f"- total: {stormed}")
    print("## Busy borders (make run's stack, six ERP threads, operator flips, customs 503s)")
    bordered = borders(int(os.environ.get("SOAK_BORDERS", "3")))
    print(f"- total: {bordered}")
    took = time.monotonic() - started
    print(f"0 lost, 0 duplicated, 0 order inversions, 0 sent while held, rate kept ({took:.0f} s)")


if __name__ == "__main__":
    main()
