"""Customs-system status: the derived mode, and what an outage's end starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ecluse import systems
from ecluse.errors import EcluseError
from ecluse.systems import Mode, Source, Status, StatusChange, SystemState

T0 = datetime(2025, 10, 17, 16, 0, tzinfo=UTC)


def test_registry_holds_the_systems_of_the_contract_with_their_country():
    assert set(systems.REGISTRY) == {
        "DELTA_G",
        "DELTA_X",
        "DELTA_H7",
        "DELTA_T",
        "DELTA_IMPORT",
        "ECS",
        "ICS2",
        "CDS",
        "AIS",
        "AES_IE",
        "NCTS_IE",
        "DMS_NL",
        "AGS_NL",
        "PLDA",
        "IDMS",
        "ATLAS",
        "DMS_DK",
    }
    assert systems.lookup("PLDA").country == "BE"
    with pytest.raises(EcluseError) as unknown:
        systems.lookup("DELTA_Z")
    assert unknown.value.code == "unknown_system"


@pytest.mark.parametrize(
    ("status", "held", "mode"),
    [
        (Status.AVAILABLE, 0, Mode.NORMAL),
        (Status.DEGRADED, 0, Mode.NORMAL),
        (Status.UNAVAILABLE, 0, Mode.HOLDING),
        (Status.UNAVAILABLE, 5, Mode.HOLDING),
        (Status.AVAILABLE, 5, Mode.DRAINING),
        (Status.DEGRADED, 1, Mode.DRAINING),
    ],
)
def test_mode_follows_status_and_backlog(status, held, mode):
    state = SystemState("DELTA_G", status=status, held=held)
    assert state.mode is mode
    assert state.accepts_fast_path is (mode is Mode.NORMAL)


def test_outage_end_starts_the_french_24h_deadline():
    down = SystemState("DELTA_G").after(StatusChange(Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID", by="test"), T0)
    assert (down.since, down.reintegration_deadline) == (T0, None)
    up = down.after(StatusChange(Status.AVAILABLE, Source.CID_ALERT, by="test"), T0 + timedelta(hours=3))
    assert up.outage_ended_at == T0 + timedelta(hours=3)
    assert up.reintegration_deadline == T0 + timedelta(hours=27)
    assert up.version == down.version + 1


def test_no_deadline_is_invented_where_no_source_gives_one():
    down = SystemState("CDS").after(StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), T0)
    up = down.after(StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), T0 + timedelta(hours=1))
    assert up.outage_ended_at is not None
    assert up.reintegration_deadline is None


def test_same_status_again_keeps_since_and_backlog():
    down = SystemState("DELTA_G", held=4).after(StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), T0)
    again = down.after(StatusChange(Status.UNAVAILABLE, Source.OPERATOR, "DA-1", by="test"), T0 + timedelta(minutes=5))
    assert again.since == T0
    assert again.reference == "DA-1"
    assert again.held == 4
