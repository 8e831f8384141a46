"""Type-checked by `make lint` (mypy), never run: the DynamoDB adapters and the in-memory twins
satisfy the ports they stand in for, so a method renamed or retyped on one side fails the build."""

from __future__ import annotations

from ecluse.aws.customs_circuit import CircuitBreakingGateway
from ecluse.aws.dynamodb_feeds import DynamoDbFeedStore
from ecluse.aws.dynamodb_ledger import DynamoDbLedger
from ecluse.aws.dynamodb_maintenance import DynamoDbWindowStore
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.sqs_submit_queue import SqsSubmitQueue
from ecluse.clock import Clock, SystemClock
from ecluse.fallback import FallbackProcedure
from ecluse.feed_config import FeedStore, PageReader
from ecluse.feeds_http import HttpPageReader
from ecluse.gateway import CustomsGateway
from ecluse.gateway.http import HttpGateway
from ecluse.gateway.probe import GatewayProbe
from ecluse.ledger import Ledger
from ecluse.ports import StatusBoard, SubmitQueue, UrgentFallback
from ecluse.windows import CustomsProbe, WindowStore
from local.simulated import SimulatedCustoms
from tests.fakes import FakeClock, InMemoryBoard, InMemoryFeeds, InMemoryLedger, InMemoryWindows, Store


def adapters(ledger: DynamoDbLedger, board: DynamoDbStatusBoard, queue: SqsSubmitQueue) -> None:
    _ledger: Ledger = ledger
    _board: StatusBoard = board
    _queue: SubmitQueue = queue
    _clock: Clock = SystemClock()


def twins(store: Store) -> None:
    _ledger: Ledger = InMemoryLedger(store)
    _board: StatusBoard = InMemoryBoard(store)
    _clock: Clock = FakeClock()
    _windows: WindowStore = InMemoryWindows()
    _feeds: FeedStore = InMemoryFeeds()


def gateways(http: HttpGateway, circuit: CircuitBreakingGateway, simulated: SimulatedCustoms) -> None:
    _http: CustomsGateway = http
    _circuit: CustomsGateway = circuit
    _simulated: CustomsGateway = simulated


def fallback(procedure: FallbackProcedure) -> None:
    _urgent: UrgentFallback = procedure


def monitor(windows: DynamoDbWindowStore, feeds: DynamoDbFeedStore, probe: GatewayProbe, pages: HttpPageReader) -> None:
    _windows: WindowStore = windows
    _feeds: FeedStore = feeds
    _probe: CustomsProbe = probe
    _pages: PageReader = pages
