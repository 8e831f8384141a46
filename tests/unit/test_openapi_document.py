"""docs/openapi.json is what the API serves; a stale copy fails here (regenerate with `make openapi`)."""

from __future__ import annotations

import json

from local.infra import ROOT
from local.openapi import document


def test_committed_openapi_document_is_current():
    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert json.loads(committed) == json.loads(document()), "run `make openapi` and commit docs/openapi.json"


def test_document_covers_the_contract_routes():
    paths = json.loads(document())["paths"]
    assert {"post", "get"} <= set(paths["/declarations"])
    assert {"get", "delete"} <= set(paths["/declarations/{lrn}"])
    assert "put" in paths["/systems/{system}/status"]
    body = paths["/declarations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Declaration")
