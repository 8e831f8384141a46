"""Status feeds over the API handler (moto): who set a feed up as it is."""

from __future__ import annotations

from tests.factories import cognito_user

FEED = {
    "url": "https://status.example.com/api/v2/summary.json",
    "components": [{"system": "DMS_NL", "match": "components[?name=='DMS Import'].status | [0]"}],
}


def test_a_feed_says_who_set_it_up_as_it_is(api):
    """Who changed a feed is kept with it (in DynamoDB); the status changes it causes are Écluse's own
    (ecluse:feed), and the feed names the operator who configured what it reads."""
    alice, bob = api.as_(cognito_user("alice")), api.as_(cognito_user("bob"))
    status, created = alice.call("PUT", "/feeds/c4t", FEED)
    assert (status, created["changed_by"]) == (201, "alice")
    status, changed = bob.call("PUT", "/feeds/c4t", {**FEED, "interval_seconds": 120})
    assert (status, changed["changed_by"], changed["interval_seconds"]) == (200, "bob", 120)
    assert alice.call("GET", "/feeds/c4t")[1]["changed_by"] == "bob"
    assert [f["changed_by"] for f in alice.call("GET", "/feeds")[1]["items"]] == ["bob"]
