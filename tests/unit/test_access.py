"""The roles table covers exactly the template's routes: a route added to one and not the other fails here."""

from __future__ import annotations

import re
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

from ecluse.access import OPEN_ROUTES, ROUTES, SCOPES, Role, scope_for

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def _template_routes() -> set[tuple[str, str]]:
    text = TEMPLATE.read_text()
    return {(m.group(2), m.group(1).strip('"')) for m in re.finditer(r'Path: ("[^"]+"|[^,}\s]+), Method: (\w+)', text)}


def test_every_template_route_has_a_role_and_every_role_route_is_in_the_template() -> None:
    assert _template_routes() == set(ROUTES) | OPEN_ROUTES
    assert not set(ROUTES) & OPEN_ROUTES


def test_the_open_routes_are_exactly_the_template_routes_without_an_authorizer() -> None:
    """A route opened in the template and not here (or the other way round) fails: opening one is a decision."""
    events = yaml_parse(TEMPLATE.read_text())["Resources"]["ApiFunction"]["Properties"]["Events"]
    unauthenticated = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in events.values()
        if e["Type"] == "Api" and e["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    }
    assert unauthenticated == OPEN_ROUTES
    assert all(path.startswith("/console") and method == "GET" for method, path in OPEN_ROUTES)
    assert scope_for("GET", "/console") is None


def test_operator_routes_are_the_systems_and_feeds_routes() -> None:
    operator = {path for (_, path), role in ROUTES.items() if role is Role.OPERATOR}
    assert all(p.startswith(("/systems", "/feeds")) for p in operator)
    erp = {path for (_, path), role in ROUTES.items() if role is Role.ERP}
    assert not any(p.startswith(("/systems", "/feeds")) for p in erp)


def test_scope_for_a_known_and_an_unknown_route() -> None:
    assert scope_for("post", "/declarations") == SCOPES[Role.ERP] == "ecluse/declarations"
    assert scope_for("PUT", "/systems/{system}/status") == "ecluse/operations"
    assert scope_for("GET", "/nowhere") is None
