"""Who may do what, on `make run`'s stack with its OAuth2 stand-in (local/auth.py): every route of
ecluse.access.ROUTES with no token, an ERP's token and an operator's; an ERP reaching only its own
declarations; and the audit trail saying who did what."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecluse.access import ROUTES
from tests.chaos.border import local_stack
from tests.factories import declaration_body

pytestmark = pytest.mark.e2e

OTHER_EORI = "FR98765432109876"  # erp-other lodges for a party of its own


class Client:
    """The stack over HTTP, as one caller: with its bearer token, or none."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token = base, token

    def raw(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, raw, _ = self.raw(method, path, body)
        return status, json.loads(raw or b"null")


def _token_request(base: str, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(base + "/oauth2/token", data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _token(base: str, client_id: str) -> str:
    status, answer = _token_request(base, {"grant_type": "client_credentials"}, (client_id, f"{client_id}-secret"))
    assert status == 200, answer
    return answer["access_token"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[dict[str, Client]]:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with local_stack(log, LOCAL_AUTH="on", CIRCUIT_RECOVERY_SECONDS="3") as http:
        assert "erp-demo / erp-demo-secret" in log.read_text()  # the clients are printed at start-up
        base = http.base
        yield {
            "none": Client(base),
            "erp": Client(base, _token(base, "erp-demo")),
            "other": Client(base, _token(base, "erp-other")),
            "operator": Client(base, _token(base, "operator-demo")),
        }


# ---------------------------------------------------------------------- the token endpoint
def test_client_credentials_by_basic_or_form_fields_give_a_bearer_token(stack):
    base = stack["none"].base
    status, answer = _token_request(base, {"grant_type": "client_credentials"}, ("erp-demo", "erp-demo-secret"))
    assert (status, answer["token_type"], answer["expires_in"]) == (200, "Bearer", 3600)
    form = {"grant_type": "client_credentials", "client_id": "erp-other", "client_secret": "erp-other-secret"}
    assert _token_request(base, form, None)[0] == 200
    scoped = {"grant_type": "client_credentials", "scope": "ecluse/declarations"}
    assert _token_request(base, scoped, ("operator-demo", "operator-demo-secret"))[0] == 200


@pytest.mark.parametrize(
    ("form", "basic", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("erp-demo", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nobody", "nothing"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, ("erp-demo", "erp-demo-secret"), 400, "unsupported_grant_type"),
        ({}, ("erp-demo", "erp-demo-secret"), 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "scope": "ecluse/operations"},
            ("erp-demo", "erp-demo-secret"),
            400,
            "invalid_scope",
        ),
    ],
)
def test_the_token_endpoint_refuses_as_oauth2_says(stack, form, basic, status, error):
    assert _token_request(stack["none"].base, form, basic) == (status, {"error": error, **_described(error)})


def _described(error: str) -> dict[str, str]:
    """invalid_client is answered bare, as Cognito does; the others say what to change."""
    descriptions = {
        "unsupported_grant_type": "grant_type must be client_credentials",
        "invalid_scope": "this client may ask for ecluse/declarations",
    }
    return {"error_description": descriptions[error]} if error in descriptions else {}


def test_a_bad_token_is_401_and_says_how_to_get_one(stack):
    status, answer = Client(stack["none"].base, "not-a-token")("GET", "/declarations?state=QUEUED")
    assert (status, answer["error"]["code"]) == (401, "unauthenticated")
    assert "/oauth2/token" in answer["error"]["message"]


# ---------------------------------------------------------------------- every route, every role
def _at(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def _calls(lrn: str, cancelled: str, window: tuple[str, int]) -> dict[tuple[str, str], tuple[str, Any]]:
    """A concrete request for each route: (path, body). `lrn` is a held declaration of the caller's,
    `cancelled` another one it cancels, `window` a maintenance window of ATLAS (its id, its start)."""
    window_id, starts = window
    feed = {"url": "http://127.0.0.1:9/summary.json", "components": [{"system": "DMS_NL", "match": "status"}]}
    return {
        ("POST", "/declarations"): ("/declarations", declaration_body(system="DELTA_G")),
        ("GET", "/declarations"): ("/declarations?system=DELTA_G&state=QUEUED", None),
        ("GET", "/declarations/{lrn}"): (f"/declarations/{lrn}", None),
        ("POST", "/declarations/{lrn}/emergency"): (f"/declarations/{lrn}/emergency", {"reason": "urgent goods"}),
        ("GET", "/declarations/{lrn}/fallback-document"): (f"/declarations/{lrn}/fallback-document", None),
        ("POST", "/declarations/{lrn}/physical-control"): (f"/declarations/{lrn}/physical-control", {}),
        ("DELETE", "/declarations/{lrn}"): (f"/declarations/{cancelled}", {"reason": "lodged twice"}),
        ("GET", "/openapi.json"): ("/openapi.json", None),
        ("GET", "/systems"): ("/systems", None),
        ("GET", "/systems/{system}"): ("/systems/DELTA_G", None),
        ("PUT", "/systems/{system}/status"): (
            "/systems/DELTA_G/status",
            {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID", "reason": "incident"},
        ),
        ("PUT", "/systems/{system}/release"): ("/systems/DELTA_G/release", {"rate_per_minute": 120, "burst": 20}),
        ("POST", "/systems/{system}/emergency"): ("/systems/DELTA_G/emergency", {"urgent_only": True}),
        ("POST", "/systems/{system}/maintenance"): (
            "/systems/ATLAS/maintenance",
            {"start": _at(60), "end": _at(120), "reference": "MT-7", "reason": "upgrade"},
        ),
        ("GET", "/systems/{system}/maintenance"): ("/systems/ATLAS/maintenance", None),
        ("PATCH", "/systems/{system}/maintenance/{id}"): (
            f"/systems/ATLAS/maintenance/{window_id}",
            {"end": _at(starts + 90)},
        ),
        ("DELETE", "/systems/{system}/maintenance/{id}"): (f"/systems/ATLAS/maintenance/{window_id}", None),
        ("PUT", "/feeds/{feed}"): ("/feeds/platform", feed),
        ("GET", "/feeds"): ("/feeds", None),
        ("GET", "/feeds/{feed}"): ("/feeds/platform", None),
        ("DELETE", "/feeds/{feed}"): ("/feeds/platform", None),
    }


# What each route answers, in the order of _calls (which is the order a role's requests are made in)
ERP_ROUTES = {
    ("POST", "/declarations"): 202,
    ("GET", "/declarations"): 200,
    ("GET", "/declarations/{lrn}"): 200,
    ("POST", "/declarations/{lrn}/emergency"): 200,
    ("GET", "/declarations/{lrn}/fallback-document"): 200,
    ("POST", "/declarations/{lrn}/physical-control"): 200,
    ("DELETE", "/declarations/{lrn}"): 200,
    ("GET", "/openapi.json"): 200,
}
OPERATOR_ROUTES = {
    ("GET", "/systems"): 200,
    ("GET", "/systems/{system}"): 200,
    ("PUT", "/systems/{system}/status"): 200,
    ("PUT", "/systems/{system}/release"): 200,
    ("POST", "/systems/{system}/emergency"): 200,
    ("POST", "/systems/{system}/maintenance"): 201,
    ("GET", "/systems/{system}/maintenance"): 200,
    ("PATCH", "/systems/{system}/maintenance/{id}"): 200,
    ("DELETE", "/systems/{system}/maintenance/{id}"): 200,
    ("PUT", "/feeds/{feed}"): 201,
    ("GET", "/feeds"): 200,
    ("GET", "/feeds/{feed}"): 200,
    ("DELETE", "/feeds/{feed}"): 204,
}


def _held_pair(client: Client, operator: Client) -> tuple[str, str]:
    """Two declarations of `client`'s, held by a CID alert on DELTA_G (the French fallback's evidence)."""
    outage = {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID", "reason": "incident"}
    assert operator("PUT", "/systems/DELTA_G/status", outage)[0] == 200
    lrns = []
    for _ in range(2):
        status, answer = client("POST", "/declarations", declaration_body(system="DELTA_G"))
        assert (status, answer["state"]) == (202, "QUEUED"), answer
        lrns.append(answer["lrn"])
    return lrns[0], lrns[1]


def _window(operator: Client, starts: int) -> tuple[str, int]:
    """A maintenance window of ATLAS starting in `starts` minutes, for an hour."""
    status, window = operator("POST", "/systems/ATLAS/maintenance", {"start": _at(starts), "end": _at(starts + 60)})
    assert status == 201, window
    return window["id"], starts


def test_every_route_asks_for_a_token_and_the_scope_it_needs(stack):
    """The route x role table: no token 401; an ERP's token reaches the declaration routes and is 403 on
    the operators'; an operator's token reaches both."""
    assert set(ERP_ROUTES) | set(OPERATOR_ROUTES) == set(ROUTES)
    operator = stack["operator"]
    table: dict[tuple[str, str], list[int]] = {route: [] for route in ROUTES}
    for hours, role in enumerate(("none", "erp", "operator"), start=4):
        client = stack[role]
        lrn, cancelled = _held_pair(client if role != "none" else operator, operator)
        calls = _calls(lrn, cancelled, _window(operator, starts=hours * 60))
        for route in [*ERP_ROUTES, *OPERATOR_ROUTES]:
            path, body = calls[route]
            status, raw, headers = client.raw(route[0], path, body)
            table[route].append(status)
            if status in (401, 403):
                code = json.loads(raw)["error"]["code"]
                assert code == {401: "unauthenticated", 403: "forbidden"}[status]
            if status == 401:
                assert headers.get("WWW-Authenticate", "").startswith("Bearer")
    expected = {
        **{route: [401, status, status] for route, status in ERP_ROUTES.items()},
        **{route: [401, 403, status] for route, status in OPERATOR_ROUTES.items()},
    }
    print("\nroute | no token | ERP token | operator token")  # the table, for the record
    for (method, path), statuses in table.items():
        print(f"{method} {path} | " + " | ".join(map(str, statuses)))
    assert table == expected


def test_a_forbidden_answer_names_the_scope_missing(stack):
    status, answer = stack["erp"]("PUT", "/systems/CDS/release", {"rate_per_minute": 6000, "burst": 6000})
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert "ecluse/operations" in answer["error"]["message"]
    assert stack["operator"]("GET", "/systems/CDS")[1]["release"]["rate_per_minute"] != 6000  # nothing changed


# ---------------------------------------------------------------------- each ERP its own declarations
def test_an_erp_cannot_see_list_cancel_or_switch_another_erps_declaration(stack):
    erp, other, operator = stack["erp"], stack["other"], stack["operator"]
    held = {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"}
    assert operator("PUT", "/systems/DELTA_X/status", held)[0] == 200
    body = declaration_body(system="DELTA_X")
    lrn = body["lrn"]
    requests = [
        ("GET", f"/declarations/{lrn}", None),
        ("DELETE", f"/declarations/{lrn}", None),
        ("POST", f"/declarations/{lrn}/emergency", {}),
        ("GET", f"/declarations/{lrn}/fallback-document", None),
        ("POST", f"/declarations/{lrn}/physical-control", {}),
        ("GET", f"/declarations/{lrn}?declarant=erp-demo", None),
    ]
    nobody_has_it = [_comparable(other.raw(*request)) for request in requests]
    assert erp("POST", "/declarations", body)[1]["state"] == "QUEUED"
    # byte for byte the answers to an LRN nobody lodged: never a hint that it exists
    assert [_comparable(other.raw(*request)) for request in requests] == nobody_has_it
    assert {status for status, _, _ in nobody_has_it} == {404}
    assert json.loads(nobody_has_it[0][1])["error"]["code"] == "declaration_not_found"
    listed = other("GET", "/declarations?system=DELTA_X")[1]["items"]
    assert lrn not in [d["lrn"] for d in listed]
    assert other("GET", "/declarations?system=DELTA_X&declarant=erp-demo")[1] == {"items": [], "next": None}
    shown = erp("GET", f"/declarations/{lrn}")[1]
    assert (shown["state"], shown["declarant"], len(shown["history"])) == ("QUEUED", "erp-demo", 2)  # untouched
    assert lrn in [d["lrn"] for d in erp("GET", "/declarations?system=DELTA_X")[1]["items"]]
    assert operator("GET", f"/declarations/{lrn}")[1]["declarant"] == "erp-demo"  # operators see all


def _comparable(answer: tuple[int, bytes, dict[str, str]]) -> tuple[int, bytes, dict[str, str]]:
    status, raw, headers = answer
    return status, raw, {k: v for k, v in headers.items() if k.lower() not in ("date",)}


def test_two_erps_lodge_the_same_lrn_and_each_is_processed(stack):
    erp, other, operator = stack["erp"], stack["other"], stack["operator"]
    mine = declaration_body(system="CDS")
    theirs = {**mine, "declarant": {**mine["declarant"], "eori": OTHER_EORI}}
    assert erp("POST", "/declarations", mine)[0] == 202
    assert other("POST", "/declarations", theirs)[0] == 202  # no lrn_conflict: a declaration of its own
    assert other("POST", "/declarations", theirs)[0] == 200  # its own retry is the same declaration
    lrn = mine["lrn"]
    status, ambiguous = operator("GET", f"/declarations/{lrn}")
    assert (status, ambiguous["error"]["code"]) == (409, "lrn_ambiguous")
    for client, declarant in ((erp, "erp-demo"), (other, "erp-other")):
        _until_accepted(client, lrn)
        assert operator("GET", f"/declarations/{lrn}?declarant={declarant}")[1]["state"] == "ACCEPTED"
    received = [(r["lrn"], r["eori"]) for r in operator("GET", "/_sim/state")[1]["received"] if r["lrn"] == lrn]
    assert sorted(received) == sorted([(lrn, mine["declarant"]["eori"]), (lrn, OTHER_EORI)])  # once each


def _until_accepted(client: Client, lrn: str, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        shown = client("GET", f"/declarations/{lrn}")[1]
        if shown["state"] == "ACCEPTED":
            return shown
        assert time.monotonic() < deadline, shown
        time.sleep(0.3)


# ---------------------------------------------------------------------- who did what
def test_the_audit_trail_names_who_lodged_switched_and_changed_a_status(stack):
    erp, operator = stack["erp"], stack["operator"]
    outage = {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID", "reason": "DELTA T down"}
    assert operator("PUT", "/systems/DELTA_T/status", outage)[0] == 200
    lrn = erp("POST", "/declarations", declaration_body(system="DELTA_T"))[1]["lrn"]
    switched = erp("POST", f"/declarations/{lrn}/emergency", {"mode": "document", "reason": "perishable goods"})[1]
    lodged, routed, fallback = switched["history"]
    assert (lodged["state"], lodged["by"], lodged["reason"]) == ("RECEIVED", "erp-demo", None)
    assert (routed["state"], routed["by"]) == ("QUEUED", "erp-demo")
    assert (fallback["state"], fallback["by"], fallback["reason"]) == ("EMERGENCY", "erp-demo", "perishable goods")
    system = operator("GET", "/systems/DELTA_T")[1]
    assert (system["by"], system["reason"]) == ("operator-demo", "DELTA T down")
    assert (system["history"][0]["by"], system["history"][0]["status"]) == ("operator-demo", "UNAVAILABLE")
    too_long = erp("POST", f"/declarations/{lrn}/emergency", {"reason": "x" * 501})
    assert too_long[0] == 422
    assert "500" in too_long[1]["error"]["details"][0]["message"]  # says the limit
    unknown = erp("POST", f"/declarations/{lrn}/emergency", {"mode": "document", "why": "?"})
    assert (unknown[0], unknown[1]["error"]["details"][0]["code"]) == (422, "unknown_field")
