"""Who is calling: the principal an action is recorded under, whose declarations it reaches, and its role.

`aws.callers` reads it from API Gateway's request context (a Cognito token's claims, or the IAM caller);
this module knows nothing of either. Écluse's own moves are recorded under the stable names below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from ecluse.access import Role

MAX_REASON = 500  # characters of a manual action's reason, as a status change's
Reason = Annotated[
    str | None,
    Field(
        max_length=MAX_REASON,
        description=f"why, for the audit trail (at most {MAX_REASON} characters); shown in the history, never logged",
    ),
]

# Écluse's own moves: who did it when no person or ERP did
RELEASE = "ecluse:release"  # the release run: drains, probes, re-sends, settles, redeclares
SUBMIT = "ecluse:submit"  # the submitter: customs' answers, sending errors, holds on the way
DETECTION = "ecluse:detection"  # the circuit breaker's outages (source AUTO) and their end
MAINTENANCE = "ecluse:maintenance"  # a planned maintenance window beginning and ending
FEED = "ecluse:feed"  # a status feed
FALLBACK = "ecluse:fallback"  # an urgent declaration switched at once because its system's policy allows it


@dataclass(frozen=True)
class Caller:
    """`principal`: who acted, as recorded in the audit trail (an IAM principal ARN, an OAuth2 client id,
    a signed-in operator's username). `declarant`: whose declarations these are when it lodges (the
    OAuth2 client id, or the IAM role ARN without its session). `role`: an ERP reaches its own
    declarations only; an operator reaches every declaration."""

    principal: str
    declarant: str
    role: Role

    @property
    def operator(self) -> bool:
        return self.role is Role.OPERATOR

    def reaches(self, declarant: str) -> bool:
        """May act on a declaration lodged by `declarant`."""
        return self.operator or declarant == self.declarant


# A request that carries no identity at all: `LOCAL_AUTH=off make run`, and tests calling the handler
# directly. Deployed, API Gateway lets no such request through (every route is authenticated).
LOCAL = Caller(principal="local", declarant="local", role=Role.OPERATOR)
