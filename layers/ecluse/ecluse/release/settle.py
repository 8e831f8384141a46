"""Back in line before anything is released: when a declaration on its way to customs was held again
(its system's hold epoch moved), every declaration of that system still RELEASED in an earlier epoch goes
back in line (QUEUED, or EMERGENCY for a fallback declaration being re-integrated), in its receipt order,
before the drain, a probe or the fast path sends anything younger (decision 11). Its message, if still
queued, then finds it waiting and is skipped."""

from __future__ import annotations

from datetime import datetime

from ecluse.callers import RELEASE
from ecluse.ledger import Ledger, StateConflict, back_in_line
from ecluse.life_cycle import State
from ecluse.ports import StatusBoard
from ecluse.systems import SystemState


class Settle:
    def __init__(self, ledger: Ledger, board: StatusBoard) -> None:
        self._ledger = ledger
        self._board = board

    def run(self, state: SystemState, now: datetime) -> int:
        """Put `state.system`'s releases of earlier epochs back in line; how many went back."""
        back, token = 0, None
        while True:
            records, token = self._ledger.page(system=state.system, state=State.RELEASED, limit=100, token=token)
            for record in records:
                move = back_in_line(
                    record,
                    f"an older declaration for {state.system} was held again after this one was released: "
                    "back in line, to reach customs in receipt order",
                    frozenset({State.RELEASED}),
                    by=RELEASE,
                    fields={"probe": False},
                )
                try:
                    self._ledger.move(record, move, now)
                    back += 1
                except StateConflict:
                    continue  # its message was handled meanwhile: sent back by the submitter, or sent
            if not token:
                break
        self._board.settle(state.system, state.epoch)
        return back
