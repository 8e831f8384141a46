"""Planned maintenance windows: announced downtime applied on time, and not ended on trust.

At a window's start its system becomes UNAVAILABLE (source MAINTENANCE, the window's reference) unless
it already is, for another reason, whose record stays; the system's policy then holds declarations or
sends them through, as for any outage. At the window's end the outage is *not* ended by the clock:
planned work overruns (status pages show deliveries "remaining unavailable until the end of the
delivery"). Customs is asked, as after an automatic hold; an answer makes the system AVAILABLE and the
drain starts, no answer marks the window OVERRUN and customs is asked again at every tick, until it
answers or an operator decides.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ecluse.callers import MAINTENANCE
from ecluse.clock import Clock, iso
from ecluse.errors import EcluseError, FieldProblem, conflict
from ecluse.ports import StatusBoard
from ecluse.systems import Source, Status, StatusChange
from ecluse.windows import (
    OPEN,
    CustomsProbe,
    Window,
    WindowChanged,
    WindowState,
    WindowStore,
)

if TYPE_CHECKING:  # the API's request models: the monitor runs windows without creating them
    from ecluse.window_requests import WindowChange, WindowRequest

__all__ = ["OPEN", "Maintenance", "Window", "WindowChanged", "WindowState"]

KEPT_CLOSED = 5  # ended or cancelled windows a listing still shows, most recent first


def _problem(code: str, field: str, message: str, status: int = 422) -> EcluseError:
    return EcluseError(code, message, [FieldProblem(field, code, message)], status)


class Maintenance:
    def __init__(self, store: WindowStore, board: StatusBoard, clock: Clock, probe: CustomsProbe | None = None):
        self._store = store
        self._board = board
        self._clock = clock
        self._probe = probe

    # ------------------------------------------------------------------ the operator's side
    def schedule(self, system: str, request: WindowRequest, by: str) -> Window:
        """`by`: who announces it (recorded with the window; the status changes it causes are Écluse's)."""
        self._check_times(system, request.start, request.end, scheduled=True)
        window = Window(
            uuid.uuid4().hex[:12], system, request.start, request.end, WindowState.SCHEDULED,
            request.reference, request.reason, by=by,
        )  # fmt: skip
        self._store.add(window)
        return window

    def listed(self, system: str) -> list[Window]:
        windows = self._store.of_system(system)
        open_ = sorted((w for w in windows if w.state in OPEN), key=lambda w: w.start)
        closed = sorted((w for w in windows if w.state not in OPEN), key=lambda w: w.end, reverse=True)
        return [*open_, *closed[:KEPT_CLOSED]]

    def change_end(self, system: str, window_id: str, change: WindowChange, by: str) -> Window:
        window = self._window(system, window_id)
        if window.state not in OPEN:
            raise conflict("window_closed", f"window {window_id} is {window.state}: schedule a new one")
        self._check_times(
            system, window.start, change.end, scheduled=window.state is WindowState.SCHEDULED, ignore=window_id
        )
        return self._save_asked(replace(window, end=change.end, changed_by=by))

    def cancel(self, system: str, window_id: str, by: str) -> Window:
        window = self._window(system, window_id)
        if window.state is WindowState.CANCELLED:
            return window
        if window.state is not WindowState.SCHEDULED:
            raise conflict(
                "not_cancellable",
                f"window {window_id} is {window.state}: it has begun; end it with "
                'PATCH {"end": "<when the work ends>"}',
            )
        return self._save_asked(replace(window, state=WindowState.CANCELLED, ended_at=self._clock.now(), changed_by=by))

    # ------------------------------------------------------------------ the monitor's side
    def tick(self) -> list[str]:
        """Start the windows whose time has come, ask customs about those whose end has passed. What
        happened, one line per window that moved."""
        done = []
        for window in self._store.open_windows():
            now = self._clock.now()
            try:
                if window.state is WindowState.SCHEDULED and window.start <= now:
                    done.append(self._begin(window, now))
                elif window.state in (WindowState.RUNNING, WindowState.OVERRUN) and window.end <= now:
                    done.append(self._after_end(window, now))
            except WindowChanged:
                continue  # an operator changed it meanwhile: the next tick sees their version
        return [line for line in done if line]

    def _begin(self, window: Window, now: datetime) -> str:
        state = self._board.get(window.system)
        if state.status is Status.UNAVAILABLE:
            note = f"{window.system} already UNAVAILABLE ({state.source}): that record stays"
        else:
            self._board.change(
                window.system,
                StatusChange(
                    Status.UNAVAILABLE, Source.MAINTENANCE, window.status_reference, window.reason, by=MAINTENANCE
                ),
                now,
            )
            note = f"{window.system} UNAVAILABLE for planned maintenance"
        self._save(replace(window, state=WindowState.RUNNING))
        return f"window {window.id} began: {note}"

    def _after_end(self, window: Window, now: datetime) -> str:
        state = self._board.get(window.system)
        ours = (
            state.status is Status.UNAVAILABLE
            and state.source is Source.MAINTENANCE
            and state.reference == window.status_reference
        )
        if not ours:  # someone else decided the system's status meanwhile: theirs stands
            self._save(replace(window, state=WindowState.ENDED, ended_at=now))
            return f"window {window.id} ended; {window.system}'s status is {state.status} ({state.source})"
        if self._probe is not None and self._probe.answers(window.system):
            self._board.change(
                window.system,
                StatusChange(
                    Status.AVAILABLE,
                    Source.MAINTENANCE,
                    window.status_reference,
                    "customs answered after the work",
                    by=MAINTENANCE,
                ),
                now,
            )
            self._save(replace(window, state=WindowState.ENDED, ended_at=now, asked_at=now))
            return f"window {window.id} ended: customs answered, {window.system} AVAILABLE"
        self._save(replace(window, state=WindowState.OVERRUN, asked_at=now))
        return "" if window.state is WindowState.OVERRUN else f"window {window.id} overran: customs does not answer"

    # ------------------------------------------------------------------ helpers
    def _window(self, system: str, window_id: str) -> Window:
        window = self._store.get(system, window_id)
        if window is None:
            raise EcluseError(
                "maintenance_window_not_found",
                f"{system} has no maintenance window {window_id!r}; GET /systems/{system}/maintenance lists them",
                http_status=404,
            )
        return window

    def _save(self, window: Window) -> Window:
        return self._store.save(replace(window, version=window.version + 1))

    def _save_asked(self, window: Window) -> Window:
        """An operator's change: one that lost the race with the monitor (the window began or ended
        meanwhile) or with another operator is refused, to be retried on the window as it now is."""
        try:
            return self._save(window)
        except WindowChanged:
            raise conflict(
                "maintenance_window_changed_concurrently",
                f"window {window.id} changed while this request was applied (it may have begun or ended); "
                f"GET /systems/{window.system}/maintenance and retry",
            ) from None

    def _check_times(
        self, system: str, start: datetime, end: datetime, *, scheduled: bool, ignore: str | None = None
    ) -> None:
        if end <= start:
            raise _problem("window_end_before_start", "end", "the window must end after it starts")
        if scheduled and end <= self._clock.now():
            raise _problem("window_in_past", "end", "the window's end has passed: a window must end in the future")
        for other in self._store.of_system(system):
            if other.id != ignore and other.overlaps(start, end):
                raise _problem(
                    "window_overlaps",
                    "start",
                    f"{system} already has window {other.id} from {iso(other.start)} to {iso(other.end)}: "
                    "change that one, or choose times outside it",
                    409,
                )
