"""`make run`: the whole of Écluse on this machine.

An embedded AWS (moto server) holding the tables and queues of template.yaml, the API handler behind a
local HTTP server, the submit consumer polling the FIFO queue, the release schedule ticking, and a
simulated customs system on loopback whose outages are switched through `/_sim/...` on the same port.
Callers are identified as deployed with Cognito (local/auth.py): a token from `POST /oauth2/token`, its
scope checked on every route; `LOCAL_AUTH=off` leaves the API open, every caller the local operator.
The console signs in with the client-credentials form, or with `CONSOLE_SIGN_IN=pkce` as on AWS:
authorization code with PKCE against the stand-in's `GET /oauth2/authorize` on this same origin, then
refresh tokens that rotate, `POST /oauth2/revoke` and `GET /logout` as the user pool serves them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from local.auth import Answer

REGION = "eu-west-3"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's own limit; the API refuses above 1 MiB itself


def _quiet_environment() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")  # metrics are off locally
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", os.environ.get("LOG_LEVEL", "WARNING"))


class Stack:
    def __init__(
        self, port: int, release_interval: float = 1.0, auth: bool = True, console_sign_in: str = "client_credentials"
    ) -> None:
        _quiet_environment()
        import logging

        import boto3
        from moto.server import ThreadedMotoServer

        from local import infra
        from local.functions import load
        from local.simulated import SimulatedCustoms, serve

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, moto_port = self.moto.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{moto_port}"
        self.resources = infra.create(boto3.Session(region_name=REGION))
        self.customs = SimulatedCustoms()
        self.customs_server = serve(self.customs)
        customs_url = f"http://127.0.0.1:{self.customs_server.server_address[1]}"
        overrides = {
            "CUSTOMS_GATEWAY_URL": customs_url,
            "CUSTOMS_GATEWAY_TIMEOUT_SECONDS": os.environ.get("CUSTOMS_GATEWAY_TIMEOUT_SECONDS", "2"),
            "RETRY_BASE_SECONDS": os.environ.get("RETRY_BASE_SECONDS", "1"),
            # the simulated customs finishes at once what it answers late
            "CUSTOMS_GATEWAY_SETTLE_SECONDS": os.environ.get("CUSTOMS_GATEWAY_SETTLE_SECONDS", "3"),
            "CIRCUIT_RECOVERY_SECONDS": os.environ.get("CIRCUIT_RECOVERY_SECONDS", "10"),
            "FEED_TIMEOUT_SECONDS": os.environ.get("FEED_TIMEOUT_SECONDS", "1"),
        }
        # each function with its own environment, as in Lambda (service names in logs differ)
        self.api = load("api", {**self.resources.env("api"), **overrides})
        self.submit = load("submit", {**self.resources.env("submit"), **overrides})
        # one pass per tick here (the tick is the schedule); in AWS a run spreads over its minute
        self.release = load("release", {**self.resources.env("release"), **overrides, "RELEASE_RUN_SECONDS": "0"})
        # the monitor ticks with the release: maintenance windows begin and end within a second here
        self.monitor = load("monitor", {**self.resources.env("monitor"), **overrides})
        self.publish = load("publish", {**self.resources.env("publish"), **overrides})
        from local.event_sources import StreamReader, Webhook
        from local.infra import event_pattern

        session = boto3.Session(region_name=REGION)
        environment = self.resources.env("api")
        self.streams = [StreamReader(session, environment[t]) for t in ("DECLARATIONS_TABLE", "SYSTEMS_TABLE")]
        webhook_url = os.environ.get("ERP_WEBHOOK_URL", "")
        # whose declarations the webhook is told of, as the stack's ErpWebhookDeclarant: every ERP's here
        # unless told (make run's ERPs are demonstrations), one ERP's on AWS
        declarant = os.environ.get("ERP_WEBHOOK_DECLARANT") or "*"
        self.webhook = (
            Webhook(
                session,
                self.resources.env("publish")["EVENT_BUS_NAME"],
                webhook_url,
                event_pattern("WebhookRule", {"ErpWebhookUrl": webhook_url, "ErpWebhookDeclarant": declarant}),
                os.environ.get("ERP_WEBHOOK_SECRET_HEADER", "X-Ecluse-Secret"),
                os.environ.get("ERP_WEBHOOK_SECRET", ""),
            )
            if webhook_url
            else None
        )
        environment = self.resources.env("api")
        self.sqs = boto3.client("sqs")
        self.queue_url = environment["SUBMIT_QUEUE_URL"]
        self.release_interval = release_interval
        # One invocation at a time per function, as one Lambda execution environment serves one request
        # at a time (the API's resolver keeps the current event on itself); the three functions run
        # concurrently, as on AWS: local.moto_twin makes the embedded DynamoDB answer them atomically.
        self._locks = {name: threading.Lock() for name in ("api", "submit", "release", "monitor", "publish")}
        self._stopping = threading.Event()
        self.http = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.customs_url = customs_url
        from local.auth import CONSOLE_CLIENT, LocalAuth

        # Cognito's token endpoint is served either way (a client written for it still signs in); with
        # auth off, no route asks for a token and nobody's identity reaches the API
        self.tokens = LocalAuth(issuer=f"{self.url}/local-user-pool", console_redirect_uris=(f"{self.url}/console",))
        self.auth = auth
        self.console_sign_in = console_sign_in if auth else "none"
        # what API Gateway's stage hands the function with each event: how the console signs in (the stack
        # itself stands in for the user pool's domain)
        self.stage_variables = {"consoleSignIn": self.console_sign_in}
        if self.console_sign_in == "pkce":
            self.stage_variables |= {
                "authDomainUrl": self.url,
                "consoleClientId": CONSOLE_CLIENT,
                "consoleUrl": f"{self.url}/console",
            }

    # ------------------------------------------------------------------ in-process event sources
    def _poll_submit_queue(self) -> None:
        from local.functions import LambdaContext

        while not self._stopping.is_set():
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
                )
            except Exception as error:  # the embedded AWS is shutting down
                if self._stopping.is_set():
                    return
                print(f"submit poller: {error}", file=sys.stderr)
                time.sleep(1)
                continue
            messages = answer.get("Messages", [])
            if not messages:
                continue
            event = {"Records": [_sqs_record(m, self.queue_url) for m in messages]}
            try:
                with self._locks["submit"]:
                    try:
                        result = self.submit.lambda_handler(event, LambdaContext(function_name="submit"))
                    finally:
                        _forget_metrics(self.submit)
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception:  # the whole batch failed: Lambda's event source mapping retries all of it
                failed = {m["MessageId"] for m in messages}
            for message in messages:  # failed ones come back when the handler's back-off says
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _tick_release(self) -> None:
        self._tick("release", self.release)

    def _pump_streams(self) -> None:
        """The tables' change streams to the publish function, as its event source mappings do."""
        from local.event_sources import pump
        from local.functions import LambdaContext

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            with self._locks["publish"]:
                try:
                    answer: dict[str, Any] = self.publish.lambda_handler(event, LambdaContext(function_name="publish"))
                    return answer
                finally:
                    _forget_metrics(self.publish)

        while not self._stopping.wait(0.2):
            try:
                for reader in self.streams:
                    while pump(reader, invoke):
                        pass
            except Exception as error:
                if self._stopping.is_set():
                    return
                print(f"publish: {error}", file=sys.stderr)

    def _deliver_webhooks(self) -> None:
        while self.webhook is not None and not self._stopping.is_set():
            try:
                self.webhook.deliver()
            except Exception as error:
                if self._stopping.is_set():
                    return
                print(f"webhook: {error}", file=sys.stderr)
                time.sleep(1)

    def _tick_monitor(self) -> None:
        self._tick("monitor", self.monitor)

    def _tick(self, name: str, function: Any) -> None:
        """A schedule: every `release_interval` here (every minute on AWS)."""
        from local.functions import LambdaContext

        while not self._stopping.wait(self.release_interval):
            try:
                with self._locks[name]:
                    try:
                        function.lambda_handler({"source": "aws.scheduler"}, LambdaContext(function_name=name))
                    finally:
                        _forget_metrics(function)
            except Exception as error:
                if self._stopping.is_set():
                    return
                print(f"{name}: {error}", file=sys.stderr)

    def invoke_api(self, event: Mapping[str, Any]) -> dict[str, Any]:
        from local.functions import LambdaContext

        with self._locks["api"]:
            try:
                answer: dict[str, Any] = self.api.lambda_handler(event, LambdaContext(function_name="api"))
                return answer
            finally:
                _forget_metrics(self.api)

    def start(self) -> None:
        sources = (self._poll_submit_queue, self._tick_release, self._tick_monitor, self._pump_streams)
        for target in (*sources, self._deliver_webhooks, self.http.serve_forever):
            threading.Thread(target=target, daemon=True, name=target.__name__).start()

    def stop(self) -> None:
        self._stopping.set()
        self.http.shutdown()
        self.customs_server.shutdown()
        self.moto.stop()


def _forget_metrics(function: Any) -> None:
    # With metrics disabled locally Powertools never flushes, so it never clears: without this a long
    # `make run` would keep every metric of every invocation in memory.
    function.metrics.clear_metrics()


def _sqs_record(message: Mapping[str, Any], queue_url: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            "MessageGroupId": attributes.get("MessageGroupId", ""),
            "MessageDeduplicationId": attributes.get("MessageDeduplicationId", ""),
            "SequenceNumber": attributes.get("SequenceNumber", "0"),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": REGION,
    }


def _handler(stack: Stack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: str | bytes, headers: dict[str, str] | None = None) -> None:
            raw = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            for name, value in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self.close_connection = True
                self._reply(
                    413,
                    json.dumps({"error": {"code": "payload_too_large", "message": "body over 10 MB", "details": []}}),
                )
                return
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            if url.path.startswith("/_sim/"):
                self._simulator(url.path, raw)
                return
            headers = {k: v for k, v in self.headers.items()}
            if url.path == "/oauth2/token":
                self._token(headers, raw)
                return
            if url.path == "/oauth2/authorize":
                self._authorize(url.query)
                return
            if url.path == "/oauth2/revoke":
                self._revoke(headers, raw)
                return
            if url.path == "/logout":
                self._logout(url.query)
                return
            authorized, refused = (None, None)
            if stack.auth:  # as API Gateway's Cognito authorizer, before the function runs
                authorized, refused = stack.tokens.authorize(self.command, url.path, headers)
            if refused is not None:
                from local.auth import encoded

                self._reply(*encoded(refused))
                return
            query = parse_qs(url.query, keep_blank_values=True)
            event: dict[str, Any] = {
                "resource": url.path,
                "path": url.path,
                "httpMethod": self.command,
                "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
                "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
                "multiValueQueryStringParameters": query or None,
                "pathParameters": None,
                "stageVariables": dict(stack.stage_variables),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "stage": "local",
                    "httpMethod": self.command,
                    "path": url.path,
                    "resourcePath": url.path,
                    "identity": {"sourceIp": self.client_address[0]},
                },
                "body": raw.decode("utf-8", errors="replace") if raw else None,
                "isBase64Encoded": False,
            }
            if authorized is not None:  # where API Gateway puts the resource and a Cognito token's claims
                event["resource"] = event["requestContext"]["resourcePath"] = authorized["resource"]
                event["requestContext"]["authorizer"] = authorized["authorizer"]
            answer = stack.invoke_api(event)
            body = answer.get("body") or ""
            if answer.get("isBase64Encoded"):
                import base64

                body = base64.b64decode(body)
            headers_out = {k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
            headers_out.update(answer.get("headers") or {})
            headers_out.setdefault("Content-Type", "application/json")
            self._reply(answer["statusCode"], body, headers_out)

        def _token(self, headers: dict[str, str], raw: bytes) -> None:
            from local.auth import Answer, encoded

            if self.command != "POST":
                self._reply(*encoded(Answer(405, {"error": "invalid_request"}, {"Allow": "POST"})))
                return
            self._reply(*encoded(stack.tokens.token(headers, raw)))

        def _revoke(self, headers: dict[str, str], raw: bytes) -> None:
            from local.auth import Answer, encoded

            if self.command != "POST":
                self._reply(*encoded(Answer(405, {"error": "invalid_request"}, {"Allow": "POST"})))
                return
            self._reply(*encoded(stack.tokens.revoke(headers, raw)))

        def _logout(self, query: str) -> None:
            self._browser_get(query, stack.tokens.logout)

        def _authorize(self, query: str) -> None:
            self._browser_get(query, stack.tokens.authorize_code)

        def _browser_get(self, query: str, answer_to: Callable[[dict[str, str]], Answer]) -> None:
            """An endpoint the browser is sent to (authorize, logout): GET only, its query's last value of
            each field, and a redirect followed as it stands (no body), anything else answered as JSON."""
            from local.auth import Answer, encoded

            if self.command != "GET":
                self._reply(*encoded(Answer(405, {"error": "invalid_request"}, {"Allow": "GET"})))
                return
            answer = answer_to({k: v[-1] for k, v in parse_qs(query).items()})
            if answer.status == 302:
                self._reply(302, b"", answer.headers)
            else:
                self._reply(*encoded(answer))

        def _simulator(self, path: str, raw: bytes) -> None:
            try:
                payload = json.loads(raw or b"{}")
                if path == "/_sim/outage" and self.command == "POST":
                    stack.customs.set_outage(payload["system"], payload.get("kind", "server_error"))
                elif path == "/_sim/outage" and self.command == "DELETE":
                    stack.customs.set_outage(payload["system"], None)
                elif path == "/_sim/expire-token" and self.command == "POST":
                    # tests: an access token's hour is up now (the console must renew it, not sign in again)
                    stack.tokens.expire(payload["token"])
                elif path == "/_sim/reject" and self.command == "POST":
                    stack.customs.reject_next(
                        payload["lrn"],
                        payload.get("code", "rejected"),
                        payload.get("message", "rejected by the simulated customs"),
                    )
                elif path != "/_sim/state" or self.command != "GET":
                    self._reply(
                        404,
                        json.dumps(
                            {
                                "error": "simulator routes: GET /_sim/state, POST|DELETE /_sim/outage, "
                                "POST /_sim/reject, POST /_sim/expire-token"
                            }
                        ),
                    )
                    return
            except (ValueError, KeyError, TypeError) as error:
                self._reply(400, json.dumps({"error": f"bad simulator request: {error}"}))
                return
            self._reply(200, json.dumps(stack.customs.state()))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def __getattr__(self, name: str) -> Any:
            # any other method (HEAD, OPTIONS, TRACE…) reaches the API too, which answers it as API
            # Gateway's routes would: with an error in the contract's shape, never a bare 501
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

    return Handler


def main() -> None:
    mode = os.environ.get("LOCAL_AUTH", "on")
    if mode not in ("on", "off"):
        sys.exit(f"LOCAL_AUTH must be on (callers get a token from /oauth2/token) or off (the API open), not {mode!r}")
    # the console's sign-in: the client-credentials form (the README's demo clients) unless asked for the
    # flow AWS runs, authorization code with PKCE against the stand-in's /oauth2/authorize
    console_sign_in = os.environ.get("CONSOLE_SIGN_IN", "client_credentials")
    if console_sign_in not in ("client_credentials", "pkce"):
        sys.exit(f"CONSOLE_SIGN_IN must be client_credentials (a form) or pkce (as on AWS), not {console_sign_in!r}")
    stack = Stack(
        int(os.environ.get("PORT", "3000")),
        float(os.environ.get("RELEASE_INTERVAL_SECONDS", "1")),
        mode == "on",
        console_sign_in,
    )
    stack.start()
    print(f"Écluse is up on {stack.url} (simulated customs at {stack.customs_url}; Ctrl-C stops)", flush=True)
    if stack.auth:
        print(stack.tokens.describe(), flush=True)
        print(f"The console ({stack.url}/console) signs in with {stack.console_sign_in} (CONSOLE_SIGN_IN)", flush=True)
    else:
        print("LOCAL_AUTH=off: no route asks for a token; every caller is the local operator", flush=True)
    stopped = threading.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopped.set())
    # A timed wait: the kernel may hand Ctrl-C to any of the stack's threads, and Python runs the handler
    # in this one only when it next wakes; a wait without timeout stayed asleep (the stack ignored Ctrl-C)
    while not stopped.wait(0.5):
        pass
    stack.stop()
    print("Écluse stopped", flush=True)


if __name__ == "__main__":
    main()
