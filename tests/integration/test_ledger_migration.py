"""Decision 16's migration (local/migrate_ledger.py) on the embedded AWS: declarations of a table keyed by
the LRN alone, copied into the template's table keyed by LRN and declarant, are the declarant's own, keep
their history, are not told to the ERP again, and a message sent before the change still finds them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecluse.aws import ledger_items
from ecluse.aws.items import from_item, to_item
from ecluse.aws.stream_events import events_of
from ecluse.callers import LOCAL
from ecluse.life_cycle import State
from ecluse.lodging import validate
from ecluse.submission import Submission
from local.migrate_ledger import migrate
from local.simulated import SimulatedCustoms
from tests.factories import declaration_body, iam_signer

ERP_ROLE = "arn:aws:iam::123456789012:role/erp-acme"
ERP_SESSION = "arn:aws:sts::123456789012:assumed-role/erp-acme/sap-pi"
OLD_TABLE = "ecluse-DeclarationsTable-before-decision-16"


def _old_item(state: str, lrn: str) -> dict:
    """An item as the ledger wrote it before decision 16: keyed by its LRN, no declarant, no `by`."""
    declaration = validate(declaration_body(lrn=lrn))
    hold = None if state == "RELEASED" else "held: DELTA_G is UNAVAILABLE"
    values = ledger_items.new_item(
        declaration, declaration.fingerprint(), datetime(2026, 11, 20, 9, tzinfo=UTC),
        ledger_items.stored_body(declaration), hold, 0, LOCAL,
    )  # fmt: skip
    values.pop("declarant")
    for entry in values["history"]:
        entry.pop("by")
    return values


@pytest.fixture
def old_table(aws, dynamodb):
    dynamodb.create_table(
        TableName=OLD_TABLE,
        AttributeDefinitions=[{"AttributeName": "lrn", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lrn", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for state, lrn in (("QUEUED", "OLD-1"), ("QUEUED", "OLD-2"), ("RELEASED", "OLD-3")):
        dynamodb.put_item(TableName=OLD_TABLE, Item=to_item(_old_item(state, lrn)))
    return OLD_TABLE


def test_copied_declarations_are_the_declarants_own_with_their_history(aws, dynamodb, old_table, api):
    table = aws.env("api")["DECLARATIONS_TABLE"]
    report = migrate(dynamodb, old_table, table, ERP_ROLE)
    assert (report.copied, report.already, report.conflicts) == (3, 0, [])
    erp = api.as_(iam_signer(ERP_SESSION))  # a session of the role the declarations were attributed to
    status, shown = erp.call("GET", "/declarations/OLD-1")
    assert (status, shown["state"], shown["declarant"]) == (200, "QUEUED", ERP_ROLE)
    assert [(h["state"], h["by"]) for h in shown["history"]] == [("RECEIVED", None), ("QUEUED", None)]
    listed = erp.call("GET", "/declarations", query={"state": "QUEUED"})[1]["items"]
    assert [d["lrn"] for d in listed] == ["OLD-1", "OLD-2"]
    other = api.as_(iam_signer("arn:aws:sts::123456789012:assumed-role/erp-other/x"))
    assert other.call("GET", "/declarations/OLD-1")[0] == 404
    assert erp.call("POST", "/declarations/OLD-2/emergency", {"reason": "x"})[1]["error"]["code"] != (
        "declaration_not_found"
    )  # the ERP acts on it (here refused for another reason: DELTA_G is not down)


def test_a_second_run_copies_nothing_twice_and_a_key_lodged_meanwhile_is_left_alone(aws, dynamodb, old_table):
    table = aws.env("api")["DECLARATIONS_TABLE"]
    meanwhile = {**_old_item("QUEUED", "OLD-2"), "declarant": ERP_ROLE, "fingerprint": "another body"}
    dynamodb.put_item(TableName=table, Item=to_item(meanwhile))
    first = migrate(dynamodb, old_table, table, ERP_ROLE)
    assert (first.copied, first.conflicts) == (2, ["OLD-2"])
    again = migrate(dynamodb, old_table, table, ERP_ROLE)
    assert (again.copied, again.already, again.conflicts) == (0, 2, ["OLD-2"])
    kept = dynamodb.get_item(TableName=table, Key=ledger_items.key("OLD-2", ERP_ROLE))["Item"]
    assert from_item(kept)["fingerprint"] == "another body"  # never overwritten


def test_a_dry_run_writes_nothing(aws, dynamodb, old_table):
    table = aws.env("api")["DECLARATIONS_TABLE"]
    assert migrate(dynamodb, old_table, table, ERP_ROLE, dry_run=True).copied == 3
    assert dynamodb.scan(TableName=table)["Count"] == 0


def test_the_copies_are_not_told_to_the_erp_again_but_their_next_change_is(aws, dynamodb, old_table):
    table = aws.env("api")["DECLARATIONS_TABLE"]
    migrate(dynamodb, old_table, table, ERP_ROLE)
    copy = dynamodb.get_item(TableName=table, Key=ledger_items.key("OLD-1", ERP_ROLE))["Item"]
    keys = {"lrn": copy["lrn"], "declarant": copy["declarant"]}
    assert events_of({"dynamodb": {"Keys": keys, "NewImage": copy}}) == []
    cancelled = {**copy, "state": {"S": "CANCELLED"}}
    [event] = events_of({"dynamodb": {"Keys": keys, "OldImage": copy, "NewImage": cancelled}})
    assert (event.detail["state"], event.detail["declarant"]) == ("CANCELLED", ERP_ROLE)


def test_a_message_sent_before_the_change_finds_its_declaration(aws, dynamodb, old_table, ledger, clock):
    """A message in the queue (or redriven from the dead-letter queue) names the LRN only."""
    migrate(dynamodb, old_table, aws.env("api")["DECLARATIONS_TABLE"], ERP_ROLE)
    customs = SimulatedCustoms()
    result = Submission(ledger, customs, clock, max_attempts=3).handle("OLD-3", None)
    assert (result.action, result.state) == ("accepted", State.ACCEPTED)
    assert [r.lrn for r in customs.received] == ["OLD-3"]
    assert ledger.get("OLD-3", ERP_ROLE).history[-1].by == "ecluse:submit"
