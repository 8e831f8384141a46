"""The in-process loader (`local.functions.load`) imports a handler as Lambda's init would, in an
interpreter that loads handlers again and again: what the handler's init does to the collector
(decision 17) must not outlive the load."""

from __future__ import annotations

import gc

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
