"""Whose declarations a caller reaches (decision 16): an ERP its own, an operator every one.

A declaration is keyed by its declarant and its LRN, so two ERPs may use the same LRN. An ERP asking for
another's declaration gets exactly the answer an LRN nobody lodged gets: never a hint that it exists.
"""

from __future__ import annotations

from ecluse.callers import Caller
from ecluse.errors import conflict, not_found
from ecluse.ledger import Ledger
from ecluse.records import Record

# DynamoDB's bound for a sort key (the declarant is the table's): an IAM role ARN without its path stays
# under 150 characters, a Cognito client id is 26
MAX_DECLARANT = 1024


def declaration(
    ledger: Ledger, caller: Caller, lrn: str, declarant: str | None = None, *, with_body: bool = False
) -> Record:
    """The declaration `lrn` of `declarant` (by default the caller's own; an operator's default is the
    LRN's only declarant), or 404 `declaration_not_found` when the caller does not reach it."""
    if declarant is None and caller.operator:
        found = ledger.find(lrn)
        if len(found) > 1:
            raise conflict(
                "lrn_ambiguous",
                f"{len(found)} declarants lodged LRN {lrn}: say whose with ?declarant=, one of "
                + ", ".join(sorted(r.declarant for r in found)),
            )
        if not found:
            raise not_found("declaration", lrn)
        if not with_body:
            return found[0]
        declarant = found[0].declarant
    whose = declarant or caller.declarant
    readable = caller.reaches(whose) and len(whose.encode()) <= MAX_DECLARANT  # no key could be longer
    record = ledger.get(lrn, whose, with_body=with_body) if readable else None
    if record is None:
        raise not_found("declaration", lrn)
    return record


def listing(caller: Caller, declarant: str | None) -> tuple[bool, str | None]:
    """Whether the caller may list `declarant`'s declarations at all, and whose to list: an ERP lists its
    own (another's come back as an empty page), an operator the one named or everyone's (None)."""
    if declarant is not None and len(declarant.encode()) > MAX_DECLARANT:
        return False, None  # nobody's: no key is that long
    if caller.operator:
        return True, declarant
    return (declarant in (None, caller.declarant)), caller.declarant
