"""Status feeds on the in-memory twins: a page's component statuses become system statuses, on change
only, never over someone else's word. The page is a Statuspage summary.json as a dict (the HTTP reading
is tested on the local stack)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta

import pytest

from ecluse.errors import EcluseError
from ecluse.feed_requests import FeedRequest
from ecluse.feeds import Feeds, FeedUnreadable
from ecluse.systems import Source, Status, StatusChange
from tests.fakes import InMemoryBoard, InMemoryFeeds, Store

ALICE = "alice"  # an operator, as the API passes her principal

PAGE = {
    "page": {"name": "Customs platform"},
    "components": [
        {"name": "DMS Import", "status": "operational"},
        {"name": "AGS Export", "status": "operational"},
    ],
    "incidents": [],
    "scheduled_maintenances": [],
}
DMS = "components[?name=='DMS Import'].status | [0]"


class Page:
    """The status page: what it says now, or that it cannot be read."""

    def __init__(self) -> None:
        self.summary: object = copy.deepcopy(PAGE)
        self.failure: str | None = None

    def read(self, url: str) -> object:
        if self.failure:
            raise FeedUnreadable(self.failure)
        return self.summary

    def component(self, status: str, incident: str | None = None) -> None:
        self.summary["components"][0]["status"] = status
        self.summary["incidents"] = (
            [{"name": incident, "shortlink": "https://stspg.io/x1", "status": "investigating",
              "components": [{"name": "DMS Import"}]}]
            if incident else []
        )  # fmt: skip


@pytest.fixture
def page():
    return Page()


@pytest.fixture
def board():
    return InMemoryBoard(Store())


@pytest.fixture
def feeds(board, clock, page):
    service = Feeds(InMemoryFeeds(), board, clock, page)
    request = FeedRequest(
        url="https://status.example.com/api/v2/summary.json",
        components=[{"system": "DMS_NL", "match": DMS}],
        interval_seconds=60,
    )
    service.put("c4t", request, ALICE)
    return service


def _poll(feeds, clock):
    clock.advance(seconds=60)
    return feeds.tick()


def test_a_major_outage_holds_the_system_and_its_end_releases_it(feeds, board, clock, page):
    _poll(feeds, clock)
    assert board.get("DMS_NL").status is Status.AVAILABLE
    page.component("major_outage", "Delays in DMS Import")
    assert _poll(feeds, clock) == ["DMS_NL UNAVAILABLE (FEED): Delays in DMS Import https://stspg.io/x1"]
    state = board.get("DMS_NL")
    assert (state.status, state.source, state.reference) == (
        Status.UNAVAILABLE, Source.FEED, "Delays in DMS Import https://stspg.io/x1",
    )  # fmt: skip
    page.component("operational")
    _poll(feeds, clock)
    assert (board.get("DMS_NL").status, board.get("DMS_NL").source) == (Status.AVAILABLE, Source.FEED)


def test_a_page_is_read_no_more_often_than_its_interval(feeds, board, clock, page):
    _poll(feeds, clock)
    page.component("major_outage")
    clock.advance(seconds=30)
    assert feeds.tick() == []
    assert board.get("DMS_NL").status is Status.AVAILABLE


def test_maintenance_and_degradation_as_the_page_says(feeds, board, clock, page):
    page.component("under_maintenance")
    _poll(feeds, clock)
    assert (board.get("DMS_NL").status, board.get("DMS_NL").source) == (Status.UNAVAILABLE, Source.MAINTENANCE)
    page.component("partial_outage")
    _poll(feeds, clock)
    assert board.get("DMS_NL").status is Status.DEGRADED


def test_an_operators_word_survives_the_feed(feeds, board, clock, page):
    board.change("DMS_NL", StatusChange(Status.UNAVAILABLE, Source.OPERATOR, "ticket 4711", by="test"), clock.now())
    page.component("operational")
    _poll(feeds, clock)
    assert board.get("DMS_NL").source is Source.OPERATOR  # the feed did not start that outage
    page.component("major_outage")
    _poll(feeds, clock)
    board.change(
        "DMS_NL", StatusChange(Status.AVAILABLE, Source.OPERATOR, reason="we lodge fine", by="test"), clock.now()
    )
    _poll(feeds, clock)  # the page still says major_outage: nothing new, the operator's decision stands
    assert (board.get("DMS_NL").status, board.get("DMS_NL").source) == (Status.AVAILABLE, Source.OPERATOR)


def test_a_feed_that_cannot_be_read_changes_nothing_and_says_why(feeds, board, clock, page):
    page.failure = "no answer within 5 s"
    assert _poll(feeds, clock) == ["feed c4t: no answer within 5 s"]
    page.failure = None
    page.summary = {"unexpected": "shape"}
    _poll(feeds, clock)
    feed = feeds.get("c4t")
    assert feed.last_error == "DMS_NL: the expression yields None, not a component status"
    assert feed.failed_polls == 2
    assert board.get("DMS_NL").status is Status.AVAILABLE
    page.summary = copy.deepcopy(PAGE)
    _poll(feeds, clock)
    assert (feeds.get("c4t").last_error, feeds.get("c4t").failed_polls) == (None, 0)


@pytest.mark.parametrize(
    "url", ["http://status.example.com/api/v2/summary.json", "ftp://127.0.0.1/x", "file:///etc/passwd", "https://"]
)
def test_only_https_pages_or_loopback_ones_are_read(feeds, url):
    request = FeedRequest(url=url, components=[{"system": "DMS_NL", "match": DMS}])
    with pytest.raises(EcluseError) as refused:
        feeds.put("other", request, ALICE)
    assert (refused.value.code, refused.value.http_status) == ("feed_url_not_allowed", 422)
    feeds.put(
        "local", FeedRequest(url="http://127.0.0.1:8080/api/v2/summary.json", components=request.components), ALICE
    )


def test_a_replaced_feed_does_not_replay_what_it_has_seen(feeds, board, clock, page):
    page.component("major_outage")
    _poll(feeds, clock)
    board.change("DMS_NL", StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), clock.now())
    request = FeedRequest(
        url="https://status.example.com/api/v2/summary.json",
        components=[{"system": "DMS_NL", "match": DMS}],
        interval_seconds=120,
    )
    feeds.put("c4t", request, ALICE)
    clock.advance(seconds=121)
    feeds.tick()
    assert board.get("DMS_NL").status is Status.AVAILABLE
    assert feeds.get("c4t").interval_seconds == 120
    assert clock.now() - feeds.get("c4t").last_polled_at < timedelta(seconds=1)


def test_reading_a_feed_keeps_who_set_it_up(feeds, clock, page):
    page.component("major_outage")
    _poll(feeds, clock)
    page.component("operational")
    _poll(feeds, clock)
    assert feeds.get("c4t").changed_by == ALICE
    assert feeds.get("c4t").answer()["changed_by"] == ALICE


class _MonitorReadsFirst(InMemoryFeeds):
    """The monitor saves what it read between the operator's read and the operator's write."""

    def get(self, name):
        read = super().get(name)
        if read is not None:
            self.feeds[name] = replace(read, version=read.version + 1)
        return read


def test_an_operators_change_that_loses_the_race_with_the_monitor_is_refused_to_retry(board, clock, page):
    feeds = Feeds(_MonitorReadsFirst(), board, clock, page)
    request = FeedRequest(
        url="https://status.example.com/api/v2/summary.json", components=[{"system": "DMS_NL", "match": DMS}]
    )
    feeds.put("c4t", request, ALICE)
    with pytest.raises(EcluseError) as refused:
        feeds.put("c4t", request, "bob")
    assert (refused.value.code, refused.value.http_status) == ("feed_changed_concurrently", 409)
