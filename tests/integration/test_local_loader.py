"""The in-process loader (`local.functions.load`) imports a handler as Lambda's init would, in an
interpreter that loads handlers again and again: what the handler's init does to the collector
(decision 17) must not outlive the load."""

from __future__ import annotations

import gc
import os

import pytest
from pydantic import ValidationError

from local.functions import load


def test_a_loaded_handler_leaves_nothing_frozen_and_the_collector_on(monkeypatch):
    monkeypatch.setenv("EVENT_BUS_NAME", "ecluse-events")
    load("publish", {})
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # the tests' own garbage cycles stay collectable


def test_a_handler_whose_init_fails_does_not_leave_the_collector_off(monkeypatch):
    monkeypatch.delenv("EVENT_BUS_NAME", raising=False)
    with pytest.raises(ValidationError):
        load("publish", {})  # its settings refuse the missing bus name
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_stack_started_after_an_in_process_load_keeps_its_own_timings(aws, monkeypatch):
    """`load` leaves the template's settings in this process's environment (a 5 s feed timeout…): the local
    stack started afterwards must not inherit them over its own (1 s), only what a test asks for."""
    from tests.stack_process import stack_environment

    monkeypatch.setenv("FEED_TIMEOUT_SECONDS", "7")  # restored after the test, whatever load leaves
    load("monitor", aws.env("monitor"))
    assert os.environ["FEED_TIMEOUT_SECONDS"] == "5"  # what the template gives the monitor
    assert "FEED_TIMEOUT_SECONDS" not in stack_environment()
    assert "SYSTEMS_TABLE" not in stack_environment()
    assert stack_environment(FEED_TIMEOUT_SECONDS="2")["FEED_TIMEOUT_SECONDS"] == "2"
