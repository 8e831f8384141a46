"""Order and completeness under faults: the storm of a busy border, replayed deterministically.

Every test ends by checking, over the whole ledger and the simulated customs' receipts: nothing stuck,
the counters equal to the ledger, each LRN at customs at most once, held declarations at customs in
receipt order, nothing sent to a system an operator held, and the release rate within rate + burst.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.chaos.invariants import Observation, Receipt, check_all, held_in_receipt_order
from tests.chaos.storm import storm
from tests.chaos.world import World


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        built = World()
        try:
            yield built
        finally:
            built.close()


def test_two_erps_lodging_the_same_lrn_while_held_reach_customs_once_each(world: World) -> None:
    world.set_status("DMS_NL", "UNAVAILABLE")
    first = world.lodge("DMS_NL")
    twin = world.twin(first)  # the other ERP, for its own party: no lrn_conflict
    world.set_status("DMS_NL", "AVAILABLE")
    world.settle()
    assert [(r.lrn, r.eori) for r in world.customs.received] == [
        (first.lrn, first.body["declarant"]["eori"]),
        (twin.lrn, twin.body["declarant"]["eori"]),
    ]
    assert {record["state"] for record in world.ledger().values()} == {"ACCEPTED"}
    assert check_all(world.observe()) == []


def test_declaration_held_again_after_a_sending_error_is_not_overtaken(world: World) -> None:
    first = world.lodge("CDS")
    world.outage("CDS", "server_error")
    world.deliver()  # customs answers 503: the first one will be tried again
    later = [world.lodge("CDS") for _ in range(10)]  # nothing held yet: straight behind it in the queue
    world.set_status("CDS", "UNAVAILABLE")
    world.deliver()  # a batch of ten: the retry finds CDS held and goes back to the ledger, nine with it
    world.outage("CDS", None)
    world.set_status("CDS", "AVAILABLE")  # before the eleventh is delivered
    world.settle()
    assert [r.lrn for r in world.customs.received] == [d.lrn for d in [first, *later]]
    assert check_all(world.observe()) == []


def test_a_release_cut_short_between_ledger_and_queue_keeps_receipt_order(world: World) -> None:
    world.set_status("DELTA_G", "UNAVAILABLE")
    held = [world.lodge("DELTA_G") for _ in range(3)]
    world.set_status("DELTA_G", "AVAILABLE")
    world.release(crash_at="SendMessage")  # the first one is RELEASED in the ledger, its message never sent
    world.settle()
    assert [r.lrn for r in world.customs.received] == [d.lrn for d in held]
    assert check_all(world.observe()) == []


def test_a_fallback_declaration_held_again_on_its_way_back_stays_a_fallback_declaration(world: World) -> None:
    cid = {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"}
    assert world.http("PUT", "/systems/DELTA_G/status", cid)[0] == 200
    first = world.lodge("DELTA_G", urgent=True)  # into the fallback at once
    world.set_status("DELTA_G", "AVAILABLE")
    world.release()  # released for its re-integration
    assert world.http("PUT", "/systems/DELTA_G/status", cid)[0] == 200
    world.deliver()  # DELTA_G down again before it was sent
    status, shown = world.http("GET", f"/declarations/{first.lrn}")
    assert (status, shown["state"], shown["history"][-1]["by"]) == (200, "EMERGENCY", "ecluse:submit")
    assert world.cancel(first)[1]["error"]["code"] == "not_cancellable"  # its goods moved under the fallback
    second = world.lodge("DELTA_G", urgent=True)
    world.settle()
    assert [r.lrn for r in world.customs.received] == [first.lrn, second.lrn]
    shown = world.http("GET", f"/declarations/{first.lrn}")[1]
    assert len(shown["references"]) == len(set(shown["references"]))  # re-integrated twice, each reference once
    assert check_all(world.observe()) == []


@pytest.mark.parametrize("draw", [1, 2, 3])
def test_storm_keeps_every_guarantee(draw: int) -> None:
    with mock_aws():
        world = World(stack_name=f"storm{draw}")
        try:
            report = storm(world, draw, steps=220)
            assert report.problems == []
            world.settle()
            assert check_all(world.observe()) == [], report
        finally:
            world.close()


def _record(lrn: str, received: str, *moves: tuple[str, str]) -> dict:
    history = [{"state": "RECEIVED", "at": received}, *({"state": s, "at": at} for s, at in moves)]
    return {"lrn": lrn, "system": "DELTA_G", "received_at": received, "history": history, "state": moves[-1][0]}


def test_the_order_check_reports_a_held_one_overtaking_an_older_one_of_its_line_not_of_the_other() -> None:
    """The check itself: B, held and younger, reaches customs before A. That breaks receipt order when A
    waited in B's line as B left it; not when A was then waiting among the fallback declarations (or held
    while B, a fallback declaration, went first, as France wants)."""
    b = _record("B", "t2", ("QUEUED", "t2"), ("RELEASED", "t5"), ("SUBMITTED", "t6"), ("ACCEPTED", "t6"))
    a_held = _record("A", "t1", ("QUEUED", "t1"), ("RELEASED", "t7"), ("SUBMITTED", "t8"), ("ACCEPTED", "t8"))
    a_fallback = _record(
        "A", "t1", ("QUEUED", "t1"), ("EMERGENCY", "t3"), ("RELEASED", "t7"), ("SUBMITTED", "t8"), ("ACCEPTED", "t8")
    )
    received = [Receipt("B", "DELTA_G", "M1"), Receipt("A", "DELTA_G", "M2")]
    for a, problems in ((a_held, 1), (a_fallback, 0)):
        seen = Observation({"A": a, "B": b}, {}, received, ["A", "B"], rate_per_minute=60, burst=10)
        assert len(held_in_receipt_order(seen, seen.ledger)) == problems
