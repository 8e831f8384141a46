"""The operator console in a real browser against `make run`'s stack: an operator declares an outage,
the ERP lodges, the operator sees the backlog, slows then speeds the release, ends the outage and watches
the backlog drain and the system turn green.

Screenshots of the main view, of the system with its backlog and of a phone's width are taken on the
way; `make screenshots` (CONSOLE_SCREENSHOTS=docs/console) writes them where the README shows them."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.infra import ROOT
from tests.chaos.border import Http, local_stack
from tests.e2e.browser import DESKTOP, PHONE, chromium, row_texts, viewport, wait, whole_element_screenshot
from tests.factories import declaration_body

pytestmark = pytest.mark.e2e
LODGED = 30


@pytest.fixture(scope="module")
def http(tmp_path_factory) -> Iterator[Http]:
    # the stack as `make run` starts it; LOCAL_AUTH=off keeps it open should it require tokens
    with local_stack(tmp_path_factory.mktemp("stack") / "stack.log", LOCAL_AUTH="off") as client:
        yield client


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def shots(tmp_path) -> Path:
    wanted = os.environ.get("CONSOLE_SCREENSHOTS")
    folder = ROOT / wanted if wanted else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _field(driver: Any, system: str, field: str) -> str | None:
    return driver.execute_script(
        "const c = document.querySelector(`#systems tr[data-system='${arguments[0]}'] [data-field='${arguments[1]}']`);"
        "return c ? c.textContent.trim() : null;",
        system,
        field,
    )


def _tone(driver: Any, system: str) -> str | None:
    return driver.execute_script(
        "return document.querySelector(`#systems tr[data-system='${arguments[0]}']`)?.dataset.tone ?? null;", system
    )


def _submit_and_confirm(driver: Any, form_id: str, fields: dict[str, str] | None = None) -> str:
    """Fill a form, submit it, confirm in the dialog; returns what the dialog asked."""
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.ID, form_id)
    for name, value in (fields or {}).items():
        box = form.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, "asked to confirm", lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None)
    asked = driver.find_element(By.ID, "confirm-title").text + " " + driver.find_element(By.ID, "confirm-text").text
    driver.find_element(By.ID, "confirm-ok").click()
    wait(driver, "confirmed", lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is None)
    return asked


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_an_operator_runs_an_outage_from_the_console(http, browser, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(http.base + "/console")
    wait(browser, "DELTA_G listed and up", lambda d: _tone(d, "DELTA_G") == "ok")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#systems tbody tr")) == 17

    # open DELTA_G with the keyboard's way in (its button) and declare the outage, CID alert
    browser.find_element(By.CSS_SELECTOR, "#systems tr[data-system='DELTA_G'] button.open").click()
    wait(browser, "DELTA_G opened", lambda d: d.find_element(By.ID, "detail-title").text.startswith("DELTA_G"))
    assert "Alerte CID" in browser.find_element(By.ID, "evidence-hint").text
    asked = _submit_and_confirm(browser, "outage-form", {"reason": "DELTA G incident (console test)"})
    assert "held" in asked
    wait(browser, "DELTA_G down", lambda d: _tone(d, "DELTA_G") == "down")
    assert "Alerte CID" in _field(browser, "DELTA_G", "source")

    # the ERP lodges through the API; the console counts them, oldest first in the held list
    lrns = []
    for _ in range(LODGED):
        body = declaration_body(system="DELTA_G")
        status, answer = http("POST", "/declarations", body)
        assert (status, answer["state"]) == (202, "QUEUED")
        lrns.append(body["lrn"])
    wait(browser, f"{LODGED} counted", lambda d: _field(d, "DELTA_G", "held") == str(LODGED))
    listed = wait(
        browser,
        "the held list",
        lambda d: (
            d.execute_script(
                "return [...document.querySelectorAll('#held tbody tr[data-lrn]')].map(r => r.dataset.lrn)"
            )
            or None
        ),
    )
    assert listed == lrns[:20]  # the first page, oldest first

    # a slow release, then the end of the outage: the backlog drains at 2 a minute
    _submit_and_confirm(browser, "release-form", {"rate_per_minute": "2", "burst": "1"})
    wait(browser, "the rate changed", lambda d: _field(d, "DELTA_G", "release") == "2/min · 1")
    asked = _submit_and_confirm(browser, "end-form")
    assert "at 2/min" in asked
    wait(browser, "DELTA_G draining", lambda d: _tone(d, "DELTA_G") in ("draining", "risk"))
    wait(browser, "a deadline shown", lambda d: "in 23 h" in (_field(d, "DELTA_G", "deadline") or ""))
    wait(browser, "the drain begun", lambda d: int(_field(d, "DELTA_G", "held")) < LODGED)
    # meanwhile another system goes down (through the API): the console puts the worst first
    http("PUT", "/systems/CDS/status", {"status": "UNAVAILABLE", "source": "OPERATOR", "reason": "no answers"})
    http("POST", "/declarations", declaration_body(system="CDS"))
    wait(browser, "CDS counted", lambda d: _field(d, "CDS", "held") == "1")
    assert browser.execute_script("return document.querySelector('#systems tbody tr').dataset.system") == "CDS"
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shots / "main.png"))

    # the what-if, typed: 5 a minute would halve the drain; 600 empties it at once, well before the deadline
    rate = browser.find_element(By.ID, "whatif-rate")
    for typed in ("5", "600"):
        rate.send_keys(Keys.CONTROL, "a")
        rate.send_keys(typed)
        answer = lambda d, r=typed: f" {r}/min" in d.find_element(By.ID, "whatif-result").text  # noqa: E731
        wait(browser, "the what-if's answer", answer)
        assert "meets the deadline" in browser.find_element(By.ID, "whatif-result").text
        assert browser.find_elements(By.CSS_SELECTOR, "#drain-chart path.whatif")
        if typed == "5":
            whole_element_screenshot(browser, "detail", shots / "system-with-backlog.png")
    held_before = int(_field(browser, "DELTA_G", "held"))
    assert 0 < held_before < LODGED
    asked = _submit_and_confirm(browser, "whatif-form")
    assert "600/min" in asked
    assert "Burst 100" in asked
    wait(browser, "the backlog gone", lambda d: _field(d, "DELTA_G", "held") == "0", seconds=30)
    wait(browser, "DELTA_G green", lambda d: _tone(d, "DELTA_G") == "ok")
    assert _field(browser, "DELTA_G", "status") == "Up"
    accepted = [http("GET", f"/declarations/{lrn}")[1]["state"] for lrn in lrns]
    assert set(accepted) <= {"RELEASED", "SUBMITTED", "ACCEPTED"}

    # the history the console shows: the outage and its end, newest first
    history = row_texts(browser, "#history tbody tr")
    assert "AVAILABLE" in history[0]
    assert "UNAVAILABLE" in history[1]

    # planned work, and who announced it (the local operator: auth is off here)
    start = datetime.now(UTC) + timedelta(days=1)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(), "reference": "T-42"}
    assert http("POST", "/systems/DELTA_G/maintenance", window)[0] == 201
    wait(
        browser,
        "the window listed with who announced it",
        lambda d: any("T-42" in row and row.rstrip().endswith("local") for row in row_texts(d, "#windows tbody tr")),
    )

    # a phone's width: one card per system in trouble, a line per system that is fine
    viewport(browser, *PHONE)
    browser.get(http.base + "/console")
    wait(browser, "CDS counted on the phone", lambda d: _field(d, "CDS", "held") == "1")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], "the page scrolls sideways on a phone"
    browser.save_screenshot(str(shots / "phone.png"))

    assert _png_size(shots / "main.png") == DESKTOP
    assert _png_size(shots / "phone.png") == PHONE
    assert _png_size(shots / "system-with-backlog.png")[0] > 1000
