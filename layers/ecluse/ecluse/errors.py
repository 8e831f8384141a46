"""Domain errors: each carries a stable snake_case code and a message that says what to fix.

The API maps them to HTTP in one place (`functions/api/app.py`); nothing else knows about status codes
except through `http_status`, which the domain picks: the adapters raise the errors built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class EcluseError(Exception):
    code: str
    message: str
    details: list[FieldProblem] = field(default_factory=list)
    http_status: int = 400

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [d.as_dict() for d in self.details],
            }
        }


def invalid(details: list[FieldProblem]) -> EcluseError:
    """A 422 naming every violation; the top-level code is the first one's when there is only one."""
    code = details[0].code if len(details) == 1 else "validation_failed"
    return EcluseError(
        code,
        f"{len(details)} problem(s) in the request; see details for each field to fix",
        details,
        422,
    )


def not_found(what: str, key: str) -> EcluseError:
    return EcluseError(f"{what}_not_found", f"no {what} with id {key!r}", http_status=404)


def conflict(code: str, message: str) -> EcluseError:
    return EcluseError(code, message, http_status=409)


def too_large(message: str) -> EcluseError:
    return EcluseError("payload_too_large", message, http_status=413)


def filter_required() -> EcluseError:
    return EcluseError(
        "filter_required",
        "list by system, by state, by declarant or several, e.g. ?system=DELTA_G&state=QUEUED",
        http_status=422,
    )


def invalid_next_token() -> EcluseError:
    return EcluseError(
        "invalid_next_token", "`next` must be the token a previous page returned, unchanged", http_status=422
    )


def unsupported_media_type() -> EcluseError:
    return EcluseError(
        "unsupported_media_type", "send the body as JSON with Content-Type: application/json", http_status=415
    )


def not_in_fallback(lrn: str, state: str, what_to_do: str) -> EcluseError:
    """Asked of a fallback declaration, but this one is not (or no longer) in the fallback procedure."""
    return conflict("not_in_fallback", f"{lrn} is {state}: {what_to_do}")


def possibly_lodged(lrn: str, attempts: int, refused: str) -> EcluseError:
    """A declaration that went to customs without an answer may be held by customs: acting on it as if it
    were not would lodge it twice (a new LRN from the ERP, or a fallback beside it)."""
    return conflict(
        "possibly_lodged",
        f"{lrn} was sent to customs {attempts} time(s) without an answer, so customs may hold it: it cannot "
        f"be {refused} until customs, asked about it, says it never received it. Écluse asks as soon as customs "
        "answers again, and the declaration's history says what customs answered",
    )
