"""HTTP API: routes parse and answer; the rules live in ecluse.lodging, ecluse.fallback and ecluse.operations."""

from __future__ import annotations

import gc

gc.disable()  # until the end of this module: the init builds nothing for the collector to find (decision 17)

import json
from functools import cache
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from ecluse import systems
from ecluse.access import ROUTES, Role
from ecluse.aws import tracing
from ecluse.aws.callers import caller, operator_principals, require_operator
from ecluse.aws.clients import LazyClient
from ecluse.aws.dynamodb_feeds import DynamoDbFeedStore
from ecluse.aws.dynamodb_ledger import DynamoDbLedger
from ecluse.aws.dynamodb_maintenance import DynamoDbWindowStore
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.sqs_submit_queue import SqsSubmitQueue
from ecluse.callers import Caller
from ecluse.clock import SystemClock
from ecluse.config.api import ApiSettings
from ecluse.declarations import LRN_MAX, LRN_PATTERN, LRN_RULE, Declaration, is_lrn
from ecluse.errors import EcluseError, FieldProblem, invalid, not_in_fallback, unsupported_media_type
from ecluse.fallback import BulkEmergencyRequest, EmergencyRequest, FallbackProcedure, PhysicalControl
from ecluse.feed_requests import FeedRequest
from ecluse.feeds import FEED_NAME, Feeds
from ecluse.life_cycle import State
from ecluse.lodging import MAX_BODY_BYTES, CancelRequest, Lodging, problems_from_pydantic
from ecluse.maintenance import Maintenance
from ecluse.operations import Operations, ReleaseRequest, StatusRequest
from ecluse.ownership import MAX_DECLARANT
from ecluse.window_requests import WindowChange, WindowRequest

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ecluse.console_sign_in import ConsoleSignIn

logger = Logger()
metrics = Metrics()
settings = ApiSettings.from_env()
_dynamodb = boto3.client("dynamodb")
_clock = SystemClock()
_ledger = DynamoDbLedger(_dynamodb, settings.declarations_table, settings.systems_table)
_board = DynamoDbStatusBoard(_dynamodb, settings.systems_table)
fallback = FallbackProcedure(_ledger, _board, _clock)
lodging = Lodging(_ledger, SqsSubmitQueue(LazyClient("sqs"), settings.submit_queue_url), _clock, logger, fallback)
operations = Operations(_board, _clock, _ledger.oldest_held_at)
maintenance = Maintenance(DynamoDbWindowStore(_dynamodb, settings.systems_table), _board, _clock)
feeds = Feeds(DynamoDbFeedStore(_dynamodb, settings.systems_table), _board, _clock)
_operators = operator_principals(settings.operator_principal_arns)
app = APIGatewayRestResolver(enable_validation=True)

LrnPath = Annotated[str, Path(pattern=LRN_PATTERN.pattern, max_length=LRN_MAX, description="the declaration's LRN")]
Whose = Annotated[
    str | None,
    Query(max_length=MAX_DECLARANT, description="whose declaration (operators); an ERP reaches its own only"),
]


def _caller() -> Caller:
    """Who is calling, as API Gateway authenticated them (decision 16)."""
    return caller(app.current_event.request_context, _operators)


def _caller_may_act(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route, before it runs (Powertools validates the request first): a caller API Gateway let
    through may still be refused here, a person signed in to the pool but not in its operators group, or,
    on an operator's route, a signer the operator policy admits whom OperatorPrincipalArns does not list
    (it would change statuses yet see only its own declarations). A route that needs no identity (the
    console's files) finds none, and passes."""
    calling = _caller()
    if ROUTES.get((app.current_event.http_method, app.current_event.resource)) is Role.OPERATOR:
        require_operator(calling)
    return next_middleware(app)


app.use(middlewares=[_caller_may_act])


def _error(error: EcluseError) -> Response[str]:
    return Response(error.http_status, content_types.APPLICATION_JSON, json.dumps(error.as_body()))


def _handles[E: Exception](
    error: type[E],
) -> Callable[[Callable[[E], Response[str]]], Callable[[E], Response[str]]]:
    """`app.exception_handler`, typed: Powertools leaves the decorator it returns unannotated, which would
    leave each handler below unchecked. It registers the function and returns it as it is."""
    registers: Callable[[Callable[[E], Response[str]]], Callable[[E], Response[str]]] = app.exception_handler(error)
    return registers


@_handles(EcluseError)
def _domain_error(error: EcluseError) -> Response[str]:
    return _error(error)


@_handles(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response[str]:
    """Every problem the one validation pass found (a declaration's business rules are part of its model)."""
    errors = list(error.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _error(EcluseError("malformed_json", "the body is not valid JSON: check quotes and commas"))
    problems = [
        FieldProblem("lrn", "invalid_lrn", LRN_RULE) if tuple(e.get("loc", ()))[:2] == ("path", "lrn") else problem
        for e, problem in zip(errors, problems_from_pydantic(errors, prefix=("body", "query", "path")), strict=True)
    ]
    return _error(invalid(problems))


@_handles(RequestUnsupportedContentType)
def _not_json(_: RequestUnsupportedContentType) -> Response[str]:
    return _error(unsupported_media_type())


@_handles(Exception)
def _unexpected(error: Exception) -> Response[str]:
    logger.exception("unexpected error")  # the traceback, never the request body (personal data)
    return _error(EcluseError("internal_error", "Écluse failed to answer; retry later", http_status=500))


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    return _error(
        EcluseError(
            "route_not_found",
            f"no route {app.current_event.http_method} {app.current_event.path}",
            http_status=404,
        )
    )


@app.post("/declarations", summary="Lodge a declaration (idempotent by the declarant's LRN)")
def lodge(declaration: Annotated[Declaration, Body()]) -> Response[dict[str, Any]]:
    lodged = lodging.lodge(declaration, _caller())
    metrics.add_metadata("lrn", lodged.record.lrn)
    if lodged.created:
        metrics.add_metric(name=f"Lodged{lodged.record.state.title()}", unit=MetricUnit.Count, value=1)
    return Response(202 if lodged.created else 200, content_types.APPLICATION_JSON, lodged.record.summary())


@app.get("/declarations", summary="List declarations (an ERP its own) by system, state or declarant, oldest first")
def list_declarations(
    system: Annotated[str | None, Query(pattern=r"^[A-Z0-9_]+$")] = None,
    state: Annotated[State | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048, alias="next")] = None,
    declarant: Whose = None,
) -> dict[str, Any]:
    if system is not None:
        systems.lookup(system)
    records, token = lodging.page(
        _caller(), system=system, state=state, limit=limit, token=next_token, declarant=declarant
    )
    return {"items": [r.answer() for r in records], "next": token}


@app.get("/declarations/<lrn>", summary="A declaration's state, history (who, when, why), marks and MRN")
def get_declaration(lrn: LrnPath, declarant: Whose = None) -> dict[str, Any]:
    return lodging.get(lrn, _caller(), declarant).answer()


@app.delete("/declarations/<lrn>", summary="Cancel a held declaration")
def cancel_declaration(
    lrn: LrnPath, request: Annotated[CancelRequest | None, Body()] = None, declarant: Whose = None
) -> dict[str, Any]:
    reason = request.reason if request else None
    cancelled = lodging.cancel(lrn, _caller(), declarant, reason)
    logger.info("declaration cancelled", extra={"lrn": lrn, "reason_given": reason is not None})
    return cancelled.answer()


@app.post("/declarations/<lrn>/emergency", summary="Switch a held declaration to the fallback procedure")
def switch_to_fallback(
    lrn: LrnPath, request: Annotated[EmergencyRequest | None, Body()] = None, declarant: Whose = None
) -> dict[str, Any]:
    switched = fallback.switch(lrn, request, _caller(), declarant)
    logger.info("switched to the fallback", extra={"lrn": lrn, "reason_given": bool(request and request.reason)})
    return switched.answer()


@app.post("/declarations/<lrn>/physical-control", summary="Record a physical control of fallback goods")
def record_physical_control(
    lrn: LrnPath, control: Annotated[PhysicalControl, Body()], declarant: Whose = None
) -> dict[str, Any]:
    return fallback.physical_control(lrn, control, _caller(), declarant).answer()


# no response validation here: the body is a PDF's bytes (documented in the OpenAPI description)
@app.get(
    "/declarations/<lrn>/fallback-document",
    summary="The fallback declaration, PDF (Accept: application/pdf or ?format=pdf) or JSON",
    enable_validation=False,
)
def fallback_document(lrn: str) -> Response[Any]:
    if not is_lrn(lrn):
        raise invalid([FieldProblem("lrn", "invalid_lrn", LRN_RULE)])
    wanted = app.current_event.get_query_string_value("format")
    if wanted not in (None, "pdf", "json"):
        raise EcluseError("invalid_format", "format must be pdf or json", http_status=422)
    whose = app.current_event.get_query_string_value("declarant")
    record = lodging.get(lrn, _caller(), whose, with_body=True)
    if not record.fallback_at:
        raise not_in_fallback(
            lrn,
            record.state,
            f"it was never switched to the fallback procedure: POST /declarations/{lrn}/emergency first",
        )
    from ecluse.fallback_document import build as build_fallback_document  # only this route needs it

    document = build_fallback_document(record)
    accept = app.current_event.headers.get("accept") or app.current_event.headers.get("Accept") or ""
    if wanted == "pdf" or (wanted is None and "application/pdf" in accept):
        from ecluse.fallback_pdf import render  # fpdf2 only on this path

        return Response(
            200,
            "application/pdf",
            render(document),
            headers={"Content-Disposition": f'inline; filename="fallback-{lrn}.pdf"'},
        )
    return Response(200, content_types.APPLICATION_JSON, document)


@app.post("/systems/<system>/emergency", summary="Switch held declarations of a system to the fallback, oldest first")
def switch_system_to_fallback(system: str, request: Annotated[BulkEmergencyRequest, Body()]) -> dict[str, Any]:
    systems.lookup(system)
    result = fallback.switch_all(system, request, _caller())
    logger.info("bulk switch to the fallback", extra={"system": system, "reason_given": request.reason is not None})
    return {"switched": result.switched, "refused": result.refused}


@app.get("/systems", summary="Every customs system's status and backlog")
def list_systems() -> dict[str, Any]:
    return {"items": operations.list()}


@app.get("/systems/<system>", summary="One customs system's status, backlog and status history")
def get_system(system: str) -> dict[str, Any]:
    return operations.get(system)


@app.put("/systems/<system>/status", summary="Set a customs system's status (operator action)")
def set_status(system: str, request: Annotated[StatusRequest, Body()]) -> dict[str, Any]:
    answer = operations.set_status(system, request, _caller())
    logger.info(  # never the reason's text: it may name people
        "system status changed",
        extra={
            "system": system,
            "status": answer["status"],
            "source": answer["source"],
            "reason_given": request.reason is not None,
        },
    )
    return answer


@app.put("/systems/<system>/release", summary="Set how fast held declarations are released")
def set_release(system: str, request: Annotated[ReleaseRequest, Body()]) -> dict[str, Any]:
    answer = operations.set_release(system, request, _caller())
    logger.info(
        "release throttle changed",
        extra={"system": system, **answer["release"], "reason_given": request.reason is not None},
    )
    return answer


WindowPath = Annotated[str, Path(pattern=r"^[a-f0-9]{12}$", description="the window's id")]


@app.post("/systems/<system>/maintenance", summary="Announce a planned maintenance window")
def schedule_maintenance(system: str, request: Annotated[WindowRequest, Body()]) -> Response[dict[str, Any]]:
    systems.lookup(system)
    window = maintenance.schedule(system, request, _caller().principal)
    logger.info("maintenance window scheduled", extra={"system": system, "window": window.id})
    return Response(201, content_types.APPLICATION_JSON, window.answer())


@app.get("/systems/<system>/maintenance", summary="A system's open maintenance windows and the last ended ones")
def list_maintenance(system: str) -> dict[str, Any]:
    systems.lookup(system)
    return {"items": [w.answer() for w in maintenance.listed(system)]}


@app.patch("/systems/<system>/maintenance/<window_id>", summary="Move a maintenance window's end")
def change_maintenance_end(
    system: str, window_id: WindowPath, change: Annotated[WindowChange, Body()]
) -> dict[str, Any]:
    systems.lookup(system)
    return maintenance.change_end(system, window_id, change, _caller().principal).answer()


@app.delete("/systems/<system>/maintenance/<window_id>", summary="Cancel a maintenance window that has not begun")
def cancel_maintenance(system: str, window_id: WindowPath) -> dict[str, Any]:
    systems.lookup(system)
    return maintenance.cancel(system, window_id, _caller().principal).answer()


FeedPath = Annotated[str, Path(pattern=FEED_NAME, description="the feed's name: lower case, digits and -")]


@app.put("/feeds/<feed>", summary="Read a status page for the systems it covers")
def put_feed(feed: FeedPath, request: Annotated[FeedRequest, Body()]) -> Response[dict[str, Any]]:
    stored, created = feeds.put(feed, request, _caller().principal)
    return Response(201 if created else 200, content_types.APPLICATION_JSON, stored.answer())


@app.get("/feeds", summary="Every status feed, with what it last read")
def list_feeds() -> dict[str, Any]:
    return {"items": [f.answer() for f in feeds.listed()]}


@app.get("/feeds/<feed>", summary="One status feed: last read, last error, last status seen per system")
def get_feed(feed: FeedPath) -> dict[str, Any]:
    return feeds.get(feed).answer()


@app.delete("/feeds/<feed>", summary="Stop reading a status feed (statuses it set stay as they are)")
def delete_feed(feed: FeedPath) -> Response[None]:
    feeds.delete(feed)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.get("/openapi.json", summary="This API's OpenAPI document")
def openapi() -> Response[dict[str, Any]]:
    return Response(
        200,
        content_types.APPLICATION_JSON,
        json.loads(app.get_openapi_json_schema(title="Écluse", version="1.0.0")),
    )


# The operator console: static files beside this handler (they ship in this function's build only), read
# when first asked for, never at import. They carry no data: the page calls the API above like any client.
CONSOLE = FilePath(__file__).parent / "console"
CONSOLE_FILES = {  # GET /console/{name}; the page itself is GET /console
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "drain.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CONSOLE_HEADERS = {  # beside its Content-Security-Policy, built from the stage's sign-in (_console_headers)
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the sign-in's one-time code is in the address when the page loads
    "Cache-Control": "no-cache",
}


@cache
def _console_file(name: str) -> str:
    return (CONSOLE / name).read_text(encoding="utf-8")


def _console_sign_in() -> ConsoleSignIn:
    """What the stage says of the console's sign-in (stage variables come with each event, nothing to read at
    cold start). A wrong one is the deployment's mistake, not the caller's: a 500 saying what to fix."""
    from ecluse.console_sign_in import from_stage_variables  # the console's routes only, at their first call

    try:
        return from_stage_variables(app.current_event.stage_variables)
    except ValueError as error:
        logger.error("console sign-in misconfigured", extra={"problem": str(error)})
        raise EcluseError("console_misconfigured", f"the console cannot sign in: {error}", http_status=500) from None


def _console_headers() -> dict[str, str]:
    """Its own files and its own API only (signing in with PKCE, the user pool's token endpoint too): no CDN,
    no inline script, nothing framed or leaked elsewhere. Misconfigured, the page still loads under the
    narrowest policy and its config.json says what is wrong."""
    from ecluse.console_sign_in import ConsoleSignIn, from_stage_variables

    try:
        policy = from_stage_variables(app.current_event.stage_variables).content_security_policy()
    except ValueError:
        policy = ConsoleSignIn("none").content_security_policy()
    return {"Content-Security-Policy": policy, **CONSOLE_HEADERS}


@app.get("/console", summary="The operator console (HTML)", include_in_schema=False)
def console_page() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", _console_file("index.html"), headers=_console_headers())


# a static route: Powertools (and API Gateway) match it before /console/{name}
@app.get("/console/config.json", summary="How the console signs in (no secret)", include_in_schema=False)
def console_config() -> Response[str]:
    sign_in = _console_sign_in()
    headers = {"Content-Security-Policy": sign_in.content_security_policy(), **CONSOLE_HEADERS}
    return Response(200, content_types.APPLICATION_JSON, json.dumps(sign_in.config()), headers=headers)


@app.get("/console/<name>", summary="The operator console's scripts and style", include_in_schema=False)
def console_file(name: str) -> Response[str]:
    if name not in CONSOLE_FILES:
        raise EcluseError(
            "console_file_not_found", f"the console has no file {name!r}; open GET /console", http_status=404
        )
    return Response(200, CONSOLE_FILES[name], _console_file(name), headers=_console_headers())


def _refuse_early(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """Bodies too large or not JSON are refused before any parsing (a 10 MB body is never read, a
    multipart body never reaches a parser that would fail on it)."""
    body = event.get("body") or ""
    error = None
    if len(body) * (3 / 4 if event.get("isBase64Encoded") else 1) > MAX_BODY_BYTES:
        error = EcluseError("payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes", http_status=413)
    elif body:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        content_type = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        if content_type != "application/json":
            error = unsupported_media_type()
    if error is None:
        return None
    return {
        "statusCode": error.http_status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error.as_body()),
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracing.capture_lambda_handler()
@metrics.log_metrics
def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = _refuse_early(event)
    return refused if refused else app.resolve(event, context)


gc.freeze()  # what the init phase built is never garbage: later collections need not walk it
gc.enable()
