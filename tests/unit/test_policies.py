"""Each continuity rule, with the source it comes from (DOMAIN.md and ../shared/seeds/)."""

from __future__ import annotations

import pytest

from ecluse import policies, systems
from ecluse.errors import EcluseError
from ecluse.policies import Routing
from ecluse.systems import Source

FRENCH = ["DELTA_G", "DELTA_X", "DELTA_H7", "DELTA_T", "DELTA_IMPORT", "ECS"]
REQUIRED = [*FRENCH, "CDS", "DMS_NL", "PLDA", "ATLAS", "DMS_DK"]


def test_every_known_system_has_a_policy_with_sources():
    loaded = policies.load()
    assert set(loaded.policies) == set(systems.REGISTRY)
    assert loaded.version
    for name in REQUIRED:
        assert policies.policy(name).sources, name


@pytest.mark.parametrize("system", FRENCH)
def test_french_fallback_marks_and_24h(system):
    """Seed 004, sheet 2 steps 2 and 4: F5000, 1PDS + DA number or 'Alerte CID', 24 h, F5200."""
    policy = policies.policy(system)
    assert policy.fallback.special_mention == "F5000"
    assert policy.fallback.reference_code == "1PDS"
    assert policy.fallback.after_physical_control == "F5200"
    assert policy.reintegration.deadline_hours == 24
    assert policy.reintegration.restricted_goods_first
    assert systems.lookup(system).reintegration_hours == 24


def test_french_outages_hold_even_when_planned():
    """Seed 001: no message creating or validating a declaration may be injected during the interruption."""
    policy = policies.policy("DELTA_G")
    assert (policy.during_outage, policy.during_maintenance) == (Routing.HOLD, Routing.HOLD)
    assert not policy.passable_sources


def test_french_evidence_cid_alert_or_da_number():
    """Seed 002/004: a CID alert carries 'Alerte CID'; a self-trigger carries its DA number."""
    policy = policies.policy("DELTA_IMPORT")
    assert policy.evidence_reference(Source.CID_ALERT, None) == "Alerte CID"
    assert policy.evidence_reference(Source.SELF_TRIGGERED, "DA-2025-77") == "DA-2025-77"
    for reference in (None, " ", "Alerte CID"):
        with pytest.raises(EcluseError) as refused:
            policy.evidence_reference(Source.SELF_TRIGGERED, reference)
        assert refused.value.code == "fallback_evidence_missing"
    with pytest.raises(EcluseError):  # our own detection is no evidence for the authority
        policy.evidence_reference(Source.AUTO, "circuit breaker")


def test_french_record_in_books_for_oea_within_24h():
    """Seed 004, sheet 2 step 3: OEA-C/OEA-F may record in their books, regularised within 24 h."""
    books = policies.policy("DELTA_G").fallback.record_in_books
    assert (books.allowed, books.regularise_within_hours) == (True, 24)


def test_restricted_document_codes_are_the_gun_list_of_seed_004():
    assert policies.restricted_codes() == {
        "C638",
        "C639",
        "C401",
        "2413",
        "2700",
        "2044",
        "2045",
        "2423",
        "2424",
        "2425",
        "N853",
        "C640",
        "C678",
        "C085",
        "2091",
        "2092",
        "2701",
        "2702",
        "2703",
        "2704",
        "C644",
    }


@pytest.mark.parametrize("system", ["DMS_NL", "AGS_NL", "CDS"])
def test_buffering_authorities_keep_receiving_during_planned_maintenance(system):
    """Seed 000 (DMS/AGS: 'deliver messages as usual ... buffered'); DOMAIN.md (CDS: processed when it ends)."""
    policy = policies.policy(system)
    assert policy.passes_through(Source.MAINTENANCE)
    assert not policy.passes_through(Source.OPERATOR)
    assert not policy.passes_through(Source.AUTO)


def test_irish_systems_keep_lodging_and_allow_the_fallback_for_urgent_goods_only():
    """DOMAIN.md (IE AIS/AES/NCTS): keep lodging, responses may lag; fallback for urgent goods only."""
    for system in ("AIS", "AES_IE", "NCTS_IE"):
        policy = policies.policy(system)
        assert policy.passes_through(Source.OPERATOR)
        assert policy.fallback.urgent_only
        assert not policy.passes_through(Source.AUTO)  # nobody answers: nothing to send to


def test_dutch_emergency_procedure_only_with_a_logistic_need():
    assert policies.policy("DMS_NL").fallback.urgent_only


def test_belgian_evidence_is_the_call_number_with_start_time():
    """DOMAIN.md (BE PLDA): mention with call number and start time, e.g. N04737-D:20250613-T170000."""
    policy = policies.policy("PLDA")
    assert policy.evidence_reference(Source.OPERATOR, "N04737-D:20250613-T170000") == "N04737-D:20250613-T170000"
    with pytest.raises(EcluseError):
        policy.evidence_reference(Source.OPERATOR, "call 4737")


def test_belgian_export_resubmitted_with_1nps():
    """DOMAIN.md (BE AES): every declaration re-submitted with additional reference '1NPS'."""
    assert policies.policy("IDMS").fallback.reference_code == "1NPS"


def test_german_ticket_and_masterticket():
    """DOMAIN.md (DE ATLAS): ticket number from the service desk; a Masterticket for planned work."""
    policy = policies.policy("ATLAS")
    assert policy.fallback.evidence[Source.OPERATOR] == policies.Evidence.TICKET
    assert policy.fallback.evidence[Source.MAINTENANCE] == policies.Evidence.MASTERTICKET


def test_danish_fallback_only_inside_the_window():
    """DOMAIN.md (DK DMS Import): files sent during a window are rejected; fallback only inside it."""
    policy = policies.policy("DMS_DK")
    assert policy.fallback.only_within_window
    assert policy.during_maintenance is Routing.HOLD


def test_unknown_details_are_left_null_with_a_note():
    for system in ("CDS", "ATLAS", "DMS_NL", "PLDA"):
        policy = policies.policy(system)
        assert policy.reintegration.deadline_hours is None
        assert policy.notes
    assert not policies.policy("ICS2").fallback.allowed


def test_a_malformed_policy_file_is_refused_at_load():
    from pydantic import ValidationError

    broken = {
        "version": "x",
        "restricted_document_codes": {"codes": []},
        "policies": {"DELTA_G": {"during_outage": "maybe"}},
    }
    with pytest.raises(ValidationError):
        policies.PolicyFile.model_validate(broken)
