"""Who may call which route: two roles, each an OAuth2 scope (Cognito) or a managed policy (IAM).

The one table the template's scopes and policies, the local stack's token check and the console are
checked against (tests/unit/test_access.py). An operator holds both scopes: operators see every
declaration, an ERP sees its own.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ERP = "erp"  # lodges and follows its own declarations
    OPERATOR = "operator"  # runs the customs systems' statuses, the release and the fallback in bulk


SCOPES: dict[Role, str] = {Role.ERP: "ecluse/declarations", Role.OPERATOR: "ecluse/operations"}
# COGNITO: the user pool's group a person must be in to act at all (template.yaml, OperatorsGroup). The
# console's client grants both scopes to whoever signs in; the group says who was made an operator.
OPERATORS_GROUP = "operators"

# (method, API Gateway resource path) -> the role whose scope the route requires
ROUTES: dict[tuple[str, str], Role] = {
    ("POST", "/declarations"): Role.ERP,
    ("GET", "/declarations"): Role.ERP,
    ("GET", "/declarations/{lrn}"): Role.ERP,
    ("DELETE", "/declarations/{lrn}"): Role.ERP,
    ("POST", "/declarations/{lrn}/emergency"): Role.ERP,
    ("POST", "/declarations/{lrn}/physical-control"): Role.ERP,
    ("GET", "/declarations/{lrn}/fallback-document"): Role.ERP,
    ("GET", "/openapi.json"): Role.ERP,
    ("GET", "/systems"): Role.OPERATOR,
    ("GET", "/systems/{system}"): Role.OPERATOR,
    ("PUT", "/systems/{system}/status"): Role.OPERATOR,
    ("PUT", "/systems/{system}/release"): Role.OPERATOR,
    ("POST", "/systems/{system}/emergency"): Role.OPERATOR,
    ("POST", "/systems/{system}/maintenance"): Role.OPERATOR,
    ("GET", "/systems/{system}/maintenance"): Role.OPERATOR,
    ("PATCH", "/systems/{system}/maintenance/{id}"): Role.OPERATOR,
    ("DELETE", "/systems/{system}/maintenance/{id}"): Role.OPERATOR,
    ("PUT", "/feeds/{feed}"): Role.OPERATOR,
    ("GET", "/feeds"): Role.OPERATOR,
    ("GET", "/feeds/{feed}"): Role.OPERATOR,
    ("DELETE", "/feeds/{feed}"): Role.OPERATOR,
}

# Routes anyone may call, signed in or not: the operator console's static page and files, and how it signs
# in (config.json: the user pool's domain and the console's public client id, nothing secret). They carry
# no data (every figure the page shows comes from the routes above, with the caller's own credentials),
# and the console must load before sign-in: Cognito's hosted UI redirects the operator to it with a code.
OPEN_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/console"), ("GET", "/console/config.json"), ("GET", "/console/{name}")}
)


def scope_for(method: str, resource: str) -> str | None:
    """The scope a route requires, or None for a route this table does not know."""
    role = ROUTES.get((method.upper(), resource))
    return SCOPES[role] if role else None
