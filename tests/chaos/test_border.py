"""The busy border of the field report, on `make run`'s stack with real threads (see tests/chaos/border.py)."""

from __future__ import annotations

import pytest

from tests.chaos.border import Border, local_stack, run
from tests.chaos.invariants import check_all

pytestmark = pytest.mark.e2e


def test_busy_border_loses_nothing_and_keeps_receipt_order(tmp_path) -> None:
    with local_stack(tmp_path / "stack.log", CIRCUIT_RECOVERY_SECONDS="3", RESEND_AFTER_SECONDS="10") as http:
        report = run(http, Border(draw=1, erps=6, per_erp=20))
    assert report.lodged == 120
    assert check_all(report.observation) == [], report
