"""A world for fault injection: the real handlers on the embedded AWS (built from template.yaml and made to
behave like AWS by local.moto_twin), the simulated customs system behind the real HTTP gateway, and the
event sources (SQS FIFO delivery to the submit function, the release schedule) driven step by step.

Every fault the chaos suite injects goes through here: customs outages (503, refused connections,
timeouts), operator status flips, duplicate and late SQS deliveries, and a crash at the N-th AWS call of
an invocation (the Lambda process dies there: nothing after it runs, its messages come back later).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from local import infra, moto_twin
from local.functions import LambdaContext, load
from local.simulated import SimulatedCustoms, serve
from local.stack import _sqs_record
from tests.chaos.invariants import FINAL, Observation, Receipt, declaration_key
from tests.factories import cognito_client, declaration_body

# A second ERP, besides the local operator every other step acts as: it lodges some of the same LRNs, for
# a party of its own, and each of those is a declaration of its own (decision 16)
OTHER_ERP = cognito_client("erp-other")
OTHER_EORI = "FR98765432109876"


class Crash(BaseException):
    """The Lambda execution environment died at this AWS call (timeout, out of memory, host failure)."""


@dataclass
class Lodged:
    lrn: str
    system: str
    body: dict[str, Any]
    identity: dict[str, Any] | None = None  # who lodged it (None: the local operator)

    @property
    def key(self) -> str:
        return declaration_key(self.body["declarant"]["eori"], self.lrn)


def twin_of(lodged: Lodged) -> Lodged:
    """The same LRN, lodged by the other ERP for its own party."""
    body = {**copy.deepcopy(lodged.body), "urgent": False}
    body["declarant"]["eori"] = OTHER_EORI
    return Lodged(lodged.lrn, lodged.system, body, OTHER_ERP)


@dataclass
class World:
    """One deployment of Écluse in the embedded AWS (call inside `moto.mock_aws()`)."""

    stack_name: str = "chaos"
    rate_per_minute: int = 1200
    burst: int = 50
    systems: tuple[str, ...] = ("DELTA_G", "CDS", "DMS_NL")
    lodged: list[Lodged] = field(default_factory=list)
    crashes: int = 0
    flips: int = 0
    _calls: int = 0
    _crash_at: int | str | None = None
    _late: list[dict[str, Any]] = field(default_factory=list)
    _held_from: dict[str, int] = field(default_factory=dict)
    sent_while_held: list[str] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)  # the AWS operations of the last invocation
    crashed_in: str | None = None  # the AWS operation the last crash happened at
    settle_pause: float = 0.2  # settle's wait when nothing was delivered (a circuit's recovery, a back-off)

    def __post_init__(self) -> None:
        from aws_lambda_powertools.utilities.circuit_breaker import base

        for counters in (base._LOCAL_FAILURES, base._LOCAL_SUCCESSES, base._LAST_OBSERVED_STATE):
            counters.clear()  # a new execution environment
        moto_twin.apply()
        boto3.setup_default_session(region_name="eu-west-3")
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call", self._before_call)
        self.resources = infra.create(session, stack_name=self.stack_name)
        self.customs = SimulatedCustoms()
        self.server = serve(self.customs)
        environment = {
            "CUSTOMS_GATEWAY_URL": f"http://127.0.0.1:{self.server.server_address[1]}",
            "CUSTOMS_GATEWAY_TIMEOUT_SECONDS": "0.3",
            "RETRY_BASE_SECONDS": "0",
            "CIRCUIT_RECOVERY_SECONDS": "1",
            "RELEASE_RUN_SECONDS": "0",
            "MAX_SENDING_ATTEMPTS": "20",
            "RESEND_AFTER_SECONDS": "1",
            "CUSTOMS_GATEWAY_SETTLE_SECONDS": "1",
            # the template says INFO; a storm's thousands of lines are noise: the environment decides
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }
        self.api = load("api", {**self.resources.env("api"), **environment})
        self.submit = load("submit", {**self.resources.env("submit"), **environment})
        self.release_function = load("release", {**self.resources.env("release"), **environment})
        self.sqs = boto3.client("sqs")
        self.dynamodb = boto3.client("dynamodb")
        self.queue_url = self.resources.env("api")["SUBMIT_QUEUE_URL"]
        self.declarations_table = self.resources.env("api")["DECLARATIONS_TABLE"]
        self.systems_table = self.resources.env("api")["SYSTEMS_TABLE"]
        for system in self.systems:
            throttle = {"rate_per_minute": self.rate_per_minute, "burst": self.burst}
            self.http("PUT", f"/systems/{system}/release", throttle)

    def close(self) -> None:
        self.server.shutdown()
        boto3.DEFAULT_SESSION = None

    # ------------------------------------------------------------------ crash injection
    def _before_call(self, model: Any, **_: Any) -> None:
        self._calls += 1
        self.operations.append(model.name)
        at = self._crash_at
        if at is not None and (self._calls >= at if isinstance(at, int) else model.name == at):
            self._crash_at = None
            self.crashes += 1
            self.crashed_in = model.name
            raise Crash(f"crashed at AWS call {self._calls}")

    def invoke(self, action: Callable[[], Any], crash_at: int | str | None = None) -> tuple[Any, int]:
        """Run `action` (one invocation), crashing at its `crash_at`-th AWS call (or at its first call of
        that operation name); (its result or the Crash, the number of AWS calls it made)."""
        self._calls = 0
        self.operations = []
        self._crash_at = crash_at
        try:
            return action(), self._calls
        except Crash as crash:
            return crash, self._calls
        finally:
            self._crash_at = None

    # ------------------------------------------------------------------ the ERP and the operator
    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        identity: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        from tests.conftest import ApiClient

        status, answer = ApiClient(self.api, identity).call(method, path, body, query)
        if status >= 500:
            raise AssertionError(f"{method} {path} answered {status}: {answer}")
        return status, answer

    def lodge(
        self, system: str, crash_at: int | str | None = None, identity: dict[str, Any] | None = None, **fields: Any
    ) -> Lodged:
        body = declaration_body(system=system, **fields)
        return self._post(Lodged(body["lrn"], system, body, identity), crash_at)

    def twin(self, of: Lodged, crash_at: int | str | None = None) -> Lodged:
        """The other ERP lodges the same LRN, for its own party: a declaration of its own."""
        return self._post(twin_of(of), crash_at)

    def cancel(self, lodged: Lodged) -> tuple[int, Any]:
        """Its ERP cancels it (the local operator names whose: another ERP may use the same LRN)."""
        whose = None if lodged.identity else {"declarant": "local"}
        return self.http("DELETE", f"/declarations/{lodged.lrn}", identity=lodged.identity, query=whose)

    def _post(self, lodged: Lodged, crash_at: int | str | None) -> Lodged:
        self.lodged.append(lodged)

        def post() -> tuple[int, Any]:
            return self.http("POST", "/declarations", lodged.body, lodged.identity)

        result, _ = self.invoke(post, crash_at)
        if isinstance(result, Crash):  # the ERP got no answer and retries, as the API contract allows
            status, _ = post()
            assert status in (200, 202), status
        else:
            assert result[0] in (200, 202), result
        return lodged

    def set_status(self, system: str, status: str) -> None:
        code, answer = self.http("PUT", f"/systems/{system}/status", {"status": status, "reason": "chaos"})
        assert code == 200, answer
        self.flips += 1
        # Every system of this world holds during an operator-declared outage: from the moment the
        # answer came back, nothing may reach it (nothing is in flight between two steps here).
        if status == "UNAVAILABLE":
            self._held_from.setdefault(system, len(self.customs.received))
        else:
            self.sent_while_held += self._sent_while_held(system)
            self._held_from.pop(system, None)

    def _sent_while_held(self, system: str) -> list[str]:
        start = self._held_from.get(system)
        if start is None:
            return []
        return [
            f"{r.lrn} reached {system} while an operator held it"
            for r in self.customs.received[start:]
            if r.system == system
        ]

    def outage(self, system: str, kind: str | None) -> None:
        self.customs.set_outage(system, kind)

    # ------------------------------------------------------------------ event sources
    def release(self, crash_at: int | str | None = None) -> Any:
        result, _ = self.invoke(lambda: self.release_function.lambda_handler({}, LambdaContext()), crash_at)
        return result

    def deliver(self, crash_at: int | str | None = None, duplicate: bool = False, keep_late: bool = False) -> int:
        """One batch from the submit queue to the submit function, acknowledged as Lambda's SQS event
        source mapping does. A crash leaves the batch in flight until its visibility timeout (here: at
        once). `duplicate` delivers the batch twice (at-least-once); `keep_late` keeps a copy of its
        first message to deliver again later."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [_sqs_record(m, self.queue_url) for m in messages]}
        if keep_late:
            self._late.append(copy.deepcopy(event["Records"][0]))
        result, _ = self.invoke(lambda: self._submit(event), crash_at)
        if isinstance(result, Crash):
            self._visible_again([m["ReceiptHandle"] for m in messages])
            return len(messages)
        if duplicate:
            self._submit(copy.deepcopy(event))
        failed = set(result)
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def deliver_late(self) -> bool:
        """A copy of an earlier delivery arrives again, long after (its receipt handle is stale)."""
        if not self._late:
            return False
        record = self._late.pop(0)
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=record["body"],
            MessageGroupId=record["attributes"]["MessageGroupId"],
            MessageDeduplicationId=f"late-{time.monotonic_ns()}",
        )
        return True

    def _submit(self, event: dict[str, Any]) -> set[str]:
        try:
            answer = self.submit.lambda_handler(event, LambdaContext(function_name="submit"))
        except Exception:  # every record failed: the whole batch comes back
            return {r["messageId"] for r in event["Records"]}
        return {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}

    def _visible_again(self, handles: list[str]) -> None:
        for handle in handles:  # (one deleted before the crash has no visibility to change)
            with contextlib.suppress(self.sqs.exceptions.ReceiptHandleIsInvalid):
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)

    # ------------------------------------------------------------------ the end of the storm
    def settle(self, seconds: float = 60.0) -> None:
        """Customs back, every system AVAILABLE, and the event sources run until nothing is left to do."""
        for system in self.systems:
            self.outage(system, None)
            self.set_status(system, "AVAILABLE")
        while self.deliver_late():
            pass
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.release()
            delivered = 0
            while self.deliver():
                delivered += 1
            if not delivered and self.settled():
                return
            if not delivered:
                time.sleep(self.settle_pause)

    def settled(self) -> bool:
        states = {d["state"] for d in self.ledger().values()}
        return states <= FINAL

    # ------------------------------------------------------------------ what the tables hold
    def ledger(self) -> dict[str, dict[str, Any]]:
        """Every declaration, by its key (the party's EORI and the LRN), without its body."""
        import gzip

        from ecluse.aws.items import from_item

        items: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"TableName": self.declarations_table, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**kwargs)
            for item in page.get("Items", []):
                values = from_item(item)
                values["eori"] = json.loads(gzip.decompress(values.pop("body")))["declarant"]["eori"]
                items[declaration_key(values["eori"], values["lrn"])] = values
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def counters(self) -> dict[str, dict[str, Any]]:
        from ecluse.aws.items import from_item

        found = {}
        for system in self.systems:
            item = self.dynamodb.get_item(
                TableName=self.systems_table,
                Key={"system": {"S": system}, "record": {"S": "STATUS"}},
                ConsistentRead=True,
            ).get("Item", {})
            found[system] = from_item(item)
        return found

    def observe(self) -> Observation:
        still_held = [problem for system in self.systems for problem in self._sent_while_held(system)]
        return Observation(
            ledger=self.ledger(),
            counters=self.counters(),
            received=[Receipt(r.lrn, r.system, r.outcome.mrn, r.eori) for r in self.customs.received],
            lodged=[d.key for d in self.lodged],
            rate_per_minute=self.rate_per_minute,
            burst=self.burst,
            sent_while_held=[*self.sent_while_held, *still_held],
        )

    def describe(self, key: str) -> str:
        record = self.ledger()[key]
        return json.dumps({k: record.get(k) for k in ("state", "history")}, indent=1)
