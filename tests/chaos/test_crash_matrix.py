"""A crash at every AWS call of every path, on the real handlers (tests/chaos/world.py).

For each path the first run, without a crash, counts its AWS calls K (at collection, so that a failure
names the path and the call); then for every N in 1..K a fresh world is brought to the path's starting
state, the path dies at its N-th AWS call (nothing after it runs in that invocation; what the caller does
about a missing answer, it does: the ERP and the operator retry, SQS delivers again), the world settles,
and every guarantee of tests/chaos/invariants.py must hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from moto import mock_aws

from tests.chaos.invariants import check_all
from tests.chaos.world import Crash, World

_worlds = itertools.count()


@dataclass(frozen=True)
class Path:
    """`prepare` brings a fresh world to the starting state; `run` is the one invocation that may crash,
    and does what its caller does when no answer comes back."""

    prepare: Callable[[World], None]
    run: Callable[[World, int | None], int]


def _lodge(world: World, system: str, crash_at: int | None) -> int:
    """POST /declarations; after a crash the ERP, without an answer, sends the same declaration again."""
    body_holder = {}

    def post() -> object:
        from tests.factories import declaration_body

        body_holder.setdefault("body", declaration_body(system=system))
        return world.http("POST", "/declarations", body_holder["body"])

    result, calls = world.invoke(post, crash_at)
    from tests.chaos.world import Lodged

    body = body_holder["body"]
    world.lodged.append(Lodged(body["lrn"], system, body))
    if isinstance(result, Crash):
        status, _ = world.http("POST", "/declarations", body)
        assert status in (200, 202), status
    return calls


def _twin(world: World, crash_at: int | None) -> int:
    """Another ERP lodges an LRN already lodged, for its own party; after a crash it sends it again."""
    from tests.chaos.world import twin_of

    twin = twin_of(world.lodged[0])
    post = lambda: world.http("POST", "/declarations", twin.body, twin.identity)  # noqa: E731
    result, calls = world.invoke(post, crash_at)
    world.lodged.append(twin)
    if isinstance(result, Crash):
        status, _ = post()
        assert status in (200, 202), status
    return calls


def _deliver(world: World, crash_at: int | None) -> int:
    """One batch to the submit function: after a crash the batch comes back (World.deliver)."""
    counted = {}
    original = world.invoke

    def counting(action, at=None):
        result, calls = original(action, at)
        counted["calls"] = calls
        return result, calls

    world.invoke = counting
    try:
        world.deliver(crash_at=crash_at)
    finally:
        world.invoke = original
    return counted["calls"]


def _release(world: World, crash_at: int | None) -> int:
    from local.functions import LambdaContext

    _, calls = world.invoke(lambda: world.release_function.lambda_handler({}, LambdaContext()), crash_at)
    return calls


def _status(world: World, crash_at: int | None) -> int:
    """PUT /systems/DELTA_G/status AVAILABLE; after a crash the operator, without an answer, sends it again."""
    change = {"status": "AVAILABLE", "source": "OPERATOR", "reason": "crash matrix"}
    result, calls = world.invoke(lambda: world.http("PUT", "/systems/DELTA_G/status", change), crash_at)
    if isinstance(result, Crash):
        world.http("PUT", "/systems/DELTA_G/status", change)
    return calls


def _held(world: World, count: int) -> None:
    world.set_status("DELTA_G", "UNAVAILABLE")
    for _ in range(count):
        world.lodge("DELTA_G")


def _two_in_the_queue(world: World) -> None:
    world.lodge("CDS")
    world.lodge("CDS")


def _sending_error(world: World) -> None:
    world.lodge("CDS")
    world.outage("CDS", "server_error")


def _held_again(world: World) -> None:
    _two_in_the_queue(world)
    world.set_status("CDS", "UNAVAILABLE")


def _backlog(world: World) -> None:
    _held(world, 3)
    world.set_status("DELTA_G", "AVAILABLE")
    world.lodge("DELTA_G")  # a newcomer behind the backlog


PATHS: dict[str, Path] = {
    "fast-path lodging": Path(lambda w: None, lambda w, n: _lodge(w, "DELTA_G", n)),
    "lodging while held": Path(lambda w: _held(w, 1), lambda w, n: _lodge(w, "DELTA_G", n)),
    "another ERP's same LRN while held": Path(lambda w: _held(w, 1), _twin),
    "release draining a backlog": Path(_backlog, _release),
    "submission accepted": Path(_two_in_the_queue, _deliver),
    "submission with a sending error": Path(_sending_error, _deliver),
    "submission held again": Path(_held_again, _deliver),
    "operator status change": Path(lambda w: _held(w, 2), _status),
}


def _fresh(prepare: Callable[[World], None]) -> World:
    world = World(stack_name=f"crash{next(_worlds)}", settle_pause=0.05)
    prepare(world)
    return world


def _count_calls() -> dict[str, int]:
    """K for each path: its AWS calls when nothing crashes."""
    counts = {}
    with mock_aws():
        for name, path in PATHS.items():
            world = _fresh(path.prepare)
            try:
                counts[name] = path.run(world, None)
            finally:
                world.close()
    return counts


CALLS = _count_calls()
CASES = [pytest.param(name, n, id=f"{name}-call{n}") for name, k in CALLS.items() for n in range(1, k + 1)]


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_every_path_makes_aws_calls() -> None:
    assert all(k > 0 for k in CALLS.values()), CALLS


@pytest.mark.parametrize(("path", "crash_at"), CASES)
def test_a_crash_at_any_aws_call_keeps_every_guarantee(embedded_aws: None, path: str, crash_at: int) -> None:
    world = _fresh(PATHS[path].prepare)
    try:
        PATHS[path].run(world, crash_at)
        crashed_in = world.crashed_in
        assert world.crashes == 1, f"{path}: no crash at call {crash_at} (the path made {CALLS[path]} calls before)"
        world.settle()
        problems = check_all(world.observe())
        assert problems == [], f"{path}, crash at call {crash_at} ({crashed_in}): {problems}"
    finally:
        world.close()


# ---------------------------------------------------------------------- found by tests/property, on the real handlers
def test_a_lost_send_then_a_hold_keeps_receipt_order(embedded_aws: None) -> None:
    world = World(stack_name=f"crash{next(_worlds)}", settle_pause=0.05)
    try:
        world.lodge("DELTA_G", crash_at="SendMessage")  # RELEASED in the ledger, no message; the ERP's retry: 200
        world.lodge("DELTA_G")  # nothing held: the fast path, in the queue
        world.set_status("DELTA_G", "UNAVAILABLE")
        world.deliver()  # the second one is held again: the epoch moves
        world.settle()
        assert check_all(world.observe()) == []
    finally:
        world.close()


def test_a_declaration_sent_back_by_the_epoch_is_not_overtaken_by_a_newcomer(embedded_aws: None) -> None:
    world = World(stack_name=f"crash{next(_worlds)}", settle_pause=0.05)
    try:
        world.lodge("CDS")
        world.lodge("CDS")
        world.set_status("CDS", "UNAVAILABLE")
        world.deliver(crash_at=4)  # the first held again (GetItem, 2 TransactWriteItems), dies at the second's GetItem
        assert world.crashed_in == "GetItem"
        world.lodge("CDS")  # held behind the backlog
        world.settle()
        assert check_all(world.observe()) == []
    finally:
        world.close()
