"""Each continuity rule, with the source it comes from (docs/sources.md), driven through the
fallback procedure where it is behaviour; the tests that only read policies.json say so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecluse import policies, systems
from ecluse.callers import LOCAL
from ecluse.errors import EcluseError
from ecluse.fallback import EmergencyRequest, FallbackProcedure, PhysicalControl
from ecluse.lodging import validate
from ecluse.policies import Routing
from ecluse.records import Record
from ecluse.reintegration import reintegration_marks, reintegration_order
from ecluse.systems import Source, Status, StatusChange
from tests.factories import declaration_body
from tests.fakes import FakeClock, InMemoryBoard, InMemoryLedger, Store

FRENCH = ["DELTA_G", "DELTA_X", "DELTA_H7", "DELTA_T", "DELTA_IMPORT", "ECS"]
REQUIRED = [*FRENCH, "CDS", "DMS_NL", "PLDA", "ATLAS", "DMS_DK"]
SOURCES_MD = Path(__file__).resolve().parents[2] / "docs" / "sources.md"
SOURCE_ID = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")  # FR-DGDDI-ALERTE-DELTA, C4T-STATUS-2025-10
BOOKS = EmergencyRequest(mode="record_in_books", oea_authorisation="FRAEOC000123")


class Outage:
    """One system's outage on the in-memory ledger and board, with its fallback procedure."""

    def __init__(self, system: str, source: Source = Source.OPERATOR, reference: str | None = None) -> None:
        store, self.system, self.clock = Store(), system, FakeClock()
        self.ledger, self.board = InMemoryLedger(store), InMemoryBoard(store)
        self.status(Status.UNAVAILABLE, source, reference)
        self.fallback = FallbackProcedure(self.ledger, self.board, self.clock)

    def status(self, status: Status, source: Source = Source.OPERATOR, reference: str | None = None) -> None:
        self.board.change(self.system, StatusChange(status, source, reference, by="test"), self.clock.now())

    def held(self, **overrides) -> Record:
        self.clock.advance(seconds=1)
        declaration = validate(declaration_body(system=self.system, **overrides))
        return self.ledger.add(declaration, declaration.fingerprint(), self.clock.now(), "outage", LOCAL)

    def refusal(self, record: Record, request: EmergencyRequest | None = None) -> str:
        with pytest.raises(EcluseError) as refused:
            self.fallback.switch(record.lrn, request, LOCAL)
        return refused.value.code


def test_every_known_system_has_a_policy_with_sources():
    loaded = policies.load()
    assert set(loaded.policies) == set(systems.REGISTRY)
    assert loaded.version
    for name in REQUIRED:
        assert policies.policy(name).sources, name


def test_every_source_a_policy_cites_has_an_entry_in_sources_md():
    """Reads policies.json only: each cited document is listed, with issuer and title, in docs/sources.md, so a rule
    never points at a document the user cannot find."""
    documented = set(re.findall(r"^### (\S+)", SOURCES_MD.read_text(encoding="utf-8"), re.M))
    loaded = policies.load()
    citations = [(name, text) for name, policy in loaded.policies.items() for text in policy.sources]
    citations.append(("restricted_document_codes", str(loaded.restricted_document_codes["source"])))
    for name, text in citations:
        cited = SOURCE_ID.match(text)
        assert cited, f"{name}: a source starts with its docs/sources.md id: {text!r}"
        assert cited.group() in documented, f"{name}: {cited.group()} has no entry in docs/sources.md"


@pytest.mark.parametrize("system", FRENCH)
def test_french_fallback_carries_f5000_1pds_and_f5200_and_goes_back_first_within_24h(system):
    """FR-DGDDI-SECOURS-DELTA-IMPORT (DGDDI, Procédure de secours DELTA Import), fiche 2 étapes 2 and 4: F5000, 1PDS
    + DA number or 'Alerte CID', 24 h, F5200; goods under
    restrictions re-integrated before any new declaration."""
    outage = Outage(system, Source.CID_ALERT, "Alerte CID")
    waiting = outage.held()
    switched = outage.fallback.switch(outage.held(urgent=True).lrn, None, LOCAL)
    assert (switched.marks, switched.references) == (("F5000",), ("1PDS Alerte CID",))
    controlled = outage.fallback.physical_control(switched.lrn, PhysicalControl(released_at=None), LOCAL)
    assert controlled.marks == ("F5000", "F5200")
    marks, references = reintegration_marks(controlled)
    assert marks == ["F5000", "F5200"]
    assert references[0] == "1PDS Alerte CID"
    assert references[1].startswith("clearance date ")
    assert reintegration_order(system, [waiting], [switched]) == [switched, waiting]
    assert systems.lookup(system).reintegration_hours == 24


def test_french_outages_hold_even_when_planned():
    """FR-DGDDI-NOTE-INTERRUPTION-2023: no message creating or validating a declaration may be injected during
    the interruption."""
    policy = policies.policy("DELTA_G")
    assert (policy.during_outage, policy.during_maintenance) == (Routing.HOLD, Routing.HOLD)
    assert not policy.passable_sources


def test_french_evidence_cid_alert_or_da_number():
    """FR-DGDDI-ALERTE-DELTA, FR-DGDDI-SECOURS-DELTA-IMPORT: a CID alert carries 'Alerte CID'; a self-trigger
    carries its DA number."""
    policy = policies.policy("DELTA_IMPORT")
    assert policy.evidence_reference(Source.CID_ALERT, None) == "Alerte CID"
    assert policy.evidence_reference(Source.SELF_TRIGGERED, "DA-2025-77") == "DA-2025-77"
    for reference in (None, " ", "Alerte CID"):
        with pytest.raises(EcluseError) as refused:
            policy.evidence_reference(Source.SELF_TRIGGERED, reference)
        assert refused.value.code == "fallback_evidence_missing"
    with pytest.raises(EcluseError):  # our own detection is no evidence for the authority
        policy.evidence_reference(Source.AUTO, "circuit breaker")


def test_french_oea_may_record_in_their_books_except_restricted_goods_and_quotas():
    """FR-DGDDI-SECOURS-DELTA-IMPORT, fiche 2 étape 3: OEA-C/OEA-F may record in their books (regularised within 24
    h of the end
    of the alert: the re-integration deadline), not for goods under restrictions nor tariff quotas."""
    outage = Outage("DELTA_G", Source.CID_ALERT, "Alerte CID")
    assert outage.fallback.switch(outage.held().lrn, BOOKS, LOCAL).fallback_mode == "record_in_books"
    restricted = outage.held(documents=[{"code": "C640", "reference": "CHED-1"}])
    assert outage.refusal(restricted, BOOKS) == "record_in_books_refused_restricted_goods"
    assert outage.refusal(outage.held(), EmergencyRequest(mode="record_in_books")) == "oea_authorisation_required"
    quota = declaration_body()["items"]
    quota[0]["quota_order_number"] = "090001"
    assert outage.refusal(outage.held(items=quota), BOOKS) == "record_in_books_refused_tariff_quota"
    germany = Outage("ATLAS", reference="ticket 1")
    assert germany.refusal(germany.held(), BOOKS) == "record_in_books_not_allowed"


def test_the_restricted_document_codes_on_file_are_the_dgddi_gun_list():
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
    """C4T-STATUS-2025-10 (DMS/AGS: 'deliver messages as usual ... buffered'); UK-HMRC-CDS-CONTINGENCY (CDS:
    processed when it ends)."""
    policy = policies.policy(system)
    assert policy.passes_through(Source.MAINTENANCE)
    assert not policy.passes_through(Source.OPERATOR)
    assert not policy.passes_through(Source.AUTO)


@pytest.mark.parametrize("system", ["AIS", "AES_IE", "NCTS_IE"])
def test_irish_systems_keep_lodging_and_allow_the_fallback_for_urgent_goods_only(system):
    """IE-REVENUE-AIS-CONTINGENCY (AIS/AES/NCTS): keep lodging, responses may lag; fallback for urgent goods
    only."""
    policy = policies.policy(system)
    assert policy.passes_through(Source.OPERATOR)
    assert not policy.passes_through(Source.AUTO)  # nobody answers: nothing to send to
    outage = Outage(system, reference="helpdesk 77")
    assert outage.refusal(outage.held()) == "fallback_urgent_only"
    assert outage.fallback.switch(outage.held(urgent=True).lrn, None, LOCAL).references == ("helpdesk 77",)


def test_dutch_emergency_procedure_only_with_a_logistic_need():
    outage = Outage("DMS_NL", reference="incident 14-10")
    assert outage.refusal(outage.held()) == "fallback_urgent_only"
    assert outage.fallback.switch(outage.held(urgent=True).lrn, None, LOCAL).state == "EMERGENCY"


def test_belgian_evidence_is_the_call_number_with_start_time():
    """BE-DOUANE-PLDA-CONTINGENCY (PLDA): mention with call number and start time, e.g.
    N04737-D:20250613-T170000."""
    policy = policies.policy("PLDA")
    assert policy.evidence_reference(Source.OPERATOR, "N04737-D:20250613-T170000") == "N04737-D:20250613-T170000"
    with pytest.raises(EcluseError):
        policy.evidence_reference(Source.OPERATOR, "call 4737")


def test_belgian_export_resubmitted_with_1nps():
    """BE-DOUANE-PLDA-CONTINGENCY (AES): every declaration re-submitted with additional reference '1NPS'."""
    outage = Outage("IDMS", reference="N04737-D:20250613-T170000")
    switched = outage.fallback.switch(outage.held().lrn, None, LOCAL)
    assert switched.references == ("1NPS N04737-D:20250613-T170000",)


def test_german_ticket_and_masterticket():
    """DE-ZOLL-ATLAS-CONTINGENCY (ATLAS): ticket number from the service desk; a Masterticket for planned
    work."""
    policy = policies.policy("ATLAS")
    for source, wanted in ((Source.OPERATOR, "ticket number"), (Source.MAINTENANCE, "masterticket")):
        with pytest.raises(EcluseError, match=wanted):
            policy.evidence_reference(source, None)
        assert policy.evidence_reference(source, "T-1") == "T-1"


def test_danish_fallback_only_for_urgent_goods_and_only_inside_the_window():
    """DK-TOLD-DMS-CONTINGENCY (Danish customs, Nødprocedurer and its service-window messages): files sent
    during a window are rejected; the emergency procedure is for goods that must be cleared here and now
    ("only ... if absolutely necessary", e.g. perishable goods), and only inside the window, which every
    policy enforces: the system must be UNAVAILABLE when the fallback is asked."""
    assert policies.policy("DMS_DK").during_maintenance is Routing.HOLD
    outage = Outage("DMS_DK", Source.MAINTENANCE, "window 02:00-04:00")
    routine, perishable, after = outage.held(), outage.held(urgent=True), outage.held(urgent=True)
    assert outage.refusal(routine) == "fallback_urgent_only"  # it waits for DMS instead
    assert outage.fallback.switch(perishable.lrn, None, LOCAL).state == "EMERGENCY"
    outage.status(Status.AVAILABLE, Source.MAINTENANCE)
    assert outage.refusal(after) == "system_available"


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
